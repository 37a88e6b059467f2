#pragma once
// SEPTQ's static global mask: the top p percent of a linear's importance scores, ranked over
// the whole matrix (not per row, column or block) once, before the column loop.
//
// Count rule: exactly ceil(N * K * p / 100) elements, where a product within 1e-9 (relative) of
// an integer counts as that integer (so 1.1% of 1000 keeps 11, not 12 from binary rounding).
// Ties at the threshold go to the lower flat (row-major) index, so the mask is reproducible.
// The authors' rule (thresh = sorted[int(N p / 100)], mask = score >= thresh) keeps
// floor(N p / 100) + 1 elements plus any ties: the same count whenever N p / 100 is not an
// integer, one more when it is, and one element at p = 0, where this rule keeps none (so p = 0
// is GPTQ).

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace ptq::methods::septq {

// Elements kept out of `elements` at `percent` (0..100) by the count rule above.
int64_t kept_count(int64_t elements, double percent);

// bool mask of scores' shape with the `count` highest scores set (ties: lower flat index).
at::Tensor global_top_mask(const at::Tensor& scores, int64_t count);

}  // namespace ptq::methods::septq
