#include "ptq/tokenizer/tokenizer.h"

namespace ptq::tokenizer {

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int32_t> ids;
  // One BOS for the whole text, as one Hugging Face call on the joined eval string gives.
  if (add_bos()) ids.push_back(*_bos_id);
  const std::vector<int32_t> body = encode_raw(text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

}  // namespace ptq::tokenizer
