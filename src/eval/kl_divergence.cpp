#include "ptq/eval/kl_divergence.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/common/progress.h"

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

void KlAccumulator::add(const at::Tensor& base_logits,
                        const at::Tensor& logits,
                        const at::Tensor& targets) {
  // Distributions in fp32 (a [tokens, vocab] double copy would take twice the memory); every
  // per-token value is summed in double.
  const at::Tensor base_log_p = base_logits.to(at::kFloat).log_softmax(-1);
  const at::Tensor log_p = logits.to(at::kFloat).log_softmax(-1);
  const at::Tensor kld =
      (base_log_p.exp() * (base_log_p - log_p)).sum(-1).clamp_min(0.0).to(at::kDouble);
  const at::Tensor index = targets.to(at::kLong).unsqueeze(-1);
  const at::Tensor base_target = base_log_p.gather(-1, index).squeeze(-1).to(at::kDouble);
  const at::Tensor target = log_p.gather(-1, index).squeeze(-1).to(at::kDouble);
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
  _same_top += log_p.argmax(-1).eq(base_log_p.argmax(-1)).sum().item<int64_t>();
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

KlResult evaluate_kl_divergence(const model::CausalLM& model,
                                const model::CausalLM& base,
                                const data::TokenRows& rows,
                                const KlOptions& options) {
  c10::InferenceMode inference;
  const auto start = std::chrono::steady_clock::now();
  const int64_t vocab = model.config().vocab_size;
  PTQ_CHECK_INPUT(vocab == base.config().vocab_size, "the model's vocabulary has ", vocab,
                  " entries but the --kl-base model's ", base.config().vocab_size,
                  ": they cannot be compared");
  PTQ_CHECK_INPUT(rows.rows > 0, "the token set has no rows");
  PTQ_CHECK_INPUT(rows.row_len >= 2, "token rows must hold at least 2 tokens, got ", rows.row_len);
  PTQ_CHECK_INPUT(static_cast<int64_t>(rows.ids.size()) == rows.rows * rows.row_len,
                  "the token set holds ", rows.ids.size(), " ids, not ", rows.rows, " x ",
                  rows.row_len);
  PTQ_CHECK_INPUT(options.max_segments >= 0, "--max-segments must be >= 0");
  const int64_t segments =
      options.max_segments > 0 ? std::min(rows.rows, options.max_segments) : rows.rows;
  const int64_t len = rows.row_len;
  for (int64_t i = 0; i < segments * len; ++i) {
    PTQ_CHECK_INPUT(rows.ids[i] >= 0 && rows.ids[i] < vocab, "token id ", rows.ids[i],
                    " is outside the models' ", vocab, "-entry vocabulary");
  }
  KlAccumulator accumulator;
  Progress progress("kl-divergence", segments);
  for (int64_t s = 0; s < segments; ++s) {
    std::vector<int64_t> ids(rows.ids.begin() + s * len, rows.ids.begin() + (s + 1) * len);
    const at::Tensor row = at::tensor(ids, at::kLong).unsqueeze(0);
    const at::Tensor base_logits = base.forward(row).squeeze(0).narrow(0, 0, len - 1);
    const at::Tensor logits = model.forward(row).squeeze(0).narrow(0, 0, len - 1);
    accumulator.add(base_logits, logits, row.squeeze(0).narrow(0, 1, len - 1));
    progress.advance(1, fmt::format("{} tokens", (s + 1) * (len - 1)));
  }
  KlResult result = accumulator.result();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace ptq::eval
