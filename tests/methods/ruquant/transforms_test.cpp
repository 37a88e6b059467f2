// RUQuant stage 1's pieces by hand and by their defining properties: the block size rule,
// Householder and Givens steps mapping c onto their targets, orthogonality of every factor,
// the zigzag deal and the smoothing scales.

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "methods/ruquant/block_rotation.h"
#include "methods/ruquant/block_size.h"
#include "methods/ruquant/givens.h"
#include "methods/ruquant/householder.h"
#include "methods/ruquant/rotation_transform.h"
#include "methods/ruquant/smoothing.h"
#include "methods/ruquant/zigzag.h"
#include "ptq/common/error.h"

namespace ptq::methods::ruquant {
namespace {

constexpr double kOrthogonal = 1e-5;

// max |M M^T - I|.
double orthogonality_error(const at::Tensor& m) {
  return (at::matmul(m, m.t()) - at::eye(m.size(0), at::kFloat)).abs().max().item<double>();
}

bool close(const at::Tensor& a, const at::Tensor& b, double tol = 1e-5) {
  return (a - b).abs().max().item<double>() < tol * std::max(1.0, b.abs().max().item<double>());
}

TEST(RuquantBlockSize, LargestEvenDivisorNotAboveTheLimit) {
  EXPECT_EQ(rotation_block_size(64, 128, "m"), 64);   // stories260K attention/gate/up
  EXPECT_EQ(rotation_block_size(172, 128, "m"), 86);  // stories260K down_proj: 172 = 2 * 86
  EXPECT_EQ(rotation_block_size(4096, 128, "m"), 128);
  EXPECT_EQ(rotation_block_size(172, 64, "m"), 4);       // even divisors of 172: 2, 4, 86, 172
  EXPECT_EQ(rotation_block_size(11008, 128, "m"), 128);  // LLaMA-7B down_proj: 128 * 86
}

TEST(RuquantBlockSize, ImpossibleBlocksAreClearErrors) {
  try {
    rotation_block_size(63, 128, "model.layers.0.mlp.down_proj");
    FAIL() << "an odd width has no even block";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("model.layers.0.mlp.down_proj"), std::string::npos) << message;
    EXPECT_NE(message.find("63"), std::string::npos) << message;
    EXPECT_NE(message.find("--block-size 128"), std::string::npos) << message;
  }
  EXPECT_THROW(rotation_block_size(64, 1, "m"), InputError);
}

TEST(RuquantHouseholder, MapsCOntoTheTargetAndIsOrthogonal) {
  at::manual_seed(1);
  const at::Tensor c = at::randn({16});
  at::Tensor target = at::rand({16});
  target = target * (c.norm() / target.norm());
  const at::Tensor v = householder_vector(c, target);
  ASSERT_TRUE(v.defined());
  const at::Tensor h = reflect_rows(at::eye(16, at::kFloat), v);
  EXPECT_LT(orthogonality_error(h), kOrthogonal);
  EXPECT_TRUE(close(at::matmul(h, c), target)) << at::matmul(h, c) << target;
  // c already on its target: no reflection (the authors' 1e-10 threshold).
  EXPECT_FALSE(householder_vector(c, c).defined());
}

TEST(RuquantGivens, MapsEachPairOntoItsTarget) {
  // Pair (3, 4) -> (0, 5): cos = (3*0 + 4*5) / 25 = 0.8, sin = (3*5 - 4*0) / 25 = 0.6,
  // [[0.8, -0.6], [0.6, 0.8]] (3, 4) = (0, 5). Pair (0, 0) keeps the identity.
  const at::Tensor c = at::tensor({3.0f, 4.0f, 0.0f, 0.0f});
  const at::Tensor t = at::tensor({0.0f, 5.0f, 0.0f, 0.0f});
  const PairRotations g = pair_rotations(c, t);
  EXPECT_TRUE(close(g.cos, at::tensor({0.8f, 1.0f})));
  EXPECT_TRUE(close(g.sin, at::tensor({0.6f, 0.0f})));
  const at::Tensor m = rotate_row_pairs(at::eye(4, at::kFloat), g);
  EXPECT_LT(orthogonality_error(m), kOrthogonal);
  EXPECT_TRUE(close(at::matmul(m, c), t));
}

TEST(RuquantBlockRotation, IsOrthogonalAndRotatesTheColumns) {
  at::manual_seed(2);
  const at::Tensor x = at::randn({32, 40});
  x[5][7] = 30;  // an outlier
  at::Generator gen = at::detail::createCPUGenerator(7);
  const BlockRotation r = block_rotation(x, 16, 3, gen);
  EXPECT_LT(orthogonality_error(r.rotation), kOrthogonal);
  EXPECT_TRUE(close(r.rotated, at::matmul(r.rotation, x), 1e-5));
  // The point of the method: the outlier's energy is spread over the block.
  EXPECT_LT(r.rotated.abs().max().item<float>(), 0.5f * 30);
}

TEST(RuquantZigzag, DealsChannelsAsSpecified) {
  // max |x| = [5, 1, 7, 3, 8, 2, 6, 4], 2 blocks. Descending: ch4 (8), ch2 (7), ch6 (6),
  // ch0 (5), ch7 (4), ch3 (3), ch5 (2), ch1 (1), dealt to blocks 0, 1, 1, 0, 0, 1, 1, 0:
  // block 0 = [4, 0, 7, 1], block 1 = [2, 6, 3, 5], each already descending.
  const at::Tensor perm =
      zigzag_permutation(at::tensor({5.0f, 1.0f, 7.0f, 3.0f, 8.0f, 2.0f, 6.0f, 4.0f}), 2);
  EXPECT_TRUE(perm.equal(at::tensor({4, 0, 7, 1, 2, 6, 3, 5}, at::kLong))) << perm;
  // 3 blocks, channels already descending: 0 1 2 | 2 1 0 -> [0, 5], [1, 4], [2, 3].
  const at::Tensor three = zigzag_permutation(at::tensor({6.0f, 5.0f, 4.0f, 3.0f, 2.0f, 1.0f}), 3);
  EXPECT_TRUE(three.equal(at::tensor({0, 5, 1, 4, 2, 3}, at::kLong))) << three;
}

TEST(RuquantRotations, FullTransformIsOrthogonalAndMatchesItsMatrix) {
  at::manual_seed(3);
  const at::Tensor x = at::randn({24, 48});
  x[3][40] = 25;
  at::Generator gen = at::detail::createCPUGenerator(11);
  quant::InputTransform t;
  add_rotations(x, {16, 4, 2}, gen, t);
  ASSERT_TRUE(t.block1.defined() && t.block2.defined() && t.householder.defined());
  EXPECT_EQ(t.block1.sizes(), (at::IntArrayRef{16, 16}));
  const at::Tensor matrix = t.orthogonal_matrix(48);
  EXPECT_LT(orthogonality_error(matrix), kOrthogonal);
  EXPECT_TRUE(close(t.apply(x), at::matmul(x, matrix), 1e-5));
  EXPECT_NEAR(t.householder.norm().item<double>(), 1.0, 1e-6);
  // Same seed, same bits.
  at::Generator again = at::detail::createCPUGenerator(11);
  quant::InputTransform u;
  add_rotations(x, {16, 4, 2}, again, u);
  EXPECT_TRUE(u.block1.equal(t.block1) && u.block2.equal(t.block2) &&
              u.permutation.equal(t.permutation) && u.householder.equal(t.householder));
}

TEST(RuquantSmoothing, ScalesByHand) {
  // alpha 0.5: s = sqrt(act_max) / sqrt(weight_max) = [sqrt(4 / 1), sqrt(1 / 4)] = [2, 0.5];
  // a zero channel is floored at 1e-5 on both sides: s = 1e-5^0.5 / 1e-5^0.5 = 1.
  const at::Tensor s =
      smoothing_scales(at::tensor({4.0f, 1.0f, 0.0f}), at::tensor({1.0f, 4.0f, 0.0f}), 0.5);
  EXPECT_TRUE(close(s, at::tensor({2.0f, 0.5f, 1.0f}), 1e-6)) << s;
  // alpha 0.6 (the default): 8^0.6 / 2^0.4.
  const at::Tensor d = smoothing_scales(at::tensor({8.0f}), at::tensor({2.0f}), 0.6);
  EXPECT_NEAR(d.item<double>(), std::pow(8.0, 0.6) / std::pow(2.0, 0.4), 1e-5);
}

}  // namespace
}  // namespace ptq::methods::ruquant
