#include "tokenizer/unicode_normalization.h"

#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/unistr.h>

#include "ptq/common/error.h"

namespace ptq::tokenizer {

std::string nfc(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) PTQ_THROW_RUNTIME("ICU has no NFC normalizer: ", u_errorName(status));
  const icu::UnicodeString source = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  // Most text is already NFC: skip the copy then.
  if (normalizer->isNormalized(source, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  const icu::UnicodeString normalized = normalizer->normalize(source, status);
  if (U_FAILURE(status)) PTQ_THROW_RUNTIME("NFC normalization failed: ", u_errorName(status));
  std::string out;
  normalized.toUTF8String(out);
  return out;
}

}  // namespace ptq::tokenizer
