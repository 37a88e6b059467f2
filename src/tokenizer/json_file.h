#pragma once
// JSON configuration files of Hugging Face tokenizers.

#include <nlohmann/json.hpp>
#include <string>

namespace ptq::tokenizer {

// The parsed document; throws InputError naming `path` when it is missing or malformed.
nlohmann::json read_json_file(const std::string& path);

}  // namespace ptq::tokenizer
