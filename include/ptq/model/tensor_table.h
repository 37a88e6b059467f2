#pragma once
// One table per architecture family: the tensors a Hugging Face checkpoint of the family
// holds, one row each (after llama.cpp's LLM_TENSOR_NAMES/LLM_TENSOR_INFOS and GPTQModel's
// per-model module lists). A row gives the tensor's role, its module name, the shape and bias
// config.json implies and, for a decoder layer's linears, the true-sequential stage and which
// linears read the same input. Everything that names tensors derives from the rows: what a
// model loads, CausalLM::layer_linears(), the pipeline's linear groups and attention inputs,
// RUQuant's shared inputs, the llama2.c converter and the random checkpoints of the tests.
//
//   const FamilyTable& llama = find_architecture("LlamaForCausalLM").table();
//   for (const TensorSpec& s : layer_specs(llama, config, 3)) ...
//   // {"model.layers.3.input_layernorm.weight", {d}}, ..., {"...self_attn.q_proj.weight",
//   //  {heads * head_dim, d}}, ...
//
// Each family's rows sit next to its forward code (src/model/llama.cpp, ...).

#include <cstdint>
#include <string>
#include <vector>

#include "ptq/model/config.h"

namespace ptq::model {

enum class TensorRole {
  // outside the layers
  TokenEmbedding,     // embed_tokens, embed_in
  PositionEmbedding,  // OPT's learned positions
  ProjectIn,          // OPT: word_embed_proj_dim -> hidden_size
  ProjectOut,         // OPT: hidden_size -> word_embed_proj_dim
  OutputNorm,         // the final norm
  LmHead,             // lm_head, embed_out (absent when tied)
  // in every decoder layer
  AttnNorm,
  FfnNorm,
  PostAttnNorm,  // Gemma: on the attention's output, before the residual add
  PostFfnNorm,   // Gemma: on the MLP's output, before the residual add
  AttnQ,
  AttnK,
  AttnV,
  AttnQkv,  // q, k and v fused in one linear
  AttnOut,
  AttnQNorm,  // per-head RMSNorm of the queries before RoPE (Qwen3, Gemma 3 q_norm), [head_dim]
  AttnKNorm,  // and of the keys (k_norm)
  FfnGate,
  FfnUp,
  FfnGateUp,  // gate and up fused in one linear
  FfnDown,
};

// How a row's tensors are stored: `module`.weight of the row's shape, plus `module`.bias of
// [shape[0]] when the row has a bias. Linears are [out, in], norms [dim], embeddings [rows, dim].
enum class TensorKind { Embedding, Norm, Linear };

using ConfigDims = std::vector<int64_t> (*)(const ModelConfig&);
using ConfigFlag = bool (*)(const ModelConfig&);

struct TensorRow {
  TensorRole role;
  TensorKind kind;
  const char* module;  // HF module name; a layer row's is relative to the layer ("mlp.fc1")
  ConfigDims shape;    // the weight's shape
  ConfigFlag bias;     // null: no bias
  ConfigFlag present;  // null: always present (a tied LM head is not)
  // A layer linear's stage in GPTQ's true-sequential order (0 first), and its input: linears
  // with the same number multiply the same tensor. -1 for the other rows.
  int stage = -1;
  int input = -1;
};

struct FamilyTable {
  std::string layers_prefix;      // "model.layers." -> layer 3's modules are "model.layers.3.*"
  std::vector<TensorRow> global;  // outside the layers, in load order
  std::vector<TensorRow> layer;   // of each decoder layer; linears in execution order
  // Whether GPTQ quantizes the stages one after the other by default, as the reference scripts
  // do for the family (GPTQ's llama.py: yes; opt.py and the GPT-NeoX port: no).
  bool true_sequential = false;

  // The row of `role` (layer rows first); throws std::logic_error if the family has none.
  const TensorRow& row(TensorRole role) const;
  // "model.layers.3." for layer 3.
  std::string layer_prefix(int64_t index) const;
};

// A tensor a model needs, with the shape config.json implies.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// A linear of a decoder layer, from its table row.
struct LayerLinear {
  std::string name;  // full HF module name ("model.layers.3.self_attn.q_proj")
  TensorRole role;
  int stage;  // TensorRow::stage
  int input;  // TensorRow::input
};

// The tensors outside the layers, and those of layer `index`, in table order, present ones only.
std::vector<TensorSpec> global_specs(const FamilyTable& table, const ModelConfig& config);
std::vector<TensorSpec> layer_specs(const FamilyTable& table,
                                    const ModelConfig& config,
                                    int64_t index);
// Layer `index`'s linears in execution order.
std::vector<LayerLinear> layer_linears(const FamilyTable& table,
                                       const ModelConfig& config,
                                       int64_t index);
// Every tensor a checkpoint of `config`'s architecture holds: global_specs, then each layer's.
std::vector<TensorSpec> checkpoint_specs(const ModelConfig& config);

// Whether a linear of `role` computes queries, keys or values.
bool is_attention_input(TensorRole role);

}  // namespace ptq::model
