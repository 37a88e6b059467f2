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
      : DecoderFamily(std::move(config), gpt_neox_table()),
        _rotary_dims(static_cast<int64_t>(_config.head_dim * _config.rotary_pct)) {
    load(std::move(checkpoint), options);
  }

  at::Tensor logits(const at::Tensor& hidden) const override {
    return at::linear(norm(module(TensorRole::OutputNorm), hidden), head_weight());
  }

 private:
  at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const override {
    const std::string ffn_norm = module(call, TensorRole::FfnNorm);
    const at::Tensor attn = attention(call, norm(module(call, TensorRole::AttnNorm), hidden));
    if (_config.use_parallel_residual) return hidden + attn + mlp(call, norm(ffn_norm, hidden));
    const at::Tensor h = hidden + attn;
    return h + mlp(call, norm(ffn_norm, h));
  }

  at::Tensor attention(const LayerCall& call, const at::Tensor& x) const {
    const ModelConfig& c = _config;
    const int64_t offset = call.offset;
    // query_key_value's output rows are grouped per head as [q | k | v] (HF views the output
    // [B, T, heads, 3 * head_dim] and splits the last dim), not [all q | all k | all v].
    const at::Tensor qkv = linear(call, TensorRole::AttnQkv, x)
                               .view({x.size(0), x.size(1), c.num_heads, 3, c.head_dim});
    auto part = [&qkv](int64_t j) { return qkv.select(3, j).transpose(1, 2); };
    const at::Tensor q = apply_rotary(part(0), _rotary_dims, c.rope_theta, offset);
    const at::Tensor k = apply_rotary(part(1), _rotary_dims, c.rope_theta, offset);
    const at::Tensor out = attend(call, q, k, part(2), std::nullopt);
    return linear(call, TensorRole::AttnOut, out);
  }

  at::Tensor mlp(const LayerCall& call, const at::Tensor& x) const {
    const at::Tensor h = activate(linear(call, TensorRole::FfnUp, x), _activation);
    return linear(call, TensorRole::FfnDown, h);
  }

  int64_t _rotary_dims;
};

rows::Dims qkv_by_hidden(const ModelConfig& c) { return {3 * c.hidden_size, c.hidden_size}; }

}  // namespace

// Linear rows end with (stage, input): GPTQ's neox sequential list [query_key_value], [dense],
// [dense_h_to_4h], [dense_4h_to_h]. dense_h_to_4h is the MLP's up projection (no gate).
const FamilyTable& gpt_neox_table() {
  using R = TensorRole;
  using namespace rows;
  static const FamilyTable table{
      "gpt_neox.layers.",
      {
          embedding(R::TokenEmbedding, "gpt_neox.embed_in", vocab_by_hidden),
          norm(R::OutputNorm, "gpt_neox.final_layer_norm", hidden, always),
          global_linear(R::LmHead, "embed_out", vocab_by_hidden, untied),
      },
      {
          norm(R::AttnNorm, "input_layernorm", hidden, always),
          norm(R::FfnNorm, "post_attention_layernorm", hidden, always),
          linear(R::AttnQkv, "attention.query_key_value", qkv_by_hidden, attention_bias, 0, 0),
          linear(R::AttnOut, "attention.dense", hidden_by_hidden, attention_out_bias, 1, 1),
          linear(R::FfnUp, "mlp.dense_h_to_4h", ffn_by_hidden, mlp_bias, 2, 2),
          linear(R::FfnDown, "mlp.dense_4h_to_h", hidden_by_ffn, mlp_bias, 3, 3),
      }};
  return table;
}

const CausalLMFactory create_gpt_neox = &create_family<GptNeoXModel>;

}  // namespace ptq::model
