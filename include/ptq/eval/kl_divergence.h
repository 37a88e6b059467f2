#pragma once
// How far a (quantized) model's next-token distributions are from its original's, with the
// summary llama.cpp's perplexity tool prints for --kl-divergence: per predicted token
//   KLD    = sum_v P_base(v) (log P_base(v) - log P_model(v))
//   same top token: argmax P_model == argmax P_base
//   delta p = P_model(target) - P_base(target)
// summarized as mean (with standard error), median and 99th percentile KLD, top-1 agreement,
// mean and RMS delta p, and ln(PPL(model) / PPL(base)), each with a standard error.
// Standard errors follow llama.cpp: sqrt((E[x^2] - E[x]^2) / (n - 1)) for a mean; for RMS,
// 0.5 / RMS x the standard error of mean(delta p^2); for the log-ratio the two log-perplexities'
// errors combined with their covariance. Unlike llama.cpp, which scores the second half of each
// window only, every prediction of every segment counts, as in ptq's perplexity
// (ptq/eval/perplexity.h).
//
//   auto q = ptq::model::load_causal_lm("out/gptq-w4");
//   auto fp = ptq::model::load_causal_lm("models/opt-125m");
//   ptq::eval::KlResult r = ptq::eval::evaluate_kl_divergence(*q, *fp, rows, {});
//
// For models beyond RAM the base model's distributions can be written once
// (save_base_log_probs, the file format in ptq/eval/logits_file.h) and compared with later
// (evaluate_kl_divergence_from_file), each run streaming one model; a large vocabulary is kept
// as its top k log-probs and the remaining mass, which bounds the KLD from below
// (docs/kl-divergence.md states the error).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ptq/data/dataset.h"
#include "ptq/model/causal_lm.h"

namespace ptq::eval {

struct KlResult {
  int64_t tokens = 0;  // predictions compared
  double mean_kld = 0.0, mean_kld_stderr = 0.0;
  double median_kld = 0.0, p99_kld = 0.0, max_kld = 0.0;
  double top1_agreement = 0.0, top1_agreement_stderr = 0.0;  // fractions in [0, 1]
  double mean_delta_p = 0.0, mean_delta_p_stderr = 0.0;
  double rms_delta_p = 0.0, rms_delta_p_stderr = 0.0;
  double ln_ppl_ratio = 0.0, ln_ppl_ratio_stderr = 0.0;  // ln(PPL(model) / PPL(base))
  double perplexity = 0.0, base_perplexity = 0.0;
  // Top-k base distributions: the mean probability outside the stored k (the KLD's error
  // scales with it); 0 for full distributions.
  double mean_base_tail_mass = 0.0;
  double seconds = 0.0;
};

// A base distribution kept as its k most probable entries and the mass of the rest.
struct TopKLogProbs {
  at::Tensor log_probs;   // [N, k] fp32, descending
  at::Tensor ids;         // [N, k] int64, the entries' token ids
  at::Tensor log_rest;    // [N] fp32: ln(1 - sum of the k probabilities); -inf when none is left
  at::Tensor log_target;  // [N] fp32: the target token's log-prob
};

// The top k of log-probs `log_p` [N, vocab] fp32 with targets [N] int64.
TopKLogProbs top_k_log_probs(const at::Tensor& log_p, const at::Tensor& targets, int64_t k);

// Sums of per-token statistics, fed one batch of predictions at a time.
class KlAccumulator {
 public:
  // base_logits, logits: [N, vocab] of the same N positions; targets: [N] int64 next tokens.
  void add(const at::Tensor& base_logits, const at::Tensor& logits, const at::Tensor& targets);
  // The same from fp32 log-probs (log_softmax of the logits).
  void add_log_probs(const at::Tensor& base_log_p,
                     const at::Tensor& log_p,
                     const at::Tensor& targets);
  // Against top-k base distributions: per token the KLD of the distributions coarsened to the
  // base's k entries and one "rest" entry, sum_i p_i ln(p_i / q_i) + r ln(r / q_rest), a lower
  // bound on the full KLD that falls short of it by r x KL(P_rest / r || Q_rest / q_rest).
  // Top-1 agreement, delta p and the perplexities are exact.
  void add_top_k(const TopKLogProbs& base, const at::Tensor& log_p, const at::Tensor& targets);
  // The summary so far; a standard error over fewer than two tokens is NaN.
  KlResult result() const;

 private:
  // Per-token KLDs [N] and target log-probs [N] of both models, fp32.
  void add_tokens(const at::Tensor& kld,
                  const at::Tensor& base_target,
                  const at::Tensor& target,
                  int64_t same_top);

  std::vector<float> _kld;  // every token's, for the median and percentiles
  double _sum_kld = 0.0, _sum_kld2 = 0.0;
  double _sum_nll = 0.0, _sum_nll2 = 0.0;
  double _sum_base_nll = 0.0, _sum_base_nll2 = 0.0, _sum_nll_base_nll = 0.0;
  double _sum_p_diff = 0.0, _sum_p_diff2 = 0.0, _sum_p_diff4 = 0.0;
  double _sum_tail = 0.0;
  int64_t _same_top = 0;
};

struct KlOptions {
  int64_t max_segments = 0;           // the first N rows only; 0 = all
  int64_t batch_size = 0;             // rows per forward pass; 0 = as perplexity chooses
  int64_t resident_budget_bytes = 0;  // streamed models: what the run may hold (perplexity.h)
};

// Every row of `rows` through both models, in lockstep (ptq/eval/perplexity.h's
// for_each_batch_logits: a model loaded with lazy_layers is streamed layer by layer, each
// model within half the budget). Throws InputError when the models' vocabularies differ,
// there are no rows or rows shorter than 2, or an id is outside the vocabulary.
KlResult evaluate_kl_divergence(model::CausalLM& model,
                                model::CausalLM& base,
                                const data::TokenRows& rows,
                                const KlOptions& options);

struct SavedLogits {
  int64_t predictions = 0;
  int64_t top_k = 0;        // 0: full distributions
  double perplexity = 0.0;  // the base model's, on the same predictions
  double seconds = 0.0;
};

// Writes `base`'s next-token log-probs on `rows` to `path` (via a temporary file renamed at the
// end; nothing is left behind on an error), `dataset` recorded in the header. top_k < 0: full
// log-probs for a vocabulary of at most kFullVocabularyLimit entries, else the top
// kDefaultTopK (ptq/eval/logits_file.h); 0: full; k > 0: the top k.
SavedLogits save_base_log_probs(model::CausalLM& base,
                                const data::TokenRows& rows,
                                const std::string& dataset,
                                const std::string& path,
                                int64_t top_k,
                                const KlOptions& options);

// evaluate_kl_divergence against the distributions save_base_log_probs wrote to `path`. Throws
// InputError naming the file when it is malformed or truncated, or was written for other
// token rows (its header records their hash), seqlen or vocabulary, before any forward pass.
// `dataset` names the rows in messages.
KlResult evaluate_kl_divergence_from_file(model::CausalLM& model,
                                          const data::TokenRows& rows,
                                          const std::string& dataset,
                                          const std::string& path,
                                          const KlOptions& options);

}  // namespace ptq::eval
