#include "tokenizer/added_tokens.h"

#include "io/read_file.h"
#include "ptq/common/error.h"
#include "tokenizer/json_file.h"

namespace ptq::tokenizer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void add_added_tokens_json(const fs::path& path, SpecialTokens& added) {
  for (const auto& [content, id] : read_token_ids(io::read_json_file(path), path.string())) {
    added.add(content, id, /*special=*/false);
  }
}

void add_config_decoder(const fs::path& path, SpecialTokens& added) {
  const json config = io::read_json_file(path);
  if (!config.is_object() || !config.contains("added_tokens_decoder")) return;
  const json& decoder = config["added_tokens_decoder"];
  PTQ_CHECK_INPUT(decoder.is_object(), path.string(), ": added_tokens_decoder must be an object");
  for (const auto& [key, token] : decoder.items()) {
    size_t used = 0;
    int64_t id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::exception&) {
    }
    PTQ_CHECK_INPUT(used == key.size() && id >= 0 && id <= INT32_MAX, path.string(),
                    ": added_tokens_decoder key \"", key, "\" is not a token id");
    PTQ_CHECK_INPUT(token.is_object() && token.contains("content") && token["content"].is_string(),
                    path.string(), ": added_tokens_decoder[\"", key, "\"] has no string content");
    const json special = token.value("special", json(false));
    PTQ_CHECK_INPUT(special.is_boolean(), path.string(), ": added_tokens_decoder[\"", key,
                    "\"].special must be a boolean");
    added.add(token["content"].get<std::string>(), static_cast<int32_t>(id), special.get<bool>());
  }
}

}  // namespace

SpecialTokens read_directory_added_tokens(const fs::path& dir) {
  SpecialTokens added;
  if (fs::exists(dir / "added_tokens.json"))
    add_added_tokens_json(dir / "added_tokens.json", added);
  if (fs::exists(dir / "tokenizer_config.json")) {
    add_config_decoder(dir / "tokenizer_config.json", added);
  }
  return added;
}

void check_added_token_ids(const SpecialTokens& added,
                           int64_t base_size,
                           const std::string& source) {
  const int64_t limit = base_size + added.size();
  PTQ_CHECK_INPUT(added.id_end() <= limit, source, ": an added token has id ", added.id_end() - 1,
                  ", beyond the ", base_size, " ids of the vocabulary and its ", added.size(),
                  " added tokens");
}

}  // namespace ptq::tokenizer
