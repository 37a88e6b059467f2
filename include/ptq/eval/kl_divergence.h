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

#include <ATen/core/Tensor.h>

#include <cstdint>
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
  double seconds = 0.0;
};

// Sums of per-token statistics, fed one batch of predictions at a time.
class KlAccumulator {
 public:
  // base_logits, logits: [N, vocab] of the same N positions; targets: [N] int64 next tokens.
  void add(const at::Tensor& base_logits, const at::Tensor& logits, const at::Tensor& targets);
  // The summary so far; a standard error over fewer than two tokens is NaN.
  KlResult result() const;

 private:
  std::vector<float> _kld;  // every token's, for the median and percentiles
  double _sum_kld = 0.0, _sum_kld2 = 0.0;
  double _sum_nll = 0.0, _sum_nll2 = 0.0;
  double _sum_base_nll = 0.0, _sum_base_nll2 = 0.0, _sum_nll_base_nll = 0.0;
  double _sum_p_diff = 0.0, _sum_p_diff2 = 0.0, _sum_p_diff4 = 0.0;
  int64_t _same_top = 0;
};

struct KlOptions {
  int64_t max_segments = 0;  // the first N rows only; 0 = all
};

// Every row of `rows` through both models. Throws InputError when the models' vocabularies
// differ, there are no rows or rows shorter than 2, or an id is outside the vocabulary.
KlResult evaluate_kl_divergence(const model::CausalLM& model,
                                const model::CausalLM& base,
                                const data::TokenRows& rows,
                                const KlOptions& options);

}  // namespace ptq::eval
