#pragma once
// sentencepiece's tokenizer.model (a serialized sentencepiece_model.proto ModelProto) as a
// SentencePieceBpe tokenizer.

#include <memory>
#include <string>

#include "ptq/tokenizer/tokenizer.h"
#include "tokenizer/special_tokens.h"

namespace ptq::tokenizer {

// BOS/EOS from trainer_spec; a BOS is added, as Hugging Face's LlamaTokenizer does. `added`: the
// model directory's added tokens (Phi-3's chat tokens). Throws InputError for a malformed file, a
// UNIGRAM model, a normalization rule other than identity or an added token id past the pieces
// and the added tokens.
std::unique_ptr<Tokenizer> load_sentencepiece_model(const std::string& path,
                                                    SpecialTokens added = {});

}  // namespace ptq::tokenizer
