#pragma once
// Vocabulary objects of Hugging Face tokenizer files.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

namespace ptq::tokenizer {

// A vocabulary object {"token": id, ...}; throws InputError naming `path` unless every id
// passes check_token_id with the vocabulary's size plus `extra_tokens` (the file's added
// tokens).
std::unordered_map<std::string, int32_t> read_token_ids(const nlohmann::json& vocab,
                                                        const std::string& path,
                                                        size_t extra_tokens = 0);
// Throws InputError naming `path` unless 0 <= id < tokens + kTokenIdGap (`tokens`: the tokens
// the file holds). Tables are sized by the largest id, so a 100-byte file claiming id
// 50,000,000 took 1.7 GB; ids may leave gaps (unused ids), up to kTokenIdGap of them.
constexpr size_t kTokenIdGap = 1 << 16;
void check_token_id(int64_t id, size_t tokens, const std::string& token, const std::string& path);

}  // namespace ptq::tokenizer
