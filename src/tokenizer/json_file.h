#pragma once
// JSON configuration files of Hugging Face tokenizers.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

namespace ptq::tokenizer {

// The parsed document; throws InputError naming `path` when it is missing or malformed.
nlohmann::json read_json_file(const std::string& path);

// A vocabulary object {"token": id, ...}; throws InputError naming `path` unless every id is a
// non-negative integer.
std::unordered_map<std::string, int32_t> read_token_ids(const nlohmann::json& vocab,
                                                        const std::string& path);

}  // namespace ptq::tokenizer
