// LLaMA-family decoder (Llama, Mistral, Qwen2), after transformers' modeling_llama.py:
//   h = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1))),  n1 = rms1(x)
//   y = h + down_proj(act(gate_proj(n2)) * up_proj(n2)),                   n2 = rms2(h)
// then logits = lm_head(rms(y)), lm_head tied to embed_tokens when tie_word_embeddings.

#include <ATen/ATen.h>

#include "model/families.h"
#include "model/family_helpers.h"
#include "model/layers.h"

namespace ptq::model {
namespace {

class LlamaModel final : public DecoderFamily {
 public:
  LlamaModel(ModelConfig config,
             std::shared_ptr<const io::Checkpoint> checkpoint,
             const LoadOptions& options)
      : DecoderFamily(std::move(config), "model.layers.") {
    load(std::move(checkpoint), options);
  }

  at::Tensor embed(const at::Tensor& ids, int64_t /*position_offset*/) const override {
    return embed_tokens(weight("model.embed_tokens.weight"), ids);
  }

  at::Tensor logits(const at::Tensor& hidden) const override {
    const at::Tensor normed = rms_norm(hidden, weight("model.norm.weight"), _config.norm_eps);
    return at::linear(normed, head_weight("model.embed_tokens.weight", "lm_head.weight"));
  }

  std::vector<std::string> linear_names(int64_t index) const override {
    const std::string p = prefix(index);
    return {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj",
            p + "self_attn.o_proj", p + "mlp.gate_proj",    p + "mlp.up_proj",
            p + "mlp.down_proj"};
  }

 private:
  at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const override {
    const std::string& p = call.prefix;
    const auto* observer = call.observer;
    const double eps = _config.norm_eps;
    const at::Tensor attn_in = rms_norm(hidden, weight(p + "input_layernorm.weight"), eps);
    const at::Tensor h = hidden + attention(call, attn_in);
    const at::Tensor mlp_in = rms_norm(h, weight(p + "post_attention_layernorm.weight"), eps);
    const at::Tensor gate = activate(linear(p + "mlp.gate_proj", mlp_in, observer), _activation);
    const at::Tensor up = linear(p + "mlp.up_proj", mlp_in, observer);
    return h + linear(p + "mlp.down_proj", gate * up, observer);
  }

  at::Tensor attention(const LayerCall& call, const at::Tensor& x) const {
    const ModelConfig& c = _config;
    const std::string p = call.prefix + "self_attn.";
    const auto* observer = call.observer;
    const int64_t offset = call.offset;
    const at::Tensor q = split_heads(linear(p + "q_proj", x, observer), c.num_heads);
    const at::Tensor k = split_heads(linear(p + "k_proj", x, observer), c.num_kv_heads);
    const at::Tensor v = split_heads(linear(p + "v_proj", x, observer), c.num_kv_heads);
    const at::Tensor out = attend(call, apply_rotary(q, c.head_dim, c.rope_theta, offset),
                                  apply_rotary(k, c.head_dim, c.rope_theta, offset), v,
                                  c.sliding_window);
    return linear(p + "o_proj", out, observer);
  }

  void add_global_specs(std::vector<TensorSpec>& specs) const override {
    const ModelConfig& c = _config;
    const int64_t d = c.hidden_size;
    specs.push_back({"model.embed_tokens.weight", {c.vocab_size, d}});
    add_norm_spec(specs, "model.norm", d, /*bias=*/false);
    if (!c.tie_word_embeddings) add_linear_spec(specs, "lm_head", c.vocab_size, d, false);
  }

  void add_layer_specs(std::vector<TensorSpec>& specs, const std::string& p) const override {
    const ModelConfig& c = _config;
    const int64_t d = c.hidden_size, ff = c.intermediate_size;
    const int64_t q_out = c.num_heads * c.head_dim, kv_out = c.num_kv_heads * c.head_dim;
    add_norm_spec(specs, p + "input_layernorm", d, /*bias=*/false);
    add_norm_spec(specs, p + "post_attention_layernorm", d, /*bias=*/false);
    add_linear_spec(specs, p + "self_attn.q_proj", q_out, d, c.attention_bias);
    add_linear_spec(specs, p + "self_attn.k_proj", kv_out, d, c.attention_bias);
    add_linear_spec(specs, p + "self_attn.v_proj", kv_out, d, c.attention_bias);
    add_linear_spec(specs, p + "self_attn.o_proj", d, q_out, c.attention_out_bias);
    add_linear_spec(specs, p + "mlp.gate_proj", ff, d, c.mlp_bias);
    add_linear_spec(specs, p + "mlp.up_proj", ff, d, c.mlp_bias);
    add_linear_spec(specs, p + "mlp.down_proj", d, ff, c.mlp_bias);
  }
};

}  // namespace

const CausalLMFactory create_llama = &create_family<LlamaModel>;

}  // namespace ptq::model
