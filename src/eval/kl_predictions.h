#pragma once
// What the KL divergence runs (src/eval/kl_divergence.cpp, src/eval/kl_base_logits.cpp) take
// from one batch of ptq/eval/perplexity.h's for_each_batch_logits: each segment's seqlen - 1
// predictions.

#include <ATen/ATen.h>

#include <cstdint>

#include "ptq/eval/kl_divergence.h"
#include "ptq/eval/perplexity.h"

namespace ptq::eval {

// Segment i of a batch's logits [B, T, vocab] -> [T - 1, vocab] fp32: the positions that
// predict a next token. The KL runs score one segment at a time, so that beyond the batch's
// logits they hold a few [T - 1, vocab] tensors of one segment, and all of them sum the same
// per-segment terms in the same order.
inline at::Tensor prediction_logits(const at::Tensor& logits, int64_t i) {
  return logits.select(0, i).narrow(0, 0, logits.size(1) - 1).to(at::kFloat);
}

// segments [S, T] int64 -> [T - 1]: the next tokens of segment s.
inline at::Tensor prediction_targets(const at::Tensor& segments, int64_t s) {
  return segments.select(0, s).narrow(0, 1, segments.size(1) - 1);
}

inline PerplexityOptions kl_forward_options(const KlOptions& options) {
  PerplexityOptions forward;
  forward.batch_size = options.batch_size;
  forward.resident_budget_bytes = options.resident_budget_bytes;
  return forward;
}

}  // namespace ptq::eval
