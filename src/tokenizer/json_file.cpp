#include "tokenizer/json_file.h"

#include "ptq/common/error.h"

namespace ptq::tokenizer {

std::unordered_map<std::string, int32_t> read_token_ids(const nlohmann::json& vocab,
                                                        const std::string& path) {
  PTQ_CHECK_INPUT(vocab.is_object(), path, ": expected a vocabulary object of token -> id");
  std::unordered_map<std::string, int32_t> ids;
  ids.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    PTQ_CHECK_INPUT(
        id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() <= INT32_MAX, path,
        ": token ", token, " has id ", id.dump(), ", not a valid id");
    ids.emplace(token, id.get<int32_t>());
  }
  return ids;
}

}  // namespace ptq::tokenizer
