#pragma once
// Building blocks shared by the model families: norms, activations, rotary embeddings
// (model/rotary.h) and causal (grouped-query) attention with an optional KV cache. Tensors are
// fp32, CPU; attention tensors are laid out [B, heads, T, head_dim].

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <utility>

#include "model/rotary.h"
#include "ptq/model/causal_lm.h"

namespace ptq::model {

// LlamaRMSNorm: x / sqrt(mean(x^2) + eps) * weight.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);
at::Tensor layer_norm(const at::Tensor& x,
                      const at::Tensor& weight,
                      const at::Tensor& bias,
                      double eps);

enum class Activation { Silu, Relu, Gelu, GeluTanh };
// Hugging Face ACT2FN names; throws InputError listing the supported ones.
Activation parse_activation(const std::string& name);
at::Tensor activate(const at::Tensor& x, Activation activation);

// Rows of `table` for `ids` [B, T]; throws InputError for an id outside the table.
at::Tensor embed_tokens(const at::Tensor& table, const at::Tensor& ids);

// [B, T, heads * head_dim] <-> [B, heads, T, head_dim]
at::Tensor split_heads(const at::Tensor& x, int64_t heads);
at::Tensor merge_heads(const at::Tensor& x);

// Appends this step's keys/values [B, kv_heads, T, hd] to layer `layer` of `cache` (if any)
// and returns all keys/values so far. The cache must hold exactly `offset` positions.
std::pair<at::Tensor, at::Tensor> extend_cache(KVCache* cache,
                                               int64_t layer,
                                               int64_t num_layers,
                                               at::Tensor keys,
                                               at::Tensor values,
                                               int64_t offset);

// How attention turns q k^T into scores before the mask. The defaults are 1/sqrt(hd) and no cap;
// Gemma 2/3 scale by query_pre_attn_scalar^-0.5 and Gemma 2 caps the scores at
// softcap * tanh(s / softcap) (eager_attention_forward in modeling_gemma2.py).
struct AttentionScores {
  std::optional<double> scale;    // unset: 1 / sqrt(head_dim)
  std::optional<double> softcap;  // unset: no cap
};

// softmax(scores(q k^T) + mask) v for queries at positions offset.. over keys at 0..Tk-1,
// -> [B, Tq, heads * hd]. q has a multiple of k's heads; kv head j serves query heads
// j*g..j*g+g-1 (HF repeat_kv). With a window W, query i sees keys i-W < j <= i, as
// transformers' masking_utils.sliding_window_overlay (kv_idx > q_idx - W).
at::Tensor causal_attention(const at::Tensor& q,
                            const at::Tensor& k,
                            const at::Tensor& v,
                            int64_t offset,
                            std::optional<int64_t> window,
                            const AttentionScores& scoring = {});

}  // namespace ptq::model
