#pragma once
// Scores encoded loglikelihood requests with a causal LM as lm-evaluation-harness does
// (lm_eval/models/huggingface.py _loglikelihood_tokens): the model reads
// (context + continuation)[-(max_length + 1):][:-1], and the continuation's tokens are scored
// by the log-softmax of the positions that predict them; the request is greedy when each of
// them is the argmax there.
//
// The requests of one example are scored together: when they share their context tokens (the
// choices of a multiple-choice question) the context runs once and its keys and values serve
// every continuation; otherwise the requests run as one right-padded batch (causal attention
// never looks at the padding after a row's tokens).

#include <cstdint>
#include <vector>

#include "pair_encoding.h"
#include "ptq/eval/zeroshot.h"
#include "ptq/model/causal_lm.h"

namespace ptq::eval {

// The window lm-eval gives a model: max_position_embeddings, else 2048.
int64_t max_request_length(const model::ModelConfig& config);

// Throws InputError for a token outside the model's vocabulary or a continuation longer than
// `max_length` tokens.
std::vector<Loglikelihood> score_requests(const model::CausalLM& lm,
                                          const std::vector<EncodedRequest>& requests,
                                          int64_t max_length);

}  // namespace ptq::eval
