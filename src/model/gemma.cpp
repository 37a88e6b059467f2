// Gemma 2 and Gemma 3 text decoders (Gemma2ForCausalLM, Gemma3ForCausalLM), after transformers'
// modeling_gemma2.py and modeling_gemma3.py. Every norm is Gemma's RMSNorm, n(x) =
// x / sqrt(mean(x^2) + eps) * (1 + w), and each sublayer's output is normed again before the
// residual add:
//   x0 = embed(ids) * sqrt(hidden_size)
//   h  = x + post_attn_norm(o_proj(attn(q, k, v))),  q, k, v = q/k/v_proj(input_norm(x))
//   y  = h + post_ffn_norm(down_proj(gelu_tanh(gate_proj(m)) * up_proj(m))),  m = pre_ffn_norm(h)
// then logits = lm_head(norm(y)) (lm_head tied to embed_tokens by default), soft-capped to
// cap * tanh(logits / cap) when final_logit_softcapping is set. Attention scores are
// q k^T / sqrt(query_pre_attn_scalar), soft-capped by attn_logit_softcapping (Gemma 2) before
// the mask; sliding layers (is_sliding_layer) see only the last sliding_window positions.
// Gemma 3 norms each head of q and k (q_norm, k_norm over head_dim) before RoPE, and turns the
// sliding layers with base rope_local_base_freq, the global ones with rope_theta and
// rope_scaling.

#include <ATen/ATen.h>

#include <cmath>

#include "model/families.h"
#include "model/family_helpers.h"
#include "model/layers.h"

namespace ptq::model {
namespace {

rows::Dims q_by_hidden(const ModelConfig& c) { return {c.num_heads * c.head_dim, c.hidden_size}; }
rows::Dims kv_by_hidden(const ModelConfig& c) {
  return {c.num_kv_heads * c.head_dim, c.hidden_size};
}
rows::Dims hidden_by_q(const ModelConfig& c) { return {c.hidden_size, c.num_heads * c.head_dim}; }
rows::Dims head(const ModelConfig& c) { return {c.head_dim}; }
bool has_qk_norm(const ModelConfig& c) { return c.qk_norm; }

// cap * tanh(x / cap), Gemma's soft-capping.
at::Tensor soft_cap(const at::Tensor& x, double cap) { return at::tanh(x / cap) * cap; }

class GemmaModel final : public DecoderFamily {
 public:
  GemmaModel(ModelConfig config,
             std::shared_ptr<const io::Checkpoint> checkpoint,
             const LoadOptions& options)
      : DecoderFamily(std::move(config), gemma_table()),
        _global_rope(_config, _config.head_dim),
        _local_rope(_config.head_dim, _config.rope_local_theta) {
    load(std::move(checkpoint), options);
  }

  // HF multiplies by sqrt(hidden_size) as a tensor of the activations' dtype (Gemma2Model's
  // `normalizer`, Gemma3's embed_scale cast to the weights' dtype); here both are fp32.
  at::Tensor embed(const at::Tensor& ids, int64_t position_offset) const override {
    const at::Tensor x = DecoderFamily::embed(ids, position_offset);
    return x * at::scalar_tensor(std::sqrt(static_cast<double>(_config.hidden_size)), x.options());
  }

  at::Tensor logits(const at::Tensor& hidden) const override {
    const at::Tensor logits =
        at::linear(gemma_norm(hidden, global_weight(TensorRole::OutputNorm)), head_weight());
    const auto& cap = _config.final_logit_softcapping;
    return cap ? soft_cap(logits, *cap) : logits;
  }

 private:
  // Gemma2RMSNorm / Gemma3RMSNorm: the weight is stored as an offset from 1.
  at::Tensor gemma_norm(const at::Tensor& x, const at::Tensor& weight) const {
    return rms_norm(x, weight + 1.0, _config.norm_eps);
  }
  at::Tensor layer_norm_of(const LayerCall& call, TensorRole role, const at::Tensor& x) const {
    return gemma_norm(x, layer_weight(call, role));
  }

  at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const override {
    const at::Tensor attn_out = attention(call, layer_norm_of(call, TensorRole::AttnNorm, hidden));
    const at::Tensor h = hidden + layer_norm_of(call, TensorRole::PostAttnNorm, attn_out);
    const at::Tensor mlp_in = layer_norm_of(call, TensorRole::FfnNorm, h);
    const at::Tensor gate = activate(linear(call, TensorRole::FfnGate, mlp_in), _activation);
    const at::Tensor up = linear(call, TensorRole::FfnUp, mlp_in);
    const at::Tensor mlp_out = linear(call, TensorRole::FfnDown, gate * up);
    return h + layer_norm_of(call, TensorRole::PostFfnNorm, mlp_out);
  }

  at::Tensor attention(const LayerCall& call, const at::Tensor& x) const {
    const ModelConfig& c = _config;
    at::Tensor q = split_heads(linear(call, TensorRole::AttnQ, x), c.num_heads);
    at::Tensor k = split_heads(linear(call, TensorRole::AttnK, x), c.num_kv_heads);
    const at::Tensor v = split_heads(linear(call, TensorRole::AttnV, x), c.num_kv_heads);
    if (c.qk_norm) {
      q = layer_norm_of(call, TensorRole::AttnQNorm, q);
      k = layer_norm_of(call, TensorRole::AttnKNorm, k);
    }
    const bool sliding = is_sliding_layer(c, call.index);
    const RotaryEmbedding& rope = sliding ? _local_rope : _global_rope;
    const AttentionScores scoring{1.0 / std::sqrt(c.query_pre_attn_scalar),
                                  c.attn_logit_softcapping};
    const at::Tensor out = attend(call, rope.apply(q, call.offset), rope.apply(k, call.offset), v,
                                  sliding ? c.sliding_window : std::nullopt, scoring);
    return linear(call, TensorRole::AttnOut, out);
  }

  // Gemma3RotaryEmbedding: rope_theta with rope_scaling on the global layers (the 4B-27B
  // checkpoints' linear factor 8), plain RoPE of base rope_local_base_freq on the sliding ones.
  // Gemma 2 refuses rope_scaling and uses rope_theta on both kinds.
  RotaryEmbedding _global_rope;
  RotaryEmbedding _local_rope;
};

}  // namespace

// Linear rows end with (stage, input): the stages of LLaMA's layer (llama.cpp), [q, k, v], [o],
// [gate, up], [down]; q/k/v read input_layernorm's output, gate/up pre_feedforward_layernorm's.
// The post-norms act on linear outputs, not inputs.
const FamilyTable& gemma_table() {
  using R = TensorRole;
  using namespace rows;
  static const FamilyTable table{
      "model.layers.",
      {
          embedding(R::TokenEmbedding, "model.embed_tokens", vocab_by_hidden),
          norm(R::OutputNorm, "model.norm", hidden, nullptr),
          global_linear(R::LmHead, "lm_head", vocab_by_hidden, untied),
      },
      {
          norm(R::AttnNorm, "input_layernorm", hidden, nullptr),
          norm(R::PostAttnNorm, "post_attention_layernorm", hidden, nullptr),
          norm(R::FfnNorm, "pre_feedforward_layernorm", hidden, nullptr),
          norm(R::PostFfnNorm, "post_feedforward_layernorm", hidden, nullptr),
          norm(R::AttnQNorm, "self_attn.q_norm", head, nullptr, has_qk_norm),
          norm(R::AttnKNorm, "self_attn.k_norm", head, nullptr, has_qk_norm),
          linear(R::AttnQ, "self_attn.q_proj", q_by_hidden, attention_bias, 0, 0),
          linear(R::AttnK, "self_attn.k_proj", kv_by_hidden, attention_bias, 0, 0),
          linear(R::AttnV, "self_attn.v_proj", kv_by_hidden, attention_bias, 0, 0),
          linear(R::AttnOut, "self_attn.o_proj", hidden_by_q, attention_out_bias, 1, 1),
          linear(R::FfnGate, "mlp.gate_proj", ffn_by_hidden, nullptr, 2, 2),
          linear(R::FfnUp, "mlp.up_proj", ffn_by_hidden, nullptr, 2, 2),
          linear(R::FfnDown, "mlp.down_proj", hidden_by_ffn, nullptr, 3, 3),
      },
      /*true_sequential=*/true};
  return table;
}

const CausalLMFactory create_gemma = &create_family<GemmaModel>;

}  // namespace ptq::model
