#pragma once
// The sparse full-precision side store of a quantized linear (docs/format.md): the weights a
// method keeps out of the low-bit grid (SEPTQ's top scores), stored beside the GPTQ tensors as
//
//   <module>.outlier_idx  int32 [M]  flat row-major indices r * K + c, strictly ascending
//   <module>.outlier_val  fp16  [M]  the kept values
//
// and written over the dequantized weight on load. GPTQ loaders that do not know the store
// ignore it and get the low-bit weight (a kept position holds the code of its value).

#include <ATen/core/Tensor.h>

#include <string>

namespace ptq::quant {

constexpr const char kOutlierIndexSuffix[] = "outlier_idx";
constexpr const char kOutlierValueSuffix[] = "outlier_val";

struct OutlierStore {
  at::Tensor indices;  // int32 [M]
  at::Tensor values;   // fp16 [M]
};

// The elements of weight [N, K] where mask (bool [N, K]) is set. Throws InputError when N * K
// does not fit int32 indices or a kept value is beyond fp16's range.
OutlierStore make_outlier_store(const at::Tensor& weight, const at::Tensor& mask);

// Checks a stored side store against weight shape [N, K] (dtypes, 1-D, equal lengths, indices
// ascending and in range); throws InputError starting with `where` (which linear, which
// checkpoint) otherwise.
void check_outlier_store(const OutlierStore& store,
                         int64_t rows,
                         int64_t columns,
                         const std::string& where);

// weight [N, K] fp32 (contiguous) with the stored values written at their indices.
void apply_outlier_store(at::Tensor& weight, const OutlierStore& store);

}  // namespace ptq::quant
