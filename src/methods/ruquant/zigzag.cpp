#include "methods/ruquant/zigzag.h"

#include <ATen/ATen.h>

#include <vector>

namespace ptq::methods::ruquant {

at::Tensor zigzag_permutation(const at::Tensor& channel_max, int64_t blocks) {
  const at::Tensor order =
      std::get<1>(channel_max.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const auto* sorted = order.data_ptr<int64_t>();
  const int64_t k = channel_max.numel();
  std::vector<std::vector<int64_t>> dealt(blocks);
  for (int64_t i = 0; i < k; ++i) {
    const int64_t round = i / blocks, seat = i % blocks;
    dealt[round % 2 == 0 ? seat : blocks - 1 - seat].push_back(sorted[i]);
  }
  std::vector<int64_t> perm;
  for (const auto& block : dealt) perm.insert(perm.end(), block.begin(), block.end());
  return at::tensor(perm, at::kLong);
}

}  // namespace ptq::methods::ruquant
