#pragma once
// Perplexity of a causal LM, following the GPTQ reference protocol
// (docs/eval-protocol.md, opt.py's opt_eval): the token stream is cut into
// floor(n / seqlen) non-overlapping segments (the tail is dropped, no BOS re-inserted), each
// segment is scored on its seqlen - 1 next-token predictions, and
//   perplexity = exp(mean over all predictions of -log p(target)).
//
//   auto lm = ptq::model::load_causal_lm("models/opt-125m");
//   ptq::eval::PerplexityOptions options;
//   options.seqlen = 2048;
//   ptq::eval::PerplexityResult r = ptq::eval::evaluate_perplexity(*lm, ids, options);

#include <cstdint>
#include <vector>

#include "ptq/data/dataset.h"
#include "ptq/model/causal_lm.h"

namespace ptq::eval {

struct PerplexityOptions {
  int64_t seqlen = 2048;            // evaluate_perplexity only; rows carry their own length
  int64_t max_segments = 0;         // evaluate the first N segments only; 0 = all
  int64_t batch_size = 0;           // segments per forward pass; 0 = as many as fit the budget
  int64_t memory_budget_mb = 1024;  // activations of one batch, for the automatic batch size
};

struct PerplexityResult {
  double perplexity = 0.0;
  double mean_nll = 0.0;  // nats per predicted token
  int64_t tokens = 0;     // tokens run through the model: segments x seqlen
  int64_t segments = 0;
  int64_t seqlen = 0;
  double seconds = 0.0;  // forward passes and scoring, without loading
  double tokens_per_second = 0.0;
};

// Throws InputError when `ids` holds fewer than seqlen tokens, seqlen < 2, or an id is
// outside the model's vocabulary.
PerplexityResult evaluate_perplexity(const model::CausalLM& lm,
                                     const std::vector<int32_t>& ids,
                                     const PerplexityOptions& options);

// Every row is one segment (options.seqlen is ignored). Throws InputError for no rows.
PerplexityResult evaluate_rows(const model::CausalLM& lm,
                               const data::TokenRows& rows,
                               const PerplexityOptions& options);

}  // namespace ptq::eval
