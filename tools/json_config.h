#pragma once
// Recipes: JSON files of option values read by `--config FILE`, one object per subcommand,
// e.g. configs/gptq-w4g128.json:
//
//   {"quantize": {"method": "gptq", "wbits": 4, "group_size": 128, "calib": "c4"}}
//
// Keys are option names without dashes ('_' and '-' alike); booleans set flags; a top-level
// scalar sets a global option. Options given on the command line override the recipe (CLI11
// fills an option from a config file only when the command line left it empty), and a key
// that names no option is an error, so a typo in a recipe cannot pass silently.

#include <CLI/CLI.hpp>
#include <istream>
#include <string>
#include <vector>

namespace ptq::cli {

class JsonConfig : public CLI::ConfigBase {
 public:
  // Throws CLI::ConfigError (exit code 2) for malformed JSON or a value that is not a
  // string, number, boolean or array of them.
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

}  // namespace ptq::cli
