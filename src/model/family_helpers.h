#pragma once
// The part every model family (llama.cpp, opt.cpp, gpt_neox.cpp) shares: loading the tensors
// a family declares, the per-layer call (loaded check, module prefix, cache, observer),
// LayerNorm modules and the (possibly tied) LM head.
//
//   class LlamaModel final : public DecoderFamily {
//     LlamaModel(ModelConfig config, std::shared_ptr<const io::Checkpoint> ckpt,
//                const LoadOptions& options)
//         : DecoderFamily(std::move(config), "model.layers.") { load(std::move(ckpt), options); }
//     at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const override;
//     void add_global_specs(std::vector<TensorSpec>& specs) const override;
//     void add_layer_specs(std::vector<TensorSpec>& specs, const std::string& p) const override;
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

namespace ptq::model {

class DecoderFamily : public CausalLM {
 public:
  // Checks that layer `index` is loaded, then runs decoder_layer().
  at::Tensor forward_layer(int64_t index,
                           const at::Tensor& hidden,
                           int64_t position_offset,
                           KVCache* cache,
                           const LinearInputObserver* observer) const final;

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

  // `layers_prefix` names the layers' modules: "model.layers." -> "model.layers.3.".
  DecoderFamily(ModelConfig config, std::string layers_prefix);

  // Loads the tensors of add_global_specs() and add_layer_specs() (load_weights()); the
  // constructor of the final class calls it once the specs can be computed.
  void load(std::shared_ptr<const io::Checkpoint> checkpoint, const LoadOptions& options);
  // Append the tensors outside the layers, and those of the layer whose modules start with
  // `prefix` ("model.layers.3."), in a stable order.
  virtual void add_global_specs(std::vector<TensorSpec>& specs) const = 0;
  virtual void add_layer_specs(std::vector<TensorSpec>& specs, const std::string& prefix) const = 0;

  // Layer `call.index` on `hidden`; it is loaded.
  virtual at::Tensor decoder_layer(const LayerCall& call, const at::Tensor& hidden) const = 0;

  // causal_attention of this step's queries `q` and keys `k` (both after any RoPE) and values
  // `v` [B, heads, T, head_dim] over the cached positions. q, k and v go through the layer's
  // attention quantizer first, so the cache holds the keys and values attention multiplies.
  at::Tensor attend(const LayerCall& call,
                    at::Tensor q,
                    at::Tensor k,
                    at::Tensor v,
                    std::optional<int64_t> window) const;

  // "model.layers.3." for layer 3.
  std::string prefix(int64_t index) const;
  // LayerNorm `module` (.weight and .bias) with config.norm_eps.
  at::Tensor norm(const std::string& module, const at::Tensor& x) const;
  // The LM head's weight: `embedding` when config.tie_word_embeddings, else `head`.
  const at::Tensor& head_weight(const std::string& embedding, const std::string& head) const;

  Activation _activation;  // config.hidden_act

 private:
  std::string _layers_prefix;
};

// The CausalLMFactory of a family's final class.
template <typename Model>
std::unique_ptr<CausalLM> create_family(ModelConfig config,
                                        std::shared_ptr<const io::Checkpoint> checkpoint,
                                        const LoadOptions& options) {
  return std::make_unique<Model>(std::move(config), std::move(checkpoint), options);
}

}  // namespace ptq::model
