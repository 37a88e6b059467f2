// ptq convert: turns a checkpoint in another format into a Hugging Face model directory.
//
//   ptq convert --from llama2c stories260K.bin --out models/stories260K-hf

#include <filesystem>
#include <memory>
#include <string>

#include "command.h"
#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/model/llama2c.h"

namespace ptq::cli {
namespace {

struct ConvertOptions {
  std::string from;
  std::string input;
  std::string out;
};

void log_written_files(const std::string& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    spdlog::info("wrote {} ({} bytes)", entry.path().string(), entry.file_size());
  }
}

int run_convert(const ConvertOptions& options) {
  spdlog::info("converting {} ({}) to {}", options.input, options.from, options.out);
  model::convert_llama2c(options.input, options.out);
  log_written_files(options.out);
  return kExitOk;
}

}  // namespace

Command add_convert_command(CLI::App& parent) {
  auto options = std::make_shared<ConvertOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "convert", "Convert a checkpoint to a Hugging Face directory (config.json + safetensors)");
  command.app->add_option("--from", options->from, "Format of the input checkpoint")
      ->required()
      ->check(CLI::IsMember({"llama2c"}));
  command.app->add_option("input", options->input, "Input checkpoint (llama2c: the .bin file)")
      ->required();
  command.app->add_option("--out", options->out, "Output directory (must not exist or be empty)")
      ->required();
  command.run = [options] { return run_convert(*options); };
  return command;
}

}  // namespace ptq::cli
