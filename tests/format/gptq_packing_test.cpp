#include "ptq/format/gptq_packing.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ptq/common/error.h"
#include "ptq/quant/gptq.h"

namespace ptq::quant {
namespace {

// One column of `values` packed along the input dim; returns the words as unsigned.
std::vector<uint32_t> pack_column(const std::vector<int32_t>& values, int bits) {
  const at::Tensor packed = pack_rows(at::tensor(values, at::kInt).unsqueeze(1), bits);
  std::vector<uint32_t> words;
  for (int64_t r = 0; r < packed.size(0); ++r) {
    words.push_back(static_cast<uint32_t>(packed[r][0].item<int32_t>()));
  }
  return words;
}

TEST(Packing, HandPackedWordPerBitWidth) {
  // LSB-first: value j of a word at bits [bits * j, bits * (j + 1)).
  EXPECT_EQ(pack_column({1, 2, 3, 4, 5, 6, 7, 8}, 4), std::vector<uint32_t>{0x87654321U});
  // 2 bits, [1, 2, 3, 0] per byte: 1 | 2 << 2 | 3 << 4 = 0x39.
  EXPECT_EQ(pack_column({1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0}, 2),
            std::vector<uint32_t>{0x39393939U});
  EXPECT_EQ(pack_column({0x12, 0x34, 0x56, 0x78}, 8), std::vector<uint32_t>{0x78563412U});
  // 3 bits, values j % 8 for j in 0..31: the words quant.py's Quant3Linear.pack loop produces
  // (value 10 split 2 + 1 bits across words 0/1, value 21 split 1 + 2 bits across words 1/2).
  std::vector<int32_t> values;
  for (int j = 0; j < 32; ++j) values.push_back(j % 8);
  EXPECT_EQ(pack_column(values, 3), (std::vector<uint32_t>{0x88fac688U, 0xc688fac6U, 0xfac688faU}));
  // 6 bits (ptq's extension for W6A6), values 1..16: value 6 splits 2 + 4 bits across words
  // 0/1, value 11 splits 4 + 2 across words 1/2. Word 0 = 1 | 2 << 6 | 3 << 12 | 4 << 18 |
  // 5 << 24 | (6 & 3) << 30.
  EXPECT_EQ(pack_column({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 6),
            (std::vector<uint32_t>{0x85103081U, 0xb2892071U, 0x40f38d30U}));
}

QuantizedWeight random_quantized(int64_t n, int64_t k, int group_size, int bits) {
  const int64_t groups = group_count(k, group_size);
  QuantizedWeight q;
  q.codes = at::randint(0, 1 << bits, {n, k}, at::kByte);
  q.scales = at::rand({groups, n}) * 0.1 + 0.01;
  q.zeros = at::randint(1, 1 << bits, {groups, n}).to(at::kFloat);
  q.g_idx = at::randperm(k, at::kLong).div(group_width(k, group_size), "floor").to(at::kInt);
  return q;
}

// What a v1 reader computes: fp16 scale * (code - zero) of each column's group.
at::Tensor expected_dequantized(const QuantizedWeight& q) {
  const at::Tensor g = q.g_idx.to(at::kLong);
  const at::Tensor scales = q.scales.to(at::kHalf).to(at::kFloat).index_select(0, g).t();
  return scales * (q.codes.to(at::kFloat) - q.zeros.index_select(0, g).t());
}

TEST(Packing, RoundTripAllBitWidths) {
  at::manual_seed(0);
  for (int bits : {2, 3, 4, 6, 8}) {
    SCOPED_TRACE(testing::Message() << bits << " bits");
    const QuantizedWeight q = random_quantized(64, 96, 32, bits);
    const GptqPackedWeight packed = pack_gptq(q, bits);
    EXPECT_EQ(packed.qweight.sizes(), (at::IntArrayRef{96 * bits / 32, 64}));
    EXPECT_EQ(packed.qzeros.sizes(), (at::IntArrayRef{3, 64 * bits / 32}));
    EXPECT_EQ(packed.scales.scalar_type(), at::kHalf);
    EXPECT_TRUE(at::equal(unpack_rows(packed.qweight, bits, 96), q.codes.t().to(at::kInt)));
    // Dequantized weight = fp16 scale * (code - zero), with zero = stored + 1.
    EXPECT_TRUE(at::equal(dequantize_gptq(packed, bits), expected_dequantized(q)));
  }
}

// v2 stores the zero itself: zero 0 packs (v1 refuses it), every stored zero is one more than
// v1's, and reading with the other convention shifts every weight by a whole scale.
TEST(Packing, V2StoresTheZeroPointItself) {
  at::manual_seed(5);
  for (int bits : {2, 3, 4, 5, 6, 7, 8}) {
    SCOPED_TRACE(testing::Message() << bits << " bits");
    QuantizedWeight q = random_quantized(64, 96, 32, bits);
    q.zeros[0].fill_(0);  // all-positive groups: zero 0
    EXPECT_THROW(pack_gptq(q, bits, CheckpointFormat::GptqV1), InputError);
    const GptqPackedWeight v2 = pack_gptq(q, bits, CheckpointFormat::GptqV2);
    EXPECT_TRUE(at::equal(unpack_rows(v2.qzeros.t(), bits, 64).t(), q.zeros.to(at::kInt)));
    EXPECT_TRUE(
        at::equal(dequantize_gptq(v2, bits, CheckpointFormat::GptqV2), expected_dequantized(q)));
    const at::Tensor misread = dequantize_gptq(v2, bits, CheckpointFormat::GptqV1);
    const at::Tensor scales =
        q.scales.to(at::kHalf).to(at::kFloat).index_select(0, q.g_idx.to(at::kLong)).t();
    EXPECT_TRUE(at::allclose(expected_dequantized(q) - misread, scales, 0, 1e-6));
    q.zeros[0].fill_(1);
    const GptqPackedWeight v1 = pack_gptq(q, bits, CheckpointFormat::GptqV1);
    EXPECT_TRUE(at::equal(
        unpack_rows(v1.qzeros.t(), bits, 64).t() + 1,
        unpack_rows(pack_gptq(q, bits, CheckpointFormat::GptqV2).qzeros.t(), bits, 64).t()));
  }
  EXPECT_EQ(parse_checkpoint_format("gptq_v2", "test"), CheckpointFormat::GptqV2);
  EXPECT_STREQ(checkpoint_format_name(CheckpointFormat::GptqV1), "gptq");
  EXPECT_THROW(parse_checkpoint_format("gptq_p", "test"), InputError);
}

TEST(Packing, PadsWidthsNotMultipleOf32) {
  // stories260K has K = N = 172; 40 is below one 32-value chunk past a multiple of 32.
  at::manual_seed(1);
  for (int64_t k : {172, 64, 40}) {
    for (int64_t n : {172, 64, 40}) {
      for (int bits : {2, 3, 4, 6, 8}) {
        SCOPED_TRACE(testing::Message() << "K " << k << ", N " << n << ", " << bits << " bits");
        const QuantizedWeight q = random_quantized(n, k, 32, bits);
        const GptqPackedWeight packed = pack_gptq(q, bits);
        const int64_t padded_k = (k + 31) / 32 * 32;
        const int64_t padded_n = (n + 31) / 32 * 32;
        const int64_t groups = (k + 31) / 32;
        ASSERT_EQ(packed.qweight.sizes(), (at::IntArrayRef{padded_k / 32 * bits, n}));
        ASSERT_EQ(packed.qzeros.sizes(), (at::IntArrayRef{groups, padded_n / 32 * bits}));
        EXPECT_EQ(packed.scales.sizes(), (at::IntArrayRef{groups, n}));
        EXPECT_EQ(packed.g_idx.numel(), k);
        // Padding codes are zero bits; the real codes and stored zeros round-trip.
        const at::Tensor codes = unpack_rows(packed.qweight, bits, padded_k);
        EXPECT_TRUE(at::equal(codes.slice(0, 0, k), q.codes.t().to(at::kInt)));
        EXPECT_TRUE((codes.slice(0, k) == 0).all().item<bool>());
        const at::Tensor zeros = unpack_rows(packed.qzeros.t(), bits, padded_n);
        EXPECT_TRUE(at::equal(zeros.slice(0, 0, n), q.zeros.t().to(at::kInt) - 1));
        EXPECT_TRUE((zeros.slice(0, n) == 0).all().item<bool>());
        EXPECT_TRUE(at::equal(dequantize_gptq(packed, bits), expected_dequantized(q)));
      }
    }
  }
}

TEST(Packing, StoresZeroMinusOne) {
  // Symmetric 4-bit: zero 8 is stored as 7 -> 0x77777777 (docs/format.md, "Zero points: v1 and
  // v2").
  QuantizedWeight q = random_quantized(32, 32, -1, 4);
  q.zeros.fill_(8);
  const GptqPackedWeight packed = pack_gptq(q, 4);
  ASSERT_EQ(packed.qzeros.sizes(), (at::IntArrayRef{1, 4}));
  EXPECT_TRUE((packed.qzeros == static_cast<int32_t>(0x77777777U)).all().item<bool>());
  // Symmetric 3-bit over N = 32: zero 4 stored as 3 in every 3-bit slot.
  q = random_quantized(32, 32, -1, 3);
  q.zeros.fill_(4);
  const at::Tensor zeros = unpack_rows(pack_gptq(q, 3).qzeros.t(), 3, 32);
  EXPECT_TRUE((zeros == 3).all().item<bool>());
}

void expect_input_error(const QuantizedWeight& q, int bits, const std::string& needle) {
  try {
    pack_gptq(q, bits);
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Packing, RejectsInconsistentShapes) {
  QuantizedWeight q = random_quantized(8, 32, -1, 4);
  q.g_idx = q.g_idx.slice(0, 0, 31);
  expect_input_error(q, 4, "inconsistent quantized weight");
  q = random_quantized(8, 32, -1, 4);
  q.scales = at::rand({1, 9});
  expect_input_error(q, 4, "inconsistent quantized weight");
  q = random_quantized(8, 32, 16, 4);
  q.g_idx[5] = 2;
  expect_input_error(q, 4, "g_idx refers to groups outside 0..1");
  expect_input_error(random_quantized(8, 32, -1, 4), 9, "2 to 8 bits");
  q = random_quantized(8, 32, -1, 4);
  q.zeros[0][3] = 0;
  expect_input_error(q, 4, "zero point of 0");
  // The reader checks the packed shapes against K = g_idx.numel() and N = scales.size(1).
  GptqPackedWeight packed = pack_gptq(random_quantized(8, 40, -1, 4), 4);
  packed.qweight = packed.qweight.slice(0, 0, 5);  // 40 values need ceil(40 / 32) * 4 = 8 words
  EXPECT_THROW(dequantize_gptq(packed, 4), InputError);
}

// Weight [n, k] with a quarter of the rows non-negative, where asymmetric grids hit zero 0.
at::Tensor weight_with_positive_rows(int64_t n, int64_t k) {
  at::Tensor w = at::randn({n, k}) * 0.05;
  w.slice(0, 0, n / 4).abs_();
  return w;
}

TEST(Packing, ReloadsQuantizerOutputsExactly) {
  // Default quantizer flags (v1 zero points, fp16 scales): the checkpoint dequantizes to exactly
  // the weights used in memory, for RTN and GPTQ.
  at::manual_seed(2);
  for (int64_t width : {172, 64}) {
    const at::Tensor w = weight_with_positive_rows(width, width);
    HessianAccumulator hessian(width);
    hessian.add_batch(at::randn({4, 64, width}));
    for (int bits : {3, 4}) {
      for (int group_size : {-1, 32}) {
        for (bool sym : {false, true}) {
          SCOPED_TRACE(testing::Message() << "K = N = " << width << ", " << bits << " bits, group "
                                          << group_size << ", sym " << sym);
          GptqConfig config;
          config.quantizer.bits = bits;
          config.quantizer.sym = sym;
          config.group_size = group_size;
          const QuantizedWeight rtn =
              quantize_rtn(w, UniformQuantizer(config.quantizer), group_size);
          EXPECT_TRUE(at::equal(dequantize_gptq(pack_gptq(rtn, bits), bits), rtn.weight));
          const QuantizedWeight gptq = gptq_quantize(w, hessian.hessian(), config).quantized;
          EXPECT_TRUE(at::equal(dequantize_gptq(pack_gptq(gptq, bits), bits), gptq.weight));
        }
      }
    }
  }
}

}  // namespace
}  // namespace ptq::quant
