#pragma once
// Hugging Face tokenizer.json with a BPE model: the ByteLevel flavour (GPT-2, OPT, Llama 3) or
// the Metaspace / byte-fallback flavour (the LLaMA fast tokenizer).

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "ptq/tokenizer/tokenizer.h"

namespace ptq::tokenizer {

// A BOS is added when the post_processor template starts with a special token.
std::unique_ptr<Tokenizer> load_tokenizer_json(const std::string& path);
// The same, for the parsed document of `path`.
std::unique_ptr<Tokenizer> load_tokenizer_json(const nlohmann::json& root, const std::string& path);

}  // namespace ptq::tokenizer
