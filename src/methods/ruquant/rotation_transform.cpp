#include "methods/ruquant/rotation_transform.h"

#include <ATen/ATen.h>

#include "methods/ruquant/block_rotation.h"
#include "methods/ruquant/householder.h"
#include "methods/ruquant/zigzag.h"

namespace ptq::methods::ruquant {
namespace {

// x [T, K] as the columns of length B the block rotation works on: [B, T * K / B].
at::Tensor block_columns(const at::Tensor& x, int64_t block) { return x.reshape({-1, block}).t(); }

// The inverse of block_columns for rotated columns.
at::Tensor from_block_columns(const at::Tensor& columns, int64_t width) {
  return columns.t().reshape({-1, width});
}

// One block rotation of x [T, K]: stores the matrix acting on row vectors (x_b -> x_b R^T, the
// same as column b -> R b) and returns the rotated x.
at::Tensor rotate_blocks(const at::Tensor& x,
                         const RotationSettings& s,
                         at::Generator& gen,
                         at::Tensor& block) {
  const BlockRotation r = block_rotation(block_columns(x, s.block), s.steps, s.perm_rounds, gen);
  block = r.rotation.t().contiguous();
  return from_block_columns(r.rotated, x.size(1));
}

}  // namespace

double add_rotations(const at::Tensor& x,
                     const RotationSettings& settings,
                     at::Generator& gen,
                     quant::InputTransform& transform) {
  const int64_t width = x.size(1);
  at::Tensor y = rotate_blocks(x.to(at::kFloat), settings, gen, transform.block1);
  transform.permutation = zigzag_permutation(y.abs().amax(0), width / settings.block);
  y = y.index_select(1, transform.permutation);
  y = rotate_blocks(y, settings, gen, transform.block2);
  // The global reflection works on whole tokens: the row of y with the largest |entry|.
  const at::Tensor c = y.select(0, largest_column(y.t()));
  const at::Tensor target = uniform_target(width, c.norm().item<double>(), gen);
  transform.householder = householder_vector(c, target);
  return (c - target).norm().item<double>();
}

}  // namespace ptq::methods::ruquant
