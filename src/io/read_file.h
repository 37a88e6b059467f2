#pragma once
// Whole-file reads shared by the loaders of checkpoints, configs, tokenizers and data sets.

#include <nlohmann/json.hpp>
#include <string>

namespace ptq::io {

// Throws InputError naming `path` unless it is a regular file (a FIFO or a device such as
// /dev/zero would block or never end), saying what it is instead: missing, a directory, a
// symlink loop, a name too long.
void check_regular_file(const std::string& path);

// The bytes of `path`; throws InputError naming the file when it is missing or unreadable.
std::string read_file_bytes(const std::string& path);

// The parsed JSON document; throws InputError naming `path` when it is missing or malformed.
nlohmann::json read_json_file(const std::string& path);

}  // namespace ptq::io
