#include "model/family_helpers.h"

#include <ATen/ATen.h>

namespace ptq::model {

DecoderFamily::DecoderFamily(ModelConfig config, const FamilyTable& table)
    : CausalLM(std::move(config)),
      _activation(parse_activation(_config.hidden_act)),
      _table(table) {}

at::Tensor DecoderFamily::forward_layer(int64_t index,
                                        const at::Tensor& hidden,
                                        int64_t position_offset,
                                        KVCache* cache,
                                        const LinearInputObserver* observer) const {
  check_layer_loaded(index);
  return decoder_layer({index, _table.layer_prefix(index), position_offset, cache, observer},
                       hidden);
}

at::Tensor DecoderFamily::embed(const at::Tensor& ids, int64_t /*position_offset*/) const {
  return embed_tokens(global_weight(TensorRole::TokenEmbedding), ids);
}

std::vector<LayerLinear> DecoderFamily::layer_linears(int64_t index) const {
  return model::layer_linears(_table, _config, index);
}

void DecoderFamily::load(std::shared_ptr<const io::Checkpoint> checkpoint,
                         const LoadOptions& options) {
  load_weights(std::move(checkpoint), options, global_specs(_table, _config),
               [this](int64_t i) { return layer_specs(_table, _config, i); });
}

at::Tensor DecoderFamily::attend(const LayerCall& call,
                                 at::Tensor q,
                                 at::Tensor k,
                                 at::Tensor v,
                                 std::optional<int64_t> window,
                                 const AttentionScores& scoring) const {
  if (const AttentionInputs* quantize = attention_quantizer(call.index)) {
    if (quantize->query) q = quantize->query(q);
    if (quantize->key) k = quantize->key(k);
    if (quantize->value) v = quantize->value(v);
  }
  auto [keys, values] =
      extend_cache(call.cache, call.index, num_layers(), std::move(k), std::move(v), call.offset);
  return causal_attention(q, keys, values, call.offset, window, scoring);
}

std::string DecoderFamily::module(TensorRole role) const { return _table.row(role).module; }

std::string DecoderFamily::module(const LayerCall& call, TensorRole role) const {
  return call.prefix + _table.row(role).module;
}

const at::Tensor& DecoderFamily::global_weight(TensorRole role) const {
  return weight(module(role) + ".weight");
}

const at::Tensor& DecoderFamily::layer_weight(const LayerCall& call, TensorRole role) const {
  return weight(module(call, role) + ".weight");
}

at::Tensor DecoderFamily::linear(const LayerCall& call,
                                 TensorRole role,
                                 const at::Tensor& input) const {
  return linear(module(call, role), input, call.observer);
}

at::Tensor DecoderFamily::norm(const std::string& module, const at::Tensor& x) const {
  return layer_norm(x, weight(module + ".weight"), weight(module + ".bias"), _config.norm_eps);
}

const at::Tensor& DecoderFamily::head_weight() const {
  const TensorRole head =
      _config.tie_word_embeddings ? TensorRole::TokenEmbedding : TensorRole::LmHead;
  return global_weight(head);
}

at::Tensor DecoderFamily::rms_norm_logits(const at::Tensor& hidden) const {
  const at::Tensor& norm = global_weight(TensorRole::OutputNorm);
  return at::linear(rms_norm(hidden, norm, _config.norm_eps), head_weight());
}

}  // namespace ptq::model
