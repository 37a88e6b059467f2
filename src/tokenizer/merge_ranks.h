#pragma once
// The ordered merge list of a GPT-2 / Hugging Face BPE model (merges.txt or tokenizer.json).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ptq::tokenizer {

class MergeRanks {
 public:
  // `pairs` in file order: the first merges first.
  explicit MergeRanks(const std::vector<std::pair<std::string, std::string>>& pairs);

  // -rank, for merge_pairs(); nullopt for a pair not in the list.
  std::optional<double> priority(std::string_view left, std::string_view right) const;

 private:
  // Key: left + '\0' + right (no token of these vocabularies holds a NUL character: byte-level
  // BPE writes it as 'Ā', sentencepiece as <0x00>).
  static std::string key(std::string_view left, std::string_view right);

  std::unordered_map<std::string, int32_t> _ranks;
};

}  // namespace ptq::tokenizer
