#pragma once
// Activation fake-quantization for weight-and-activation (WxAy) models: every token (row of the
// last dimension) gets its own asymmetric min-max grid, computed on the fly, as the per-token
// dynamic UniformAffineQuantizer of OmniQuant/DuQuant/RUQuant (quantize/quantizer.py):
//
//   xmin, xmax = clip * min(x), clip * max(x)       (per token)
//   scale = max((xmax - xmin) / (2^bits - 1), 1e-5),  zero = round(-xmin / scale)
//   x' = (clamp(round(x / scale) + zero, 0, 2^bits - 1) - zero) * scale
//
//   at::Tensor xq = fake_quantize_per_token(x, {/*bits=*/4, /*clip=*/0.9});

#include <ATen/core/Tensor.h>

#include <functional>

namespace ptq::quant {

struct ActivationQuantizerConfig {
  int bits = 16;      // 16: activations stay in floating point
  double clip = 1.0;  // shrinks each token's [min, max] before the grid is fitted
  bool enabled() const { return bits < 16; }
};

// Throws InputError unless 2 <= bits <= 16 and 0 < clip <= 1.
void check_activation_quantizer(const ActivationQuantizerConfig& config);

// x [..., K] fp32 -> fake-quantized x, one grid per K-vector.
at::Tensor fake_quantize_per_token(const at::Tensor& x, const ActivationQuantizerConfig& config);
// How a fake quantizer differentiates, for training through it (RUQuant stage 2):
// - Plain: as written; round() has a zero gradient, so only each token's grid (its min and max
//   entries, through the scale) passes one.
// - StraightThrough: round() as the identity (the straight-through estimator), the rest as
//   written: the gradient also flows through each token's min and max (the scale), and is 0
//   where the clamp cuts (clipped entries). OmniQuant's round_ste in UniformAffineQuantizer,
//   which the RUQuant authors' quantizers use for activations and weights alike
//   (docs/ruquant-stage2.md).
enum class Rounding { Plain, StraightThrough };

// round(x) in the forward pass, the identity's gradient in the backward pass (round_ste).
at::Tensor round_straight_through(const at::Tensor& x);

// fake_quantize_per_token bound to `config`, for CausalLM::set_input_quantizer.
std::function<at::Tensor(const at::Tensor&)> per_token_quantizer(
    const ActivationQuantizerConfig& config, Rounding rounding = Rounding::Plain);

}  // namespace ptq::quant
