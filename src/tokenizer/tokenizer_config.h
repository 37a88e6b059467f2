#pragma once
// tokenizer_config.json: the BOS/EOS choices of a Hugging Face tokenizer.

#include <string>

#include "ptq/tokenizer/tokenizer.h"

namespace ptq::tokenizer {

// Applies add_bos_token and bos_token / eos_token (a string, {"content": ...} or null) from
// `path`; keys that are absent leave the tokenizer's defaults. Throws InputError naming the file
// for a token the vocabulary lacks.
void apply_tokenizer_config(const std::string& path, Tokenizer& tokenizer);

// tokenizer_class of the config at `path` ("Qwen2Tokenizer", ...); empty when the file or the
// key is absent.
std::string read_tokenizer_class(const std::string& path);

}  // namespace ptq::tokenizer
