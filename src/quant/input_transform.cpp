#include "ptq/quant/input_transform.h"

#include <ATen/ATen.h>

#include <vector>

#include "ptq/common/error.h"
#include "ptq/io/checkpoint.h"

namespace ptq::quant {

at::Tensor apply_blocks(const at::Tensor& x, const at::Tensor& block) {
  const int64_t b = block.size(0);
  const int64_t width = x.size(-1);
  TORCH_CHECK(width % b == 0, "block size ", b, " does not divide the width ", width);
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = width / b;
  shape.push_back(b);
  return at::matmul(x.reshape(shape), block).reshape(x.sizes());
}

namespace {

at::Tensor apply_orthogonal(const InputTransform& t, at::Tensor x) {
  if (t.block1.defined()) x = apply_blocks(x, t.block1);
  if (t.permutation.defined()) x = x.index_select(-1, t.permutation);
  if (t.block2.defined()) x = apply_blocks(x, t.block2);
  if (t.householder.defined()) {
    x = x - 2 * at::matmul(x, t.householder).unsqueeze(-1) * t.householder;
  }
  return x;
}

// A stored factor as an owned fp32 (or int64 for the permutation) tensor of rank `rank`.
std::optional<at::Tensor> read_factor(const io::Checkpoint& checkpoint,
                                      const std::string& name,
                                      int64_t rank,
                                      bool integer) {
  if (!checkpoint.contains(name)) return std::nullopt;
  const at::Tensor stored = checkpoint.tensor(name);
  const bool type_ok = integer ? !at::isFloatingType(stored.scalar_type())
                               : at::isFloatingType(stored.scalar_type());
  PTQ_CHECK_INPUT(stored.dim() == rank && type_ok, "tensor '", name, "' in ",
                  checkpoint.file_of(name), " must be a rank-", rank,
                  integer ? " integer" : " floating", " tensor, got ", stored.scalar_type(), " ",
                  stored.sizes());
  return stored.to(integer ? at::kLong : at::kFloat, /*non_blocking=*/false, /*copy=*/true);
}

void check_factors(const InputTransform& t, const std::string& module) {
  int64_t width = -1;
  for (const at::Tensor* vector : {&t.smooth, &t.permutation, &t.householder}) {
    if (!vector->defined()) continue;
    PTQ_CHECK_INPUT(width < 0 || vector->numel() == width, "input transform of '", module,
                    "': its vectors have different lengths (", width, " and ", vector->numel(),
                    ")");
    width = vector->numel();
  }
  for (const at::Tensor* block : {&t.block1, &t.block2}) {
    if (!block->defined()) continue;
    PTQ_CHECK_INPUT(block->size(0) == block->size(1) && (width < 0 || width % block->size(0) == 0),
                    "input transform of '", module, "': block ", block->sizes(),
                    " is not square or does not divide the input width ", width);
  }
  if (t.permutation.defined()) {
    const at::Tensor sorted = std::get<0>(t.permutation.sort());
    PTQ_CHECK_INPUT(sorted.equal(at::arange(width, sorted.options())), "input transform of '",
                    module, "': input_permutation is not a permutation of 0..", width - 1);
  }
}

}  // namespace

at::Tensor InputTransform::apply(const at::Tensor& x) const {
  return apply_orthogonal(*this, smooth.defined() ? x / smooth : x);
}

at::Tensor InputTransform::fold_into_weight(const at::Tensor& w) const {
  return apply_orthogonal(*this, smooth.defined() ? w * smooth : w);
}

at::Tensor InputTransform::orthogonal_matrix(int64_t width) const {
  return apply_orthogonal(*this, at::eye(width, at::kFloat));
}

std::map<std::string, at::Tensor> InputTransform::tensors() const {
  std::map<std::string, at::Tensor> out;
  if (smooth.defined()) out["input_smooth"] = smooth;
  if (block1.defined()) out["input_block1"] = block1;
  if (permutation.defined()) out["input_permutation"] = permutation.to(at::kInt);
  if (block2.defined()) out["input_block2"] = block2;
  if (householder.defined()) out["input_householder"] = householder;
  return out;
}

std::optional<InputTransform> read_input_transform(const io::Checkpoint& checkpoint,
                                                   const std::string& module) {
  InputTransform t;
  bool any = false;
  const auto read = [&](at::Tensor& factor, const char* suffix, int64_t rank, bool integer) {
    if (auto stored = read_factor(checkpoint, module + "." + suffix, rank, integer)) {
      factor = std::move(*stored);
      any = true;
    }
  };
  read(t.smooth, "input_smooth", 1, false);
  read(t.block1, "input_block1", 2, false);
  read(t.permutation, "input_permutation", 1, true);
  read(t.block2, "input_block2", 2, false);
  read(t.householder, "input_householder", 1, false);
  if (!any) return std::nullopt;
  check_factors(t, module);
  return t;
}

}  // namespace ptq::quant
