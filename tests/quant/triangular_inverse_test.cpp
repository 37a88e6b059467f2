#include "ptq/quant/triangular_inverse.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

at::Tensor inverted(const at::Tensor& lower) {
  at::Tensor inverse = lower.clone();
  invert_lower_triangular_in_place(inverse);
  return inverse;
}

// c (I - S) with S the ones of the first subdiagonal: its inverse is (1/c) times the lower
// triangle of ones (row i of (I - S) X = I telescopes), exact in floating point for c = 2.
// n = 301 splits into uneven halves at every level of the recursion down to its direct blocks.
TEST(TriangularInverse, BidiagonalHasTheOnesTriangleAsInverse) {
  const int64_t n = 301;
  const at::Tensor lower = 2 * (at::eye(n) - at::eye(n).roll(1, 0).tril(-1));
  const at::Tensor expected = 0.5 * at::ones({n, n}).tril();
  EXPECT_TRUE(at::equal(inverted(lower), expected));
  EXPECT_TRUE(at::equal(inverted(lower.to(at::kDouble)), expected.to(at::kDouble)));
}

// A well-conditioned random factor in fp64 against LU's general inverse (at::linalg_inv).
TEST(TriangularInverse, MatchesTheGeneralInverse) {
  at::manual_seed(3);
  const int64_t n = 500;
  const at::Tensor diagonal = 1 + at::rand({n}, at::kDouble);
  const at::Tensor lower =
      at::diag(diagonal) + (at::randn({n, n}, at::kDouble) / (4 * std::sqrt(n))).tril(-1);
  const at::Tensor inverse = inverted(lower);
  EXPECT_TRUE(at::allclose(inverse, at::linalg_inv(lower), 1e-12, 1e-12));
  EXPECT_TRUE(at::equal(inverse.triu(1), at::zeros({n, n}, at::kDouble)));
}

TEST(TriangularInverse, IgnoresTheUpperTriangle) {
  const at::Tensor lower = 2 * (at::eye(200) - at::eye(200).roll(1, 0).tril(-1));
  const at::Tensor poisoned =
      lower + at::full({200, 200}, std::numeric_limits<float>::quiet_NaN()).triu(1);
  EXPECT_TRUE(at::equal(inverted(poisoned), inverted(lower)));
}

TEST(TriangularInverse, RejectsNonSquareAndIntegerInputs) {
  EXPECT_THROW(invert_lower_triangular_in_place(at::eye(3).slice(0, 0, 2)), InputError);
  EXPECT_THROW(invert_lower_triangular_in_place(at::eye(3, at::kInt)), InputError);
}

}  // namespace
}  // namespace ptq::quant
