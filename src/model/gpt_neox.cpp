// GPT-NeoX decoder (Pythia), after transformers' modeling_gpt_neox.py:
//   parallel residual:   y = x + attn(ln1(x)) + mlp(ln2(x))
//   sequential:          h = x + attn(ln1(x)),  y = h + mlp(ln2(h))
// with rotary embeddings on the first rotary_pct * head_dim dims of q and k, and
// logits = embed_out(final_layer_norm(y)).

#include <ATen/ATen.h>

#include "model/families.h"
#include "model/layers.h"

namespace ptq::model {
namespace {

class GptNeoXModel final : public CausalLM {
 public:
  GptNeoXModel(ModelConfig config,
               std::shared_ptr<const io::Checkpoint> checkpoint,
               const LoadOptions& options)
      : CausalLM(std::move(config)),
        _activation(parse_activation(_config.hidden_act)),
        _rotary_dims(static_cast<int64_t>(_config.head_dim * _config.rotary_pct)) {
    load_weights(std::move(checkpoint), options, global_tensor_specs(),
                 [this](int64_t i) { return layer_tensor_specs(i); });
  }

  at::Tensor embed(const at::Tensor& ids, int64_t /*position_offset*/) const override {
    return embed_tokens(weight("gpt_neox.embed_in.weight"), ids);
  }

  at::Tensor forward_layer(int64_t index,
                           const at::Tensor& hidden,
                           int64_t position_offset,
                           KVCache* cache,
                           const LinearInputObserver* observer) const override {
    check_layer_loaded(index);
    const std::string p = prefix(index);
    const at::Tensor attn =
        attention(index, norm(p + "input_layernorm", hidden), position_offset, cache, observer);
    if (_config.use_parallel_residual) {
      return hidden + attn + mlp(index, norm(p + "post_attention_layernorm", hidden), observer);
    }
    const at::Tensor h = hidden + attn;
    return h + mlp(index, norm(p + "post_attention_layernorm", h), observer);
  }

  at::Tensor logits(const at::Tensor& hidden) const override {
    return at::linear(
        norm("gpt_neox.final_layer_norm", hidden),
        weight(_config.tie_word_embeddings ? "gpt_neox.embed_in.weight" : "embed_out.weight"));
  }

  std::vector<std::string> linear_names(int64_t index) const override {
    const std::string p = prefix(index);
    return {p + "attention.query_key_value", p + "attention.dense", p + "mlp.dense_h_to_4h",
            p + "mlp.dense_4h_to_h"};
  }

 private:
  static std::string prefix(int64_t index) {
    return "gpt_neox.layers." + std::to_string(index) + ".";
  }

  at::Tensor norm(const std::string& module, const at::Tensor& x) const {
    return layer_norm(x, weight(module + ".weight"), weight(module + ".bias"), _config.norm_eps);
  }

  at::Tensor attention(int64_t index,
                       const at::Tensor& x,
                       int64_t offset,
                       KVCache* cache,
                       const LinearInputObserver* observer) const {
    const ModelConfig& c = _config;
    const std::string p = prefix(index) + "attention.";
    // query_key_value's output rows are grouped per head as [q | k | v] (HF views the output
    // [B, T, heads, 3 * head_dim] and splits the last dim), not [all q | all k | all v].
    const at::Tensor qkv = linear(p + "query_key_value", x, observer)
                               .view({x.size(0), x.size(1), c.num_heads, 3, c.head_dim});
    auto part = [&qkv](int64_t j) { return qkv.select(3, j).transpose(1, 2); };
    const at::Tensor q = apply_rotary(part(0), _rotary_dims, c.rope_theta, offset);
    const at::Tensor k = apply_rotary(part(1), _rotary_dims, c.rope_theta, offset);
    auto [keys, values] = extend_cache(cache, index, c.num_layers, k, part(2), offset);
    const at::Tensor out = causal_attention(q, keys, values, offset, std::nullopt);
    return linear(p + "dense", out, observer);
  }

  at::Tensor mlp(int64_t index, const at::Tensor& x, const LinearInputObserver* observer) const {
    const std::string p = prefix(index) + "mlp.";
    const at::Tensor h = activate(linear(p + "dense_h_to_4h", x, observer), _activation);
    return linear(p + "dense_4h_to_h", h, observer);
  }

  std::vector<TensorSpec> global_tensor_specs() const {
    const ModelConfig& c = _config;
    const int64_t d = c.hidden_size;
    std::vector<TensorSpec> specs = {{"gpt_neox.embed_in.weight", {c.vocab_size, d}}};
    add_norm_spec(specs, "gpt_neox.final_layer_norm", d, /*bias=*/true);
    if (!c.tie_word_embeddings) add_linear_spec(specs, "embed_out", c.vocab_size, d, false);
    return specs;
  }

  std::vector<TensorSpec> layer_tensor_specs(int64_t index) const {
    const ModelConfig& c = _config;
    const int64_t d = c.hidden_size, ff = c.intermediate_size;
    const std::string p = prefix(index);
    std::vector<TensorSpec> specs;
    add_norm_spec(specs, p + "input_layernorm", d, /*bias=*/true);
    add_norm_spec(specs, p + "post_attention_layernorm", d, /*bias=*/true);
    add_linear_spec(specs, p + "attention.query_key_value", 3 * d, d, c.attention_bias);
    add_linear_spec(specs, p + "attention.dense", d, d, c.attention_out_bias);
    add_linear_spec(specs, p + "mlp.dense_h_to_4h", ff, d, c.mlp_bias);
    add_linear_spec(specs, p + "mlp.dense_4h_to_h", d, ff, c.mlp_bias);
    return specs;
  }

  Activation _activation;
  int64_t _rotary_dims;
};

}  // namespace

std::unique_ptr<CausalLM> create_gpt_neox(ModelConfig config,
                                          std::shared_ptr<const io::Checkpoint> checkpoint,
                                          const LoadOptions& options) {
  return std::make_unique<GptNeoXModel>(std::move(config), std::move(checkpoint), options);
}

}  // namespace ptq::model
