#pragma once
// GPT-2 byte-level BPE (openai/gpt-2 encoder.py; Hugging Face ByteLevel + BPE; tiktoken): added
// tokens are matched first, the rest is NFC-normalized when asked, split by the pre-tokenizer
// regex, and each piece's bytes are mapped to the byte alphabet and merged by rank: the rank of
// the pair in the merge list, or (tiktoken, no merge list) the rank of the merged token.

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ptq/tokenizer/tokenizer.h"
#include "tokenizer/merge_ranks.h"
#include "tokenizer/regex_splitter.h"
#include "tokenizer/special_tokens.h"

namespace ptq::tokenizer {

class ByteLevelBpe : public Tokenizer {
 public:
  struct Options {
    std::string split_pattern = kGpt2SplitPattern;
    // Hugging Face ByteLevel(add_prefix_space=True): a space before text not starting with one.
    bool add_prefix_space = false;
    // A piece that is a whole token is that token, unmerged (tiktoken; Hugging Face BPE
    // ignore_merges, as Llama 3's tokenizer.json sets it).
    bool ignore_merges = false;
    // Unicode NFC before splitting (Qwen2, GPT-NeoX).
    bool nfc = false;
  };

  // `vocab` in byte-alphabet form. Without `merges`, a pair merges by the id of the merged token
  // (tiktoken, where the id is the rank). Throws InputError when `vocab` lacks a character of
  // the byte alphabet.
  ByteLevelBpe(std::unordered_map<std::string, int32_t> vocab,
               std::optional<MergeRanks> merges,
               SpecialTokens specials,
               const Options& options);

  std::vector<int32_t> encode_raw(const std::string& text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(_tokens.size()); }
  std::optional<int32_t> token_id(const std::string& token) const override;

 private:
  void encode_piece(std::string_view piece, std::vector<int32_t>& ids) const;
  std::vector<int32_t> merge_word(const std::string& word) const;
  std::optional<double> pair_priority(std::string_view left, std::string_view right) const;

  std::unordered_map<std::string, int32_t> _ids;
  std::vector<std::string> _tokens;  // by id; added tokens included
  std::optional<MergeRanks> _merges;
  SpecialTokens _specials;
  RegexSplitter _splitter;
  Options _options;
  // Words repeat a lot in running text: merging each distinct one once makes encoding fast.
  mutable std::mutex _cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> _cache;
};

}  // namespace ptq::tokenizer
