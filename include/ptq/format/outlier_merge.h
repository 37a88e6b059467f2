#pragma once
// Folding a side store (outlier_store.h) back into the low-bit grid, for the nearest plain GPTQ
// checkpoint of a SEPTQ one (`ptq export --merge-outliers`, docs/format.md): each kept weight v
// at (n, c) gets the code of v on the grid its position already has,
//
//   code = clamp(round(v / scales[g, n]) + zeros[g, n], 0, maxq),  g = g_idx[c]
//
// (quantize_code, as the uniform quantizer computes it), i.e. the nearest grid point; scales,
// zeros and g_idx stay as they are.

#include <cstdint>
#include <string>

#include "ptq/format/outlier_store.h"
#include "ptq/quant/uniform_quantizer.h"

namespace ptq::quant {

struct OutlierMerge {
  int64_t kept = 0;     // entries of the store
  int64_t changed = 0;  // of them, codes that differ from the ones `weight` held
};

// Writes the codes of the kept values into weight.codes (and their grid values into
// weight.weight, when defined). `store` must have passed check_outlier_store for weight's
// [N, K]. Throws InputError starting with `where` when a kept weight's grid has a scale of 0 or
// not finite (it has no nearest point).
OutlierMerge merge_outlier_store(QuantizedWeight& weight,
                                 const OutlierStore& store,
                                 int bits,
                                 const std::string& where);

}  // namespace ptq::quant
