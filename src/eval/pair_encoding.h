#pragma once
// lm-evaluation-harness's encoding of a loglikelihood request (lm_eval/api/model.py
// _encode_pair, lm_eval/models/huggingface.py loglikelihood):
//   1. trailing whitespace of the context (Python's str.isspace) moves to the front of the
//      continuation;
//   2. whole = tok(context + continuation), ctx = tok(context), and the continuation's tokens
//      are whole[len(ctx):] (so a token spanning the boundary counts as continuation);
//   3. an empty context becomes the single prefix token (BOS, else EOS) and the continuation is
//      encoded alone.
// tok() is the tokenizer's encode() with its own BOS default, as lm-eval's add_bos_token=None.

#include <cstdint>
#include <string>
#include <vector>

#include "ptq/tokenizer/tokenizer.h"

namespace ptq::eval {

struct LoglikelihoodRequest {
  std::string context;
  std::string continuation;
};

struct EncodedRequest {
  std::vector<int32_t> context;
  std::vector<int32_t> continuation;
};

// Throws InputError when the continuation encodes to no token, or when the context is empty
// and the tokenizer has neither BOS nor EOS.
EncodedRequest encode_pair(const tokenizer::Tokenizer& tokenizer,
                           const LoglikelihoodRequest& request);

// Bytes of the trailing run of characters Python's str.isspace() accepts (UTF-8 input).
size_t trailing_whitespace_bytes(const std::string& text);
// `text` without its leading and trailing whitespace, as Python's str.strip().
std::string strip_whitespace(const std::string& text);
// Characters (Unicode code points) of UTF-8 `text`, as Python's len(str).
int64_t count_characters(const std::string& text);

}  // namespace ptq::eval
