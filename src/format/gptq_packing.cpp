#include "ptq/format/gptq_packing.h"

#include <ATen/ATen.h>

#include <numeric>

#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

// v1 loaders read 2, 3, 4 and 8 bits; 5, 6 and 7 (W6A6 needs 6) continue the same LSB-first
// bit stream, which only ptq reads back.
void check_bits(int bits) {
  PTQ_CHECK_INPUT(bits >= 2 && bits <= 8, "GPTQ v1 packing supports 2 to 8 bits, got ", bits);
}

// A dimension of `size` values packs into whole int32 words only if size * bits % 32 == 0
// (for 3 bits: size % 32 == 0, one 96-bit stream per 32 values).
void check_packable(int64_t size, int bits, const char* what) {
  PTQ_CHECK_INPUT(size * bits % 32 == 0, "cannot pack ", what, " = ", size, " at ", bits,
                  " bits into int32 words: it must be a multiple of ", 32 / std::gcd(32, bits),
                  " (", what, " * bits must be a multiple of 32)");
}

// pack_gptq pads the packed dimension to whole 32-value chunks (see the header).
int64_t padded_size(int64_t size) { return (size + 31) / 32 * 32; }

// values [R, C] with zero rows appended up to padded_size(R).
at::Tensor pad_rows(const at::Tensor& values) {
  return at::constant_pad_nd(values, {0, 0, 0, padded_size(values.size(0)) - values.size(0)});
}

// v1 stores zero - 1 (docs/format.md, "Zero points: v1 and v2"); v2 the zero itself.
int zero_offset(CheckpointFormat format) { return format == CheckpointFormat::GptqV1 ? 1 : 0; }

}  // namespace

const char* checkpoint_format_name(CheckpointFormat format) {
  return format == CheckpointFormat::GptqV1 ? "gptq" : "gptq_v2";
}

CheckpointFormat parse_checkpoint_format(const std::string& name, const std::string& what) {
  if (name == "gptq") return CheckpointFormat::GptqV1;
  if (name == "gptq_v2") return CheckpointFormat::GptqV2;
  PTQ_THROW_INPUT(what, " is \"", name, "\"; ptq reads and writes \"gptq\" (v1: qzeros hold ",
                  "zero - 1) and \"gptq_v2\" (qzeros hold the zero point)");
}

at::Tensor pack_rows(const at::Tensor& values, int bits) {
  check_bits(bits);
  TORCH_CHECK(values.dim() == 2, "pack_rows expects a 2-D tensor");
  const int64_t rows = values.size(0);
  const int64_t cols = values.size(1);
  check_packable(rows, bits, "rows");
  PTQ_CHECK_INPUT(values.numel() == 0 || (values.min().item<int64_t>() >= 0 &&
                                          values.max().item<int64_t>() < (1 << bits)),
                  "values to pack exceed the ", bits, "-bit range [0, ", (1 << bits) - 1, "]");
  const at::Tensor v = values.to(at::kInt).contiguous();
  at::Tensor packed = at::zeros({rows * bits / 32, cols}, v.options());
  const auto* in = reinterpret_cast<const uint32_t*>(v.data_ptr<int32_t>());
  auto* out = reinterpret_cast<uint32_t*>(packed.data_ptr<int32_t>());
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t word = r * bits / 32;
    const int shift = static_cast<int>(r * bits % 32);
    const bool straddles = shift + bits > 32;  // 3, 5, 6, 7 bits: values across two words
    uint32_t* low = out + word * cols;
    const uint32_t* src = in + r * cols;
    for (int64_t c = 0; c < cols; ++c) low[c] |= src[c] << shift;
    if (!straddles) continue;
    uint32_t* high = low + cols;
    for (int64_t c = 0; c < cols; ++c) high[c] |= src[c] >> (32 - shift);
  }
  return packed;
}

at::Tensor unpack_rows(const at::Tensor& packed, int bits, int64_t rows) {
  check_bits(bits);
  TORCH_CHECK(packed.dim() == 2 && packed.scalar_type() == at::kInt, "expected int32 2-D words");
  check_packable(rows, bits, "rows");
  PTQ_CHECK_INPUT(packed.size(0) == rows * bits / 32, "packed tensor has ", packed.size(0),
                  " word rows; ", rows, " values at ", bits, " bits need ", rows * bits / 32);
  const int64_t cols = packed.size(1);
  const at::Tensor p = packed.contiguous();
  at::Tensor values = at::empty({rows, cols}, p.options());
  const auto* in = reinterpret_cast<const uint32_t*>(p.data_ptr<int32_t>());
  auto* out = reinterpret_cast<uint32_t*>(values.data_ptr<int32_t>());
  const uint32_t mask = (1U << bits) - 1;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t word = r * bits / 32;
    const int shift = static_cast<int>(r * bits % 32);
    const uint32_t* low = in + word * cols;
    uint32_t* dst = out + r * cols;
    for (int64_t c = 0; c < cols; ++c) dst[c] = (low[c] >> shift) & mask;
    if (shift + bits <= 32) continue;
    const uint32_t* high = low + cols;
    for (int64_t c = 0; c < cols; ++c) dst[c] |= (high[c] << (32 - shift)) & mask;
  }
  return values;
}

GptqPackedWeight pack_gptq(const QuantizedWeight& weight, int bits, CheckpointFormat format) {
  check_bits(bits);
  PTQ_CHECK_INPUT(weight.codes.dim() == 2 && weight.scales.dim() == 2,
                  "expected codes [N, K] and scales [G, N], got ", weight.codes.sizes(), " and ",
                  weight.scales.sizes());
  const int64_t out_features = weight.codes.size(0);
  const int64_t in_features = weight.codes.size(1);
  PTQ_CHECK_INPUT(weight.scales.sizes() == weight.zeros.sizes() &&
                      weight.scales.size(1) == out_features && weight.g_idx.numel() == in_features,
                  "inconsistent quantized weight: codes ", weight.codes.sizes(), ", scales ",
                  weight.scales.sizes(), ", zeros ", weight.zeros.sizes(), ", g_idx ",
                  weight.g_idx.sizes());
  const int64_t groups = weight.scales.size(0);
  PTQ_CHECK_INPUT(in_features == 0 || (weight.g_idx.min().item<int64_t>() >= 0 &&
                                       weight.g_idx.max().item<int64_t>() < groups),
                  "g_idx refers to groups outside 0..", groups - 1);
  const at::Tensor zeros = weight.zeros.round().to(at::kInt);
  // v1: a zero point of 0 would be stored as -1 and read back as 2^bits, so it is not
  // representable.
  PTQ_CHECK_INPUT(
      format != CheckpointFormat::GptqV1 || zeros.numel() == 0 || zeros.min().item<int32_t>() >= 1,
      "a zero point of 0 cannot be stored in GPTQ v1 format (it stores zero - 1 and "
      "readers add 1 back); use a symmetric grid or --checkpoint-format gptq_v2");
  GptqPackedWeight packed;
  packed.qweight = pack_rows(pad_rows(weight.codes.t()), bits);
  packed.qzeros = pack_rows(pad_rows((zeros - zero_offset(format)).t()), bits).t().contiguous();
  packed.scales = weight.scales.to(at::kHalf).contiguous();
  PTQ_CHECK_INPUT(packed.scales.isfinite().all().item<bool>(),
                  "scales beyond the fp16 range cannot be stored in GPTQ v1 format");
  packed.g_idx = weight.g_idx.to(at::kInt).contiguous();
  return packed;
}

namespace {

// The packed tensors unpacked as the loaders' forward() holds them.
struct Unpacked {
  at::Tensor codes;   // fp32 [K, N]
  at::Tensor zeros;   // fp32 [G, N]
  at::Tensor scales;  // fp32 [G, N]
  at::Tensor g_idx;   // int64 [K]

  // scales[g_idx] * (q - zeros[g_idx]), [N, K].
  at::Tensor dequantized() const {
    return (scales.index_select(0, g_idx) * (codes - zeros.index_select(0, g_idx)))
        .t()
        .contiguous();
  }
};

Unpacked unpack(const GptqPackedWeight& packed, int bits, CheckpointFormat format) {
  check_bits(bits);
  PTQ_CHECK_INPUT(packed.scales.dim() == 2, "scales must be [G, N], got ", packed.scales.sizes());
  const int64_t in_features = packed.g_idx.numel();
  const int64_t out_features = packed.scales.size(1);
  const int64_t groups = packed.scales.size(0);
  const int64_t padded_in = padded_size(in_features);
  const int64_t padded_out = padded_size(out_features);
  PTQ_CHECK_INPUT(packed.qzeros.dim() == 2 && packed.qzeros.size(0) == groups &&
                      packed.qzeros.size(1) == padded_out * bits / 32,
                  "qzeros ", packed.qzeros.sizes(), " does not match scales ",
                  packed.scales.sizes(), " at ", bits, " bits");
  PTQ_CHECK_INPUT(packed.qweight.dim() == 2 && packed.qweight.size(0) == padded_in * bits / 32 &&
                      packed.qweight.size(1) == out_features,
                  "qweight ", packed.qweight.sizes(), " does not match g_idx (K = ", in_features,
                  ") and scales ", packed.scales.sizes(), " at ", bits, " bits");
  Unpacked u;
  u.g_idx = packed.g_idx.to(at::kLong);
  PTQ_CHECK_INPUT(in_features == 0 || (u.g_idx.min().item<int64_t>() >= 0 &&
                                       u.g_idx.max().item<int64_t>() < groups),
                  "g_idx refers to groups outside 0..", groups - 1);
  u.codes = unpack_rows(packed.qweight, bits, padded_in).slice(0, 0, in_features).to(at::kFloat);
  u.zeros = (unpack_rows(packed.qzeros.t(), bits, padded_out).slice(0, 0, out_features).t() +
             zero_offset(format))
                .to(at::kFloat);
  u.scales = packed.scales.to(at::kFloat);
  return u;
}

}  // namespace

QuantizedWeight unpack_gptq(const GptqPackedWeight& packed, int bits, CheckpointFormat format) {
  const Unpacked u = unpack(packed, bits, format);
  QuantizedWeight weight;
  weight.weight = u.dequantized();
  weight.codes = u.codes.t().to(at::kByte).contiguous();
  weight.scales = u.scales.contiguous();
  weight.zeros = u.zeros.contiguous();
  weight.g_idx = u.g_idx.to(at::kInt);
  return weight;
}

at::Tensor dequantize_gptq(const GptqPackedWeight& packed, int bits, CheckpointFormat format) {
  return unpack(packed, bits, format).dequantized();
}

}  // namespace ptq::quant
