#include "tokenizer/vocab_merges.h"

#include <sstream>

#include "io/read_file.h"
#include "ptq/common/error.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/byte_level_bpe.h"
#include "tokenizer/json_file.h"

namespace ptq::tokenizer {
namespace {

constexpr const char* kEndOfText = "<|endoftext|>";

// One "left right" pair per line. Only a first line starting with "#version" is a header:
// merges such as "# #" also begin with '#'.
std::vector<std::pair<std::string, std::string>> read_merges(const std::string& path) {
  std::istringstream lines(io::read_file_bytes(path));
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t space = line.find(' ');
    PTQ_CHECK_INPUT(space != std::string::npos && space > 0 && space + 1 < line.size() &&
                        line.find(' ', space + 1) == std::string::npos,
                    path, ":", number, ": expected \"left right\", got \"", line, "\"");
    pairs.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  return pairs;
}

ByteLevelBpe::Options options_for_class(const std::string& tokenizer_class,
                                        const std::string& merges_path) {
  ByteLevelBpe::Options options;
  if (tokenizer_class == "Qwen2Tokenizer" || tokenizer_class == "Qwen2TokenizerFast") {
    options.split_pattern = kQwenSplitPattern;
    options.nfc = true;
    return options;
  }
  // Classes whose vocab.json + merges.txt follow GPT-2's byte-level scheme.
  static const char* const kGpt2Like[] = {"",
                                          "GPT2Tokenizer",
                                          "GPT2TokenizerFast",
                                          "RobertaTokenizer",
                                          "RobertaTokenizerFast",
                                          "BartTokenizer",
                                          "BartTokenizerFast",
                                          "CodeGenTokenizer",
                                          "CodeGenTokenizerFast",
                                          "GPTNeoXTokenizerFast"};
  for (const char* known : kGpt2Like) {
    if (tokenizer_class == known) return options;
  }
  PTQ_THROW_INPUT("tokenizer_config.json beside ", merges_path, " names tokenizer_class ",
                  tokenizer_class, ", which ptq does not read from vocab.json + merges.txt");
}

}  // namespace

std::unique_ptr<Tokenizer> load_vocab_merges(const nlohmann::json& vocab_json,
                                             const std::string& vocab_path,
                                             const std::string& merges_path,
                                             const std::string& tokenizer_class,
                                             SpecialTokens added) {
  const ByteLevelBpe::Options options = options_for_class(tokenizer_class, merges_path);
  std::unordered_map<std::string, int32_t> vocab = read_token_ids(vocab_json, vocab_path);
  check_added_token_ids(added, static_cast<int64_t>(vocab.size()), vocab_path);
  if (vocab.count(kEndOfText) && !added.find(kEndOfText)) added.add(kEndOfText, vocab[kEndOfText]);
  auto tokenizer = std::make_unique<ByteLevelBpe>(
      std::move(vocab), MergeRanks(read_merges(merges_path)), std::move(added), options);
  tokenizer->set_bos_id(tokenizer->token_id(kEndOfText));
  tokenizer->set_eos_id(tokenizer->token_id(kEndOfText));
  return tokenizer;
}

}  // namespace ptq::tokenizer
