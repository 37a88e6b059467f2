#pragma once
// An orthogonal (after smoothing) transform of a linear's input, stored as its factors and
// folded into the weight so that the full-precision product is unchanged (RUQuant, DuQuant):
//
//   x -> x' = ((x / s) blockdiag(A1)) P blockdiag(A2) H,   H = I - 2 v v^T
//   W -> W' = (W * s)  blockdiag(A1)  P blockdiag(A2) H    (W [N, K] acts on row vectors too)
//
// so x' W'^T = (x / s) T T^T (s * W)^T = x W^T with T orthogonal. blockdiag(A) applies one B x B
// matrix to every block of B consecutive channels; P reorders channels, x'[j] = x[perm[j]].
// Any factor may be absent (the identity).
//
// In a checkpoint the factors of linear <module> are <module>.input_smooth (fp32 [K]),
// .input_block1, .input_block2 (fp32 [B, B]), .input_permutation (int32 [K]) and
// .input_householder (fp32 [K], unit norm) (docs/format.md).

#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>

namespace ptq::io {
class Checkpoint;
}

namespace ptq::quant {

struct InputTransform {
  at::Tensor smooth;       // fp32 [K]: channel j is divided by smooth[j]
  at::Tensor block1;       // fp32 [B, B]
  at::Tensor permutation;  // int64 [K]
  at::Tensor block2;       // fp32 [B, B]
  at::Tensor householder;  // fp32 [K], unit norm

  // x [..., K] -> x'.
  at::Tensor apply(const at::Tensor& x) const;
  // w [N, K] -> W'.
  at::Tensor fold_into_weight(const at::Tensor& w) const;
  // The orthogonal part T as a dense fp32 [K, K] matrix (x' = (x / s) T).
  at::Tensor orthogonal_matrix(int64_t width) const;
  // The factors by checkpoint suffix ("input_smooth", ...), absent ones left out.
  std::map<std::string, at::Tensor> tensors() const;
};

// x [..., K] with every block of B = block.size(0) consecutive channels multiplied by `block`
// [B, B] (x_b <- x_b block); B must divide K.
at::Tensor apply_blocks(const at::Tensor& x, const at::Tensor& block);

// The factors stored for linear `module`, if any. Throws InputError naming the tensor for a
// factor of the wrong rank or dtype, or factors whose sizes do not fit together.
std::optional<InputTransform> read_input_transform(const io::Checkpoint& checkpoint,
                                                   const std::string& module);

}  // namespace ptq::quant
