#pragma once
// A tiny quantized linear with a side store whose merged codes are derived by hand, shared by
// the tests of outlier_merge and outlier_export.

#include <ATen/ATen.h>

#include <vector>

#include "ptq/format/outlier_store.h"
#include "ptq/quant/uniform_quantizer.h"
#include "quant/quant_test_helpers.h"

namespace ptq::quant::test_helpers {

// W [N 2, K 4] at 2 bits (codes 0..3), group size 2: g_idx [0, 0, 1, 1]. Grids
// scale * (q - zero), scales/zeros [G, N]:
//   g 0, n 0: 0.5 * (q - 1) = -0.5, 0, 0.5, 1       g 0, n 1: 0.25 * (q - 2) = -0.5, -0.25, 0, 0.25
//   g 1, n 0: 1 * (q - 2) = -2, -1, 0, 1            g 1, n 1: 2 * (q - 1) = -2, 0, 2, 4
// Kept (flat index n * 4 + c, value; fp16 values as stored):
//   1 = [0, 1], g 0:  0.8 -> fp16 0.7998; /0.5 = 1.5996, round 2, + 1 = code 3 (value 1)
//   3 = [0, 3], g 1: -7   -> -7 / 1 = -7 + 2 = -5, clamped to code 0 (value -2, the lowest)
//   4 = [1, 0], g 0:  0.125 -> /0.25 = 0.5, a tie between codes 2 and 3: half to even gives
//                     round 0, + 2 = code 2 (value 0)
//   6 = [1, 2], g 1:  2.9 -> fp16 2.9004; /2 = 1.4502, round 1, + 1 = code 2 (value 2)
inline QuantizedWeight tiny_outlier_weight() {
  QuantizedWeight w;
  w.codes = matrix({{1, 3, 1, 1}, {2, 2, 0, 2}}).to(at::kByte);
  w.scales = matrix({{0.5f, 0.25f}, {1.0f, 2.0f}});
  w.zeros = matrix({{1, 2}, {2, 1}});
  w.g_idx = at::tensor(std::vector<int32_t>{0, 0, 1, 1}, at::kInt);
  w.weight = matrix({{0, 1, -1, -1}, {0, 0, -2, 2}});  // scale * (code - zero)
  return w;
}

inline OutlierStore tiny_outlier_store() {
  return {at::tensor(std::vector<int32_t>{1, 3, 4, 6}, at::kInt),
          at::tensor(std::vector<float>{0.8f, -7.0f, 0.125f, 2.9f}).to(at::kHalf)};
}

// The codes after the merge (the derivation above); the positions not kept are unchanged.
inline at::Tensor tiny_outlier_merged_codes() {
  return matrix({{1, 3, 1, 0}, {2, 2, 2, 2}}).to(at::kByte);
}

}  // namespace ptq::quant::test_helpers
