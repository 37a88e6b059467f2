#include "methods/septq/global_mask.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <algorithm>
#include <cmath>

#include "ptq/common/error.h"

namespace ptq::methods::septq {

int64_t kept_count(int64_t elements, double percent) {
  PTQ_CHECK_INPUT(percent >= 0 && percent <= 100, "keep percent must be in 0..100, got ", percent);
  const double exact = static_cast<double>(elements) * percent / 100.0;
  const double nearest = std::nearbyint(exact);
  if (std::abs(exact - nearest) <= 1e-9 * std::max(1.0, exact)) {
    return static_cast<int64_t>(nearest);
  }
  return static_cast<int64_t>(std::ceil(exact));
}

at::Tensor global_top_mask(const at::Tensor& scores, int64_t count) {
  const at::Tensor flat = scores.reshape({-1});
  PTQ_CHECK_INPUT(count >= 0 && count <= flat.numel(), "cannot keep ", count, " of ", flat.numel(),
                  " elements");
  at::Tensor mask = at::zeros(flat.sizes(), flat.options().dtype(at::kBool));
  if (count == 0) return mask.view(scores.sizes());
  // Only the threshold's value matters (its ties are resolved below): the count-th largest
  // score, found in O(N) on one copy. ATen's topk copied every score into (value, index)
  // pairs, 16 bytes per element, SEPTQ's peak memory at 7B (docs/quantize-bench.md, round 9).
  at::Tensor threshold;
  AT_DISPATCH_FLOATING_TYPES(flat.scalar_type(), "global_top_mask", [&] {
    const at::Tensor copy = flat.clone(at::MemoryFormat::Contiguous);
    scalar_t* begin = copy.data_ptr<scalar_t>();
    // Descending, NaN first, as topk ranks it.
    const auto higher = [](scalar_t a, scalar_t b) {
      return a > b || (std::isnan(a) && !std::isnan(b));
    };
    std::nth_element(begin, begin + (count - 1), begin + copy.numel(), higher);
    threshold = at::scalar_tensor(begin[count - 1], flat.options());
  });
  mask = flat > threshold;
  const int64_t above = mask.sum().item<int64_t>();
  // nonzero lists the tied elements by ascending index: the lowest ones fill the count.
  const at::Tensor ties = (flat == threshold).nonzero().reshape({-1});
  mask.index_fill_(0, ties.slice(0, 0, count - above), true);
  return mask.view(scores.sizes());
}

}  // namespace ptq::methods::septq
