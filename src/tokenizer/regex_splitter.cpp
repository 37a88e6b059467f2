#include "tokenizer/regex_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "ptq/common/error.h"
#include "tokenizer/utf8.h"

namespace ptq::tokenizer {
namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

struct RegexSplitter::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

RegexSplitter::RegexSplitter(const std::string& pattern) : _compiled(std::make_unique<Compiled>()) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  _compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                  PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  PTQ_CHECK_INPUT(_compiled->code, "invalid pre-tokenizer regex at offset ", offset, ": ",
                  pcre2_message(error), " in ", pattern);
  // JIT is only an accelerator: the interpreter gives the same matches when it is unavailable.
  pcre2_jit_compile(_compiled->code, PCRE2_JIT_COMPLETE);
}

RegexSplitter::~RegexSplitter() = default;

std::vector<std::string_view> RegexSplitter::split(std::string_view text) const {
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(_compiled->code, nullptr), &pcre2_match_data_free);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::vector<std::string_view> pieces;
  size_t start = 0;
  uint32_t options = 0;  // the UTF check runs once, on the first call
  while (start < text.size()) {
    const int rc =
        pcre2_match(_compiled->code, subject, text.size(), start, options, match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    PTQ_CHECK_INPUT(rc >= 0, "cannot pre-tokenize text: ", pcre2_message(rc));
    options = PCRE2_NO_UTF_CHECK;
    const PCRE2_SIZE* bounds = pcre2_get_ovector_pointer(match.get());
    if (bounds[0] > start) pieces.push_back(text.substr(start, bounds[0] - start));
    if (bounds[0] == text.size()) break;
    // An empty match would not advance: take one character as its own piece instead.
    const size_t end =
        bounds[1] > bounds[0]
            ? bounds[1]
            : std::min(text.size(), bounds[0] + utf8_sequence_length(text[bounds[0]]));
    pieces.push_back(text.substr(bounds[0], end - bounds[0]));
    start = end;
  }
  if (start < text.size()) pieces.push_back(text.substr(start));
  return pieces;
}

}  // namespace ptq::tokenizer
