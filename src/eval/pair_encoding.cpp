#include "pair_encoding.h"

#include <algorithm>

#include "ptq/common/error.h"

namespace ptq::eval {
namespace {

// Python's str.isspace(): Unicode White_Space plus the ASCII separators 0x1C..0x1F.
bool is_python_space(uint32_t c) {
  if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return true;
  if (c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A)) return true;
  return c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_continuation_byte(unsigned char b) { return (b & 0xC0) == 0x80; }

// The code point of the well-formed UTF-8 sequence text[begin, end); invalid sequences decode
// to a value that is not whitespace.
uint32_t decode(const std::string& text, size_t begin, size_t end) {
  const auto lead = static_cast<unsigned char>(text[begin]);
  const size_t n = end - begin;
  if (n == 1) return lead < 0x80 ? lead : 0xFFFD;
  uint32_t c = lead & (0xFF >> (n + 1));
  for (size_t i = begin + 1; i < end; ++i)
    c = (c << 6) | (static_cast<unsigned char>(text[i]) & 0x3F);
  return c;
}

// Offset where the character ending at `end` starts.
size_t previous_start(const std::string& text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && end - start < 4 && is_continuation_byte(text[start])) --start;
  return start;
}

size_t leading_whitespace_bytes(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t next = pos + 1;
    while (next < text.size() && next - pos < 4 && is_continuation_byte(text[next])) ++next;
    if (!is_python_space(decode(text, pos, next))) break;
    pos = next;
  }
  return pos;
}

}  // namespace

size_t trailing_whitespace_bytes(const std::string& text) {
  size_t end = text.size();
  while (end > 0) {
    const size_t start = previous_start(text, end);
    if (!is_python_space(decode(text, start, end))) break;
    end = start;
  }
  return text.size() - end;
}

std::string strip_whitespace(const std::string& text) {
  const size_t begin = leading_whitespace_bytes(text);
  if (begin == text.size()) return {};
  return text.substr(begin, text.size() - begin - trailing_whitespace_bytes(text));
}

int64_t count_characters(const std::string& text) {
  return std::count_if(text.begin(), text.end(),
                       [](char b) { return !is_continuation_byte(static_cast<unsigned char>(b)); });
}

EncodedRequest encode_pair(const tokenizer::Tokenizer& tokenizer,
                           const LoglikelihoodRequest& request) {
  EncodedRequest encoded;
  if (request.context.empty()) {
    const auto prefix = tokenizer.bos_id() ? tokenizer.bos_id() : tokenizer.eos_id();
    PTQ_CHECK_INPUT(prefix.has_value(),
                    "a request with an empty context needs a BOS or EOS "
                    "token to condition on, and the tokenizer has neither");
    encoded.context = {*prefix};
    encoded.continuation = tokenizer.encode_raw(request.continuation);
  } else {
    const size_t spaces = trailing_whitespace_bytes(request.context);
    const std::string context = request.context.substr(0, request.context.size() - spaces);
    const std::string continuation = request.context.substr(context.size()) + request.continuation;
    const std::vector<int32_t> whole = tokenizer.encode(context + continuation);
    encoded.context = tokenizer.encode(context);
    const size_t split = std::min(encoded.context.size(), whole.size());
    encoded.continuation.assign(whole.begin() + static_cast<std::ptrdiff_t>(split), whole.end());
  }
  PTQ_CHECK_INPUT(!encoded.continuation.empty(), "the continuation \"", request.continuation,
                  "\" of a request encodes to no token");
  return encoded;
}

}  // namespace ptq::eval
