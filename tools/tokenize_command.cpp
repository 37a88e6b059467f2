// ptq tokenize: token ids of a data set or a string, as the model's tokenizer gives them.
//
//   ptq tokenize --model models/opt-125m --dataset wikitext2 --count
//   ptq tokenize --tokenizer tokenizer.model --text "Hello world"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "command.h"
#include "ptq/common/error.h"
#include "ptq/data/dataset.h"
#include "ptq/tokenizer/tokenizer.h"

namespace ptq::cli {
namespace {

struct TokenizeOptions {
  std::string tokenizer;  // file or directory; --model is the same, for a model directory
  std::string dataset;
  std::optional<std::string> text;
  bool count = false;
  bool add_bos = false;
  bool no_add_bos = false;
};

std::string ids_line(const std::vector<int32_t>& ids) {
  std::string line;
  line.reserve(ids.size() * 6);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line += ' ';
    line += std::to_string(ids[i]);
  }
  return line + '\n';
}

int run_tokenize(const TokenizeOptions& options) {
  auto tokenizer = tokenizer::load_tokenizer(options.tokenizer);
  if (options.add_bos) {
    PTQ_CHECK_INPUT(tokenizer->bos_id(), "--add-bos: tokenizer ", options.tokenizer,
                    " has no BOS token");
    tokenizer->set_add_bos(true);
  }
  if (options.no_add_bos) tokenizer->set_add_bos(false);
  const std::string text = options.text ? *options.text : data::load_text(options.dataset);
  const std::vector<int32_t> ids = tokenizer->encode(text);
  const std::string out = options.count ? std::to_string(ids.size()) + '\n' : ids_line(ids);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace

Command add_tokenize_command(CLI::App& parent) {
  auto options = std::make_shared<TokenizeOptions>();
  Command command;
  command.app = parent.add_subcommand("tokenize", "Print the token ids of a data set or a string");
  auto* source = command.app->add_option_group("tokenizer source");
  source->add_option("--tokenizer", options->tokenizer,
                     "tokenizer.json, tokenizer.model (sentencepiece or tiktoken), qwen.tiktoken, "
                     "vocab.json/merges.txt or their directory");
  source->add_option("--model", options->tokenizer, "Model directory holding the tokenizer");
  source->require_option(1);
  auto* input = command.app->add_option_group("input");
  input->add_option("--dataset", options->dataset,
                    "wikitext2, ptb, ptb-new, c4, or a text / JSON-lines file");
  input->add_option("--text", options->text, "A string to tokenize");
  input->require_option(1);
  command.app->add_flag("--count", options->count, "Print only the number of tokens");
  auto* add_bos = command.app->add_flag("--add-bos", options->add_bos,
                                        "Prepend the BOS token (default: as the tokenizer does)");
  command.app->add_flag("--no-add-bos", options->no_add_bos, "Never prepend a BOS token")
      ->excludes(add_bos);
  command.run = [options] { return run_tokenize(*options); };
  return command;
}

}  // namespace ptq::cli
