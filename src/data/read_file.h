#pragma once
// Whole-file reads shared by the data and tokenizer loaders.

#include <string>

namespace ptq::data {

// The bytes of `path`; throws InputError naming the file when it is missing or unreadable.
std::string read_file_bytes(const std::string& path);

}  // namespace ptq::data
