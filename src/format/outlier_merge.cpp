#include "ptq/format/outlier_merge.h"

#include <ATen/ATen.h>

#include <cmath>

#include "ptq/common/error.h"

namespace ptq::quant {

OutlierMerge merge_outlier_store(QuantizedWeight& weight,
                                 const OutlierStore& store,
                                 int bits,
                                 const std::string& where) {
  const int64_t rows = weight.codes.size(0);
  const int64_t columns = weight.codes.size(1);
  const float maxq = static_cast<float>((1 << bits) - 1);
  weight.codes = weight.codes.contiguous();
  const bool dequantized = weight.weight.defined();
  if (dequantized) weight.weight = weight.weight.contiguous();
  const at::Tensor scales = weight.scales.to(at::kFloat).contiguous();
  const at::Tensor zeros = weight.zeros.to(at::kFloat).contiguous();
  const at::Tensor g_idx = weight.g_idx.to(at::kLong).contiguous();
  const at::Tensor indices = store.indices.to(at::kLong).contiguous();
  const at::Tensor values = store.values.to(at::kFloat).contiguous();
  const float* scale = scales.data_ptr<float>();
  const float* zero = zeros.data_ptr<float>();
  const int64_t* group = g_idx.data_ptr<int64_t>();
  const int64_t* index = indices.data_ptr<int64_t>();
  const float* value = values.data_ptr<float>();
  uint8_t* codes = weight.codes.data_ptr<uint8_t>();
  float* w = dequantized ? weight.weight.data_ptr<float>() : nullptr;
  OutlierMerge merge;
  merge.kept = indices.numel();
  for (int64_t i = 0; i < merge.kept; ++i) {
    const int64_t n = index[i] / columns;
    const int64_t grid = group[index[i] % columns] * rows + n;  // scales[g, n]
    PTQ_CHECK_INPUT(std::isfinite(scale[grid]) && scale[grid] != 0, where, ": the kept weight at [",
                    n, ", ", index[i] % columns,
                    "] has no nearest grid point (its grid's scale is ", scale[grid], ")");
    const float code = quantize_code(value[i], scale[grid], zero[grid], maxq);
    if (static_cast<uint8_t>(code) != codes[index[i]]) ++merge.changed;
    codes[index[i]] = static_cast<uint8_t>(code);
    if (w != nullptr) w[index[i]] = dequantize_code(code, scale[grid], zero[grid]);
  }
  return merge;
}

}  // namespace ptq::quant
