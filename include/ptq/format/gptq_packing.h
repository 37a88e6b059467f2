#pragma once
// Packing of quantized weights into the GPTQ checkpoint tensors read by AutoGPTQ, GPTQModel,
// Transformers and vLLM (v1 "gptq") or GPTQModel (v2 "gptq_v2"); layout per docs/format.md.

#include <ATen/core/Tensor.h>

#include <string>

#include "ptq/quant/uniform_quantizer.h"

namespace ptq::quant {

// How qzeros hold the zero point (docs/format.md, "Zero points: v1 and v2"): v1 ("gptq", what
// AutoGPTQ wrote and every GPTQ loader reads) stores zero - 1 and readers add 1 back, so a zero
// of 0 cannot be stored; v2 ("gptq_v2", GPTQModel's) stores the zero itself.
enum class CheckpointFormat { GptqV1, GptqV2 };

// The quantization_config "checkpoint_format" value: "gptq" or "gptq_v2".
const char* checkpoint_format_name(CheckpointFormat format);
// Inverse of checkpoint_format_name; throws InputError naming `what` for another value.
CheckpointFormat parse_checkpoint_format(const std::string& name, const std::string& what);

// K and N are padded with zero codes to multiples of 32 in the packed dimension (see pack_gptq).
struct GptqPackedWeight {
  at::Tensor qweight;  // int32 [ceil(K / 32) * bits, N], codes packed along the input dim
  at::Tensor qzeros;   // int32 [G, ceil(N / 32) * bits], zero (v2) or zero - 1 (v1), packed
                       // along the output dim
  at::Tensor scales;   // fp16 [G, N]
  at::Tensor g_idx;    // int32 [K]
};

// Packs `values` [R, C] (integers in [0, 2^bits)) along dim 0 into int32 [R * bits / 32, C]:
// a continuous LSB-first bit stream per column, value r at stream bit bits * r. For 2/4/8 bits
// this is the usual 32/bits values per word; for 3 bits it is the 96-bit stream per 3 words
// (5, 6, 7 bits likewise: ptq's extension, read back only by ptq).
at::Tensor pack_rows(const at::Tensor& values, int bits);
// Inverse of pack_rows: int32 [rows, C] in [0, 2^bits) from int32 [rows * bits / 32, C].
at::Tensor unpack_rows(const at::Tensor& packed, int bits, int64_t rows);

// Packs a quantized weight (codes [N, K], scales/zeros [G, N], g_idx [K]) into GPTQ tensors whose
// qzeros follow `format`.
// The packed dimensions K (qweight) and N (qzeros) are padded with zero codes to the next
// multiple of 32 so that any width packs into whole words (3 bits: 32 values per 3 words).
// AutoGPTQ-family kernels need K and N multiples of 32 anyway, which every real LLM width is, so
// the padding only matters for toy widths (stories260K: 172), whose checkpoints ptq reads back.
// Throws InputError when the shapes are inconsistent or a zero point cannot be stored in v1.
GptqPackedWeight pack_gptq(const QuantizedWeight& weight,
                           int bits,
                           CheckpointFormat format = CheckpointFormat::GptqV1);
// The quantized weight GPTQ tensors hold, as readers of `format` decode them: codes [N, K]
// (uint8), scales and zero points [G, N] (fp32; zero = qzeros + 1 in v1, qzeros in v2), g_idx
// [K] and the dequantized weight (as dequantize_gptq). The inverse of pack_gptq for any v2
// grid and for v1 grids with zeros >= 1 (those pack_gptq stores). Throws InputError when the
// shapes do not fit together or g_idx names a group outside the scales.
QuantizedWeight unpack_gptq(const GptqPackedWeight& packed,
                            int bits,
                            CheckpointFormat format = CheckpointFormat::GptqV1);
// fp32 [N, K] weight of GPTQ tensors, as readers of `format` compute it:
// W[n, i] = scales[g, n] * (q[i, n] - (qzeros[g, n] + 1)) with g = g_idx[i] for v1, without the
// + 1 for v2. K is g_idx.numel() and N is scales.size(1); the padding of pack_gptq is ignored.
at::Tensor dequantize_gptq(const GptqPackedWeight& packed,
                           int bits,
                           CheckpointFormat format = CheckpointFormat::GptqV1);

}  // namespace ptq::quant
