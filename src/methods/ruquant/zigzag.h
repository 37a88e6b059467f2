#pragma once
// DuQuant/RUQuant's zigzag permutation between the two block rotations: it spreads the
// channels with the largest activations evenly over the blocks.

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace ptq::methods::ruquant {

// channel_max [K] (max |x| per channel) -> perm int64 [K], x'[j] = x[perm[j]]: channels by
// descending channel_max (ties by index) are dealt round-robin to the nb = `blocks` blocks in
// the order 0, 1, .., nb-1, nb-1, .., 0, 0, 1, ..; each block keeps them in descending order
// (so it is sorted within), and the blocks are laid out one after another.
at::Tensor zigzag_permutation(const at::Tensor& channel_max, int64_t blocks);

}  // namespace ptq::methods::ruquant
