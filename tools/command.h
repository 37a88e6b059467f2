#pragma once
// One ptq subcommand: its CLI11 sub-app (options bound to an options struct the command
// owns) and the function that runs it once the command line has been parsed.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace ptq::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// "--report PATH": the one spelling of "also write this run's JSON report to PATH" in every
// command. "--json PATH", its former spelling in eval and compare, is still taken (hidden, with
// a warning) so that existing scripts keep working.
inline CLI::Option* add_report_option(CLI::App& app, std::string* path, const std::string& help) {
  CLI::Option* report = app.add_option("--report", *path, help);
  app.add_option("--json", *path)->group("")->excludes(report)->each([](const std::string&) {
    spdlog::warn("--json PATH is now spelled --report PATH");
  });
  return report;
}

// Each lives in tools/<name>_command.cpp.
Command add_compare_command(CLI::App& parent);
Command add_convert_command(CLI::App& parent);
Command add_eval_command(CLI::App& parent);
Command add_export_command(CLI::App& parent);
Command add_generate_command(CLI::App& parent);
Command add_inspect_command(CLI::App& parent);
Command add_quantize_command(CLI::App& parent);
Command add_report_command(CLI::App& parent);
Command add_tokenize_command(CLI::App& parent);

}  // namespace ptq::cli
