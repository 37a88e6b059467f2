#include "model/layers.h"

#include <ATen/ATen.h>

#include <algorithm>
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

namespace {

// Query rows per block. 256 rows keep the score GEMMs large enough for BLAS to run near peak,
// while one kv head's block of scores (256 x group x keys fp32, 2 MiB at 2048 keys) stays in
// the 32 MiB L3, so the mask, the softmax and the product with v re-read it from cache rather
// than from memory; and the masked half of the diagonal tile, computed and thrown away, stays
// a small fraction (at most 256 / keys) of the work.
constexpr int64_t kQueryBlock = 256;

// Queries at positions first..first+rows-1 (rows <= kQueryBlock) see keys [begin, end).
struct KeyRange {
  int64_t begin;
  int64_t end;
};

KeyRange visible_keys(int64_t first, int64_t rows, int64_t keys, std::optional<int64_t> window) {
  const int64_t begin = window ? std::max<int64_t>(0, first - *window + 1) : 0;
  return {begin, std::min(keys, first + rows)};
}

// Additive causal (and window) mask for every block, [rows, shift + rows]: row r, column c is
// visible iff shift - window < c - r <= shift. A block whose first query sits `d` keys after
// its first visible key takes columns from shift - d, so one band serves all blocks.
at::Tensor mask_band(int64_t rows, int64_t shift, std::optional<int64_t> window) {
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  const at::Tensor row = at::arange(rows, i64).unsqueeze(1);
  const at::Tensor col = at::arange(shift + rows, i64).unsqueeze(0);
  const at::Tensor relative = col - row - shift;
  at::Tensor hidden = relative > 0;
  if (window) hidden = hidden.logical_or(relative <= -*window);
  return at::zeros(hidden.sizes()).masked_fill_(hidden, -std::numeric_limits<float>::infinity());
}

// The mask of `rows` queries whose first one is `d` positions after key `range.begin`,
// repeated for the `group` query heads stacked along the rows.
at::Tensor block_mask(
    const at::Tensor& band, int64_t d, int64_t rows, KeyRange range, int64_t group) {
  const int64_t shift = band.size(1) - band.size(0);
  const at::Tensor mask = band.narrow(0, 0, rows).narrow(1, shift - d, range.end - range.begin);
  if (group == 1) return mask;
  return mask.unsqueeze(0).expand({group, rows, mask.size(1)}).reshape({group * rows, -1});
}

// Attention of the `group` query heads q [group, T, hd] (already scaled) sharing one kv head
// k, v [keys, hd], written to out [T, group, hd], one block of query rows at a time, each over
// only the keys some row of the block can see.
// With `softcap` the scores are capped before the mask is added, as Gemma 2's attention does.
void attend_kv_head(const at::Tensor& q,
                    const at::Tensor& k,
                    const at::Tensor& v,
                    const at::Tensor& band,
                    int64_t offset,
                    std::optional<int64_t> window,
                    std::optional<double> softcap,
                    at::Tensor out) {
  const int64_t group = q.size(0), queries = q.size(1), dim = q.size(2);
  for (int64_t start = 0; start < queries; start += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, queries - start);
    const KeyRange range = visible_keys(offset + start, rows, k.size(0), window);
    const int64_t count = range.end - range.begin;
    const at::Tensor mask = block_mask(band, offset + start - range.begin, rows, range, group);
    const at::Tensor block_q = q.narrow(1, start, rows).reshape({group * rows, dim});
    const at::Tensor keys = k.narrow(0, range.begin, count).t();
    const at::Tensor scores =
        softcap ? at::tanh(at::mm(block_q, keys).div_(*softcap)).mul_(*softcap).add_(mask)
                : at::addmm(mask, block_q, keys);
    // Softmax stays in fp32 (the activations' type) over the visible keys only.
    const at::Tensor context = at::mm(at::softmax(scores, -1), v.narrow(0, range.begin, count));
    out.narrow(0, start, rows).copy_(context.view({group, rows, dim}).transpose(0, 1));
  }
}

}  // namespace

at::Tensor causal_attention(const at::Tensor& q,
                            const at::Tensor& k,
                            const at::Tensor& v,
                            int64_t offset,
                            std::optional<int64_t> window,
                            const AttentionScores& scoring) {
  const int64_t batch = q.size(0), heads = q.size(1), queries = q.size(2), dim = q.size(3);
  const int64_t kv_heads = k.size(1);
  TORCH_CHECK(heads % kv_heads == 0, "query heads must be a multiple of kv heads");
  const int64_t group = heads / kv_heads;
  // Scaling q instead of the scores is a pass over T x hd values rather than T x keys.
  const double scale = scoring.scale.value_or(1.0 / std::sqrt(dim));
  const at::Tensor scaled_q = q.mul(scale).view({batch, kv_heads, group, queries, dim});
  // Sized for the last block's shift, the largest; one row per query when decoding.
  const int64_t last_start = std::max<int64_t>(0, queries - 1) / kQueryBlock * kQueryBlock;
  const at::Tensor band = mask_band(std::min(kQueryBlock, queries), offset + last_start, window);
  at::Tensor out = at::empty({batch, queries, kv_heads, group, dim}, q.options());
  for (int64_t b = 0; b < batch; ++b) {
    // Query heads j*g..j*g+g-1 share kv head j (HF repeat_kv) without copies of k or v.
    for (int64_t j = 0; j < kv_heads; ++j) {
      attend_kv_head(scaled_q[b][j], k[b][j], v[b][j], band, offset, window, scoring.softcap,
                     out.select(0, b).select(1, j));
    }
  }
  return out.view({batch, queries, heads * dim});
}

}  // namespace ptq::model
