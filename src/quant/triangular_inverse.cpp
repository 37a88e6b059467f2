#include "ptq/quant/triangular_inverse.h"

#include <ATen/ATen.h>

#include "ptq/common/error.h"

namespace ptq::quant {

namespace {

// Blocks up to this size are solved against the identity directly: their extra 2/3 n^3 FLOPs are
// small next to the recursion's call overhead.
constexpr int64_t kDirectSize = 128;

// Replaces the square lower-triangular view t by its inverse (zeros above the diagonal), from
// [[A, 0], [B, C]]^-1 = [[A^-1, 0], [-C^-1 B A^-1, C^-1]]: two triangular solves of half size
// (2 (n/2)^3 FLOPs) plus the two diagonal blocks recursively, n^3 / 3 in all.
void invert_in_place(at::Tensor t) {
  const int64_t n = t.size(0);
  if (n <= kDirectSize) {
    t.copy_(at::linalg_solve_triangular(t, at::eye(n, t.options()), /*upper=*/false));
    return;
  }
  const int64_t half = n / 2;
  at::Tensor a = t.slice(0, 0, half).slice(1, 0, half);
  at::Tensor b = t.slice(0, half).slice(1, 0, half);
  at::Tensor c = t.slice(0, half).slice(1, half);
  // B's block first: it needs A and C themselves, not their inverses.
  const at::Tensor b_over_a = at::linalg_solve_triangular(a, b, /*upper=*/false, /*left=*/false);
  b.copy_(at::linalg_solve_triangular(c, b_over_a, /*upper=*/false).neg_());
  t.slice(0, 0, half).slice(1, half).zero_();
  invert_in_place(a);
  invert_in_place(c);
}

}  // namespace

void invert_lower_triangular_in_place(const at::Tensor& lower) {
  PTQ_CHECK_INPUT(lower.dim() == 2 && lower.size(0) == lower.size(1),
                  "a triangular inverse needs a square matrix, got ", lower.sizes());
  PTQ_CHECK_INPUT(lower.scalar_type() == at::kFloat || lower.scalar_type() == at::kDouble,
                  "a triangular inverse needs fp32 or fp64");
  invert_in_place(lower);
}

}  // namespace ptq::quant
