#include "tokenizer/tokenizer_config.h"

#include <filesystem>

#include "io/read_file.h"
#include "ptq/common/error.h"

namespace ptq::tokenizer {
namespace {

using nlohmann::json;

// The id of config key `key`: nullopt for null, the token's id otherwise.
std::optional<int32_t> special_token_id(const json& config,
                                        const std::string& key,
                                        const Tokenizer& tokenizer,
                                        const std::string& path) {
  const json& value = config[key];
  if (value.is_null()) return std::nullopt;
  const json content = value.is_object() ? value.value("content", json()) : value;
  PTQ_CHECK_INPUT(content.is_string(), path, ": ", key, " must be a string or {\"content\": ...}");
  const auto id = tokenizer.token_id(content.get<std::string>());
  PTQ_CHECK_INPUT(id, path, ": ", key, " \"", content.get<std::string>(),
                  "\" is not in the vocabulary");
  return id;
}

}  // namespace

void apply_tokenizer_config(const std::string& path, Tokenizer& tokenizer) {
  const json config = io::read_json_file(path);
  PTQ_CHECK_INPUT(config.is_object(), path, ": expected a JSON object");
  if (config.contains("bos_token")) {
    tokenizer.set_bos_id(special_token_id(config, "bos_token", tokenizer, path));
  }
  if (config.contains("eos_token")) {
    tokenizer.set_eos_id(special_token_id(config, "eos_token", tokenizer, path));
  }
  if (config.contains("add_bos_token")) {
    PTQ_CHECK_INPUT(config["add_bos_token"].is_boolean(), path,
                    ": add_bos_token must be a boolean");
    tokenizer.set_add_bos(config["add_bos_token"].get<bool>());
  }
}

std::string read_tokenizer_class(const std::string& path) {
  if (!std::filesystem::exists(path)) return "";
  const json config = io::read_json_file(path);
  if (!config.is_object() || !config.contains("tokenizer_class")) return "";
  PTQ_CHECK_INPUT(config["tokenizer_class"].is_string(), path,
                  ": tokenizer_class must be a string");
  return config["tokenizer_class"].get<std::string>();
}

}  // namespace ptq::tokenizer
