#include "model/rotary.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace ptq::model {
namespace {

constexpr double kPi = 3.14159265358979323846;

at::Tensor f64_arange(double begin, double end, double step = 1.0) {
  return at::arange(begin, end, step, at::TensorOptions().dtype(at::kDouble));
}

// inv_freq_i = base^(-2i/d), i < d/2 (RoFormer eq. 15; _compute_default_rope_parameters).
at::Tensor default_inv_freq(double base, int64_t dims) {
  return at::pow(base, f64_arange(0, dims, 2) / -static_cast<double>(dims));
}

// _compute_llama3_parameters: frequencies whose wavelength exceeds
// original_max_position_embeddings / low_freq_factor are divided by factor, those below
// original / high_freq_factor kept, and those between interpolated by
// s = (original / wavelength - low) / (high - low): (1 - s) * inv / factor + s * inv.
at::Tensor llama3_inv_freq(const at::Tensor& inv_freq, const RopeScaling& s) {
  const double original = static_cast<double>(*s.original_max_position_embeddings);
  const double low_freq_wavelen = original / s.low_freq_factor;
  const double high_freq_wavelen = original / s.high_freq_factor;
  const at::Tensor wavelen = 2 * kPi / inv_freq;
  const at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
  const at::Tensor smooth =
      (original / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  const at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  const at::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
  return at::where(medium, smoothed, scaled);
}

// YaRN's attention factor (_compute_yarn_parameters' get_mscale): 0.1 * m * ln(scale) + 1.
double yarn_mscale(double scale, double m) {
  return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0;
}

double yarn_attention_factor(const RopeScaling& s) {
  if (s.attention_factor) return *s.attention_factor;
  if (s.mscale && s.mscale_all_dim && *s.mscale != 0 && *s.mscale_all_dim != 0) {
    return yarn_mscale(s.factor, *s.mscale) / yarn_mscale(s.factor, *s.mscale_all_dim);
  }
  return yarn_mscale(s.factor, 1.0);
}

// _compute_yarn_parameters (YaRN, arXiv:2309.00071 sec. 3.2): the dims that turn fewer than
// beta_slow times over the original context are interpolated (inv / factor), those turning more
// than beta_fast times kept, with a linear ramp between. The dim that turns r times is
// d * ln(original / (2 pi r)) / (2 ln base). The factor is rope_scaling's as given (transformers
// 4.5x replaced it by max_position_embeddings / original_max_position_embeddings when the
// latter is set; transformers 5 and the Qwen2.5 model cards take it as given).
at::Tensor yarn_inv_freq(double base, int64_t dims, const RopeScaling& s, int64_t original) {
  const auto correction_dim = [&](double rotations) {
    return dims * std::log(original / (rotations * 2 * kPi)) / (2 * std::log(base));
  };
  double low = correction_dim(s.beta_fast);
  double high = correction_dim(s.beta_slow);
  if (s.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dims - 1));
  if (low == high) high += 0.001;  // as transformers, against a zero-width ramp
  const at::Tensor ramp = ((f64_arange(0, dims / 2) - low) / (high - low)).clamp(0, 1);
  const at::Tensor extrapolation = default_inv_freq(base, dims);
  const at::Tensor extrapolation_weight = 1 - ramp;
  return extrapolation / s.factor * ramp + extrapolation * extrapolation_weight;
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(int64_t rotary_dims, double theta)
    : _rotary_dims(rotary_dims), _theta(theta), _max_positions(0) {}

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config, int64_t rotary_dims)
    : _rotary_dims(rotary_dims),
      _theta(config.rope_theta),
      _scaling(config.rope_scaling),
      _max_positions(config.max_position_embeddings) {
  if (_scaling.type == RopeScaling::Type::Yarn) _attention_factor = yarn_attention_factor(_scaling);
}

// Computed per call (rotary_dims / 2 values) rather than held: a model is built before its
// checkpoint's shapes have confirmed config.json's head_dim.
at::Tensor RotaryEmbedding::inv_freq(int64_t length) const {
  const at::Tensor plain = default_inv_freq(_theta, _rotary_dims);
  using Type = RopeScaling::Type;
  switch (_scaling.type) {
    case Type::Default:
      return plain;
    case Type::Linear:
      // Scaling positions by 1/factor is scaling the frequencies
      // (_compute_linear_scaling_rope_parameters).
      return plain / _scaling.factor;
    case Type::Dynamic: {
      // Dynamic NTK (_compute_dynamic_ntk_parameters with the dynamic_rope_update of the
      // rotary embedding's forward): past max_position_embeddings the base grows to
      // base * (factor * length / max - (factor - 1))^(d / (d - 2)), length = last position + 1.
      if (length <= _max_positions) return plain;
      const double f = _scaling.factor;
      const double d = static_cast<double>(_rotary_dims);
      const double base =
          _theta *
          std::pow(f * static_cast<double>(length) / _max_positions - (f - 1), d / (d - 2));
      return default_inv_freq(base, _rotary_dims);
    }
    case Type::Llama3:
      return llama3_inv_freq(plain, _scaling);
    case Type::Yarn:
      return yarn_inv_freq(_theta, _rotary_dims, _scaling,
                           _scaling.original_max_position_embeddings.value_or(_max_positions));
  }
  return plain;
}

at::Tensor RotaryEmbedding::apply(const at::Tensor& x, int64_t offset) const {
  const int64_t half = _rotary_dims / 2;
  const int64_t length = x.size(2);
  // Angles in fp64 so long positions keep their precision, then fp32 like the activations.
  const at::Tensor positions = f64_arange(offset, offset + length);
  const at::Tensor angles = at::outer(positions, inv_freq(offset + length)).repeat({1, 2});
  const at::Tensor cos = (angles.cos() * _attention_factor).to(at::kFloat);  // [T, d]
  const at::Tensor sin = (angles.sin() * _attention_factor).to(at::kFloat);

  const at::Tensor rot = x.narrow(-1, 0, _rotary_dims);
  // rotate_half: (x1, x2) -> (-x2, x1), pairing dim i with i + d/2.
  const at::Tensor rotated = at::cat({-rot.narrow(-1, half, half), rot.narrow(-1, 0, half)}, -1);
  const at::Tensor out = rot * cos + rotated * sin;
  if (_rotary_dims == x.size(-1)) return out;
  return at::cat({out, x.narrow(-1, _rotary_dims, x.size(-1) - _rotary_dims)}, -1);
}

at::Tensor apply_rotary(const at::Tensor& x, int64_t rotary_dims, double theta, int64_t offset) {
  return RotaryEmbedding(rotary_dims, theta).apply(x, offset);
}

}  // namespace ptq::model
