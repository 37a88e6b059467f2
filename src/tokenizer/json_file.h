#pragma once
// Vocabulary objects of Hugging Face tokenizer files.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

namespace ptq::tokenizer {

// A vocabulary object {"token": id, ...}; throws InputError naming `path` unless every id is a
// non-negative integer.
std::unordered_map<std::string, int32_t> read_token_ids(const nlohmann::json& vocab,
                                                        const std::string& path);

}  // namespace ptq::tokenizer
