#include "ptq/format/storage_bits.h"

#include <ATen/ATen.h>

namespace ptq::quant {

StorageBits& StorageBits::operator+=(const StorageBits& other) {
  weights += other.weights;
  codes += other.codes;
  grids += other.grids;
  g_idx += other.g_idx;
  extra += other.extra;
  return *this;
}

StorageBits storage_bits(const StoredLinearSizes& sizes, int bits) {
  StorageBits s;
  s.weights = sizes.weights;
  s.codes = static_cast<double>(sizes.weights) * bits;
  s.grids = static_cast<double>(sizes.scales) * (16 + bits);
  s.g_idx = 32.0 * static_cast<double>(sizes.g_idx);
  s.extra = 8.0 * static_cast<double>(sizes.extra_bytes);
  return s;
}

StorageBits storage_bits(const QuantizedWeight& weight,
                         const std::map<std::string, at::Tensor>& extra_tensors,
                         int bits) {
  StoredLinearSizes sizes;
  sizes.weights = weight.codes.numel();
  sizes.scales = weight.scales.numel();
  sizes.g_idx = weight.g_idx.numel();
  for (const auto& entry : extra_tensors) {
    sizes.extra_bytes += static_cast<int64_t>(entry.second.nbytes());
  }
  return storage_bits(sizes, bits);
}

}  // namespace ptq::quant
