#include "tokenizer/json_file.h"

#include "data/read_file.h"
#include "ptq/common/error.h"

namespace ptq::tokenizer {

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = data::read_file_bytes(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    PTQ_THROW_INPUT(path, ": malformed JSON: ", e.what());
  }
}

}  // namespace ptq::tokenizer
