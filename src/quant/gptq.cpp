#include "ptq/quant/gptq.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <tuple>
#include <vector>

#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/quant/triangular_inverse.h"
#include "quant/gptq_block_sweep.h"

namespace ptq::quant {

HessianAccumulator::HessianAccumulator(int64_t columns, at::ScalarType dtype)
    : _hessian(at::zeros({columns, columns}, at::TensorOptions().dtype(dtype))) {
  PTQ_CHECK_INPUT(dtype == at::kFloat || dtype == at::kDouble,
                  "the Hessian accumulates in fp32 or fp64");
}

void HessianAccumulator::add_batch(const at::Tensor& x) {
  const int64_t columns = _hessian.size(0);
  PTQ_CHECK_INPUT((x.dim() == 2 || x.dim() == 3) && x.size(-1) == columns,
                  "add_batch expects [tokens, ", columns, "] or [batch, seq, ", columns,
                  "] inputs, got ", x.sizes());
  const int64_t batch = x.dim() == 3 ? x.size(0) : 1;
  const at::Tensor rows = x.reshape({-1, columns}).to(_hessian.scalar_type());
  // gptq.py: H *= n / (n + b); n += b; H += (sqrt(2/n) X)^T (sqrt(2/n) X), fused into one GEMM.
  const double total = static_cast<double>(_samples + batch);
  _hessian.addmm_(rows.t(), rows, _samples / total, 2.0 / total);
  _samples += batch;
}

namespace {

// Overwrites the storage of a square column-major matrix M by J M J in row-major order (J the
// exchange matrix): entry (i, j) of the result is M[n-1-i][n-1-j], stored column-major at
// (n-1-j) n + (n-1-i). The map is its own inverse, so swapping each pair once rearranges in place
// what M.flip({0, 1}).contiguous() would copy (at K = 11008, 485 MB).
template <typename T>
void flip_to_row_major_in_place(T* m, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; i + j < n - 1; ++j) std::swap(m[i * n + j], m[(n - 1 - j) * n + n - 1 - i]);
  }
}

// Whether every entry of the fp32 or fp64 tensor `t` is finite, without temporaries:
// t.isfinite().all() took about 7 bytes per entry of them (the peak RSS rose 207 MB checking
// the factor at K = 5504; about 850 MB at K = 11008), the peak of a 7B layer's down_proj, on
// top of H and its factor.
bool all_finite(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  bool finite = true;
  AT_DISPATCH_FLOATING_TYPES(c.scalar_type(), "all_finite", [&] {
    const scalar_t* p = c.data_ptr<scalar_t>();
    const int64_t count = c.numel();
    for (int64_t i = 0; i < count && finite; ++i) finite = std::isfinite(p[i]);
  });
  return finite;
}

}  // namespace

namespace {

// Overwrites `factor`, J A J of the damped symmetric A in one contiguous buffer, by the upper
// Cholesky factor U of A^-1 in row-major order. false when A is not numerically positive
// definite (the buffer is then garbage).
// gptq.py: U = cholesky(cholesky_inverse(cholesky(A)), upper=True), 4/3 K^3 FLOPs. The same
// factor in 2/3 K^3: with J the exchange matrix, J A J = L L^T gives A = R R^T with R = J L J
// upper triangular, so A^-1 = R^-T R^-1 and, the Cholesky factor with a positive diagonal being
// unique, U = R^-1 = J L^-1 J. A is symmetric, so the row-major storage of J A J is also its
// column-major storage, which LAPACK factors and the triangular inverse overwrites in place; the
// flip back rearranges it into row-major U, the sweep's layout.
bool invert_flipped_in_place(const at::Tensor& factor) {
  at::Tensor lower = factor.t();
  at::Tensor info = at::empty({}, factor.options().dtype(at::kInt));
  at::linalg_cholesky_ex_out(lower, info, lower);
  if (info.item<int64_t>() != 0) return false;
  invert_lower_triangular_in_place(lower);
  AT_DISPATCH_FLOATING_TYPES(factor.scalar_type(), "flip_to_row_major", [&] {
    flip_to_row_major_in_place(factor.data_ptr<scalar_t>(), factor.size(0));
  });
  return all_finite(factor);
}

// The damping loop: flipped() returns J H J (undamped, contiguous) in the buffer to factor,
// once per attempt.
template <typename Flipped>
DampedInverse damp_until_definite(double mean_diag, const GptqConfig& config, Flipped flipped) {
  double percdamp = config.percdamp;
  for (int attempt = 0;; ++attempt, percdamp *= config.damp_growth) {
    const double damp = percdamp * mean_diag;
    at::Tensor factor = flipped();
    factor.diagonal().add_(damp);
    if (invert_flipped_in_place(factor)) return {factor, percdamp, damp};
    if (attempt == config.max_damp_retries) {
      PTQ_THROW_RUNTIME("GPTQ: the Hessian is not positive definite even with percdamp ", percdamp,
                        " after ", attempt, " retries");
    }
    spdlog::warn("GPTQ: Cholesky failed with percdamp {} (damp {}); retrying with percdamp {}",
                 percdamp, damp, percdamp * config.damp_growth);
  }
}

// The lower triangle (diagonal included) of the square contiguous m, packed row by row: enough
// to rebuild a symmetric m at half its size.
at::Tensor pack_lower(const at::Tensor& m) {
  const int64_t n = m.size(0);
  at::Tensor packed = at::empty({n * (n + 1) / 2}, m.options());
  AT_DISPATCH_FLOATING_TYPES(m.scalar_type(), "pack_lower", [&] {
    const scalar_t* src = m.data_ptr<scalar_t>();
    scalar_t* out = packed.data_ptr<scalar_t>();
    for (int64_t i = 0; i < n; ++i) out = std::copy(src + i * n, src + i * n + i + 1, out);
  });
  return packed;
}

// Writes the symmetric matrix whose lower triangle pack_lower packed into the contiguous m.
void unpack_symmetric(const at::Tensor& packed, const at::Tensor& m) {
  const int64_t n = m.size(0);
  AT_DISPATCH_FLOATING_TYPES(m.scalar_type(), "unpack_symmetric", [&] {
    const scalar_t* in = packed.data_ptr<scalar_t>();
    scalar_t* dst = m.data_ptr<scalar_t>();
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j <= i; ++j, ++in) dst[i * n + j] = dst[j * n + i] = *in;
    }
  });
}

// J H J of a contiguous square H, in place: flip({0, 1}) of a contiguous matrix reverses its
// storage, so this holds exactly what hessian.flip({0, 1}).contiguous() would copy.
void flip_in_place(const at::Tensor& m) {
  AT_DISPATCH_FLOATING_TYPES(m.scalar_type(), "flip_in_place", [&] {
    scalar_t* p = m.data_ptr<scalar_t>();
    std::reverse(p, p + m.numel());
  });
}

double mean_diagonal(const at::Tensor& hessian) { return hessian.diagonal().mean().item<double>(); }

}  // namespace

DampedInverse damped_inverse_cholesky(const at::Tensor& hessian, const GptqConfig& config) {
  return damp_until_definite(mean_diagonal(hessian), config, [&] {
    return hessian.flip({0, 1}).contiguous();
  });
}

DampedInverse damped_inverse_cholesky_in_place(const at::Tensor& hessian,
                                               const GptqConfig& config) {
  PTQ_CHECK_INPUT(hessian.is_contiguous(), "an in-place factorisation needs a contiguous Hessian");
  const double mean_diag = mean_diagonal(hessian);  // before the flip reverses the diagonal
  flip_in_place(hessian);
  // A failed attempt leaves the buffer garbage: a retry rebuilds J H J from this half-size copy
  // (at K = 11008, 243 MB held during the factorisation instead of a 485 MB second buffer).
  const at::Tensor backup = pack_lower(hessian);
  bool first = true;
  return damp_until_definite(mean_diag, config, [&] {
    if (!first) unpack_symmetric(backup, hessian);
    first = false;
    return hessian;
  });
}

namespace {

void check_hessian(const at::Tensor& hessian, const GptqConfig& config) {
  PTQ_CHECK_INPUT(hessian.dim() == 2 && hessian.size(0) == hessian.size(1) && hessian.size(0) > 0,
                  "GPTQ expects a square Hessian [K, K], got ", hessian.sizes());
  PTQ_CHECK_INPUT(hessian.scalar_type() == at::kFloat || hessian.scalar_type() == at::kDouble,
                  "the Hessian must be fp32 or fp64");
  PTQ_CHECK_INPUT(all_finite(hessian), "the Hessian has non-finite entries");
  PTQ_CHECK_INPUT((hessian.diagonal() >= 0).all().item<bool>(),
                  "the Hessian has negative diagonal entries");
  PTQ_CHECK_INPUT(config.percdamp > 0 && config.damp_growth > 1 && config.max_damp_retries >= 0,
                  "GPTQ needs percdamp > 0, damp_growth > 1 and max_damp_retries >= 0");
}

void check_weight(const at::Tensor& weight) {
  PTQ_CHECK_INPUT(weight.dim() == 2 && weight.size(1) > 0, "GPTQ expects a weight [N, K], got ",
                  weight.sizes());
}

void check_inputs(const at::Tensor& weight,
                  const PreparedHessian& hessian,
                  const GptqConfig& config,
                  const at::Tensor& keep_mask) {
  check_weight(weight);
  const int64_t columns = weight.size(1);
  PTQ_CHECK_INPUT(hessian.perm.numel() == columns, "Hessian [", hessian.perm.numel(), ", ",
                  hessian.perm.numel(), "] does not match weight ", weight.sizes());
  PTQ_CHECK_INPUT(config.block_size > 0, "GPTQ block size must be positive");
  PTQ_CHECK_INPUT(!config.static_groups || config.group_size > 0,
                  "static groups need a positive group size");
  group_width(columns, config.group_size);  // validates the group size
  PTQ_CHECK_INPUT(!keep_mask.defined() ||
                      (keep_mask.scalar_type() == at::kBool && keep_mask.sizes() == weight.sizes()),
                  "the keep mask must be bool with the weight's shape ", weight.sizes());
}

// The quantization grid of each column in processing order, per gptq.py fasterquant:
// - group_size -1: one grid per row from the whole W, found before the dead-column fix;
// - static groups: grid of original group c // gs from W after the dead-column fix;
// - otherwise: at each group start j, a new grid from W[:, j:j+gs] as it is at that moment, i.e.
//   with every update applied so far EXCEPT those from earlier columns of the same lazy block
//   (the reference reads W, not the block copy W1; identical when gs is a multiple of the
//   block size).
class GroupGrids {
 public:
  GroupGrids(const UniformQuantizer& quantizer, int group_size, bool static_groups)
      : _quantizer(quantizer), _group_size(group_size), _static(static_groups) {}

  // original: W [N, K] before the dead-column fix; fixed: after it. channel_grid: the grid of
  // `original` for group_size -1 if already known.
  void prepare(const at::Tensor& original,
               const at::Tensor& fixed,
               const QuantParams* channel_grid) {
    if (_group_size == -1) {
      _grids.push_back(channel_grid != nullptr ? *channel_grid : _quantizer.find_params(original));
    } else if (_static) {
      const int64_t columns = fixed.size(1);
      for (int64_t begin = 0; begin < columns; begin += _group_size) {
        _grids.push_back(_quantizer.find_params(fixed.slice(1, begin, begin + _group_size)));
      }
    }
  }

  // Grid for processing position j (original column `original`); wt is W^T [K, N].
  const QuantParams& for_column(int64_t j, int64_t original, const at::Tensor& wt) {
    if (_group_size == -1) return _grids.front();
    if (_static) return _grids[original / _group_size];
    if (j % _group_size == 0) {
      _grids.push_back(_quantizer.find_params(wt.slice(0, j, j + _group_size).t()));
    }
    return _grids.back();
  }

  at::Tensor scales() const { return stack(&QuantParams::scale); }
  at::Tensor zeros() const { return stack(&QuantParams::zero); }
  int64_t refit_groups() const {
    int64_t count = 0;
    for (const QuantParams& grid : _grids) count += refit_rows(grid);
    return count;
  }

  // AutoGPTQ g_idx in original column order: dynamic groups follow processing positions.
  at::Tensor g_idx(const at::Tensor& inv_perm) const {
    const int64_t columns = inv_perm.numel();
    if (_group_size == -1 || _static) return sequential_g_idx(columns, _group_size);
    return inv_perm.div(_group_size, "floor").to(at::kInt);
  }

 private:
  at::Tensor stack(at::Tensor QuantParams::*member) const {
    std::vector<at::Tensor> rows;
    for (const QuantParams& grid : _grids) rows.push_back(grid.*member);
    return at::stack(rows);
  }

  const UniformQuantizer& _quantizer;
  int _group_size;
  bool _static;
  std::deque<QuantParams> _grids;  // a deque: references stay valid across push_back
};

// State of the lazy-batch column sweep, in processing order with W stored transposed so that a
// weight column is a contiguous row.
struct ColumnSweep {
  at::Tensor wt;    // fp32 [K, N], the updated weight
  at::Tensor hinv;  // fp32 [K, K], upper Cholesky factor of H^-1
  at::Tensor keep;  // uint8 [K, N] or undefined
  // fp32 [K, N], quantized (or kept) values: wt's own storage. A block's rows of wt are dead
  // once its grids are found and each tile has copied its slice (later blocks read and update
  // only rows from their own begin on), so row i of Q overwrites row i of W (at 4096 x 11008
  // one N x K copy less, 180 MB).
  at::Tensor qt;
  at::Tensor codes;  // uint8 [K, N]
  float maxq = 0;
  double loss = 0;
};

// Output rows per tile of a block sweep: the tile's [block_size, kTile] slice (32 KiB at
// 128 x 64) stays in the core's L1 cache while each of the block's columns updates it.
constexpr int64_t kTile = 64;

// The block's columns over output rows [n0, n1) in tiles of at most kTile rows
// (gptq_block_sweep.h): each element sees the same operations in the same order as in one
// sweep over all rows, so the tiling changes no bit.
void sweep_rows(const BlockSweep& block, int64_t n0, int64_t n1) {
  std::vector<float> tile((block.end - block.begin) * kTile);
  for (int64_t t = n0; t < n1; t += kTile) {
    sweep_block_tile(block, t, std::min(t + kTile, n1), tile.data());
  }
}

void sweep_block(
    ColumnSweep& s, int64_t begin, int64_t end, GroupGrids& grids, const int64_t* perm) {
  // Grids first: they read W as it is before this block's sweep (gptq.py reads W, not its block
  // copy W1; the sweep's tiles copy W before writing Q over it).
  std::vector<const float*> scales, zeros;
  for (int64_t i = begin; i < end; ++i) {
    const QuantParams& grid = grids.for_column(i, perm[i], s.wt);
    scales.push_back(grid.scale.data_ptr<float>());
    zeros.push_back(grid.zero.data_ptr<float>());
  }
  // (w - q) / d, every element written by the sweep.
  const at::Tensor err1 = at::empty({end - begin, s.wt.size(1)}, s.wt.options());
  BlockSweep sweep;
  sweep.hinv = s.hinv.data_ptr<float>();
  sweep.k_total = s.hinv.size(0);
  sweep.n_total = s.wt.size(1);
  sweep.begin = begin;
  sweep.end = end;
  sweep.scales = scales.data();
  sweep.zeros = zeros.data();
  sweep.keep = s.keep.defined() ? s.keep.data_ptr<uint8_t>() : nullptr;
  sweep.maxq = s.maxq;
  sweep.wt = s.wt.data_ptr<float>();
  sweep.qt = s.qt.data_ptr<float>();
  sweep.err1 = err1.data_ptr<float>();
  sweep.codes = s.codes.data_ptr<uint8_t>();
  // Output rows are independent within a block: split them across threads.
  at::parallel_for(0, sweep.n_total, 256,
                   [&](int64_t n0, int64_t n1) { sweep_rows(sweep, n0, n1); });
  s.loss += 0.5 * err1.to(at::kDouble).square().sum().item<double>();
  // Lazy batch: W[:, end:] -= Err1 @ Hinv[begin:end, end:], i.e. in transposed storage
  // W^T[end:] -= Hinv[begin:end, end:]^T Err1^T.
  s.wt.slice(0, end).addmm_(s.hinv.slice(0, begin, end).slice(1, end).t(), err1, 1, -1);
}

at::Tensor permute_columns(const at::Tensor& t, const at::Tensor& perm) {
  return t.index_select(1, perm);
}

}  // namespace

namespace {

// prepare_hessian, overwriting H's own storage when in_place.
PreparedHessian prepare(const at::Tensor& hessian, const GptqConfig& config, bool in_place) {
  check_hessian(hessian, config);
  const int64_t columns = hessian.size(0);
  PreparedHessian prepared;
  // Dead inputs (diag 0) carry no signal: gptq.py sets H[d, d] = 1 and W[:, d] = 0. H is
  // copied only when there is one and it must stay intact (at K = 11008 a copy is 485 MB).
  prepared.dead = hessian.diagonal() == 0;
  at::Tensor h = hessian;
  if (prepared.dead.any().item<bool>()) {
    if (!in_place) h = hessian.clone();
    h.diagonal().masked_fill_(prepared.dead, 1);
  }
  prepared.perm = config.act_order ? std::get<1>(h.diagonal().sort(/*stable=*/true, 0, true))
                                   : at::arange(columns, at::kLong);
  prepared.inv_perm = at::empty_like(prepared.perm);
  prepared.inv_perm.index_put_({prepared.perm}, at::arange(columns, at::kLong));
  // Without act-order perm is the identity: permuting would only copy H twice.
  if (config.act_order) h = h.index_select(0, prepared.perm).index_select(1, prepared.perm);
  prepared.inverse = in_place ? damped_inverse_cholesky_in_place(h.contiguous(), config)
                              : damped_inverse_cholesky(h, config);
  return prepared;
}

}  // namespace

PreparedHessian prepare_hessian(const at::Tensor& hessian, const GptqConfig& config) {
  return prepare(hessian, config, /*in_place=*/false);
}

PreparedHessian prepare_hessian_in_place(const at::Tensor& hessian, const GptqConfig& config) {
  return prepare(hessian, config, /*in_place=*/true);
}

namespace {

// Whether prepare_hessian gives the same result under both settings.
bool same_preparation(const GptqConfig& a, const GptqConfig& b) {
  return a.percdamp == b.percdamp && a.damp_growth == b.damp_growth &&
         a.max_damp_retries == b.max_damp_retries && a.act_order == b.act_order;
}

}  // namespace

PreparedHessian SharedPreparation::get(const at::Tensor& hessian, const GptqConfig& config) {
  const bool reusable = _prepared &&
                        hessian.unsafeGetTensorImpl() == _hessian.unsafeGetTensorImpl() &&
                        hessian._version() == _version && same_preparation(config, _config);
  if (!reusable) {
    _prepared = prepare_hessian(hessian, config);
    _hessian = hessian;
    _version = hessian._version();
    _config = config;
  }
  return *_prepared;
}

GptqResult gptq_quantize(const at::Tensor& weight,
                         const at::Tensor& hessian,
                         const GptqConfig& config,
                         const at::Tensor& keep_mask) {
  check_weight(weight);
  PTQ_CHECK_INPUT(
      hessian.dim() == 2 && hessian.size(0) == weight.size(1) && hessian.size(1) == weight.size(1),
      "Hessian ", hessian.sizes(), " does not match weight ", weight.sizes());
  return gptq_quantize(weight, prepare_hessian(hessian, config), config, keep_mask);
}

GptqResult gptq_quantize(const at::Tensor& weight,
                         const PreparedHessian& hessian,
                         const GptqConfig& config,
                         const at::Tensor& keep_mask,
                         const QuantParams* channel_grid) {
  check_inputs(weight, hessian, config, keep_mask);
  PTQ_CHECK_INPUT(channel_grid == nullptr ||
                      (config.group_size == -1 && channel_grid->scale.numel() == weight.size(0) &&
                       channel_grid->zero.numel() == weight.size(0)),
                  "a given channel grid needs group size -1 and one scale and zero per row");
  const UniformQuantizer quantizer(config.quantizer);
  const int64_t columns = weight.size(1);
  at::Tensor original = weight.to(at::kFloat).contiguous();
  const bool any_dead = hessian.dead.any().item<bool>();
  at::Tensor w = any_dead ? original.masked_fill(hessian.dead.unsqueeze(0), 0) : original;
  GroupGrids grids(quantizer, config.group_size, config.static_groups);
  grids.prepare(original, w, channel_grid);

  GptqResult result;
  result.perm = hessian.perm;
  result.inv_perm = hessian.inv_perm;
  result.percdamp = hessian.inverse.percdamp;
  result.damp = hessian.inverse.damp;

  ColumnSweep sweep;
  // Without act-order the processing order is the original one: no permuted copies.
  const bool identity = at::equal(result.perm, at::arange(columns, result.perm.options()));
  const auto in_order = [&](const at::Tensor& t) {
    return identity ? t : permute_columns(t, result.perm);
  };
  // Back to the original order, [N, K] contiguous.
  const auto in_original_order = [&](const at::Tensor& t_transposed) {
    return identity ? t_transposed.t().contiguous()
                    : permute_columns(t_transposed.t(), result.inv_perm);
  };
  sweep.wt = in_order(w).t().contiguous();
  // The sweep reads only its transposed copy: W [N, K] (and an fp32 copy of a non-fp32 weight)
  // is not held through it.
  w.reset();
  original.reset();
  sweep.hinv = hessian.inverse.upper.to(at::kFloat).contiguous();
  if (keep_mask.defined()) sweep.keep = in_order(keep_mask).t().contiguous().to(at::kByte);
  sweep.qt = sweep.wt;
  sweep.codes = at::empty(sweep.wt.sizes(), sweep.wt.options().dtype(at::kByte));
  sweep.maxq = static_cast<float>(quantizer.maxq());
  const int64_t* perm = result.perm.data_ptr<int64_t>();
  for (int64_t i1 = 0; i1 < columns; i1 += config.block_size) {
    sweep_block(sweep, i1, std::min<int64_t>(i1 + config.block_size, columns), grids, perm);
  }

  sweep.keep.reset();  // not held through the output permutations, the method's peak
  result.loss = sweep.loss;
  result.quantized.weight = in_original_order(sweep.qt);
  sweep.qt.reset();  // and wt, its storage: freed before the codes are permuted
  sweep.wt.reset();
  result.quantized.codes = in_original_order(sweep.codes);
  result.quantized.scales = grids.scales();
  result.quantized.zeros = grids.zeros();
  result.quantized.refit_groups = grids.refit_groups();
  result.quantized.g_idx = grids.g_idx(result.inv_perm);
  return result;
}

}  // namespace ptq::quant
