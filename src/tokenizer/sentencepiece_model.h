#pragma once
// sentencepiece's tokenizer.model (a serialized sentencepiece_model.proto ModelProto) as a
// SentencePieceBpe tokenizer.

#include <memory>
#include <string>

#include "ptq/tokenizer/tokenizer.h"

namespace ptq::tokenizer {

// BOS/EOS from trainer_spec; a BOS is added, as Hugging Face's LlamaTokenizer does. Throws
// InputError for a malformed file, a UNIGRAM model or a normalization rule other than identity.
std::unique_ptr<Tokenizer> load_sentencepiece_model(const std::string& path);

}  // namespace ptq::tokenizer
