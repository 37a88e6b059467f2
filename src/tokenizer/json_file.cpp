#include "tokenizer/json_file.h"

#include "ptq/common/error.h"
#include "ptq/common/printable.h"

namespace ptq::tokenizer {

void check_token_id(int64_t id, size_t tokens, const std::string& token, const std::string& path) {
  PTQ_CHECK_INPUT(id >= 0 && static_cast<uint64_t>(id) < tokens + kTokenIdGap, path, ": token ",
                  printable(token), " has id ", id, ", past the ", tokens,
                  " tokens the file holds (ids may leave at most ", kTokenIdGap, " unused)");
}

std::unordered_map<std::string, int32_t> read_token_ids(const nlohmann::json& vocab,
                                                        const std::string& path,
                                                        size_t extra_tokens) {
  PTQ_CHECK_INPUT(vocab.is_object(), path, ": expected a vocabulary object of token -> id");
  std::unordered_map<std::string, int32_t> ids;
  ids.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    PTQ_CHECK_INPUT(id.is_number_integer(), path, ": token ", printable(token), " has id ",
                    id.dump(), ", not a valid id");
    check_token_id(id.get<int64_t>(), vocab.size() + extra_tokens, token, path);
    ids.emplace(token, id.get<int32_t>());
  }
  return ids;
}

}  // namespace ptq::tokenizer
