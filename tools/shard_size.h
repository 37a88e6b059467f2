#pragma once
// --max-shard-size values of `ptq quantize` and `ptq export`, as Hugging Face's
// convert_file_size_to_int reads them: "2GB" = 2e9 bytes, "2GiB" = 2^31, "500MiB", "1000".

#include <cstdint>
#include <string>

namespace ptq::cli {

// Bytes of `text`; throws InputError naming --max-shard-size for a value that is not a size.
uint64_t parse_size(const std::string& text);

}  // namespace ptq::cli
