#include "ptq/eval/kl_divergence.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "kl_predictions.h"
#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/common/progress.h"
#include "ptq/eval/perplexity.h"

namespace ptq::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct MeanAndError {
  double mean;
  double error;
};

// llama.cpp's mean_and_uncertainty: the mean and sqrt((E[x^2] - E[x]^2) / (n - 1)).
MeanAndError mean_and_error(double sum, double sum2, int64_t count) {
  const auto n = static_cast<double>(count);
  const double mean = sum / n;
  if (count < 2) return {mean, kNaN};
  return {mean, std::sqrt(std::max(0.0, sum2 / n - mean * mean) / (n - 1.0))};
}

// llama.cpp's percentile: linear interpolation between the sorted values around
// fraction x (n - 1).
double percentile(const std::vector<float>& sorted, double fraction) {
  const double p = fraction * static_cast<double>(sorted.size() - 1);
  const auto i = static_cast<size_t>(p);
  const size_t j = std::min(i + 1, sorted.size() - 1);
  return (1.0 - (p - static_cast<double>(i))) * sorted[i] +
         (p - static_cast<double>(i)) * sorted[j];
}

}  // namespace

TopKLogProbs top_k_log_probs(const at::Tensor& log_p, const at::Tensor& targets, int64_t k) {
  PTQ_CHECK_INPUT(k >= 1 && k <= log_p.size(-1), "top-k must be in [1, ", log_p.size(-1), "], got ",
                  k);
  TopKLogProbs top;
  auto [values, ids] = log_p.topk(k, -1, /*largest=*/true, /*sorted=*/true);
  top.log_probs = values.contiguous();
  top.ids = ids.contiguous();
  // The rest's mass summed from its own entries: 1 - sum(top k) would lose it to rounding.
  top.log_rest = log_p.scatter(-1, ids, -std::numeric_limits<float>::infinity()).logsumexp(-1);
  top.log_target = log_p.gather(-1, targets.to(at::kLong).unsqueeze(-1)).squeeze(-1);
  return top;
}

void KlAccumulator::add(const at::Tensor& base_logits,
                        const at::Tensor& logits,
                        const at::Tensor& targets) {
  add_log_probs(base_logits.to(at::kFloat).log_softmax(-1), logits.to(at::kFloat).log_softmax(-1),
                targets);
}

void KlAccumulator::add_log_probs(const at::Tensor& base_log_p,
                                  const at::Tensor& log_p,
                                  const at::Tensor& targets) {
  // Distributions in fp32 (a [tokens, vocab] double copy would take twice the memory); every
  // per-token value is summed in double.
  const at::Tensor kld = (base_log_p.exp() * (base_log_p - log_p)).sum(-1);
  const at::Tensor index = targets.to(at::kLong).unsqueeze(-1);
  add_tokens(kld, base_log_p.gather(-1, index).squeeze(-1), log_p.gather(-1, index).squeeze(-1),
             log_p.argmax(-1).eq(base_log_p.argmax(-1)).sum().item<int64_t>());
}

void KlAccumulator::add_top_k(const TopKLogProbs& base,
                              const at::Tensor& log_p,
                              const at::Tensor& targets) {
  const at::Tensor model_top = log_p.gather(-1, base.ids);
  const at::Tensor log_q_rest =
      log_p.scatter(-1, base.ids, -std::numeric_limits<float>::infinity()).logsumexp(-1);
  const at::Tensor head = (base.log_probs.exp() * (base.log_probs - model_top)).sum(-1);
  // 0 ln 0 = 0: no rest mass adds nothing, whatever the model gives the rest.
  const at::Tensor tail = at::where(base.log_rest.isneginf(), at::zeros_like(head),
                                    base.log_rest.exp() * (base.log_rest - log_q_rest));
  const at::Tensor index = targets.to(at::kLong).unsqueeze(-1);
  add_tokens(head + tail, base.log_target, log_p.gather(-1, index).squeeze(-1),
             log_p.argmax(-1).eq(base.ids.select(-1, 0)).sum().item<int64_t>());
  _sum_tail += base.log_rest.exp().to(at::kDouble).sum().item<double>();
}

void KlAccumulator::add_tokens(const at::Tensor& kld_fp32,
                               const at::Tensor& base_target_fp32,
                               const at::Tensor& target_fp32,
                               int64_t same_top) {
  const at::Tensor kld = kld_fp32.clamp_min(0.0).to(at::kDouble);
  const at::Tensor base_target = base_target_fp32.to(at::kDouble);
  const at::Tensor target = target_fp32.to(at::kDouble);
  const at::Tensor p_diff = target.exp() - base_target.exp();
  const at::Tensor nll = -target, base_nll = -base_target;

  _sum_kld += kld.sum().item<double>();
  _sum_kld2 += kld.square().sum().item<double>();
  _sum_nll += nll.sum().item<double>();
  _sum_nll2 += nll.square().sum().item<double>();
  _sum_base_nll += base_nll.sum().item<double>();
  _sum_base_nll2 += base_nll.square().sum().item<double>();
  _sum_nll_base_nll += (nll * base_nll).sum().item<double>();
  _sum_p_diff += p_diff.sum().item<double>();
  _sum_p_diff2 += p_diff.square().sum().item<double>();
  _sum_p_diff4 += p_diff.square().square().sum().item<double>();
  _same_top += same_top;
  const at::Tensor kld_float = kld.to(at::kFloat).contiguous();
  _kld.insert(_kld.end(), kld_float.data_ptr<float>(), kld_float.data_ptr<float>() + kld.numel());
}

KlResult KlAccumulator::result() const {
  KlResult r;
  const auto count = static_cast<int64_t>(_kld.size());
  r.tokens = count;
  if (count == 0) return r;
  const auto n = static_cast<double>(count);
  const MeanAndError kld = mean_and_error(_sum_kld, _sum_kld2, count);
  r.mean_kld = kld.mean;
  r.mean_kld_stderr = kld.error;
  std::vector<float> sorted = _kld;
  std::sort(sorted.begin(), sorted.end());
  r.median_kld =
      count % 2 == 0 ? 0.5 * (sorted[count / 2] + sorted[count / 2 - 1]) : sorted[count / 2];
  r.p99_kld = percentile(sorted, 0.99);
  r.max_kld = sorted.back();

  r.mean_base_tail_mass = _sum_tail / n;
  r.top1_agreement = static_cast<double>(_same_top) / n;
  r.top1_agreement_stderr =
      count < 2 ? kNaN : std::sqrt(r.top1_agreement * (1.0 - r.top1_agreement) / (n - 1.0));

  const MeanAndError p_diff = mean_and_error(_sum_p_diff, _sum_p_diff2, count);
  r.mean_delta_p = p_diff.mean;
  r.mean_delta_p_stderr = p_diff.error;
  const MeanAndError p_diff_mse = mean_and_error(_sum_p_diff2, _sum_p_diff4, count);
  r.rms_delta_p = std::sqrt(p_diff_mse.mean);
  r.rms_delta_p_stderr = r.rms_delta_p > 0.0 ? 0.5 / r.rms_delta_p * p_diff_mse.error : 0.0;

  const MeanAndError log_ppl = mean_and_error(_sum_nll, _sum_nll2, count);
  const MeanAndError base_log_ppl = mean_and_error(_sum_base_nll, _sum_base_nll2, count);
  r.perplexity = std::exp(log_ppl.mean);
  r.base_perplexity = std::exp(base_log_ppl.mean);
  r.ln_ppl_ratio = log_ppl.mean - base_log_ppl.mean;
  if (count < 2) {
    r.ln_ppl_ratio_stderr = kNaN;
  } else {
    // Cov(mean nll, mean base nll) = (E[ab] - E[a]E[b]) / (n - 1).
    const double covariance =
        (_sum_nll_base_nll / n - log_ppl.mean * base_log_ppl.mean) / (n - 1.0);
    r.ln_ppl_ratio_stderr =
        std::sqrt(std::max(0.0, log_ppl.error * log_ppl.error +
                                    base_log_ppl.error * base_log_ppl.error - 2.0 * covariance));
  }
  return r;
}

KlResult evaluate_kl_divergence(model::CausalLM& model,
                                model::CausalLM& base,
                                const data::TokenRows& rows,
                                const KlOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t vocab = model.config().vocab_size;
  PTQ_CHECK_INPUT(vocab == base.config().vocab_size, "the model's vocabulary has ", vocab,
                  " entries but the --kl-base model's ", base.config().vocab_size,
                  ": they cannot be compared");
  const at::Tensor segments = row_segments(rows, options.max_segments);
  KlAccumulator accumulator;
  Progress progress("kl-divergence", segments.size(0));
  for_each_batch_logits(
      {&base, &model}, segments, kl_forward_options(options),
      [&](const std::vector<at::Tensor>& logits, int64_t first) {
        for (int64_t i = 0; i < logits[0].size(0); ++i) {
          accumulator.add(prediction_logits(logits[0], i), prediction_logits(logits[1], i),
                          prediction_targets(segments, first + i));
        }
        progress.advance(logits[0].size(0), fmt::format("{} tokens", (first + logits[0].size(0)) *
                                                                         (segments.size(1) - 1)));
      });
  KlResult result = accumulator.result();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace ptq::eval
