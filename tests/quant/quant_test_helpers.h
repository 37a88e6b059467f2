#pragma once
// Helpers shared by the quantizer tests.

#include <ATen/ATen.h>

#include <vector>

namespace ptq::quant::test_helpers {

// A float matrix from its rows.
inline at::Tensor matrix(const std::vector<std::vector<float>>& rows) {
  std::vector<at::Tensor> tensors;
  for (const auto& row : rows) tensors.push_back(at::tensor(row, at::kFloat));
  return at::stack(tensors);
}

}  // namespace ptq::quant::test_helpers
