#pragma once
// The part every model family (llama.cpp, opt.cpp, gpt_neox.cpp) shares: loading the tensors
// of the family's table (ptq/model/tensor_table.h), the per-layer call (loaded check, module
// prefix, cache, observer), modules looked up by role, LayerNorm and the (possibly tied) LM head.
//
//   class LlamaModel final : public DecoderFamily {
//     LlamaModel(ModelConfig config, std::shared_ptr<const io::Checkpoint> ckpt,
//                const LoadOptions& options)
//         : DecoderFamily(std::move(config), llama_table()) { load(std::move(ckpt), options); }
//     at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const override;
//     ...
//   };

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/layers.h"
#include "ptq/model/causal_lm.h"
#include "ptq/model/tensor_table.h"

namespace ptq::model {

class DecoderFamily : public CausalLM {
 public:
  // Checks that layer `index` is loaded, then runs decoder_layer().
  at::Tensor forward_layer(int64_t index,
                           const at::Tensor& hidden,
                           int64_t position_offset,
                           KVCache* cache,
                           const LinearInputObserver* observer) const final;
  std::vector<LayerLinear> layer_linears(int64_t index) const final;
  // The token embedding's rows; families with learned positions add them.
  at::Tensor embed(const at::Tensor& ids, int64_t position_offset) const override;

 protected:
  // One forward_layer() call: the layer, its module prefix ("model.layers.3."), the position
  // of its first token, the cache (may be null) and the observer (may be null).
  struct LayerCall {
    int64_t index;
    std::string prefix;
    int64_t offset;
    KVCache* cache;
    const LinearInputObserver* observer;
  };

  // `table` must outlive the model (the families' tables are static).
  DecoderFamily(ModelConfig config, const FamilyTable& table);

  // Loads the table's tensors (load_weights()); the constructor of the final class calls it.
  void load(std::shared_ptr<const io::Checkpoint> checkpoint, const LoadOptions& options);

  // Layer `call.index` on `hidden`; it is loaded.
  virtual at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const = 0;

  // causal_attention of this step's queries `q` and keys `k` (both after any RoPE) and values
  // `v` [B, heads, T, head_dim] over the cached positions, scored as `scoring` says. q, k and v
  // go through the layer's attention quantizer first, so the cache holds the keys and values
  // attention multiplies.
  at::Tensor attend(const LayerCall& call,
                    at::Tensor q,
                    at::Tensor k,
                    at::Tensor v,
                    std::optional<int64_t> window,
                    const AttentionScores& scoring = {}) const;

  // The module of `role` outside the layers ("model.norm"), or in the call's layer
  // ("model.layers.3.self_attn.q_proj").
  std::string module(TensorRole role) const;
  std::string module(const LayerCall& call, TensorRole role) const;
  // The weight of the module of `role` outside the layers, or in the call's layer.
  const at::Tensor& global_weight(TensorRole role) const;
  const at::Tensor& layer_weight(const LayerCall& call, TensorRole role) const;

  using CausalLM::linear;
  // The linear of `role` in the call's layer on `input`, shown to the call's observer.
  at::Tensor linear(const LayerCall& call, TensorRole role, const at::Tensor& input) const;
  // LayerNorm `module` (.weight and .bias) with config.norm_eps.
  at::Tensor norm(const std::string& module, const at::Tensor& x) const;
  // The LM head's weight: the token embedding's when config.tie_word_embeddings.
  const at::Tensor& head_weight() const;
  // The LM head on the final RMSNorm of `hidden` (the LLaMA-like families' logits).
  at::Tensor rms_norm_logits(const at::Tensor& hidden) const;

  Activation _activation;  // config.hidden_act

 private:
  const FamilyTable& _table;
};

// Shape and bias rules the families' table rows share.
namespace rows {
using Dims = std::vector<int64_t>;
inline Dims hidden(const ModelConfig& c) { return {c.hidden_size}; }
inline Dims vocab_by_hidden(const ModelConfig& c) { return {c.vocab_size, c.hidden_size}; }
inline Dims hidden_by_hidden(const ModelConfig& c) { return {c.hidden_size, c.hidden_size}; }
inline Dims ffn_by_hidden(const ModelConfig& c) { return {c.intermediate_size, c.hidden_size}; }
inline Dims hidden_by_ffn(const ModelConfig& c) { return {c.hidden_size, c.intermediate_size}; }
inline bool always(const ModelConfig&) { return true; }
inline bool attention_bias(const ModelConfig& c) { return c.attention_bias; }
inline bool attention_out_bias(const ModelConfig& c) { return c.attention_out_bias; }
inline bool mlp_bias(const ModelConfig& c) { return c.mlp_bias; }
inline bool untied(const ModelConfig& c) { return !c.tie_word_embeddings; }

inline TensorRow embedding(TensorRole role, const char* module, ConfigDims shape) {
  return {role, TensorKind::Embedding, module, shape, nullptr, nullptr};
}
inline TensorRow norm(TensorRole role,
                      const char* module,
                      ConfigDims shape,
                      ConfigFlag bias,
                      ConfigFlag present = nullptr) {
  return {role, TensorKind::Norm, module, shape, bias, present};
}
// A linear outside the layers (not quantized), without bias, present when `present` says so.
inline TensorRow global_linear(TensorRole role,
                               const char* module,
                               ConfigDims shape,
                               ConfigFlag present) {
  return {role, TensorKind::Linear, module, shape, nullptr, present};
}
// A decoder layer's linear with its true-sequential stage and input (TensorRow).
inline TensorRow linear(
    TensorRole role, const char* module, ConfigDims shape, ConfigFlag bias, int stage, int input) {
  return {role, TensorKind::Linear, module, shape, bias, nullptr, stage, input};
}
}  // namespace rows

// The CausalLMFactory of a family's final class.
template <typename Model>
std::unique_ptr<CausalLM> create_family(ModelConfig config,
                                        std::shared_ptr<const io::Checkpoint> checkpoint,
                                        const LoadOptions& options) {
  return std::make_unique<Model>(std::move(config), std::move(checkpoint), options);
}

}  // namespace ptq::model
