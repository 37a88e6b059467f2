#pragma once
// A decoder-only transformer language model on LibTorch (CPU, fp32 compute), laid out so a
// calibration pipeline can run it one decoder layer at a time:
//
//   embed(ids) -> layer 0 -> ... -> layer L-1 -> logits(hidden)
//
// with an observer that sees the input of every linear layer, and a KV cache for decoding.
//
//   auto lm = ptq::model::load_causal_lm("models/opt-125m");
//   at::Tensor logits = lm->forward(ids);  // ids [B, T] int64 -> [B, T, vocab] fp32
//
// Invariants:
// 1. weights are fp32 contiguous tensors owned by the model (bf16/f16 checkpoints are
//    converted on load); they are looked up by their Hugging Face names.
// 2. forward_layer(i, ...) depends only on layer i's weights, so a caller may replace a
//    layer's linear weights (quantized) between calls.

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ptq/model/config.h"

namespace ptq::io {
class Checkpoint;
}

namespace ptq::model {

// Called with the HF module name of a linear ("model.layers.3.self_attn.q_proj") and its
// input, [B, T, in_features], just before the product.
using LinearInputObserver = std::function<void(const std::string& linear, const at::Tensor& input)>;

// Keys and values of every layer for the positions seen so far.
struct KVCache {
  std::vector<at::Tensor> keys;    // per layer [B, kv_heads, T, head_dim]
  std::vector<at::Tensor> values;  // per layer [B, kv_heads, T, head_dim]
  int64_t length() const;          // positions cached (0 when empty)
};

class CausalLM {
 public:
  virtual ~CausalLM() = default;

  const ModelConfig& config() const { return _config; }
  int64_t num_layers() const { return _config.num_layers; }

  // Token ids [B, T] (int64) at positions offset..offset+T-1 -> hidden states [B, T, D].
  virtual at::Tensor embed(const at::Tensor& ids, int64_t position_offset) const = 0;
  // One decoder layer; `cache` (may be null) is read and extended for layer `index`;
  // `observer` (may be null) sees every linear's input.
  virtual at::Tensor forward_layer(int64_t index,
                                   const at::Tensor& hidden,
                                   int64_t position_offset,
                                   KVCache* cache,
                                   const LinearInputObserver* observer) const = 0;
  // Final norm (and projection) and the LM head: [B, T, D] -> [B, T, vocab] fp32.
  virtual at::Tensor logits(const at::Tensor& hidden) const = 0;

  // The linears of layer `index` in execution order, by full HF module name.
  virtual std::vector<std::string> linear_names(int64_t index) const = 0;

  // All layers in sequence; with a cache, ids continue at cache->length().
  at::Tensor forward(const at::Tensor& ids, KVCache* cache = nullptr) const;

  // Every weight by its HF tensor name ("model.layers.0.self_attn.q_proj.weight"); throws
  // InputError for a name the model does not hold. A tied LM head has no entry of its own.
  at::Tensor& weight(const std::string& name);
  const at::Tensor& weight(const std::string& name) const;
  bool has_weight(const std::string& name) const;

 protected:
  // A tensor the model needs, with the shape config.json implies.
  struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
  };

  // `module`.weight [out, in] (and `module`.bias [out]).
  static void add_linear_spec(std::vector<TensorSpec>& specs,
                              const std::string& module,
                              int64_t out_features,
                              int64_t in_features,
                              bool bias);
  // `module`.weight [dim] (and `module`.bias [dim] for LayerNorm).
  static void add_norm_spec(std::vector<TensorSpec>& specs,
                            const std::string& module,
                            int64_t dim,
                            bool bias);

  explicit CausalLM(ModelConfig config) : _config(std::move(config)) {}

  // Copies every tensor of `specs` from the checkpoint into _weights as fp32 contiguous.
  // Throws InputError naming a missing tensor and the checkpoint, or a mis-shaped one and
  // its shard file. Tensors the checkpoint holds beyond `specs` are ignored.
  void load_weights(const io::Checkpoint& checkpoint, const std::vector<TensorSpec>& specs);

  // `module`.weight (and `module`.bias if loaded) applied to `input`, after showing the
  // input to `observer`.
  at::Tensor linear(const std::string& module,
                    const at::Tensor& input,
                    const LinearInputObserver* observer) const;

  ModelConfig _config;
  std::map<std::string, at::Tensor> _weights;
};

// Reads config.json and the safetensors weights of a Hugging Face model directory.
// Throws InputError for an unsupported architecture (listing the supported ones) or a
// missing/mis-shaped tensor (naming it and the file expected to hold it).
std::unique_ptr<CausalLM> load_causal_lm(const std::string& dir);

// Architectures accepted in config.json "architectures", sorted.
std::vector<std::string> supported_architectures();

}  // namespace ptq::model
