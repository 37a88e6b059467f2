// LLaMA-family decoder (Llama 2/3, Mistral, Qwen2, Qwen3), after transformers'
// modeling_llama.py:
//   h = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1))),  n1 = rms1(x)
//   y = h + down_proj(act(gate_proj(n2)) * up_proj(n2)),                   n2 = rms2(h)
// then logits = lm_head(rms(y)), lm_head tied to embed_tokens when tie_word_embeddings.
// RoPE follows config.rope_scaling (model/rotary.h). Qwen3 (modeling_qwen3.py) normalizes each
// head of q and k with its own RMSNorm over head_dim (q_norm, k_norm) before RoPE. Mistral's
// window applies to every layer, Qwen2/3's to the layers config.window_layers marks.

#include <ATen/ATen.h>

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
bool qk_norm(const ModelConfig& c) { return c.qk_norm; }

class LlamaModel final : public DecoderFamily {
 public:
  LlamaModel(ModelConfig config,
             std::shared_ptr<const io::Checkpoint> checkpoint,
             const LoadOptions& options)
      : DecoderFamily(std::move(config), llama_table()), _rope(_config, _config.head_dim) {
    load(std::move(checkpoint), options);
  }

  at::Tensor logits(const at::Tensor& hidden) const override { return rms_norm_logits(hidden); }

 private:
  at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const override {
    const double eps = _config.norm_eps;
    const at::Tensor attn_in = rms_norm(hidden, layer_weight(call, TensorRole::AttnNorm), eps);
    const at::Tensor h = hidden + attention(call, attn_in);
    const at::Tensor mlp_in = rms_norm(h, layer_weight(call, TensorRole::FfnNorm), eps);
    const at::Tensor gate = activate(linear(call, TensorRole::FfnGate, mlp_in), _activation);
    const at::Tensor up = linear(call, TensorRole::FfnUp, mlp_in);
    return h + linear(call, TensorRole::FfnDown, gate * up);
  }

  at::Tensor attention(const LayerCall& call, const at::Tensor& x) const {
    const ModelConfig& c = _config;
    const int64_t offset = call.offset;
    at::Tensor q = split_heads(linear(call, TensorRole::AttnQ, x), c.num_heads);
    at::Tensor k = split_heads(linear(call, TensorRole::AttnK, x), c.num_kv_heads);
    const at::Tensor v = split_heads(linear(call, TensorRole::AttnV, x), c.num_kv_heads);
    if (c.qk_norm) {
      q = rms_norm(q, layer_weight(call, TensorRole::AttnQNorm), c.norm_eps);
      k = rms_norm(k, layer_weight(call, TensorRole::AttnKNorm), c.norm_eps);
    }
    const at::Tensor out = attend(call, _rope.apply(q, offset), _rope.apply(k, offset), v,
                                  layer_window(c, call.index));
    return linear(call, TensorRole::AttnOut, out);
  }

  RotaryEmbedding _rope;
};

}  // namespace

// Linear rows end with (stage, input): GPTQ's llama.py sequential list [q, k, v], [o],
// [up, gate], [down]; q/k/v read the first norm's output, gate/up the second's.
const FamilyTable& llama_table() {
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
          norm(R::FfnNorm, "post_attention_layernorm", hidden, nullptr),
          linear(R::AttnQ, "self_attn.q_proj", q_by_hidden, attention_bias, 0, 0),
          linear(R::AttnK, "self_attn.k_proj", kv_by_hidden, attention_bias, 0, 0),
          linear(R::AttnV, "self_attn.v_proj", kv_by_hidden, attention_bias, 0, 0),
          norm(R::AttnQNorm, "self_attn.q_norm", head, nullptr, qk_norm),
          norm(R::AttnKNorm, "self_attn.k_norm", head, nullptr, qk_norm),
          linear(R::AttnOut, "self_attn.o_proj", hidden_by_q, attention_out_bias, 1, 1),
          linear(R::FfnGate, "mlp.gate_proj", ffn_by_hidden, mlp_bias, 2, 2),
          linear(R::FfnUp, "mlp.up_proj", ffn_by_hidden, mlp_bias, 2, 2),
          linear(R::FfnDown, "mlp.down_proj", hidden_by_ffn, mlp_bias, 3, 3),
      },
      /*true_sequential=*/true};
  return table;
}

const CausalLMFactory create_llama = &create_family<LlamaModel>;

}  // namespace ptq::model
