// GPT-NeoX decoder (Pythia), after transformers' modeling_gpt_neox.py:
//   parallel residual:   y = x + attn(ln1(x)) + mlp(ln2(x))
//   sequential:          h = x + attn(ln1(x)),  y = h + mlp(ln2(h))
// with rotary embeddings on the first rotary_pct * head_dim dims of q and k, and
// logits = embed_out(final_layer_norm(y)).

#include <ATen/ATen.h>

#include "model/families.h"
#include "model/family_helpers.h"
#include "model/layers.h"

namespace ptq::model {
namespace {

class GptNeoXModel final : public DecoderFamily {
 public:
  GptNeoXModel(ModelConfig config,
               std::shared_ptr<const io::Checkpoint> checkpoint,
               const LoadOptions& options)
      : DecoderFamily(std::move(config), "gpt_neox.layers."),
        _rotary_dims(static_cast<int64_t>(_config.head_dim * _config.rotary_pct)) {
    load(std::move(checkpoint), options);
  }

  at::Tensor embed(const at::Tensor& ids, int64_t /*position_offset*/) const override {
    return embed_tokens(weight("gpt_neox.embed_in.weight"), ids);
  }

  at::Tensor logits(const at::Tensor& hidden) const override {
    return at::linear(norm("gpt_neox.final_layer_norm", hidden),
                      head_weight("gpt_neox.embed_in.weight", "embed_out.weight"));
  }

  std::vector<std::string> linear_names(int64_t index) const override {
    const std::string p = prefix(index);
    return {p + "attention.query_key_value", p + "attention.dense", p + "mlp.dense_h_to_4h",
            p + "mlp.dense_4h_to_h"};
  }

 private:
  at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const override {
    const std::string& p = call.prefix;
    const at::Tensor attn = attention(call, norm(p + "input_layernorm", hidden));
    if (_config.use_parallel_residual) {
      return hidden + attn + mlp(call, norm(p + "post_attention_layernorm", hidden));
    }
    const at::Tensor h = hidden + attn;
    return h + mlp(call, norm(p + "post_attention_layernorm", h));
  }

  at::Tensor attention(const LayerCall& call, const at::Tensor& x) const {
    const ModelConfig& c = _config;
    const std::string p = call.prefix + "attention.";
    const auto* observer = call.observer;
    const int64_t offset = call.offset;
    // query_key_value's output rows are grouped per head as [q | k | v] (HF views the output
    // [B, T, heads, 3 * head_dim] and splits the last dim), not [all q | all k | all v].
    const at::Tensor qkv = linear(p + "query_key_value", x, observer)
                               .view({x.size(0), x.size(1), c.num_heads, 3, c.head_dim});
    auto part = [&qkv](int64_t j) { return qkv.select(3, j).transpose(1, 2); };
    const at::Tensor q = apply_rotary(part(0), _rotary_dims, c.rope_theta, offset);
    const at::Tensor k = apply_rotary(part(1), _rotary_dims, c.rope_theta, offset);
    const at::Tensor out = attend(call, q, k, part(2), std::nullopt);
    return linear(p + "dense", out, observer);
  }

  at::Tensor mlp(const LayerCall& call, const at::Tensor& x) const {
    const std::string p = call.prefix + "mlp.";
    const at::Tensor h = activate(linear(p + "dense_h_to_4h", x, call.observer), _activation);
    return linear(p + "dense_4h_to_h", h, call.observer);
  }

  void add_global_specs(std::vector<TensorSpec>& specs) const override {
    const ModelConfig& c = _config;
    const int64_t d = c.hidden_size;
    specs.push_back({"gpt_neox.embed_in.weight", {c.vocab_size, d}});
    add_norm_spec(specs, "gpt_neox.final_layer_norm", d, /*bias=*/true);
    if (!c.tie_word_embeddings) add_linear_spec(specs, "embed_out", c.vocab_size, d, false);
  }

  void add_layer_specs(std::vector<TensorSpec>& specs, const std::string& p) const override {
    const ModelConfig& c = _config;
    const int64_t d = c.hidden_size, ff = c.intermediate_size;
    add_norm_spec(specs, p + "input_layernorm", d, /*bias=*/true);
    add_norm_spec(specs, p + "post_attention_layernorm", d, /*bias=*/true);
    add_linear_spec(specs, p + "attention.query_key_value", 3 * d, d, c.attention_bias);
    add_linear_spec(specs, p + "attention.dense", d, d, c.attention_out_bias);
    add_linear_spec(specs, p + "mlp.dense_h_to_4h", ff, d, c.mlp_bias);
    add_linear_spec(specs, p + "mlp.dense_4h_to_h", d, ff, c.mlp_bias);
  }

  int64_t _rotary_dims;
};

}  // namespace

const CausalLMFactory create_gpt_neox = &create_family<GptNeoXModel>;

}  // namespace ptq::model
