// Phi-3 decoder (Phi3ForCausalLM), after transformers' modeling_phi3.py: LLaMA's layer with
// q, k and v fused in one linear, qkv_proj (output rows [q | k | v]: num_heads * head_dim, then
// num_kv_heads * head_dim twice), and gate and up fused in gate_up_proj (rows [gate | up]):
//   h = x + o_proj(attn(rope(q), rope(k), v)),  [q | k | v] = qkv_proj(rms1(x))
//   y = h + down_proj(act(gate) * up),          [gate | up] = gate_up_proj(rms2(h))
// then logits = lm_head(rms(y)). RoPE turns the first partial_rotary_factor * head_dim dims of
// each head. With sliding_window W query i sees keys i - W < j <= i: modeling_phi3 builds
// create_sliding_window_causal_mask whenever config.sliding_window is set (Phi-3-mini-4k has
// 2047), the same mask as Mistral's, and no flag turns it off.

#include <ATen/ATen.h>

#include "model/families.h"
#include "model/family_helpers.h"
#include "model/layers.h"

namespace ptq::model {
namespace {

int64_t q_size(const ModelConfig& c) { return c.num_heads * c.head_dim; }
int64_t kv_size(const ModelConfig& c) { return c.num_kv_heads * c.head_dim; }

rows::Dims qkv_by_hidden(const ModelConfig& c) {
  return {q_size(c) + 2 * kv_size(c), c.hidden_size};
}
rows::Dims hidden_by_q(const ModelConfig& c) { return {c.hidden_size, q_size(c)}; }
rows::Dims gate_up_by_hidden(const ModelConfig& c) {
  return {2 * c.intermediate_size, c.hidden_size};
}

class Phi3Model final : public DecoderFamily {
 public:
  Phi3Model(ModelConfig config,
            std::shared_ptr<const io::Checkpoint> checkpoint,
            const LoadOptions& options)
      : DecoderFamily(std::move(config), phi3_table()),
        _rotary_dims(static_cast<int64_t>(_config.head_dim * _config.rotary_pct)) {
    load(std::move(checkpoint), options);
  }

  at::Tensor logits(const at::Tensor& hidden) const override { return rms_norm_logits(hidden); }

 private:
  at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const override {
    const double eps = _config.norm_eps;
    const at::Tensor attn_in = rms_norm(hidden, layer_weight(call, TensorRole::AttnNorm), eps);
    const at::Tensor h = hidden + attention(call, attn_in);
    const at::Tensor mlp_in = rms_norm(h, layer_weight(call, TensorRole::FfnNorm), eps);
    const std::vector<at::Tensor> gate_up =
        linear(call, TensorRole::FfnGateUp, mlp_in).chunk(2, /*dim=*/-1);
    return h + linear(call, TensorRole::FfnDown, activate(gate_up[0], _activation) * gate_up[1]);
  }

  at::Tensor attention(const LayerCall& call, const at::Tensor& x) const {
    const ModelConfig& c = _config;
    const std::vector<at::Tensor> qkv =
        linear(call, TensorRole::AttnQkv, x)
            .split_with_sizes({q_size(c), kv_size(c), kv_size(c)}, -1);
    const auto rope = [&](const at::Tensor& part, int64_t heads) {
      return apply_rotary(split_heads(part, heads), _rotary_dims, c.rope_theta, call.offset);
    };
    const at::Tensor out = attend(call, rope(qkv[0], c.num_heads), rope(qkv[1], c.num_kv_heads),
                                  split_heads(qkv[2], c.num_kv_heads), c.sliding_window);
    return linear(call, TensorRole::AttnOut, out);
  }

  int64_t _rotary_dims;
};

}  // namespace

// Linear rows end with (stage, input): GPTQModel's phi3 module_tree [qkv_proj], [o_proj],
// [gate_up_proj], [down_proj]; each fused linear is one GPTQ problem with one Hessian.
// True-sequential by default, as for the LLaMA layer it fuses.
const FamilyTable& phi3_table() {
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
          linear(R::AttnQkv, "self_attn.qkv_proj", qkv_by_hidden, nullptr, 0, 0),
          linear(R::AttnOut, "self_attn.o_proj", hidden_by_q, nullptr, 1, 1),
          linear(R::FfnGateUp, "mlp.gate_up_proj", gate_up_by_hidden, nullptr, 2, 2),
          linear(R::FfnDown, "mlp.down_proj", hidden_by_ffn, nullptr, 3, 3),
      },
      /*true_sequential=*/true};
  return table;
}

const CausalLMFactory create_phi3 = &create_family<Phi3Model>;

}  // namespace ptq::model
