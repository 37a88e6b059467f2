#pragma once
// RUQuant stage 1's block rotation (paper Alg. 1; quantizer.py get_R): one B x B orthogonal R
// shared by every block of B channels, built greedily on the calibration activation X [B, N]
// (its columns are the B-channel pieces of every token) so that the largest column is driven
// onto uniformly sampled targets. `steps` times:
//   (a) c = the column holding the largest |entry|; u1 = uniform[0,1)^B scaled to ||c||;
//       Householder H with H c = u1: X = H X, R = H R;
//   (b) `perm_rounds` times: a random permutation P (X = P X, R = P R); c = the largest column
//       again; u2 = uniform[0,1)^B with each pair (2i, 2i+1) scaled to the norm of c's pair;
//       pairwise Givens G with G c = u2: X = G X, R = G R.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace ptq::methods::ruquant {

struct BlockRotation {
  at::Tensor rotation;  // R, fp32 [B, B]: a block's column b of X becomes R b
  at::Tensor rotated;   // R X
};

BlockRotation block_rotation(const at::Tensor& x, int steps, int perm_rounds, at::Generator& gen);

// The index of the column of x [B, N] holding the largest |entry| (the first such).
int64_t largest_column(const at::Tensor& x);
// uniform[0,1)^n rescaled to norm `norm`.
at::Tensor uniform_target(int64_t n, double norm, at::Generator& gen);

}  // namespace ptq::methods::ruquant
