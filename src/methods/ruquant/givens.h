#pragma once
// RUQuant stage 1 (b): Givens rotations on consecutive channel pairs (0,1), (2,3), ... that map
// each pair of a vector c onto the matching pair of a target with the same pair norms.

#include <ATen/core/Tensor.h>

namespace ptq::methods::ruquant {

struct PairRotations {
  at::Tensor cos;  // fp32 [B / 2]
  at::Tensor sin;  // fp32 [B / 2]
};

// The rotations with [[cos, -sin], [sin, cos]] (c_2i, c_2i+1) = (t_2i, t_2i+1) for every pair,
// as the paper states (G c = u2). The authors' code builds [[cos, sin], [-sin, cos]] from the
// same cos/sin, i.e. the opposite angle, which maps c there only by its transpose; we follow
// the paper. A zero pair of c gets the identity.
PairRotations pair_rotations(const at::Tensor& c, const at::Tensor& target);

// G m for m [B, cols]: each pair of rows (2i, 2i+1) rotated by rotation i.
at::Tensor rotate_row_pairs(const at::Tensor& m, const PairRotations& g);

}  // namespace ptq::methods::ruquant
