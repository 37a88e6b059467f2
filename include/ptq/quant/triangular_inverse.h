#pragma once
// The inverse of a lower-triangular matrix in LAPACK trtri's n^3 / 3 FLOPs, in place. LibTorch
// 1.13 has no trtri, and a triangular solve against the identity does not know that its
// right-hand side is triangular: it costs n^3 and a second n x n matrix.

#include <ATen/core/Tensor.h>

namespace ptq::quant {

// lower: fp32 or fp64 [n, n] with a nonzero diagonal, its strict upper triangle not read.
// Overwritten by L^-1, zeros above the diagonal.
void invert_lower_triangular_in_place(const at::Tensor& lower);

}  // namespace ptq::quant
