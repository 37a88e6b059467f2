#pragma once
// The GPTQ reference quantizer (IST-DASLab/gptq quant.py, Quantizer with perchannel=True and
// weight=True): an affine integer grid per weight row, found by min-max or by an MSE search over
// shrunk clipping ranges, and group-wise round-to-nearest (RTN) along the input dimension.

#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace ptq::quant {

struct QuantizerConfig {
  int bits = 4;      // 2..8
  bool sym = false;  // symmetric grid: zero fixed at (maxq + 1) / 2
  bool mse = false;  // search the clipping range minimising sum |q - x|^norm per row
  double norm = 2.4;
  int grid = 100;
  double maxshrink = 0.8;
  // Min-max grids span clip * [min, max] of the row (DuQuant/RUQuant's --swc, 0.8 at W4A4),
  // trading the extremes' error for a finer grid elsewhere. 1: quant.py's full range.
  double clip = 1.0;
  // GPTQ v1 checkpoints store zero - 1 and readers add 1 back, so an asymmetric zero of 0 cannot
  // be stored (docs/format.md, "Zero points: v1 and v2"). With this flag a grid whose zero rounds
  // to 0 (rows with min >= -scale / 2) is refit: zero 1 and scale xmax / (maxq - 1), which still
  // reaches xmax but is coarser. false: quant.py's grids, as GPTQ v2 checkpoints store them.
  bool gptq_v1_zero = true;
  // v1 stores scales in fp16: grids use fp16-representable scales so that the codes computed in
  // memory dequantize to the same weights after a checkpoint round trip. false: fp32 scales as
  // quant.py.
  bool fp16_scales = true;
};

// One affine grid per row: code = clamp(round(x / scale) + zero, 0, maxq),
// value = scale * (code - zero).
struct QuantParams {
  at::Tensor scale;  // fp32 [rows]
  at::Tensor zero;   // fp32 [rows], integer-valued
  at::Tensor refit;  // bool [rows]: zero moved from 0 to 1 by gptq_v1_zero (undefined: none)
};

// Rows of `params` that gptq_v1_zero refit.
int64_t refit_rows(const QuantParams& params);

// std::nearbyint in the default rounding mode (half to even, like torch.round), without its
// libm call per element, which keeps the loops over it from vectorising on x86-64 without
// SSE4.1. Below 2^23 in magnitude, (|x| + 2^23) - 2^23 is |x| rounded to an integer half to
// even: the sum lies in [2^23, 2^24), where the float spacing is 1 and 2^23 is even; copysign
// restores the sign (nearbyint(-0.3) is -0). From 2^23 up every float is an integer, and NaN and
// the infinities are their own nearest integers: x itself. Bit-identical to std::nearbyint
// (tests/quant/uniform_quantizer_test.cpp, RoundHalfEvenIsNearbyint).
inline float round_half_even(float x) {
  constexpr float kTwoPow23 = 8388608.0f;
  const float magnitude = std::fabs(x);
  const float rounded = std::copysign((magnitude + kTwoPow23) - kTwoPow23, x);
  return magnitude < kTwoPow23 ? rounded : x;
}

// GPTQ's quantize() (quant.py) on one element; rounding half to even like torch.round, so this
// matches the reference bit for bit.
inline float quantize_code(float x, float scale, float zero, float maxq) {
  return std::min(std::max(round_half_even(x / scale) + zero, 0.0f), maxq);
}

inline float dequantize_code(float code, float scale, float zero) { return scale * (code - zero); }

class UniformQuantizer {
 public:
  explicit UniformQuantizer(const QuantizerConfig& config);

  const QuantizerConfig& config() const { return _config; }
  int maxq() const { return (1 << _config.bits) - 1; }

  // Per-row grid of x [rows, cols] (fp32), as Quantizer.find_params(x, weight=True), adjusted
  // by gptq_v1_zero and fp16_scales.
  QuantParams find_params(const at::Tensor& x) const;
  // Fake-quantized x [rows, cols] (fp32) on the grid `params`.
  at::Tensor quantize(const at::Tensor& x, const QuantParams& params) const;
  // Integer codes of x [rows, cols] on the grid `params`, uint8.
  at::Tensor codes(const at::Tensor& x, const QuantParams& params) const;
  // x [rows, cols] fake-quantized on its per-row min-max grid (find_params without the MSE
  // search, gptq_v1_zero and fp16_scales), differentiable for training: round() passes the
  // identity's gradient, the grid and the clamp their own (Rounding::StraightThrough).
  at::Tensor fake_quantize_round_ste(const at::Tensor& x) const;

 private:
  // Per-row [xmin, xmax] of the min-max grid.
  std::pair<at::Tensor, at::Tensor> min_max_range(const at::Tensor& x) const;
  // Applies gptq_v1_zero and fp16_scales to a grid whose range ends at xmax.
  void fit_checkpoint_format(QuantParams& params, const at::Tensor& xmax) const;
  // quant.py's candidate grids of the MSE search, in its order.
  std::vector<QuantParams> mse_candidates(const at::Tensor& xmin,
                                          const at::Tensor& xmax,
                                          const QuantParams& params) const;
  void search_mse_params(const at::Tensor& x,
                         const at::Tensor& xmin,
                         const at::Tensor& xmax,
                         QuantParams& params) const;
  // choice[row] for rows [begin, end) of x: the index of the row's first best candidate of
  // scales / zeros [candidates, rows], or left at -1 when no score is below infinity.
  void choose_mse_rows(const at::Tensor& x,
                       const at::Tensor& scales,
                       const at::Tensor& zeros,
                       int64_t begin,
                       int64_t end,
                       at::Tensor& choice) const;

  QuantizerConfig _config;
};

// A quantized weight W [N out, K in] with one grid per (group, output row); group g covers the
// input columns with g_idx == g.
struct QuantizedWeight {
  at::Tensor weight;         // fp32 [N, K], the dequantized (fake-quantized) weight
  at::Tensor codes;          // uint8 [N, K]
  at::Tensor scales;         // fp32 [G, N]
  at::Tensor zeros;          // fp32 [G, N], integer-valued
  at::Tensor g_idx;          // int32 [K]
  int64_t refit_groups = 0;  // (group, row) grids whose zero gptq_v1_zero moved from 0 to 1
};

// G = ceil(K / group_size); group_size -1 means one group spanning all K columns. When K is not
// a multiple of group_size the last group is the partial tail [(G-1)*gs, K), exactly what the
// reference's slice W[:, i:i+gs] and AutoGPTQ's g_idx = i // gs give.
int64_t group_count(int64_t columns, int group_size);
// Columns per group: K for group_size -1, otherwise group_size (validated).
int64_t group_width(int64_t columns, int group_size);
// g_idx[i] = i // group_size, int32 [K].
at::Tensor sequential_g_idx(int64_t columns, int group_size);

// Round-to-nearest of weight [N, K]: group g's grid comes from W[:, g*gs:(g+1)*gs].
QuantizedWeight quantize_rtn(const at::Tensor& weight,
                             const UniformQuantizer& quantizer,
                             int group_size);

}  // namespace ptq::quant
