#include "model/family_helpers.h"

namespace ptq::model {

DecoderFamily::DecoderFamily(ModelConfig config, std::string layers_prefix)
    : CausalLM(std::move(config)),
      _activation(parse_activation(_config.hidden_act)),
      _layers_prefix(std::move(layers_prefix)) {}

at::Tensor DecoderFamily::forward_layer(int64_t index,
                                        const at::Tensor& hidden,
                                        int64_t position_offset,
                                        KVCache* cache,
                                        const LinearInputObserver* observer) const {
  check_layer_loaded(index);
  return decoder_layer({index, prefix(index), position_offset, cache, observer}, hidden);
}

void DecoderFamily::load(std::shared_ptr<const io::Checkpoint> checkpoint,
                         const LoadOptions& options) {
  std::vector<TensorSpec> global_specs;
  add_global_specs(global_specs);
  load_weights(std::move(checkpoint), options, global_specs, [this](int64_t i) {
    std::vector<TensorSpec> specs;
    add_layer_specs(specs, prefix(i));
    return specs;
  });
}

at::Tensor DecoderFamily::attend(const LayerCall& call,
                                 at::Tensor q,
                                 at::Tensor k,
                                 at::Tensor v,
                                 std::optional<int64_t> window) const {
  if (const AttentionInputs* quantize = attention_quantizer(call.index)) {
    if (quantize->query) q = quantize->query(q);
    if (quantize->key) k = quantize->key(k);
    if (quantize->value) v = quantize->value(v);
  }
  auto [keys, values] =
      extend_cache(call.cache, call.index, num_layers(), std::move(k), std::move(v), call.offset);
  return causal_attention(q, keys, values, call.offset, window);
}

std::string DecoderFamily::prefix(int64_t index) const {
  return _layers_prefix + std::to_string(index) + ".";
}

at::Tensor DecoderFamily::norm(const std::string& module, const at::Tensor& x) const {
  return layer_norm(x, weight(module + ".weight"), weight(module + ".bias"), _config.norm_eps);
}

const at::Tensor& DecoderFamily::head_weight(const std::string& embedding,
                                             const std::string& head) const {
  return weight(_config.tie_word_embeddings ? embedding : head);
}

}  // namespace ptq::model
