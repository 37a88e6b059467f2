#pragma once
// The pipeline's per-linear diagnostic: how much of a linear's output over the calibration
// inputs the quantization changed, from the layer's Hessian instead of the inputs themselves.

#include <ATen/core/Tensor.h>

namespace ptq::quant {

// tr(X H X^T) for X [N, K] and a symmetric H [K, K] (both fp32): fp32 GEMMs over the upper
// block triangle of H, each block's products summed in fp64. With X's columns in blocks X_b,
// tr = sum_b <X_b H_bb, X_b> + 2 sum_{b<c} <X_b H_bc, X_c>, one GEMM X_b H[b, b:] per block
// row: about N K^2 (N K (K + block)) FLOPs where X H costs 2 N K^2. Rounding: every GEMM entry
// is an fp32 sum of at most K products, so the result is within (K + 1) 2^-24 tr(|X| |H| |X|^T)
// of the exact value, the bound of the full product X H as well.
double quadratic_trace(const at::Tensor& x, const at::Tensor& h);

// ||WX - QX||^2 / ||WX||^2 over the calibration inputs, from their Hessian H ~ X^T X:
// tr((W - Q) H (W - Q)^T) / tr(W H W^T); 0 when tr(W H W^T) is 0.
double relative_error(const at::Tensor& weight, const at::Tensor& quantized, const at::Tensor& h);

// tr((W - Q) H (W - Q)^T) for a GPTQ sweep's output Q (gptq.h), from the sweep's own loss instead
// of an N K^2 trace. The sweep writes W' - Q = Err U, with U the upper Cholesky factor of
// (H + damp I)^-1 and W' the weight with its dead columns (H_ii = 0) zeroed, which Q also zeroes;
// so tr((W' - Q)(H + damp I)(W' - Q)^T) = ||Err||^2 = 2 loss, and since dead columns add nothing
// under H, tr((W - Q) H (W - Q)^T) = 2 loss - damp ||(W - Q) restricted to live columns||^2.
// The identity's rounding is relative to 2 loss: when the damping term is over half of it (the
// error mostly where H is near zero), the difference would lose digits, and the trace is
// computed by quadratic_trace instead.
double sweep_output_error(const at::Tensor& weight,
                          const at::Tensor& quantized,
                          const at::Tensor& h,
                          double loss,
                          double damp);

}  // namespace ptq::quant
