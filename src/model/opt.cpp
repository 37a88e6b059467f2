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

class OptModel final : public DecoderFamily {
 public:
  OptModel(ModelConfig config,
           std::shared_ptr<const io::Checkpoint> checkpoint,
           const LoadOptions& options)
      : DecoderFamily(std::move(config), "model.decoder.layers.") {
    load(std::move(checkpoint), options);
  }

  at::Tensor embed(const at::Tensor& ids, int64_t position_offset) const override {
    const int64_t length = ids.size(1);
    PTQ_CHECK_INPUT(position_offset + length <= _config.max_position_embeddings, "positions up to ",
                    position_offset + length, " exceed max_position_embeddings ",
                    _config.max_position_embeddings, " of ", _config.architecture);
    at::Tensor tokens = embed_tokens(weight("model.decoder.embed_tokens.weight"), ids);
    if (has_projection()) tokens = linear("model.decoder.project_in", tokens, nullptr);
    const at::Tensor rows =
        at::arange(position_offset + kPositionOffset, position_offset + kPositionOffset + length,
                   at::TensorOptions().dtype(at::kLong));
    return tokens + weight("model.decoder.embed_positions.weight").index_select(0, rows);
  }

  at::Tensor logits(const at::Tensor& hidden) const override {
    at::Tensor h = has_final_norm() ? norm("model.decoder.final_layer_norm", hidden) : hidden;
    if (has_projection()) h = linear("model.decoder.project_out", h, nullptr);
    return at::linear(h, head_weight("model.decoder.embed_tokens.weight", "lm_head.weight"));
  }

  std::vector<std::string> linear_names(int64_t index) const override {
    const std::string p = prefix(index);
    return {p + "self_attn.q_proj",
            p + "self_attn.k_proj",
            p + "self_attn.v_proj",
            p + "self_attn.out_proj",
            p + "fc1",
            p + "fc2"};
  }

 private:
  bool has_projection() const { return _config.word_embed_proj_dim != _config.hidden_size; }
  bool has_final_norm() const {
    return _config.do_layer_norm_before && !_config.remove_final_layer_norm;
  }

  at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const override {
    const std::string& p = call.prefix;
    const bool pre_ln = _config.do_layer_norm_before;
    const at::Tensor attn_in = pre_ln ? norm(p + "self_attn_layer_norm", hidden) : hidden;
    at::Tensor h = hidden + attention(call, attn_in);
    if (!pre_ln) h = norm(p + "self_attn_layer_norm", h);
    const at::Tensor mlp_in = pre_ln ? norm(p + "final_layer_norm", h) : h;
    const at::Tensor act = activate(linear(p + "fc1", mlp_in, call.observer), _activation);
    at::Tensor out = h + linear(p + "fc2", act, call.observer);
    return pre_ln ? out : norm(p + "final_layer_norm", out);
  }

  at::Tensor attention(const LayerCall& call, const at::Tensor& x) const {
    const int64_t heads = _config.num_heads;
    const std::string p = call.prefix + "self_attn.";
    const auto* observer = call.observer;
    const at::Tensor q = split_heads(linear(p + "q_proj", x, observer), heads);
    const at::Tensor k = split_heads(linear(p + "k_proj", x, observer), heads);
    const at::Tensor v = split_heads(linear(p + "v_proj", x, observer), heads);
    const at::Tensor out = attend(call, q, k, v, std::nullopt);
    return linear(p + "out_proj", out, observer);
  }

  void add_global_specs(std::vector<TensorSpec>& specs) const override {
    const ModelConfig& c = _config;
    const int64_t d = c.hidden_size, proj = c.word_embed_proj_dim;
    specs.push_back({"model.decoder.embed_tokens.weight", {c.vocab_size, proj}});
    specs.push_back(
        {"model.decoder.embed_positions.weight", {c.max_position_embeddings + kPositionOffset, d}});
    if (!c.tie_word_embeddings) add_linear_spec(specs, "lm_head", c.vocab_size, proj, false);
    if (has_projection()) {
      add_linear_spec(specs, "model.decoder.project_in", d, proj, /*bias=*/false);
      add_linear_spec(specs, "model.decoder.project_out", proj, d, /*bias=*/false);
    }
    if (has_final_norm()) add_norm_spec(specs, "model.decoder.final_layer_norm", d, true);
  }

  void add_layer_specs(std::vector<TensorSpec>& specs, const std::string& p) const override {
    const ModelConfig& c = _config;
    const int64_t d = c.hidden_size, ff = c.intermediate_size;
    for (const char* name : {"q_proj", "k_proj", "v_proj"}) {
      add_linear_spec(specs, p + "self_attn." + name, d, d, c.attention_bias);
    }
    add_linear_spec(specs, p + "self_attn.out_proj", d, d, c.attention_out_bias);
    add_norm_spec(specs, p + "self_attn_layer_norm", d, /*bias=*/true);
    add_linear_spec(specs, p + "fc1", ff, d, c.mlp_bias);
    add_linear_spec(specs, p + "fc2", d, ff, c.mlp_bias);
    add_norm_spec(specs, p + "final_layer_norm", d, /*bias=*/true);
  }
};

}  // namespace

const CausalLMFactory create_opt = &create_family<OptModel>;

}  // namespace ptq::model
