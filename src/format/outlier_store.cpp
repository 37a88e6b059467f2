#include "ptq/format/outlier_store.h"

#include <ATen/ATen.h>

#include <limits>

#include "ptq/common/error.h"

namespace ptq::quant {

OutlierStore make_outlier_store(const at::Tensor& weight, const at::Tensor& mask) {
  PTQ_CHECK_INPUT(
      weight.dim() == 2 && mask.sizes() == weight.sizes() && mask.scalar_type() == at::kBool,
      "the outlier mask must be bool with the weight's shape ", weight.sizes());
  PTQ_CHECK_INPUT(weight.numel() <= std::numeric_limits<int32_t>::max(), "a linear of ",
                  weight.sizes(), " has more elements than int32 indices reach");
  const at::Tensor flat_mask = mask.reshape({-1});
  OutlierStore store;
  // nonzero lists indices in ascending order, as the format requires.
  const at::Tensor indices = flat_mask.nonzero().reshape({-1});
  store.indices = indices.to(at::kInt);
  store.values = weight.reshape({-1}).index_select(0, indices).to(at::kHalf);
  PTQ_CHECK_INPUT(store.values.isfinite().all().item<bool>(),
                  "a kept weight exceeds fp16's range (65504) and cannot be stored");
  return store;
}

void check_outlier_store(const OutlierStore& store,
                         int64_t rows,
                         int64_t columns,
                         const std::string& where) {
  const at::Tensor& idx = store.indices;
  const at::Tensor& val = store.values;
  PTQ_CHECK_INPUT(idx.scalar_type() == at::kInt && idx.dim() == 1, where, ": ", kOutlierIndexSuffix,
                  " must be a 1-D int32 tensor, got ", idx.scalar_type(), " ", idx.sizes());
  PTQ_CHECK_INPUT(val.scalar_type() == at::kHalf && val.dim() == 1, where, ": ",
                  kOutlierValueSuffix, " must be a 1-D fp16 tensor, got ", val.scalar_type(), " ",
                  val.sizes());
  PTQ_CHECK_INPUT(idx.numel() == val.numel(), where, ": ", kOutlierIndexSuffix, " has ",
                  idx.numel(), " entries but ", kOutlierValueSuffix, " has ", val.numel());
  if (idx.numel() == 0) return;
  const at::Tensor i64 = idx.to(at::kLong);
  PTQ_CHECK_INPUT(i64.min().item<int64_t>() >= 0 && i64.max().item<int64_t>() < rows * columns,
                  where, ": ", kOutlierIndexSuffix, " holds an index outside the weight [", rows,
                  ", ", columns, "]");
  PTQ_CHECK_INPUT(idx.numel() == 1 || (i64.slice(0, 1) > i64.slice(0, 0, -1)).all().item<bool>(),
                  where, ": ", kOutlierIndexSuffix, " is not strictly ascending");
}

void apply_outlier_store(at::Tensor& weight, const OutlierStore& store) {
  weight.view({-1}).index_put_({store.indices.to(at::kLong)}, store.values.to(at::kFloat));
}

}  // namespace ptq::quant
