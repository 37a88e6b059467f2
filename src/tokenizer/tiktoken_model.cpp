#include "tokenizer/tiktoken_model.h"

#include <functional>

#include "ptq/common/error.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/byte_level_bpe.h"
#include "tokenizer/regex_splitter.h"
#include "tokenizer/tiktoken_ranks.h"

namespace ptq::tokenizer {
namespace {

struct TiktokenFamily {
  const char* name;
  size_t rank_count;
  // One token that tells the vocabulary apart from another of the same size.
  size_t probe_rank;
  const char* probe_bytes;
  const char* split_pattern;
  bool nfc;
  std::function<std::vector<std::string>()> special_tokens;  // from id rank_count on
  const char* bos;                                           // nullptr: none
  const char* eos;
};

// llama-models models/llama3/tokenizer.py (the 3.1+ names; 3.0 called 128002-128005 and
// 128008-128255 <|reserved_special_token_N|>, same ids).
std::vector<std::string> llama3_special_tokens() {
  std::vector<std::string> tokens = {"<|begin_of_text|>",
                                     "<|end_of_text|>",
                                     "<|reserved_special_token_0|>",
                                     "<|reserved_special_token_1|>",
                                     "<|finetune_right_pad_id|>",
                                     "<|step_id|>",
                                     "<|start_header_id|>",
                                     "<|end_header_id|>",
                                     "<|eom_id|>",
                                     "<|eot_id|>",
                                     "<|python_tag|>",
                                     "<|image|>"};
  constexpr size_t kCount = 256;
  for (size_t i = 2; tokens.size() < kCount; ++i) {
    tokens.push_back("<|reserved_special_token_" + std::to_string(i) + "|>");
  }
  return tokens;
}

// Qwen's tokenization_qwen.py: SPECIAL_TOKENS from SPECIAL_START_ID = 151643.
std::vector<std::string> qwen_special_tokens() {
  std::vector<std::string> tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  for (int i = 0; i < 205; ++i) tokens.push_back("<|extra_" + std::to_string(i) + "|>");
  return tokens;
}

const std::vector<TiktokenFamily>& families() {
  static const std::vector<TiktokenFamily> known = {
      {"Llama 3", 128000, 2028, "This", kLlama3SplitPattern, false, llama3_special_tokens,
       "<|begin_of_text|>", "<|end_of_text|>"},
      {"Qwen", 151643, 14990, "hello", kQwenSplitPattern, true, qwen_special_tokens, nullptr,
       "<|endoftext|>"},
  };
  return known;
}

const TiktokenFamily& recognize(const std::vector<std::string>& tokens, const std::string& path) {
  for (const TiktokenFamily& family : families()) {
    if (tokens.size() == family.rank_count && tokens[family.probe_rank] == family.probe_bytes) {
      return family;
    }
  }
  PTQ_THROW_INPUT(path, ": a tiktoken rank file of ", tokens.size(),
                  " tokens that is neither Llama 3's (128,000) nor Qwen's (151,643): its split "
                  "regex and special tokens are unknown; use the model's tokenizer.json");
}

}  // namespace

std::unique_ptr<Tokenizer> load_tiktoken_model(const std::string& path, SpecialTokens added) {
  const std::vector<std::string> tokens = read_tiktoken_ranks(path);
  const TiktokenFamily& family = recognize(tokens, path);
  if (added.empty()) {
    const std::vector<std::string> specials = family.special_tokens();
    for (size_t i = 0; i < specials.size(); ++i) {
      added.add(specials[i], static_cast<int32_t>(tokens.size() + i));
    }
  }
  check_added_token_ids(added, static_cast<int64_t>(tokens.size()), path);
  std::unordered_map<std::string, int32_t> vocab;
  vocab.reserve(tokens.size());
  for (size_t rank = 0; rank < tokens.size(); ++rank) {
    vocab.emplace(bytes_to_unicode(tokens[rank]), static_cast<int32_t>(rank));
  }
  ByteLevelBpe::Options options;
  options.split_pattern = family.split_pattern;
  options.ignore_merges = true;  // tiktoken takes a piece that is a token whole
  options.nfc = family.nfc;
  auto tokenizer =
      std::make_unique<ByteLevelBpe>(std::move(vocab), std::nullopt, std::move(added), options);
  if (family.bos) {
    tokenizer->set_bos_id(tokenizer->token_id(family.bos));
    tokenizer->set_add_bos(true);
  }
  tokenizer->set_eos_id(tokenizer->token_id(family.eos));
  return tokenizer;
}

}  // namespace ptq::tokenizer
