#include "methods/ruquant/householder.h"

#include <ATen/ATen.h>

namespace ptq::methods::ruquant {
namespace {

constexpr double kSkipBelow = 1e-10;  // quantizer.py: reflections of a ~zero vector are skipped

}  // namespace

at::Tensor householder_vector(const at::Tensor& c, const at::Tensor& target) {
  const at::Tensor v = (c - target).to(at::kDouble);
  const double norm2 = v.dot(v).item<double>();
  if (norm2 < kSkipBelow) return at::Tensor();
  return (v / std::sqrt(norm2)).to(at::kFloat);
}

at::Tensor reflect_rows(const at::Tensor& m, const at::Tensor& v) {
  return m - 2 * at::outer(v, at::matmul(v, m));
}

}  // namespace ptq::methods::ruquant
