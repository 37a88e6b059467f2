#include "tokenizer/byte_level.h"

#include <array>
#include <unordered_map>

#include "tokenizer/utf8.h"

namespace ptq::tokenizer {
namespace {

bool maps_to_itself(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

const std::array<std::string, 256>& byte_alphabet() {
  static const std::array<std::string, 256> alphabet = [] {
    std::array<std::string, 256> chars;
    uint32_t next_shifted = 256;
    for (int byte = 0; byte < 256; ++byte) {
      chars[byte] = utf8_encode(maps_to_itself(byte) ? byte : next_shifted++);
    }
    return chars;
  }();
  return alphabet;
}

const std::unordered_map<std::string, char>& alphabet_bytes() {
  static const std::unordered_map<std::string, char> bytes = [] {
    std::unordered_map<std::string, char> inverse;
    for (int byte = 0; byte < 256; ++byte) inverse[byte_alphabet()[byte]] = static_cast<char>(byte);
    return inverse;
  }();
  return bytes;
}

}  // namespace

std::string bytes_to_unicode(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) text += byte_alphabet()[byte];
  return text;
}

std::string unicode_to_bytes(std::string_view text) {
  std::string bytes;
  bytes.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t length = utf8_sequence_length(text[i]);
    const std::string character(text.substr(i, length));
    const auto it = alphabet_bytes().find(character);
    bytes += it == alphabet_bytes().end() ? character : std::string(1, it->second);
    i += length;
  }
  return bytes;
}

}  // namespace ptq::tokenizer
