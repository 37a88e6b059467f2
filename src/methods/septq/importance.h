#pragma once
// SEPTQ's importance score of every weight element (Liu et al. 2026, ghtll/SEPTQ septq.py):
// the optimal-brain-surgeon saliency of its round-to-nearest error,
//
//   score[r, c] = (W[r, c] - W_rtn[r, c])^2 / U[c, c]^2,
//
// with W_rtn the per-output-channel, asymmetric, MSE-clipped RTN of W at the target bits (the
// caller's: SEPTQ shares that grid with its column loop) and U the upper Cholesky factor of the
// damped H^-1, so that U[c, c]^2 = [(H'[c:, c:])^-1]_00 (H' damped, in processing order) is the
// inverse-Hessian diagonal GPTQ divides by when it reaches column c.

#include <ATen/core/Tensor.h>

#include "ptq/quant/gptq.h"

namespace ptq::methods::septq {

// weight: fp32 [N, K] with dead columns already zeroed; rtn: its round-to-nearest on the
// per-channel grid, consumed: the scores are written over it, so that scoring holds one N x K
// buffer fewer; hessian: prepared by prepare_hessian. fp32 [N, K].
at::Tensor importance_scores(const at::Tensor& weight,
                             at::Tensor&& rtn,
                             const quant::PreparedHessian& hessian);

}  // namespace ptq::methods::septq
