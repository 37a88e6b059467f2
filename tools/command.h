#pragma once
// One ptq subcommand: its CLI11 sub-app (options bound to an options struct the command
// owns) and the function that runs it once the command line has been parsed.

#include <CLI/CLI.hpp>
#include <functional>

namespace ptq::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

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
