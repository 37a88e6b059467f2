#include "ptq/quant/storage_bits.h"

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

StorageBits storage_bits(const QuantizedLinear& linear, int bits) {
  const QuantizedWeight& q = linear.quantized;
  StorageBits s;
  s.weights = q.codes.numel();
  s.codes = static_cast<double>(s.weights) * bits;
  s.grids = static_cast<double>(q.scales.numel()) * (16 + bits);
  s.g_idx = 32.0 * static_cast<double>(q.g_idx.numel());
  for (const auto& entry : linear.extra_tensors) {
    s.extra += 8.0 * static_cast<double>(entry.second.nbytes());
  }
  return s;
}

}  // namespace ptq::quant
