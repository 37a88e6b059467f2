#include "model/layers.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "ptq/common/error.h"

namespace ptq::model {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight;
}

at::Tensor layer_norm(const at::Tensor& x,
                      const at::Tensor& weight,
                      const at::Tensor& bias,
                      double eps) {
  return at::layer_norm(x, {x.size(-1)}, weight, bias, eps);
}

Activation parse_activation(const std::string& name) {
  if (name == "silu" || name == "swish") return Activation::Silu;
  if (name == "relu") return Activation::Relu;
  if (name == "gelu") return Activation::Gelu;
  // transformers' NewGELU / PytorchGELUTanh / FastGELU are all the tanh approximation.
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") {
    return Activation::GeluTanh;
  }
  PTQ_THROW_INPUT("unsupported activation '", name,
                  "'; supported: silu, swish, relu, gelu, gelu_new, gelu_pytorch_tanh, "
                  "gelu_fast");
}

at::Tensor activate(const at::Tensor& x, Activation activation) {
  switch (activation) {
    case Activation::Silu:
      return at::silu(x);
    case Activation::Relu:
      return at::relu(x);
    case Activation::Gelu:
      return at::gelu(x);
    case Activation::GeluTanh:
      return at::gelu(x, "tanh");
  }
  TORCH_CHECK(false, "unknown activation");
}

at::Tensor embed_tokens(const at::Tensor& table, const at::Tensor& ids) {
  TORCH_CHECK(ids.dim() == 2 && ids.scalar_type() == at::kLong, "ids must be [B, T] int64");
  if (ids.numel() > 0) {
    const int64_t low = ids.min().item<int64_t>();
    const int64_t high = ids.max().item<int64_t>();
    PTQ_CHECK_INPUT(low >= 0 && high < table.size(0), "token id ", low < 0 ? low : high,
                    " outside the vocabulary [0, ", table.size(0), ")");
  }
  return at::embedding(table, ids);
}

at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, -1}).transpose(1, 2);
}

at::Tensor merge_heads(const at::Tensor& x) {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), -1});
}

at::Tensor apply_rotary(const at::Tensor& x, int64_t rotary_dims, double theta, int64_t offset) {
  const int64_t half = rotary_dims / 2;
  const int64_t length = x.size(2);
  // inv_freq_i = theta^(-2i/d) (RoFormer eq. 15; HF's inv_freq); angles in fp64 so long
  // positions keep their precision, then fp32 like the activations.
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor inv_freq = at::pow(theta, at::arange(0, rotary_dims, 2, f64) / -rotary_dims);
  const at::Tensor positions = at::arange(offset, offset + length, f64);
  const at::Tensor angles = at::outer(positions, inv_freq).repeat({1, 2});  // [T, d]
  const at::Tensor cos = angles.cos().to(at::kFloat);
  const at::Tensor sin = angles.sin().to(at::kFloat);

  const at::Tensor rot = x.narrow(-1, 0, rotary_dims);
  // rotate_half: (x1, x2) -> (-x2, x1), pairing dim i with i + d/2.
  const at::Tensor rotated = at::cat({-rot.narrow(-1, half, half), rot.narrow(-1, 0, half)}, -1);
  const at::Tensor out = rot * cos + rotated * sin;
  if (rotary_dims == x.size(-1)) return out;
  return at::cat({out, x.narrow(-1, rotary_dims, x.size(-1) - rotary_dims)}, -1);
}

std::pair<at::Tensor, at::Tensor> extend_cache(KVCache* cache,
                                               int64_t layer,
                                               int64_t num_layers,
                                               at::Tensor keys,
                                               at::Tensor values,
                                               int64_t offset) {
  if (cache == nullptr) return {std::move(keys), std::move(values)};
  if (static_cast<int64_t>(cache->keys.size()) < num_layers) {
    cache->keys.resize(num_layers);
    cache->values.resize(num_layers);
  }
  at::Tensor& cached_keys = cache->keys[layer];
  at::Tensor& cached_values = cache->values[layer];
  const int64_t cached = cached_keys.defined() ? cached_keys.size(2) : 0;
  TORCH_CHECK(cached == offset, "layer ", layer, " caches ", cached, " positions, not ", offset);
  if (cached > 0) {
    keys = at::cat({cached_keys, keys}, 2);
    values = at::cat({cached_values, values}, 2);
  }
  cached_keys = keys;
  cached_values = values;
  return {std::move(keys), std::move(values)};
}

at::Tensor causal_attention(const at::Tensor& q,
                            const at::Tensor& k,
                            const at::Tensor& v,
                            int64_t offset,
                            std::optional<int64_t> window) {
  const int64_t batch = q.size(0), heads = q.size(1), queries = q.size(2), dim = q.size(3);
  const int64_t kv_heads = k.size(1), keys = k.size(2);
  TORCH_CHECK(heads % kv_heads == 0, "query heads must be a multiple of kv heads");
  const int64_t group = heads / kv_heads;
  // Query heads j*g..j*g+g-1 stacked along T share kv head j: one batched product, no copies
  // of k or v.
  const at::Tensor grouped_q = q.reshape({batch, kv_heads, group * queries, dim});
  at::Tensor scores = at::matmul(grouped_q, k.transpose(-1, -2)).mul_(1.0 / std::sqrt(dim));

  const auto i64 = at::TensorOptions().dtype(at::kLong);
  const at::Tensor query_pos = at::arange(offset, offset + queries, i64).unsqueeze(1);
  const at::Tensor key_pos = at::arange(keys, i64).unsqueeze(0);
  at::Tensor hidden = key_pos > query_pos;
  if (window) hidden = hidden.logical_or(query_pos - key_pos >= *window);
  scores = scores.view({batch, kv_heads, group, queries, keys})
               .masked_fill_(hidden, -std::numeric_limits<float>::infinity());
  const at::Tensor probs = at::softmax(scores, -1).view({batch, kv_heads, group * queries, keys});
  return merge_heads(at::matmul(probs, v).view({batch, heads, queries, dim}));
}

}  // namespace ptq::model
