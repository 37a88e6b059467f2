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
//
// A model loaded with lazy_layers is streamed as the GPTQ reference's eval loop runs: the
// segments all pass through layer i, read from the checkpoint and dropped after, then through
// layer i + 1, their hidden states kept in fp32 between layers. When the hidden states of all
// segments do not fit options.resident_budget_bytes, the segments go in chunks, each streaming
// the layers again. Batches and sums are those of an in-memory model's evaluation, so the
// perplexity is bit-identical.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ptq/data/dataset.h"
#include "ptq/model/causal_lm.h"

namespace ptq::eval {

struct PerplexityOptions {
  int64_t seqlen = 2048;            // evaluate_perplexity only; rows carry their own length
  int64_t max_segments = 0;         // evaluate the first N segments only; 0 = all
  int64_t batch_size = 0;           // segments per forward pass; 0 = as many as fit the budget
  int64_t memory_budget_mb = 1024;  // activations of one batch, for the automatic batch size
  // A streamed model: what the evaluation may hold in all (StreamedMemory), which bounds the
  // segments in flight and the batch size; 0 = no bound (all segments in flight).
  int64_t resident_budget_bytes = 0;
};

// What evaluating a streamed model holds at once (fp32): its non-layer weights and largest
// decoder layer, and per segment in flight its hidden states [seqlen, hidden], plus per
// segment of a batch its activations (a rough upper bound: logits and their log-softmax, the
// widest MLP intermediates, attention scores and probabilities).
struct StreamedMemory {
  int64_t weight_bytes = 0;
  int64_t hidden_bytes = 0;      // one segment's
  int64_t activation_bytes = 0;  // one segment's
  // One segment at a time, the least an evaluation can hold.
  int64_t minimum() const { return weight_bytes + hidden_bytes + activation_bytes; }
};

// From `config`'s architecture table; a quantized checkpoint is dequantized to the same sizes.
StreamedMemory streamed_memory(const model::ModelConfig& config, int64_t seqlen);

// Throws MemoryError with the numbers when `budget_bytes` is below
// streamed_memory(config, seqlen).minimum(); `budget_source` names where the budget came from.
void check_streamed_memory(const model::ModelConfig& config,
                           int64_t seqlen,
                           int64_t budget_bytes,
                           const std::string& budget_source);

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
// outside the model's vocabulary; MemoryError when a streamed model does not fit
// options.resident_budget_bytes (check_streamed_memory). Layers the model did not hold are
// unloaded again.
PerplexityResult evaluate_perplexity(model::CausalLM& lm,
                                     const std::vector<int32_t>& ids,
                                     const PerplexityOptions& options);

// Every row is one segment (options.seqlen is ignored). Throws InputError for no rows.
PerplexityResult evaluate_rows(model::CausalLM& lm,
                               const data::TokenRows& rows,
                               const PerplexityOptions& options);

// The first `max_segments` rows (all for 0) as [segments, row_len] int64, the evaluation's
// input. Throws InputError for no rows, rows shorter than 2 or ids that do not fill the rows.
at::Tensor row_segments(const data::TokenRows& rows, int64_t max_segments);

// logits[m]: [B, T, vocab] of models[m] for segments first .. first + B - 1.
using BatchLogitsVisitor =
    std::function<void(const std::vector<at::Tensor>& logits, int64_t first)>;

// The evaluation's forward passes, for scores other than perplexity: runs `segments` [S, T]
// int64 through every model in lockstep, in batches as the perplexity evaluation batches them
// (each streamed model layer by layer within an equal share of options.resident_budget_bytes),
// and calls `visit` once per batch, in segment order. Throws InputError when an id is outside a
// model's vocabulary, MemoryError when a share of the budget does not fit one segment.
void for_each_batch_logits(const std::vector<model::CausalLM*>& models,
                           const at::Tensor& segments,
                           const PerplexityOptions& options,
                           const BatchLogitsVisitor& visit);

}  // namespace ptq::eval
