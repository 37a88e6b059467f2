#pragma once
// What a quantized linear costs in the checkpoint, in bits, so that methods with side stores
// (SEPTQ's kept weights) are compared at their true size:
//
//   codes    N * K * bits
//   grids    G * N * (16 + bits)   an fp16 scale and a bits-wide packed zero per (group, row)
//   g_idx    32 * K                int32 group index per input column
//   extra    8 * bytes of the method's extra tensors (SEPTQ: 32 + 16 bits per kept weight)
//
// Packing padding (toy widths) is not counted; embeddings and norms are not quantized linears.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>

#include "ptq/quant/uniform_quantizer.h"

namespace ptq::quant {

struct StorageBits {
  int64_t weights = 0;  // N * K
  double codes = 0;
  double grids = 0;
  double g_idx = 0;
  double extra = 0;

  double total() const { return codes + grids + g_idx + extra; }
  double per_weight() const { return weights > 0 ? total() / static_cast<double>(weights) : 0; }
  StorageBits& operator+=(const StorageBits& other);
};

// What the formula above counts of one quantized linear, taken from the tensors in memory or
// from a checkpoint's headers (ptq inspect), so both report the same bits.
struct StoredLinearSizes {
  int64_t weights = 0;      // N * K
  int64_t scales = 0;       // G * N
  int64_t g_idx = 0;        // K
  int64_t extra_bytes = 0;  // the method's extra tensors
};

StorageBits storage_bits(const StoredLinearSizes& sizes, int bits);
// The storage of a linear quantized to `weight` at `bits` bits, with the method's
// `extra_tensors` (QuantizedLinear's fields; taken apart so that the format does not depend on
// the method interface).
StorageBits storage_bits(const QuantizedWeight& weight,
                         const std::map<std::string, at::Tensor>& extra_tensors,
                         int bits);

}  // namespace ptq::quant
