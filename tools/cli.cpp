// ptq's command line: a thin layer over the ptq library that parses the arguments, sets threads
// and logging, runs one subcommand and turns library exceptions into messages and exit codes.

#include "cli.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <thread>
#include <vector>

#include "command.h"
#include "json_config.h"
#include "number_checks.h"
#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/common/printable.h"
#include "ptq/common/progress.h"

namespace ptq::cli {
namespace {

struct GlobalOptions {
  int threads = 0;  // 0 = all cores
  bool verbose = false;
  bool quiet = false;
  std::string progress = "auto";
};

// More threads than this only oversubscribe the cores; far more (100000) made the OpenMP
// runtime spawn threads for minutes before any output.
constexpr int kMaxThreadsPerCore = 8;

void apply_global_options(const GlobalOptions& options) {
  ptq::LogLevel level = ptq::LogLevel::Info;
  if (options.verbose) level = ptq::LogLevel::Debug;
  if (options.quiet) level = ptq::LogLevel::Warning;
  ptq::set_log_level(ptq::log_level_from_env(level));
  ptq::set_progress_style(ptq::parse_progress_style(options.progress));
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  PTQ_CHECK_INPUT(options.threads <= kMaxThreadsPerCore * cores, "--threads ", options.threads,
                  " (or $PTQ_THREADS) is more than ", kMaxThreadsPerCore,
                  " per core: this "
                  "machine has ",
                  cores, " cores, so at most ", kMaxThreadsPerCore * cores);
  const int threads = options.threads > 0 ? options.threads : cores;
  // LibTorch's intra-op pool; in Debian's build this also sets OpenMP's (and so OpenBLAS's).
  at::set_num_threads(threads);
}

int parse_and_run(int argc, char** argv) {
  CLI::App app{"ptq: post-training quantization of large language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", PTQ_VERSION);
  GlobalOptions global;
  app.add_option("--threads", global.threads,
                 "Intra-op threads (default: $PTQ_THREADS, else all cores)")
      ->envname("PTQ_THREADS")
      ->check(kNonNegative);
  auto* verbose = app.add_flag("-v,--verbose", global.verbose, "Debug logging");
  app.add_flag("-q,--quiet", global.quiet, "Warnings and errors only")->excludes(verbose);
  app.add_option("--progress", global.progress,
                 "auto | bar | plain | json | none (auto: a bar on a terminal, log lines "
                 "otherwise)")
      ->capture_default_str();
  app.config_formatter(std::make_shared<JsonConfig>());
  app.allow_config_extras(CLI::config_extras_mode::error);  // a recipe's typo is an error
  app.set_config("--config", "",
                 "Recipe: a JSON file of option values per subcommand, e.g. "
                 "configs/gptq-w4g128.json; options on the command line override it");

  const std::vector<Command> commands = {
      add_compare_command(app),  add_convert_command(app),  add_eval_command(app),
      add_export_command(app),   add_generate_command(app), add_inspect_command(app),
      add_quantize_command(app), add_report_command(app),   add_tokenize_command(app),
  };
  // Global options may also follow the subcommand name.
  for (const auto& command : commands) command.app->fallthrough();

  // Warnings while parsing (a former option spelling) go to the stderr logger too.
  ptq::set_log_level(ptq::log_level_from_env(ptq::LogLevel::Info));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& e) {
    // CLI11 words these for INI files ("INI was not able to parse KEY") and names no file.
    std::string message = e.what();
    const std::string ini = "INI was not able to parse ";
    if (message.rfind(ini, 0) == 0) message = "unknown key " + message.substr(ini.size());
    spdlog::error("recipe {}: {}", ptq::printable(app.get_config_ptr()->as<std::string>()),
                  ptq::printable(message));
    return ptq::kExitInput;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? ptq::kExitOk : ptq::kExitInput;
  }
  apply_global_options(global);
  for (const auto& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return ptq::kExitInput;
}

}  // namespace

int run(int argc, char** argv) {
  ptq::set_log_level(ptq::LogLevel::Info);
  try {
    return parse_and_run(argc, argv);
  } catch (const ptq::InputError& e) {
    spdlog::error("{}", ptq::printable(e.what()));
    return ptq::kExitInput;
  } catch (const ptq::MemoryError& e) {
    spdlog::error("{}", ptq::printable(e.what()));
    return ptq::kExitMemory;
  } catch (const std::filesystem::filesystem_error& e) {
    // A path the user gave that the system refuses: a symlink loop, a name over PATH_MAX.
    spdlog::error("{}", ptq::printable(e.what()));
    return ptq::kExitInput;
  } catch (const c10::Error& e) {
    spdlog::error("internal error: {}", ptq::printable(e.what_without_backtrace()));
    return ptq::kExitInternal;
  } catch (const std::exception& e) {
    spdlog::error("{}", ptq::printable(e.what()));
    return ptq::kExitInternal;
  }
}

}  // namespace ptq::cli
