#pragma once
// The reference GPTQ algorithm (Frantar et al. 2022, IST-DASLab/gptq gptq.py fasterquant) on one
// weight matrix, model-independent: Hessian accumulation from calibration inputs and the
// column-by-column quantization with optimal-brain-surgeon updates of the remaining columns.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>

#include "ptq/quant/uniform_quantizer.h"

namespace ptq::quant {

// H = 2/n * sum over samples of X^T X, accumulated as gptq.py add_batch does:
// H *= n / (n + b); n += b; H += 2/n X^T X, where b counts samples (sequences), not tokens.
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t columns, at::ScalarType dtype = at::kFloat);

  // x: [tokens, K] is one sample (gptq.py unsqueezes 2-D inputs); [batch, seq, K] is batch
  // samples. Any floating dtype; accumulated in the accumulator's dtype with one GEMM.
  void add_batch(const at::Tensor& x);

  const at::Tensor& hessian() const { return _hessian; }
  int64_t samples() const { return _samples; }

 private:
  at::Tensor _hessian;
  int64_t _samples = 0;
};

struct GptqConfig {
  QuantizerConfig quantizer;
  // -1: one grid per output row over all of K. Otherwise a new grid at each group start, found
  // from W as gptq.py reads it (see GroupGrids in gptq.cpp for the lazy-block subtlety); a
  // last partial group covers the tail columns.
  int group_size = -1;
  double percdamp = 0.01;
  int block_size = 128;        // lazy-batch width
  bool act_order = false;      // process columns by descending diag(H) (desc_act)
  bool static_groups = false;  // group grids from the original W, before any update
  // When the Cholesky factorisation fails, percdamp is multiplied by damp_growth and retried
  // up to max_damp_retries times.
  double damp_growth = 10.0;
  int max_damp_retries = 6;
};

struct GptqResult {
  QuantizedWeight quantized;  // in the original column order; g_idx per AutoGPTQ
  at::Tensor perm;            // int64 [K], processing order (identity without act-order)
  at::Tensor inv_perm;        // int64 [K], perm[inv_perm[c]] == c
  double loss = 0;            // gptq.py's error: sum (w - q)^2 / d^2 / 2
  double percdamp = 0;        // relative damping actually used (after retries)
  double damp = 0;            // absolute value added to diag(H)
};

// Upper Cholesky factor of (H + damp I)^-1, the factor gptq.py computes as cholesky ->
// cholesky_inverse -> cholesky(upper=True), here from one Cholesky factor of the flipped matrix
// and its triangular inverse (half the FLOPs; equal in exact arithmetic, not bit for bit), with
// damp = percdamp * mean(diag H). Retries with a larger percdamp (logged as warnings) when H is
// not numerically positive definite.
struct DampedInverse {
  at::Tensor upper;  // same dtype as H
  double percdamp = 0;
  double damp = 0;
};
DampedInverse damped_inverse_cholesky(const at::Tensor& hessian, const GptqConfig& config);
// The same bits in the contiguous hessian's own storage, which ends up holding `upper` (the
// caller's H is consumed): one K x K buffer instead of two, plus a packed half-size copy of H
// while it factorises, for the retries.
DampedInverse damped_inverse_cholesky_in_place(const at::Tensor& hessian, const GptqConfig& config);

// The Hessian side of GPTQ, independent of the weight: dead inputs, processing order and the
// damped inverse's Cholesky factor. Prepared once, it serves both a method's own use of the
// factor (SEPTQ's importance scores) and the column loop, so H is factorised only once.
struct PreparedHessian {
  at::Tensor dead;        // bool [K], diag(H) == 0: these weight columns are zeroed (gptq.py)
  at::Tensor perm;        // int64 [K], processing order (identity without act-order)
  at::Tensor inv_perm;    // int64 [K], perm[inv_perm[c]] == c
  DampedInverse inverse;  // of H with dead diagonals set to 1, in processing order
};
// Hessian [K, K] fp32 or fp64 (the factorisation runs in its dtype). Throws InputError for a
// malformed H, std::runtime_error when it stays indefinite after the damping retries.
PreparedHessian prepare_hessian(const at::Tensor& hessian, const GptqConfig& config);
// The same bits, consuming H: its storage is overwritten (dead diagonals, then the factor) for
// a caller that reads H no more, so that H and its factor are not held together (at K = 11008,
// 485 MB each). Not through SharedPreparation, whose other linears still need H.
PreparedHessian prepare_hessian_in_place(const at::Tensor& hessian, const GptqConfig& config);

// prepare_hessian of one Hessian, computed on first use and reused by every linear that shares
// that Hessian: q/k/v (gate/up) would otherwise factorise the same damped H three (two) times,
// an O(K^3) step. Reused only for the very same tensor, unmodified since (its version
// counter), and the same settings the preparation depends on; anything else is prepared
// afresh and replaces the entry. Deterministic LAPACK makes the shared result the one each
// linear would have computed (tests/quant/gptq_test.cpp asserts bit-identical weights).
class SharedPreparation {
 public:
  PreparedHessian get(const at::Tensor& hessian, const GptqConfig& config);

 private:
  at::Tensor _hessian;  // held, so that no other tensor can take its place meanwhile
  int64_t _version = 0;
  GptqConfig _config;
  std::optional<PreparedHessian> _prepared;
};

// GPTQ of weight [N, K] with Hessian [K, K] (fp32 or fp64; the factorisation runs in its dtype,
// the column loop in fp32 as the reference). keep_mask (bool [N, K], optional) marks elements
// that stay in full precision: they keep their updated value and contribute zero error, as
// SEPTQ's q[mask] = w[mask]; their codes are those of the kept value on the grid. An all-false
// mask gives bit-identical results to no mask.
GptqResult gptq_quantize(const at::Tensor& weight,
                         const at::Tensor& hessian,
                         const GptqConfig& config,
                         const at::Tensor& keep_mask = at::Tensor());
// The same with the Hessian already prepared (by prepare_hessian with the same config).
// channel_grid (group_size -1 only, optional): the per-row grid of the weight, when the caller
// already found it with config.quantizer (SEPTQ scores with it); otherwise found here.
GptqResult gptq_quantize(const at::Tensor& weight,
                         const PreparedHessian& hessian,
                         const GptqConfig& config,
                         const at::Tensor& keep_mask = at::Tensor(),
                         const QuantParams* channel_grid = nullptr);

}  // namespace ptq::quant
