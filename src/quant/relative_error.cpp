#include "ptq/quant/relative_error.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

// Columns per block row: the GEMMs' inner dimension. The diagonal blocks are computed whole,
// so the FLOPs are N K (K + kBlock): 1.125 N K^2 at K = 2048, 1.02 N K^2 at K = 11008.
constexpr int64_t kBlock = 256;

}  // namespace

double quadratic_trace(const at::Tensor& x, const at::Tensor& h) {
  const int64_t k = x.size(1);
  PTQ_CHECK_INPUT(x.dim() == 2 && h.dim() == 2 && h.size(0) == k && h.size(1) == k,
                  "quadratic_trace expects X [N, K] and H [K, K], got ", x.sizes(), " and ",
                  h.sizes());
  double diagonal = 0, upper = 0;
  for (int64_t b = 0; b < k; b += kBlock) {
    const int64_t e = std::min(b + kBlock, k);
    const at::Tensor row = at::matmul(x.slice(1, b, e), h.slice(0, b, e).slice(1, b));
    diagonal += (row.slice(1, 0, e - b) * x.slice(1, b, e)).sum(at::kDouble).item<double>();
    if (e < k) upper += (row.slice(1, e - b) * x.slice(1, e)).sum(at::kDouble).item<double>();
  }
  return diagonal + 2 * upper;
}

double relative_error(const at::Tensor& weight, const at::Tensor& quantized, const at::Tensor& h) {
  const double den = quadratic_trace(weight, h);
  const double num = quadratic_trace(weight - quantized, h);
  return den > 0 ? num / den : 0.0;
}

double sweep_output_error(const at::Tensor& weight,
                          const at::Tensor& quantized,
                          const at::Tensor& h,
                          double loss,
                          double damp) {
  at::Tensor change = weight - quantized;
  const at::Tensor dead = h.diagonal() == 0;
  if (dead.any().item<bool>()) change.masked_fill_(dead.unsqueeze(0), 0);
  // In fp64 without a squared copy.
  const double norm =
      at::linalg_vector_norm(change, 2, c10::nullopt, false, at::kDouble).item<double>();
  const double damping = damp * norm * norm;
  if (damping > loss) return quadratic_trace(change, h);
  return 2 * loss - damping;
}

}  // namespace ptq::quant
