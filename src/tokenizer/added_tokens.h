#pragma once
// The added tokens a Hugging Face model directory declares beside a tokenizer.model, vocab.json
// or tiktoken rank file (tokenizer.json carries its own): added_tokens.json ({"content": id}) and
// tokenizer_config.json's added_tokens_decoder ({"id": {"content": ..., "special": ...}}).

#include <cstdint>
#include <filesystem>
#include <string>

#include "tokenizer/special_tokens.h"

namespace ptq::tokenizer {

// Both files when present; added_tokens_decoder decides which tokens are special (added_tokens.json
// alone makes them non-special, as Hugging Face's slow tokenizers load them). Throws InputError
// naming the file for a malformed entry.
SpecialTokens read_directory_added_tokens(const std::filesystem::path& dir);

// Added tokens extend a vocabulary of `base_size` ids: every id must be below base_size plus the
// number of added tokens (Hugging Face numbers them consecutively). Throws InputError naming
// `source` otherwise, before anything is allocated by the id.
void check_added_token_ids(const SpecialTokens& added,
                           int64_t base_size,
                           const std::string& source);

}  // namespace ptq::tokenizer
