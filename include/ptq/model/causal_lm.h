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
// A model larger than RAM is streamed: with LoadOptions::lazy_layers only the non-layer
// weights are read at load time, and each decoder layer is read when asked for:
//
//   auto lm = ptq::model::load_causal_lm(dir, {/*lazy_layers=*/true});
//   at::Tensor hidden = lm->embed(ids, 0);
//   for (int64_t i = 0; i < lm->num_layers(); ++i) {
//     lm->load_layer(i);
//     hidden = lm->forward_layer(i, hidden, 0, nullptr, nullptr);
//     lm->unload_layer(i);
//   }
//
// Invariants:
// 1. weights are fp32 contiguous tensors owned by the model (bf16/f16 checkpoints are
//    converted on load); they are looked up by their Hugging Face names.
// 2. forward_layer(i, ...) depends only on layer i's weights, so a caller may replace a
//    layer's linear weights (quantized) between calls.
// 3. every tensor of every layer was checked against the checkpoint's headers (presence,
//    shape, floating dtype) at load time, lazy or not, so load_layer fails only on I/O.
// 4. the file pages a loaded tensor was copied from are released right after the copy, so
//    the model's resident memory is its fp32 weights, not also the mapped checkpoint
//    (plus, with LoadOptions::keep_stored_dtype, its layers at their stored width).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ptq/model/config.h"
#include "ptq/model/tensor_table.h"

namespace ptq::io {
class Checkpoint;
}

namespace ptq::model {

class WeightSource;

// Called with the HF module name of a linear ("model.layers.3.self_attn.q_proj") and its
// input, [B, T, in_features], as the weight sees it: after the linear's input transform,
// before activation quantization (LinearInput).
using LinearInputObserver = std::function<void(const std::string& linear, const at::Tensor& input)>;

// What a linear of a quantized model does to its input before the product: `transform` (e.g. a
// rotation whose inverse is folded into the weight), then `quantize` (activation
// fake-quantization). An empty function is the identity.
using TensorMap = std::function<at::Tensor(const at::Tensor&)>;
struct LinearInput {
  TensorMap transform;
  TensorMap quantize;
};

// What a quantized model does to a decoder layer's attention operands, each
// [B, heads, T, head_dim], before they are cached and multiplied: `query` and `key` map this
// step's queries and keys after RoPE (an orthogonal map shared by both keeps QK^T unchanged in
// full precision), `value` its values. An empty function is the identity.
struct AttentionInputs {
  TensorMap query;
  TensorMap key;
  TensorMap value;
};

struct LoadOptions {
  // Read decoder layers only in load_layer() instead of all at load time.
  bool lazy_layers = false;
  // For inference on a model that fits memory only at its checkpoint's width: every layer is
  // read at load time into a copy in its stored dtype (bf16/fp16 stay 2 bytes a weight), and
  // load_layer() upcasts from that copy instead of reading the file (layers start unloaded, as
  // with lazy_layers; see ptq/model/streamed_layer.h). Quantized linears are not copied: their
  // packed tensors are dequantized from the mapped file on each load_layer(). An fp32 stored
  // tensor is shared with its copy, so what a caller writes into it survives unload_layer().
  bool keep_stored_dtype = false;
  // The weights the checkpoint stores in another form than plain tensors (weight_source.h);
  // none: every weight must be a plain tensor. quant::load_model sets it for GPTQ directories.
  std::shared_ptr<const WeightSource> source;

  // Layers read only in load_layer(), the rest default: what streaming passes load.
  static LoadOptions lazy() {
    LoadOptions options;
    options.lazy_layers = true;
    return options;
  }
};

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
  // `observer` (may be null) sees every linear's input. Throws std::logic_error naming the
  // layer if it is not loaded.
  virtual at::Tensor forward_layer(int64_t index,
                                   const at::Tensor& hidden,
                                   int64_t position_offset,
                                   KVCache* cache,
                                   const LinearInputObserver* observer) const = 0;
  // Final norm (and projection) and the LM head: [B, T, D] -> [B, T, vocab] fp32.
  virtual at::Tensor logits(const at::Tensor& hidden) const = 0;

  // The linears of layer `index` in execution order, with their roles, true-sequential stages
  // and shared inputs (from the family's table, ptq/model/tensor_table.h).
  virtual std::vector<LayerLinear> layer_linears(int64_t index) const = 0;
  // Their full HF module names.
  std::vector<std::string> linear_names(int64_t index) const;

  // All layers in sequence; with a cache, ids continue at cache->length().
  at::Tensor forward(const at::Tensor& ids, KVCache* cache = nullptr) const;

  // Every weight by its HF tensor name ("model.layers.0.self_attn.q_proj.weight"); throws
  // InputError for a name the model does not hold. A tied LM head has no entry of its own.
  at::Tensor& weight(const std::string& name);
  const at::Tensor& weight(const std::string& name) const;
  bool has_weight(const std::string& name) const;

  // Reads layer `index`'s weights from the checkpoint (a no-op if loaded); the weights
  // quantization wrote into a layer are lost by unloading it. These throw InputError for an
  // index outside [0, num_layers).
  void load_layer(int64_t index);
  void unload_layer(int64_t index);
  bool layer_loaded(int64_t index) const;
  // Full HF names of layer `index`'s tensors, and of the rest, in a stable order.
  std::vector<std::string> layer_weight_names(int64_t index) const;
  std::vector<std::string> global_weight_names() const;

  // The input treatment of linear `module` (by HF module name); linears without one use their
  // input as is. Kept across unload_layer() (they are not weights).
  void set_input_transform(const std::string& module, TensorMap transform);
  void set_input_quantizer(const std::string& module, TensorMap quantize);
  // The attention operands' treatment of layer `index` (InputError outside [0, num_layers));
  // layers without one attend with their operands as is. Kept across unload_layer().
  void set_attention_quantizer(int64_t index, AttentionInputs quantize);

 protected:
  // A model without a checkpoint holds all its layers (it has no weights to read).
  explicit CausalLM(ModelConfig config)
      : _config(std::move(config)),
        _layer_specs(_config.num_layers),
        _layer_loaded(_config.num_layers, true) {}

  // Checks every spec (`layer_specs(i)` are layer i's) against the checkpoint's headers, then
  // copies the global tensors, and unless options.lazy_layers every layer's, into _weights as
  // fp32 contiguous. Throws InputError naming a missing tensor and the checkpoint, or a
  // mis-shaped one and its shard file. Tensors the checkpoint holds beyond the specs are
  // ignored.
  void load_weights(std::shared_ptr<const io::Checkpoint> checkpoint,
                    const LoadOptions& options,
                    const std::vector<TensorSpec>& global_specs,
                    const std::function<std::vector<TensorSpec>(int64_t)>& layer_specs);
  // Throws std::logic_error naming layer `index` unless it is loaded; forward_layer
  // implementations call it first.
  void check_layer_loaded(int64_t index) const;

  // `module`.weight (and `module`.bias if loaded) applied to `input`: the input goes through
  // the module's LinearInput transform, is shown to `observer`, then quantized.
  at::Tensor linear(const std::string& module,
                    const at::Tensor& input,
                    const LinearInputObserver* observer) const;
  // Layer `index`'s attention quantizer, or null when it has none.
  const AttentionInputs* attention_quantizer(int64_t index) const;

  ModelConfig _config;
  std::map<std::string, at::Tensor> _weights;

 private:
  static std::vector<std::string> spec_names(const std::vector<TensorSpec>& specs);
  bool from_source(const TensorSpec& spec) const;
  void check_tensor(const TensorSpec& spec) const;
  void read_tensor(const TensorSpec& spec);
  void keep_stored(const TensorSpec& spec);
  void check_layer_index(int64_t index) const;

  // Kept for load_layer(); its mappings cost address space, not memory (invariant 4).
  std::shared_ptr<const io::Checkpoint> _checkpoint;
  std::shared_ptr<const WeightSource> _source;  // LoadOptions::source
  std::vector<TensorSpec> _global_specs;
  std::vector<std::vector<TensorSpec>> _layer_specs;  // by layer
  std::vector<bool> _layer_loaded;
  std::map<std::string, at::Tensor> _stored;             // LoadOptions::keep_stored_dtype's copies
  std::map<std::string, LinearInput> _linear_inputs;     // by module
  std::map<int64_t, AttentionInputs> _attention_inputs;  // by layer
};

// Reads config.json and the safetensors weights of a Hugging Face model directory (only the
// non-layer weights with options.lazy_layers), the weights options.source serves through it.
// Throws InputError for an unsupported architecture (listing the supported ones) or a
// missing/mis-shaped tensor of any layer (naming it and the file expected to hold it), or when
// config.json's num_hidden_layers is not the number of layers the checkpoint holds tensors of
// (checked before anything is sized by it). Knows nothing of quantization: a quantized
// directory is read with quant::load_model (ptq/format/quantized_checkpoint.h), which supplies
// the source and the linears' input treatment.
std::unique_ptr<CausalLM> load_causal_lm(const std::string& dir, const LoadOptions& options = {});
// The same for the checkpoint of an opened directory (its config.json is checkpoint->dir()'s).
std::unique_ptr<CausalLM> load_causal_lm(std::shared_ptr<const io::Checkpoint> checkpoint,
                                         const LoadOptions& options = {});

// Architectures accepted in config.json "architectures", sorted.
std::vector<std::string> supported_architectures();

}  // namespace ptq::model
