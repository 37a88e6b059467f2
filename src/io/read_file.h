#pragma once
// Whole-file reads shared by the loaders of checkpoints, configs, tokenizers and data sets.

#include <nlohmann/json.hpp>
#include <string>

namespace ptq::io {

// The bytes of `path`; throws InputError naming the file when it is missing or unreadable.
std::string read_file_bytes(const std::string& path);

// The parsed JSON document; throws InputError naming `path` when it is missing or malformed.
nlohmann::json read_json_file(const std::string& path);

}  // namespace ptq::io
