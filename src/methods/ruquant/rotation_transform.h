#pragma once
// RUQuant stage 1 for one linear input (quantizer.py online_ruquant_cali, per the paper): on the
// (smoothed) mean calibration activation x [T, K] with blocks of B channels,
//   block rotation R1 -> zigzag permutation -> block rotation R2 -> one full-width Householder
// reflection mapping the token row with the largest |entry| onto a uniform[0,1)^K target
// scaled to its norm. The result is the orthogonal part of an InputTransform.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include "ptq/quant/input_transform.h"

namespace ptq::methods::ruquant {

struct RotationSettings {
  int64_t block = 128;  // B, an even divisor of K (rotation_block_size)
  int steps = 16;       // Householder steps per block rotation
  int perm_rounds = 3;  // permutation + Givens passes per step
};

// Fills block1, permutation, block2 and householder of `transform` from x [T, K]. Returns
// ||c - target||, the length of the reflection vector before it is normalised (stage 2 trains
// the vector at that scale, as the authors' omg).
double add_rotations(const at::Tensor& x,
                     const RotationSettings& settings,
                     at::Generator& gen,
                     quant::InputTransform& transform);

}  // namespace ptq::methods::ruquant
