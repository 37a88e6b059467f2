#include "ptq/quant/uniform_quantizer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "ptq/common/error.h"
#include "ptq/quant/activation_quantizer.h"

namespace ptq::quant {
namespace {

// Visits every element of x [rows, cols] with its row's grid: fn(row, col, value, code), rows
// in parallel (fn must only write its own element).
template <typename Fn>
void for_each_code(const at::Tensor& x, const QuantParams& params, float maxq, Fn fn) {
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == at::kFloat, "expected fp32 [rows, cols]");
  TORCH_CHECK(params.scale.numel() == x.size(0) && params.zero.numel() == x.size(0),
              "one grid per row expected");
  const at::Tensor xc = x.contiguous();
  const at::Tensor scale = params.scale.contiguous();
  const at::Tensor zero = params.zero.contiguous();
  const float* xp = xc.data_ptr<float>();
  const float* sp = scale.data_ptr<float>();
  const float* zp = zero.data_ptr<float>();
  const int64_t cols = x.size(1);
  // Rows are independent and each element's arithmetic is the same on any thread: split rows
  // across threads (SEPTQ's MSE grid search quantizes whole weights 80 times per linear).
  at::parallel_for(0, x.size(0), std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)),
                   [&](int64_t r0, int64_t r1) {
                     for (int64_t r = r0; r < r1; ++r) {
                       for (int64_t c = 0; c < cols; ++c) {
                         const float code = quantize_code(xp[r * cols + c], sp[r], zp[r], maxq);
                         fn(r, c, dequantize_code(code, sp[r], zp[r]), code);
                       }
                     }
                   });
}

}  // namespace

int64_t refit_rows(const QuantParams& params) {
  return params.refit.defined() ? params.refit.sum().item<int64_t>() : 0;
}

UniformQuantizer::UniformQuantizer(const QuantizerConfig& config) : _config(config) {
  PTQ_CHECK_INPUT(config.bits >= 2 && config.bits <= 8, "quantizer bits must be in 2..8, got ",
                  config.bits);
  PTQ_CHECK_INPUT(!config.mse || (config.grid > 0 && config.maxshrink > 0 && config.maxshrink < 1 &&
                                  config.norm > 0),
                  "MSE search needs grid > 0, 0 < maxshrink < 1 and norm > 0");
  PTQ_CHECK_INPUT(config.clip > 0 && config.clip <= 1, "--weight-clip must be in (0, 1], got ",
                  config.clip);
}

std::pair<at::Tensor, at::Tensor> UniformQuantizer::min_max_range(const at::Tensor& x) const {
  // quant.py find_params: the range always includes 0; symmetric grids mirror the larger side;
  // an all-zero row gets [-1, 1] so that its scale is not 0.
  const at::Tensor zeros = at::zeros({x.size(0)}, x.options());
  at::Tensor xmin = at::minimum(x.amin(1), zeros) * _config.clip;
  at::Tensor xmax = at::maximum(x.amax(1), zeros) * _config.clip;
  if (_config.sym) {
    xmax = at::maximum(xmin.abs(), xmax);
    xmin = at::where(xmin < 0, -xmax, xmin);
  }
  const at::Tensor degenerate = (xmin == 0).logical_and(xmax == 0);
  xmin.masked_fill_(degenerate, -1);
  xmax.masked_fill_(degenerate, 1);
  return {xmin, xmax};
}

void UniformQuantizer::fit_checkpoint_format(QuantParams& params, const at::Tensor& xmax) const {
  if (_config.gptq_v1_zero && !_config.sym) {
    // Zero 0 means -xmin < scale / 2. Zero 1 with scale xmax / (maxq - 1) keeps the top code at
    // xmax, and since xmax >= (2 maxq - 1) * -xmin here, its lowest value -scale still covers xmin.
    const at::Tensor unstorable = params.zero == 0;
    params.scale = at::where(unstorable, xmax / (maxq() - 1), params.scale);
    params.zero.masked_fill_(unstorable, 1);
    params.refit = unstorable;
  }
  if (_config.fp16_scales) {
    // Ranges below fp16's smallest subnormal would round to a zero scale; that subnormal (exact in
    // fp16) keeps codes finite. Ranges beyond fp16 cannot be stored at all.
    const double smallest_half = std::ldexp(1.0, -24);
    params.scale = params.scale.to(at::kHalf).to(at::kFloat).clamp_min_(smallest_half);
    PTQ_CHECK_INPUT(params.scale.isfinite().all().item<bool>(),
                    "weight range exceeds fp16: a scale above 65504 cannot be stored in fp16");
  }
}

void UniformQuantizer::abs_error(const at::Tensor& x,
                                 const QuantParams& params,
                                 at::Tensor& out) const {
  TORCH_CHECK(x.is_contiguous() && out.is_contiguous() && out.sizes() == x.sizes(),
              "abs_error expects contiguous x and out of the same shape");
  const float* xp = x.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t cols = x.size(1);
  // The same fp32 subtraction and abs as at::sub and abs_ on quantize's output.
  for_each_code(x, params, static_cast<float>(maxq()),
                [&](int64_t r, int64_t c, float value, float) {
                  op[r * cols + c] = std::fabs(value - xp[r * cols + c]);
                });
}

void UniformQuantizer::search_mse_params(const at::Tensor& x,
                                         const at::Tensor& xmin,
                                         const at::Tensor& xmax,
                                         QuantParams& params) const {
  // quant.py (mse=True): for i in range(int(maxshrink * grid)): p = 1 - i / grid, shrink the
  // range by p, keep per row the grid with the smallest sum |q - x|^norm (strict improvement).
  // Candidates are fitted to the checkpoint format first, so the search judges the grids used.
  at::Tensor best = at::full({x.size(0)}, std::numeric_limits<float>::infinity(), x.options());
  // One error buffer for every candidate: a fresh one per candidate would be a fresh mapping,
  // faulted in page by page, 80 times per weight.
  const at::Tensor xc = x.contiguous();
  at::Tensor err_buffer = at::empty(x.sizes(), xc.options());
  const int steps = static_cast<int>(_config.maxshrink * _config.grid);
  for (int i = 0; i < steps; ++i) {
    const double p = 1 - static_cast<double>(i) / _config.grid;
    const at::Tensor xmin1 = xmin * p;
    const at::Tensor xmax1 = xmax * p;
    QuantParams candidate;
    candidate.scale = (xmax1 - xmin1) / maxq();
    candidate.zero = _config.sym ? params.zero : at::round(-xmin1 / candidate.scale);
    fit_checkpoint_format(candidate, xmax1);
    // Fused: the candidate's quantize, subtraction and abs were three passes over x.
    abs_error(xc, candidate, err_buffer);
    const at::Tensor err = err_buffer.pow_(_config.norm).sum(1);
    const at::Tensor better = err < best;
    best = at::where(better, err, best);
    params.scale = at::where(better, candidate.scale, params.scale);
    params.zero = at::where(better, candidate.zero, params.zero);
    if (candidate.refit.defined()) params.refit = at::where(better, candidate.refit, params.refit);
  }
}

QuantParams UniformQuantizer::find_params(const at::Tensor& x) const {
  TORCH_CHECK(x.dim() == 2 && x.size(1) > 0 && x.scalar_type() == at::kFloat,
              "find_params expects a non-empty fp32 [rows, cols] tensor");
  const auto [xmin, xmax] = min_max_range(x);
  QuantParams params;
  params.scale = (xmax - xmin) / maxq();
  params.zero = _config.sym ? at::full_like(params.scale, (maxq() + 1) / 2.0)
                            : at::round(-xmin / params.scale);
  fit_checkpoint_format(params, xmax);
  if (_config.mse) search_mse_params(x, xmin, xmax, params);
  return params;
}

at::Tensor UniformQuantizer::quantize(const at::Tensor& x, const QuantParams& params) const {
  at::Tensor out = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  float* op = out.data_ptr<float>();
  const int64_t cols = x.size(1);
  for_each_code(x, params, static_cast<float>(maxq()),
                [&](int64_t r, int64_t c, float value, float) { op[r * cols + c] = value; });
  return out;
}

at::Tensor UniformQuantizer::fake_quantize_round_ste(const at::Tensor& x) const {
  const auto [xmin, xmax] = min_max_range(x);
  const at::Tensor scale = ((xmax - xmin) / maxq()).unsqueeze(1);
  const at::Tensor zero = _config.sym ? at::full_like(scale, (maxq() + 1) / 2.0)
                                      : at::round(-xmin.unsqueeze(1) / scale);
  const at::Tensor codes = (round_straight_through(x / scale) + zero).clamp(0, maxq());
  return (codes - zero) * scale;
}

at::Tensor UniformQuantizer::codes(const at::Tensor& x, const QuantParams& params) const {
  at::Tensor out = at::empty(x.sizes(), x.options().dtype(at::kByte));
  uint8_t* op = out.data_ptr<uint8_t>();
  const int64_t cols = x.size(1);
  for_each_code(x, params, static_cast<float>(maxq()),
                [&](int64_t r, int64_t c, float, float code) {
                  op[r * cols + c] = static_cast<uint8_t>(code);
                });
  return out;
}

int64_t group_width(int64_t columns, int group_size) {
  PTQ_CHECK_INPUT(group_size == -1 || group_size > 0, "group size must be -1 or positive, got ",
                  group_size);
  return group_size == -1 ? columns : group_size;
}

int64_t group_count(int64_t columns, int group_size) {
  const int64_t width = group_width(columns, group_size);
  return (columns + width - 1) / width;
}

at::Tensor sequential_g_idx(int64_t columns, int group_size) {
  return at::arange(columns, at::kLong).div(group_width(columns, group_size), "floor").to(at::kInt);
}

QuantizedWeight quantize_rtn(const at::Tensor& weight,
                             const UniformQuantizer& quantizer,
                             int group_size) {
  PTQ_CHECK_INPUT(weight.dim() == 2 && weight.size(1) > 0, "RTN expects a 2-D weight, got ",
                  weight.sizes());
  const at::Tensor w = weight.to(at::kFloat).contiguous();
  const int64_t rows = w.size(0);
  const int64_t columns = w.size(1);
  const int64_t width = group_width(columns, group_size);
  const int64_t groups = group_count(columns, group_size);
  QuantizedWeight out;
  out.weight = at::empty_like(w);
  out.codes = at::empty(w.sizes(), w.options().dtype(at::kByte));
  out.scales = at::empty({groups, rows}, w.options());
  out.zeros = at::empty({groups, rows}, w.options());
  out.g_idx = sequential_g_idx(columns, group_size);
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t begin = g * width;
    const int64_t end = std::min(begin + width, columns);
    const at::Tensor slice = w.slice(1, begin, end);
    const QuantParams params = quantizer.find_params(slice);
    out.scales[g].copy_(params.scale);
    out.zeros[g].copy_(params.zero);
    out.refit_groups += refit_rows(params);
    out.weight.slice(1, begin, end).copy_(quantizer.quantize(slice, params));
    out.codes.slice(1, begin, end).copy_(quantizer.codes(slice, params));
  }
  return out;
}

}  // namespace ptq::quant
