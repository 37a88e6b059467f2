// merge_outlier_store on a tiny linear whose grids and kept values are chosen so that the codes
// can be derived by hand (tiny_outlier_linear.h), including a clamped value and a tie.

#include "ptq/format/outlier_merge.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ptq/common/error.h"
#include "quant/quant_test_helpers.h"
#include "quant/tiny_outlier_linear.h"

namespace ptq::quant {
namespace {

using test_helpers::matrix;
using test_helpers::tiny_outlier_store;
using test_helpers::tiny_outlier_weight;

TEST(OutlierMerge, KeptWeightsTakeTheCodesDerivedByHand) {
  QuantizedWeight w = tiny_outlier_weight();
  const OutlierMerge merge = merge_outlier_store(w, tiny_outlier_store(), 2, "tiny");
  const at::Tensor expected_codes = test_helpers::tiny_outlier_merged_codes();
  EXPECT_TRUE(at::equal(w.codes, expected_codes)) << w.codes;
  // The kept positions hold the grid values of their codes; the others are untouched.
  EXPECT_TRUE(at::equal(w.weight, matrix({{0, 1, -1, -2}, {0, 0, 2, 2}}))) << w.weight;
  EXPECT_EQ(merge.kept, 4);
  // [0, 1] held code 3 and [1, 0] code 2 already; [0, 3] (1 -> 0) and [1, 2] (0 -> 2) change.
  EXPECT_EQ(merge.changed, 2);
  // The grids themselves are not touched.
  EXPECT_TRUE(at::equal(w.scales, tiny_outlier_weight().scales));
  EXPECT_TRUE(at::equal(w.zeros, tiny_outlier_weight().zeros));
  EXPECT_TRUE(at::equal(w.g_idx, tiny_outlier_weight().g_idx));
}

TEST(OutlierMerge, WithoutDequantizedWeightOnlyCodesChange) {
  QuantizedWeight w = tiny_outlier_weight();
  w.weight = at::Tensor();
  merge_outlier_store(w, tiny_outlier_store(), 2, "tiny");
  EXPECT_TRUE(at::equal(w.codes, test_helpers::tiny_outlier_merged_codes()));
  EXPECT_FALSE(w.weight.defined());
}

TEST(OutlierMerge, AGridWithScaleZeroIsRefusedNamingThePosition) {
  QuantizedWeight w = tiny_outlier_weight();
  w.scales[1][1] = 0.0f;  // the grid of [1, 2]
  try {
    merge_outlier_store(w, tiny_outlier_store(), 2, "linear 'm' in dir");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("linear 'm' in dir: the kept weight at [1, 2]"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ptq::quant
