#include "ptq/quant/uniform_quantizer.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "ptq/common/error.h"
#include "ptq/quant/activation_quantizer.h"
#include "quant/grid_error_estimate.h"

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
  // across threads.
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

std::vector<QuantParams> UniformQuantizer::mse_candidates(const at::Tensor& xmin,
                                                          const at::Tensor& xmax,
                                                          const QuantParams& params) const {
  // quant.py (mse=True): for i in range(int(maxshrink * grid)): p = 1 - i / grid, the range
  // shrunk by p. Candidates are fitted to the checkpoint format first, so the search judges the
  // grids used.
  std::vector<QuantParams> candidates(static_cast<size_t>(_config.maxshrink * _config.grid));
  for (size_t i = 0; i < candidates.size(); ++i) {
    const double p = 1 - static_cast<double>(i) / _config.grid;
    const at::Tensor xmin1 = xmin * p;
    const at::Tensor xmax1 = xmax * p;
    QuantParams& candidate = candidates[i];
    candidate.scale = (xmax1 - xmin1) / maxq();
    candidate.zero = _config.sym ? params.zero : at::round(-xmin1 / candidate.scale);
    fit_checkpoint_format(candidate, xmax1);
  }
  return candidates;
}

void UniformQuantizer::search_mse_params(const at::Tensor& x,
                                         const at::Tensor& xmin,
                                         const at::Tensor& xmax,
                                         QuantParams& params) const {
  // Per row, the first candidate with the smallest sum |q - x|^norm (quant.py keeps a candidate
  // on strict improvement), each sum as ATen's pow_ and sum(1) give it. Scoring all 80 that way
  // was most of SEPTQ's time; the estimate (src/quant/grid_error_estimate.h) rules out the
  // candidates whose sums provably exceed another's, and only the rest are scored exactly, so
  // the grids are the same bits.
  const std::vector<QuantParams> candidates = mse_candidates(xmin, xmax, params);
  if (candidates.empty()) return;
  const auto stack = [&](at::Tensor QuantParams::*field) {
    std::vector<at::Tensor> parts;
    for (const QuantParams& c : candidates) parts.push_back(c.*field);
    return at::stack(parts).contiguous();
  };
  const at::Tensor scales = stack(&QuantParams::scale);
  const at::Tensor zeros = stack(&QuantParams::zero);
  const at::Tensor xc = x.contiguous();
  const int64_t rows = xc.size(0);
  at::Tensor choice = at::full({rows}, -1, at::kLong);
  // A block's rows stay in cache while every candidate visits them.
  const int64_t block = std::max<int64_t>(1, 65536 / xc.size(1));
  at::parallel_for(0, rows, block, [&](int64_t r0, int64_t r1) {
    for (int64_t b = r0; b < r1; b += block) {
      choose_mse_rows(xc, scales, zeros, b, std::min(b + block, r1), choice);
    }
  });
  const at::Tensor chosen = choice >= 0;
  const at::Tensor index = choice.clamp_min(0).unsqueeze(0);
  params.scale = at::where(chosen, scales.gather(0, index).squeeze(0), params.scale);
  params.zero = at::where(chosen, zeros.gather(0, index).squeeze(0), params.zero);
  if (candidates.front().refit.defined()) {
    params.refit =
        at::where(chosen, stack(&QuantParams::refit).gather(0, index).squeeze(0), params.refit);
  }
}

void UniformQuantizer::choose_mse_rows(const at::Tensor& x,
                                       const at::Tensor& scales,
                                       const at::Tensor& zeros,
                                       int64_t begin,
                                       int64_t end,
                                       at::Tensor& choice) const {
  const int64_t steps = scales.size(0);
  const int64_t rows = x.size(0);
  const int64_t cols = x.size(1);
  const int64_t n = end - begin;
  const float* xp = x.data_ptr<float>();
  const float* sp = scales.data_ptr<float>();
  const float* zp = zeros.data_ptr<float>();
  const auto maxq_f = static_cast<float>(maxq());
  const auto norm = static_cast<float>(_config.norm);
  // candidate i of row begin + r is scored exactly unless the estimates prove it loses.
  std::vector<char> exact(static_cast<size_t>(steps * n), 1);
  if (grid_error_estimate_supported(_config.norm)) {
    // Every kCoarse-th candidate first, estimated in full: their least upper bound lets the
    // others stop as soon as their partial sums provably exceed it.
    constexpr int64_t kCoarse = 8;
    std::vector<double> ceiling(static_cast<size_t>(n), std::numeric_limits<double>::infinity());
    std::vector<double> estimate(exact.size(), std::numeric_limits<double>::quiet_NaN());
    for (const bool coarse : {true, false}) {
      for (int64_t i = 0; i < steps; ++i) {
        if ((i % kCoarse == 0) != coarse) continue;
        for (int64_t r = 0; r < n; ++r) {
          const int64_t row = begin + r;
          const std::optional<double> e =
              estimate_grid_error(xp + row * cols, cols, sp[i * rows + row], zp[i * rows + row],
                                  maxq_f, norm, ceiling[r]);
          if (!e) {
            exact[i * n + r] = 0;
            continue;
          }
          estimate[i * n + r] = *e;
          if (std::isfinite(*e)) {
            ceiling[r] = std::min(ceiling[r], grid_error_upper_bound(*e, cols, norm));
          }
        }
      }
    }
    for (int64_t i = 0; i < steps; ++i) {
      for (int64_t r = 0; r < n; ++r) {
        const double e = estimate[i * n + r];
        if (std::isfinite(e) && grid_error_lower_bound(e, cols, norm) > ceiling[r]) {
          exact[i * n + r] = 0;
        }
      }
    }
  }
  // ATen's pow runs its scalar path on the last elements of a buffer that do not fill two
  // vectors; a buffer padded to a multiple of 64 sends every element through the vector path, as
  // a whole weight's buffer does.
  const int64_t padded = (n * cols + 63) / 64 * 64;
  at::Tensor errors = at::empty({padded}, x.options());
  float* ep = errors.data_ptr<float>();
  int64_t* cp = choice.data_ptr<int64_t>();
  std::vector<float> best(static_cast<size_t>(n), std::numeric_limits<float>::infinity());
  std::vector<int64_t> scored;
  for (int64_t i = 0; i < steps; ++i) {
    scored.clear();
    for (int64_t r = 0; r < n; ++r) {
      if (exact[i * n + r]) scored.push_back(r);
    }
    if (scored.empty()) continue;
    const auto m = static_cast<int64_t>(scored.size());
    for (int64_t k = 0; k < m; ++k) {
      const int64_t row = begin + scored[k];
      grid_errors(xp + row * cols, cols, sp[i * rows + row], zp[i * rows + row], maxq_f,
                  ep + k * cols);
    }
    std::fill(ep + m * cols, ep + padded, 0.0f);
    const at::Tensor used = errors.slice(0, 0, (m * cols + 63) / 64 * 64);
    used.pow_(_config.norm);
    const at::Tensor sums = used.slice(0, 0, m * cols).view({m, cols}).sum(1);
    const float* sum = sums.data_ptr<float>();
    for (int64_t k = 0; k < m; ++k) {
      const int64_t r = scored[k];
      if (sum[k] < best[r]) {
        best[r] = sum[k];
        cp[begin + r] = i;
      }
    }
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
