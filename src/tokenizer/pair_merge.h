#pragma once
// The merge loop shared by every BPE flavour here: start from the characters of a word and
// repeatedly merge the best adjacent pair, leftmost first on ties, until no pair merges. With
// priority = -rank this is GPT-2 / Hugging Face BPE; with priority = score of the merged piece it
// is sentencepiece BPE (bpe_model.cc; llama.cpp llm_tokenizer_spm).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ptq::tokenizer {

// nullopt when `left` and `right` never merge; otherwise larger values merge first.
using PairPriority =
    std::function<std::optional<double>(std::string_view left, std::string_view right)>;

// The final symbols of `word`, as views into it, in order.
std::vector<std::string_view> merge_pairs(std::string_view word, const PairPriority& priority);

// The id of the token left + right in `ids`, for tokenizers whose pairs merge by the merged
// token's own rank or score (tiktoken, sentencepiece) rather than by a merge list.
std::optional<int32_t> merged_token_id(const std::unordered_map<std::string, int32_t>& ids,
                                       std::string_view left,
                                       std::string_view right);

}  // namespace ptq::tokenizer
