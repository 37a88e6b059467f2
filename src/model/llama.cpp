// LLaMA-family decoder (Llama, Mistral, Qwen2), after transformers' modeling_llama.py:
//   h = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1))),  n1 = rms1(x)
//   y = h + down_proj(act(gate_proj(n2)) * up_proj(n2)),                   n2 = rms2(h)
// then logits = lm_head(rms(y)), lm_head tied to embed_tokens when tie_word_embeddings.

#include <ATen/ATen.h>

#include "model/families.h"
#include "model/layers.h"

namespace ptq::model {
namespace {

class LlamaModel final : public CausalLM {
 public:
  LlamaModel(ModelConfig config,
             std::shared_ptr<const io::Checkpoint> checkpoint,
             const LoadOptions& options)
      : CausalLM(std::move(config)), _activation(parse_activation(_config.hidden_act)) {
    load_weights(std::move(checkpoint), options, global_tensor_specs(),
                 [this](int64_t i) { return layer_tensor_specs(i); });
  }

  at::Tensor embed(const at::Tensor& ids, int64_t /*position_offset*/) const override {
    return embed_tokens(weight("model.embed_tokens.weight"), ids);
  }

  at::Tensor forward_layer(int64_t index,
                           const at::Tensor& hidden,
                           int64_t position_offset,
                           KVCache* cache,
                           const LinearInputObserver* observer) const override {
    check_layer_loaded(index);
    const std::string p = prefix(index);
    const double eps = _config.norm_eps;
    const at::Tensor attn_in = rms_norm(hidden, weight(p + "input_layernorm.weight"), eps);
    const at::Tensor h = hidden + attention(index, attn_in, position_offset, cache, observer);
    const at::Tensor mlp_in = rms_norm(h, weight(p + "post_attention_layernorm.weight"), eps);
    const at::Tensor gate = activate(linear(p + "mlp.gate_proj", mlp_in, observer), _activation);
    const at::Tensor up = linear(p + "mlp.up_proj", mlp_in, observer);
    return h + linear(p + "mlp.down_proj", gate * up, observer);
  }

  at::Tensor logits(const at::Tensor& hidden) const override {
    const at::Tensor normed = rms_norm(hidden, weight("model.norm.weight"), _config.norm_eps);
    return at::linear(normed, weight(_config.tie_word_embeddings ? "model.embed_tokens.weight"
                                                                 : "lm_head.weight"));
  }

  std::vector<std::string> linear_names(int64_t index) const override {
    const std::string p = prefix(index);
    return {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj",
            p + "self_attn.o_proj", p + "mlp.gate_proj",    p + "mlp.up_proj",
            p + "mlp.down_proj"};
  }

 private:
  static std::string prefix(int64_t index) { return "model.layers." + std::to_string(index) + "."; }

  at::Tensor attention(int64_t index,
                       const at::Tensor& x,
                       int64_t offset,
                       KVCache* cache,
                       const LinearInputObserver* observer) const {
    const ModelConfig& c = _config;
    const std::string p = prefix(index) + "self_attn.";
    const at::Tensor q = split_heads(linear(p + "q_proj", x, observer), c.num_heads);
    const at::Tensor k = split_heads(linear(p + "k_proj", x, observer), c.num_kv_heads);
    const at::Tensor v = split_heads(linear(p + "v_proj", x, observer), c.num_kv_heads);
    auto [keys, values] = extend_cache(
        cache, index, c.num_layers, apply_rotary(k, c.head_dim, c.rope_theta, offset), v, offset);
    const at::Tensor out = causal_attention(apply_rotary(q, c.head_dim, c.rope_theta, offset), keys,
                                            values, offset, c.sliding_window);
    return linear(p + "o_proj", out, observer);
  }

  std::vector<TensorSpec> global_tensor_specs() const {
    const ModelConfig& c = _config;
    const int64_t d = c.hidden_size;
    std::vector<TensorSpec> specs = {{"model.embed_tokens.weight", {c.vocab_size, d}}};
    add_norm_spec(specs, "model.norm", d, /*bias=*/false);
    if (!c.tie_word_embeddings) add_linear_spec(specs, "lm_head", c.vocab_size, d, false);
    return specs;
  }

  std::vector<TensorSpec> layer_tensor_specs(int64_t index) const {
    const ModelConfig& c = _config;
    const int64_t d = c.hidden_size, ff = c.intermediate_size;
    const int64_t q_out = c.num_heads * c.head_dim, kv_out = c.num_kv_heads * c.head_dim;
    const std::string p = prefix(index);
    std::vector<TensorSpec> specs;
    add_norm_spec(specs, p + "input_layernorm", d, /*bias=*/false);
    add_norm_spec(specs, p + "post_attention_layernorm", d, /*bias=*/false);
    add_linear_spec(specs, p + "self_attn.q_proj", q_out, d, c.attention_bias);
    add_linear_spec(specs, p + "self_attn.k_proj", kv_out, d, c.attention_bias);
    add_linear_spec(specs, p + "self_attn.v_proj", kv_out, d, c.attention_bias);
    add_linear_spec(specs, p + "self_attn.o_proj", d, q_out, c.attention_out_bias);
    add_linear_spec(specs, p + "mlp.gate_proj", ff, d, c.mlp_bias);
    add_linear_spec(specs, p + "mlp.up_proj", ff, d, c.mlp_bias);
    add_linear_spec(specs, p + "mlp.down_proj", d, ff, c.mlp_bias);
    return specs;
  }

  Activation _activation;
};

}  // namespace

std::unique_ptr<CausalLM> create_llama(ModelConfig config,
                                       std::shared_ptr<const io::Checkpoint> checkpoint,
                                       const LoadOptions& options) {
  return std::make_unique<LlamaModel>(std::move(config), std::move(checkpoint), options);
}

}  // namespace ptq::model
