#pragma once
// The few UTF-8 operations the tokenizers need (no validation: invalid bytes stay single units,
// so malformed input still splits and round-trips byte for byte).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptq::tokenizer {

// Bytes in the sequence led by `lead`; 1 for continuation or invalid lead bytes.
size_t utf8_sequence_length(unsigned char lead);

// Start offsets of the characters of `text` (a truncated final sequence is one unit).
std::vector<size_t> utf8_char_offsets(std::string_view text);

std::string utf8_encode(uint32_t code_point);

}  // namespace ptq::tokenizer
