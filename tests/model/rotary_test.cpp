// RotaryEmbedding's frequencies and attention factor for each rope_scaling type, on cases small
// enough to derive by hand from modeling_rope_utils' formulas (the fixture tests in
// llama_test.cpp check whole forwards against the Python reference).

#include "model/rotary.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace ptq::model {
namespace {

ModelConfig rope_config(double theta, RopeScaling scaling, int64_t max_positions = 128) {
  ModelConfig c;
  c.rope_theta = theta;
  c.max_position_embeddings = max_positions;
  c.rope_scaling = scaling;
  return c;
}

void expect_inv_freq(const at::Tensor& got, std::vector<double> want) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i].item<double>(), want[i], 1e-12 * want[i]) << "frequency " << i;
  }
}

// 4 dims, base 10000: inverse frequencies 1 and 1/100.
TEST(RotaryEmbedding, DefaultAndLinear) {
  expect_inv_freq(RotaryEmbedding(4, 10000.0).inv_freq(12), {1.0, 0.01});
  RopeScaling linear;
  linear.type = RopeScaling::Type::Linear;
  linear.factor = 4.0;
  expect_inv_freq(RotaryEmbedding(rope_config(10000.0, linear), 4).inv_freq(12), {0.25, 0.0025});
}

// Base 25, 4 dims: wavelengths 2 pi (below 64 / 4: kept) and 10 pi (between 64 / 4 and 64 / 1:
// interpolated with s = (64 / 10 pi - 1) / 3); base 10000: 200 pi (above 64: divided by 8).
TEST(RotaryEmbedding, Llama3KeepsInterpolatesAndDividesTheThreeBands) {
  RopeScaling llama3;
  llama3.type = RopeScaling::Type::Llama3;
  llama3.factor = 8.0;
  llama3.original_max_position_embeddings = 64;
  llama3.low_freq_factor = 1.0;
  llama3.high_freq_factor = 4.0;
  const double s = (64 / (10 * M_PI) - 1) / 3;
  expect_inv_freq(RotaryEmbedding(rope_config(25.0, llama3), 4).inv_freq(12),
                  {1.0, (1 - s) * 0.2 / 8 + s * 0.2});
  expect_inv_freq(RotaryEmbedding(rope_config(10000.0, llama3), 4).inv_freq(12), {1.0, 0.01 / 8});
}

// Up to max_position_embeddings (8) the plain frequencies; at length 16 with factor 2 the base
// becomes 10000 * (2 * 16 / 8 - 1)^(4 / 2) = 90000, so the second frequency is 1/300.
TEST(RotaryEmbedding, DynamicGrowsTheBasePastMaxPositions) {
  RopeScaling dynamic;
  dynamic.type = RopeScaling::Type::Dynamic;
  dynamic.factor = 2.0;
  const RotaryEmbedding rope(rope_config(10000.0, dynamic, 8), 4);
  expect_inv_freq(rope.inv_freq(8), {1.0, 0.01});
  expect_inv_freq(rope.inv_freq(16), {1.0, 1.0 / 300});
}

// YaRN's attention factor: 0.1 ln(factor) + 1 by default, mscale / mscale_all_dim as
// DeepSeek's configs set them, or attention_factor as given; cos and sin carry it, so
// (1, 0) at position p turns into factor * (cos p, sin p).
TEST(RotaryEmbedding, YarnAttentionFactor) {
  RopeScaling yarn;
  yarn.type = RopeScaling::Type::Yarn;
  yarn.factor = 4.0;
  const RotaryEmbedding plain(rope_config(10000.0, yarn), 2);
  EXPECT_NEAR(plain.attention_factor(), 0.1 * std::log(4.0) + 1, 1e-15);
  const at::Tensor x = at::tensor({1.0f, 0.0f}).view({1, 1, 1, 2});
  const at::Tensor turned = plain.apply(x, /*offset=*/3);
  // 2 dims: one frequency, the ramp's first, kept as is: 1.
  const double f = plain.attention_factor();
  EXPECT_NEAR(turned[0][0][0][0].item<double>(), f * std::cos(3.0), 1e-6);
  EXPECT_NEAR(turned[0][0][0][1].item<double>(), f * std::sin(3.0), 1e-6);

  yarn.factor = 40.0;
  yarn.mscale = 0.707;
  yarn.mscale_all_dim = 1.0;
  EXPECT_NEAR(RotaryEmbedding(rope_config(10000.0, yarn), 2).attention_factor(),
              (0.1 * 0.707 * std::log(40.0) + 1) / (0.1 * std::log(40.0) + 1), 1e-15);
  yarn.attention_factor = 0.5;
  EXPECT_DOUBLE_EQ(RotaryEmbedding(rope_config(10000.0, yarn), 2).attention_factor(), 0.5);
}

}  // namespace
}  // namespace ptq::model
