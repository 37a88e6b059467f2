#include "ptq/format/storage_bits.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

namespace ptq::quant {
namespace {

// N = 4 outputs, K = 8 inputs at 3 bits in groups of 4 (G = 2), two kept weights:
// codes 32 * 3 = 96, grids 2 * 4 * (16 + 3) = 152, g_idx 8 * 32 = 256, side store
// 2 * (32 + 16) = 96; 600 bits over 32 weights.
TEST(StorageBits, CountsCodesGridsGroupIndexAndSideStore) {
  QuantizedWeight q;
  q.codes = at::zeros({4, 8}, at::kByte);
  q.scales = at::ones({2, 4});
  q.zeros = at::ones({2, 4});
  q.g_idx = at::zeros({8}, at::kInt);
  const std::map<std::string, at::Tensor> side_store{{"outlier_idx", at::zeros({2}, at::kInt)},
                                                     {"outlier_val", at::zeros({2}, at::kHalf)}};
  const StorageBits s = storage_bits(q, side_store, 3);
  EXPECT_EQ(s.weights, 32);
  EXPECT_EQ(s.codes, 96);
  EXPECT_EQ(s.grids, 152);
  EXPECT_EQ(s.g_idx, 256);
  EXPECT_EQ(s.extra, 96);
  EXPECT_DOUBLE_EQ(s.per_weight(), 600.0 / 32);
  StorageBits total = s;
  total += s;
  EXPECT_EQ(total.weights, 64);
  EXPECT_DOUBLE_EQ(total.per_weight(), 600.0 / 32);
}

}  // namespace
}  // namespace ptq::quant
