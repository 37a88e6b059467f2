#pragma once
// GPT-2's reversible byte <-> printable-character alphabet (bytes_to_unicode() in openai/gpt-2
// encoder.py): printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100.. in byte
// order, so that every byte string becomes text a BPE vocabulary can hold (' ' -> 'Ġ').

#include <string>
#include <string_view>

namespace ptq::tokenizer {

// Each byte of `bytes` replaced by its alphabet character (UTF-8 encoded).
std::string bytes_to_unicode(std::string_view bytes);

// The inverse; characters outside the alphabet are kept as they are.
std::string unicode_to_bytes(std::string_view text);

}  // namespace ptq::tokenizer
