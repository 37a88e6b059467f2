#include "ptq/quant/activation_quantizer.h"

#include <ATen/ATen.h>

#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

// quantizer.py's CLIPMIN: the smallest scale, so a constant token does not divide by zero.
constexpr double kMinScale = 1e-5;

}  // namespace

void check_activation_quantizer(const ActivationQuantizerConfig& config) {
  PTQ_CHECK_INPUT(config.bits >= 2 && config.bits <= 16,
                  "--abits must be in 2..16 (16: ", "unquantized activations), got ", config.bits);
  PTQ_CHECK_INPUT(config.clip > 0 && config.clip <= 1, "--act-clip must be in (0, 1], got ",
                  config.clip);
}

namespace {

// fake_quantize_per_token with `round` for round().
template <typename Round>
at::Tensor fake_quantize_per_token_with(const at::Tensor& x,
                                        const ActivationQuantizerConfig& config,
                                        Round round) {
  if (!config.enabled()) return x;
  const double maxq = static_cast<double>((1 << config.bits) - 1);
  // Unlike the weight grids (quant.py), the range need not contain 0: quantizer.py takes the
  // token's own min and max.
  const at::Tensor xmin = x.amin(-1, /*keepdim=*/true) * config.clip;
  const at::Tensor xmax = x.amax(-1, /*keepdim=*/true) * config.clip;
  const at::Tensor scale = ((xmax - xmin) / maxq).clamp_min(kMinScale);
  const at::Tensor zero = at::round(-xmin / scale);
  const at::Tensor codes = (round(x / scale) + zero).clamp_(0, maxq);
  return (codes - zero) * scale;
}

}  // namespace

at::Tensor fake_quantize_per_token(const at::Tensor& x, const ActivationQuantizerConfig& config) {
  return fake_quantize_per_token_with(x, config, [](const at::Tensor& t) { return at::round(t); });
}

at::Tensor round_straight_through(const at::Tensor& x) { return x + (at::round(x) - x).detach(); }

std::function<at::Tensor(const at::Tensor&)> per_token_quantizer(
    const ActivationQuantizerConfig& config, Rounding rounding) {
  if (rounding == Rounding::StraightThrough) {
    return [config](const at::Tensor& x) {
      return fake_quantize_per_token_with(x, config, round_straight_through);
    };
  }
  return [config](const at::Tensor& x) { return fake_quantize_per_token(x, config); };
}

}  // namespace ptq::quant
