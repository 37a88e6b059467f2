#include "ptq/common/printable.h"

#include <cstdint>
#include <cstdio>

namespace ptq {
namespace {

void append_escaped(std::string& out, uint8_t byte) {
  char code[5];
  std::snprintf(code, sizeof(code), "\\x%02x", byte);
  out += code;
}

// The length of the valid UTF-8 sequence starting at text[i] (overlong forms, surrogates
// and code points past U+10FFFF are invalid), or 0.
size_t utf8_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t lead = byte(i);
  size_t length = 0;
  uint32_t code = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, code = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3, code = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3f);
  }
  const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < smallest[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  if (code >= 0x80 && code <= 0x9f) return 0;  // C1 controls (0x9b is a CSI on some terminals)
  return length;
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<uint8_t>(text[i]);
    if (byte == '\\') {
      out += "\\\\";
      ++i;
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += text[i++];
    } else if (const size_t length = byte >= 0x80 ? utf8_length(text, i) : 0) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      append_escaped(out, byte);
      ++i;
    }
  }
  return out;
}

}  // namespace ptq
