// OPT decoder, after transformers' modeling_opt.py. With do_layer_norm_before (pre-LN, all
// sizes but 350m):
//   h = x + out_proj(attn(ln1(x))),  y = h + fc2(act(fc1(ln2(h))))
// post-LN (opt-350m): h = ln1(x + out_proj(attn(x))),  y = ln2(h + fc2(act(fc1(h)))).
// Embeddings: project_in(embed_tokens(ids)) + embed_positions(pos + 2); the head:
// embed_tokens^T (project_out(final_layer_norm(y))). word_embed_proj_dim != hidden_size
// adds project_in/project_out; post-LN models have no final_layer_norm.

#include <ATen/ATen.h>

#include "model/families.h"
#include "model/family_helpers.h"
#include "model/layers.h"
#include "ptq/common/error.h"

namespace ptq::model {
namespace {

// OPTLearnedPositionalEmbedding looks position p up at row p + 2 (a fairseq leftover: rows
// 0-1 belonged to the padding index), so the table has max_position_embeddings + 2 rows.
constexpr int64_t kPositionOffset = 2;

bool has_projection(const ModelConfig& c) { return c.word_embed_proj_dim != c.hidden_size; }
bool has_final_norm(const ModelConfig& c) {
  return c.do_layer_norm_before && !c.remove_final_layer_norm;
}

class OptModel final : public DecoderFamily {
 public:
  OptModel(ModelConfig config,
           std::shared_ptr<const io::Checkpoint> checkpoint,
           const LoadOptions& options)
      : DecoderFamily(std::move(config), opt_table()) {
    load(std::move(checkpoint), options);
  }

  at::Tensor embed(const at::Tensor& ids, int64_t position_offset) const override {
    const int64_t length = ids.size(1);
    PTQ_CHECK_INPUT(position_offset + length <= _config.max_position_embeddings, "positions up to ",
                    position_offset + length, " exceed max_position_embeddings ",
                    _config.max_position_embeddings, " of ", _config.architecture);
    at::Tensor tokens = embed_tokens(global_weight(TensorRole::TokenEmbedding), ids);
    if (has_projection(_config)) tokens = linear(module(TensorRole::ProjectIn), tokens, nullptr);
    const at::Tensor rows =
        at::arange(position_offset + kPositionOffset, position_offset + kPositionOffset + length,
                   at::TensorOptions().dtype(at::kLong));
    return tokens + global_weight(TensorRole::PositionEmbedding).index_select(0, rows);
  }

  at::Tensor logits(const at::Tensor& hidden) const override {
    at::Tensor h = has_final_norm(_config) ? norm(module(TensorRole::OutputNorm), hidden) : hidden;
    if (has_projection(_config)) h = linear(module(TensorRole::ProjectOut), h, nullptr);
    return at::linear(h, head_weight());
  }

 private:
  at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const override {
    const bool pre_ln = _config.do_layer_norm_before;
    const std::string attn_norm = module(call, TensorRole::AttnNorm);
    const std::string ffn_norm = module(call, TensorRole::FfnNorm);
    const at::Tensor attn_in = pre_ln ? norm(attn_norm, hidden) : hidden;
    at::Tensor h = hidden + attention(call, attn_in);
    if (!pre_ln) h = norm(attn_norm, h);
    const at::Tensor mlp_in = pre_ln ? norm(ffn_norm, h) : h;
    const at::Tensor act = activate(linear(call, TensorRole::FfnUp, mlp_in), _activation);
    at::Tensor out = h + linear(call, TensorRole::FfnDown, act);
    return pre_ln ? out : norm(ffn_norm, out);
  }

  at::Tensor attention(const LayerCall& call, const at::Tensor& x) const {
    const int64_t heads = _config.num_heads;
    const at::Tensor q = split_heads(linear(call, TensorRole::AttnQ, x), heads);
    const at::Tensor k = split_heads(linear(call, TensorRole::AttnK, x), heads);
    const at::Tensor v = split_heads(linear(call, TensorRole::AttnV, x), heads);
    const at::Tensor out = attend(call, q, k, v, std::nullopt);
    return linear(call, TensorRole::AttnOut, out);
  }
};

rows::Dims vocab_by_projection(const ModelConfig& c) {
  return {c.vocab_size, c.word_embed_proj_dim};
}
rows::Dims positions_by_hidden(const ModelConfig& c) {
  return {c.max_position_embeddings + kPositionOffset, c.hidden_size};
}
rows::Dims hidden_by_projection(const ModelConfig& c) {
  return {c.hidden_size, c.word_embed_proj_dim};
}
rows::Dims projection_by_hidden(const ModelConfig& c) {
  return {c.word_embed_proj_dim, c.hidden_size};
}

}  // namespace

// Linear rows end with (stage, input): GPTQ's opt.py sequential list [q, k, v], [out_proj],
// [fc1], [fc2]. fc1 is the MLP's up projection (there is no gate).
const FamilyTable& opt_table() {
  using R = TensorRole;
  using namespace rows;
  static const FamilyTable table{
      "model.decoder.layers.",
      {
          embedding(R::TokenEmbedding, "model.decoder.embed_tokens", vocab_by_projection),
          embedding(R::PositionEmbedding, "model.decoder.embed_positions", positions_by_hidden),
          global_linear(R::LmHead, "lm_head", vocab_by_projection, untied),
          global_linear(R::ProjectIn, "model.decoder.project_in", hidden_by_projection,
                        has_projection),
          global_linear(R::ProjectOut, "model.decoder.project_out", projection_by_hidden,
                        has_projection),
          norm(R::OutputNorm, "model.decoder.final_layer_norm", hidden, always, has_final_norm),
      },
      {
          linear(R::AttnQ, "self_attn.q_proj", hidden_by_hidden, attention_bias, 0, 0),
          linear(R::AttnK, "self_attn.k_proj", hidden_by_hidden, attention_bias, 0, 0),
          linear(R::AttnV, "self_attn.v_proj", hidden_by_hidden, attention_bias, 0, 0),
          linear(R::AttnOut, "self_attn.out_proj", hidden_by_hidden, attention_out_bias, 1, 1),
          norm(R::AttnNorm, "self_attn_layer_norm", hidden, always),
          linear(R::FfnUp, "fc1", ffn_by_hidden, mlp_bias, 2, 2),
          linear(R::FfnDown, "fc2", hidden_by_ffn, mlp_bias, 3, 3),
          norm(R::FfnNorm, "final_layer_norm", hidden, always),
      }};
  return table;
}

const CausalLMFactory create_opt = &create_family<OptModel>;

}  // namespace ptq::model
