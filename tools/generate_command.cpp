// ptq generate: continue a prompt with the model, greedily or by seeded sampling.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "number_checks.h"
#include "ptq/common/error.h"
#include "ptq/eval/generate.h"
#include "ptq/format/quantized_checkpoint.h"
#include "ptq/model/causal_lm.h"
#include "ptq/tokenizer/tokenizer.h"

namespace ptq::cli {
namespace {

struct GenerateCommandOptions {
  std::string model;
  std::string prompt;
  std::vector<int32_t> prompt_ids;
  std::string tokenizer;
  int64_t max_new_tokens = 128;
  double temperature = 0.0;
  uint64_t seed = 0;
  bool print_ids = false;
  bool ignore_eos = false;
};

std::unique_ptr<tokenizer::Tokenizer> load_tokenizer_or_explain(
    const GenerateCommandOptions& options) {
  const std::string& path = options.tokenizer.empty() ? options.model : options.tokenizer;
  try {
    return tokenizer::load_tokenizer(path);
  } catch (const InputError& e) {
    PTQ_THROW_INPUT(e.what(),
                    ". Without a tokenizer, give the prompt as ids (--prompt-ids 1,2,3)"
                    " and print ids (--ids), or point --tokenizer at one");
  }
}

void print_ids(const std::vector<int32_t>& ids) {
  for (size_t i = 0; i < ids.size(); ++i) std::printf(i == 0 ? "%d" : " %d", ids[i]);
  std::printf("\n");
}

int run_generate(const GenerateCommandOptions& options) {
  const bool text_prompt = options.prompt_ids.empty();
  PTQ_CHECK_INPUT(text_prompt != options.prompt.empty(),
                  "give exactly one of --prompt and --prompt-ids");
  // Weights kept at their stored width (a bf16 model in half the memory of fp32), each layer
  // upcast for its pass.
  model::LoadOptions load;
  load.keep_stored_dtype = true;
  const auto lm = quant::load_model(options.model, load);
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  if (text_prompt || !options.print_ids) tokenizer = load_tokenizer_or_explain(options);

  eval::GenerateOptions generation;
  generation.max_new_tokens = options.max_new_tokens;
  generation.temperature = options.temperature;
  generation.seed = options.seed;
  if (!options.ignore_eos) generation.eos_id = lm->config().eos_token_id;
  const std::vector<int32_t> prompt =
      text_prompt ? tokenizer->encode(options.prompt) : options.prompt_ids;
  const std::vector<int32_t> ids = eval::generate(*lm, prompt, generation);

  if (options.print_ids) {
    print_ids(ids);
  } else {
    std::printf("%s\n", tokenizer->decode(ids).c_str());
  }
  return kExitOk;
}

}  // namespace

Command add_generate_command(CLI::App& parent) {
  auto options = std::make_shared<GenerateCommandOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "generate", "Continue a prompt: greedy at --temperature 0, else seeded sampling");
  CLI::App& app = *command.app;
  app.add_option("--model", options->model, "Hugging Face model directory")->required();
  auto* prompt = app.add_option("--prompt", options->prompt,
                                "Prompt text, encoded with the model's tokenizer (adds BOS "
                                "when the tokenizer does)");
  app.add_option("--prompt-ids", options->prompt_ids,
                 "Prompt as comma-separated token ids, used as given (include BOS yourself)")
      ->delimiter(',')
      ->check(kNonNegative)  // also rejects an empty id, which CLI11 would read as 0
      ->excludes(prompt);
  app.add_option("--tokenizer", options->tokenizer,
                 "Tokenizer directory or file (default: the model directory)");
  app.add_option("--max-new-tokens", options->max_new_tokens, "Tokens to generate")
      ->capture_default_str()
      ->check(kNonNegative);
  app.add_option("--temperature", options->temperature,
                 "0 = greedy (argmax); T > 0 samples from softmax(logits / T)")
      ->capture_default_str()
      ->check(kNonNegative);
  app.add_option("--seed", options->seed, "Sampling seed: the same seed gives the same ids")
      ->capture_default_str();
  app.add_flag("--ids", options->print_ids,
               "Print the prompt and generated ids, space-separated on one line, instead of "
               "text");
  app.add_flag("--ignore-eos", options->ignore_eos,
               "Keep generating after the model's eos_token_id (default: stop there)");
  command.run = [options] { return run_generate(*options); };
  return command;
}

}  // namespace ptq::cli
