#pragma once
// Unicode normalization of tokenizer input (Hugging Face's NFC normalizer; Python's
// unicodedata.normalize("NFC") in Qwen's tokenizers), through ICU.

#include <string>
#include <string_view>

namespace ptq::tokenizer {

// `text` (UTF-8) in normalization form C. Text already in NFC comes back unchanged, byte for
// byte; in text that needs normalizing, invalid UTF-8 sequences become U+FFFD.
std::string nfc(std::string_view text);

}  // namespace ptq::tokenizer
