// PLACEHOLDER: replaced by the real command.
#include "command.h"
namespace ptq::cli {
Command add_eval_command(CLI::App& parent) {
  Command command;
  command.app = parent.add_subcommand("eval", "eval");
  command.run = [] { return 1; };
  return command;
}
}  // namespace ptq::cli
