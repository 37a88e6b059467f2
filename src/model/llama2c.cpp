#include "ptq/model/llama2c.h"

#include <ATen/ops/from_blob.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "io/mapped_file.h"
#include "io/staged_directory.h"
#include "ptq/common/error.h"
#include "ptq/io/safetensors.h"
#include "ptq/model/architecture.h"
#include "ptq/model/tensor_table.h"

namespace ptq::model {
namespace {

using io::MappedFile;
using io::SafetensorsWriter;
using io::StagedDirectory;

namespace fs = std::filesystem;

constexpr int kHeaderInts = 7;
constexpr uint64_t kHeaderBytes = kHeaderInts * sizeof(int32_t);

struct Llama2cConfig {
  int64_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq_len;
  bool shared_classifier;

  int64_t head_size() const { return dim / n_heads; }
  int64_t kv_dim() const { return n_kv_heads * head_size(); }
};

struct FileTensor {
  const char* name;
  std::vector<int64_t> shape;
};

// The tensors of the file in storage order (llama2.c's export.py legacy_export).
std::vector<FileTensor> file_layout(const Llama2cConfig& c) {
  const int64_t layers = c.n_layers;
  std::vector<FileTensor> layout = {
      {"tok_embeddings", {c.vocab_size, c.dim}},
      {"rms_att", {layers, c.dim}},
      {"wq", {layers, c.dim, c.dim}},
      {"wk", {layers, c.kv_dim(), c.dim}},
      {"wv", {layers, c.kv_dim(), c.dim}},
      {"wo", {layers, c.dim, c.dim}},
      {"rms_ffn", {layers, c.dim}},
      {"w1", {layers, c.hidden_dim, c.dim}},
      {"w2", {layers, c.dim, c.hidden_dim}},
      {"w3", {layers, c.hidden_dim, c.dim}},
      {"rms_final", {c.dim}},
      {"freq_cis_real", {c.max_seq_len, c.head_size() / 2}},
      {"freq_cis_imag", {c.max_seq_len, c.head_size() / 2}},
  };
  if (!c.shared_classifier) layout.push_back({"wcls", {c.vocab_size, c.dim}});
  return layout;
}

// The file size the header implies; dims come from the file, so products may overflow.
uint64_t implied_file_size(const Llama2cConfig& config, const std::string& path) {
  uint64_t total = kHeaderBytes;
  for (const FileTensor& tensor : file_layout(config)) {
    uint64_t bytes = sizeof(float);
    bool overflow = false;
    for (const int64_t dim : tensor.shape) {
      overflow |= __builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes);
    }
    overflow |= __builtin_add_overflow(total, bytes, &total);
    if (overflow) PTQ_THROW_INPUT(path, ": header dims imply a file of more than 2^64 bytes");
  }
  return total;
}

void validate_dims(const Llama2cConfig& c, const std::string& path) {
  const bool positive = c.dim > 0 && c.hidden_dim > 0 && c.n_layers > 0 && c.n_heads > 0 &&
                        c.n_kv_heads > 0 && c.vocab_size > 0 && c.max_seq_len > 0;
  PTQ_CHECK_INPUT(positive, path, ": header has a non-positive dimension (dim ", c.dim,
                  ", hidden_dim ", c.hidden_dim, ", n_layers ", c.n_layers, ", n_heads ", c.n_heads,
                  ", n_kv_heads ", c.n_kv_heads, ", vocab_size ", c.vocab_size, ", max_seq_len ",
                  c.max_seq_len, ")");
  PTQ_CHECK_INPUT(c.dim % c.n_heads == 0, path, ": dim ", c.dim, " is not divisible by n_heads ",
                  c.n_heads);
  PTQ_CHECK_INPUT(c.n_heads % c.n_kv_heads == 0, path, ": n_kv_heads ", c.n_kv_heads,
                  " does not divide n_heads ", c.n_heads);
  // RoPE rotates pairs of features, so each head needs an even size.
  PTQ_CHECK_INPUT(c.head_size() % 2 == 0, path, ": head size ", c.head_size(),
                  " (dim / n_heads) is odd");
}

// llama2.c writes native-endian int32; its exports, like every platform ptq targets, are
// little-endian, which is also what from_blob assumes for the fp32 data below.
Llama2cConfig read_config(const MappedFile& file, const std::string& path) {
  if (file.size() < kHeaderBytes) {
    PTQ_THROW_INPUT(path, ": truncated: ", file.size(), " bytes, shorter than the ", kHeaderBytes,
                    "-byte header");
  }
  int32_t header[kHeaderInts];
  std::memcpy(header, file.data(), kHeaderBytes);
  Llama2cConfig config{header[0], header[1],    header[2],
                       header[3], header[4],    std::abs(static_cast<int64_t>(header[5])),
                       header[6], header[5] > 0};
  validate_dims(config, path);
  const uint64_t implied = implied_file_size(config, path);
  if (file.size() < implied) {
    PTQ_THROW_INPUT(path, ": truncated: header implies ", implied, " bytes, file has ",
                    file.size());
  }
  if (file.size() > implied) {
    PTQ_THROW_INPUT(path, ": header implies ", implied, " bytes, file has ", file.size(),
                    " (trailing data: not a legacy v0 llama2.c export?)");
  }
  return config;
}

// Non-owning views of the file's tensors by layout name; valid while `file` lives.
std::map<std::string, at::Tensor> map_tensors(const MappedFile& file, const Llama2cConfig& config) {
  std::map<std::string, at::Tensor> tensors;
  // from_blob wants a mutable pointer; the views are only read (the writer copies them).
  auto* cursor = reinterpret_cast<float*>(const_cast<uint8_t*>(file.data() + kHeaderBytes));
  for (const FileTensor& entry : file_layout(config)) {
    at::Tensor view = at::from_blob(cursor, entry.shape, at::kFloat);
    cursor += view.numel();
    tensors[entry.name] = view;
  }
  return tensors;
}

// llama2.c applies RoPE to interleaved pairs (2i, 2i+1) of each head, HF to halves
// (i, i + head_size/2): reorder each head's rows so that HF's rotation pairs the same
// features (the permute() of transformers' convert_llama_weights_to_hf.py).
at::Tensor to_rotate_half(const at::Tensor& weight, int64_t heads) {
  const int64_t rows = weight.size(0);
  const int64_t cols = weight.size(1);
  return weight.reshape({heads, rows / heads / 2, 2, cols}).transpose(1, 2).reshape({rows, cols});
}

// Each Hugging Face tensor by its role in the LLaMA table (ptq/model/tensor_table.h) and the
// llama2.c tensor it is, in the order the converter writes them; layer rows take row [layer].
struct RoleSource {
  model::TensorRole role;
  const char* file_tensor;
};

constexpr RoleSource kLayerSources[] = {
    {model::TensorRole::AttnNorm, "rms_att"}, {model::TensorRole::AttnQ, "wq"},
    {model::TensorRole::AttnK, "wk"},         {model::TensorRole::AttnV, "wv"},
    {model::TensorRole::AttnOut, "wo"},       {model::TensorRole::FfnNorm, "rms_ffn"},
    {model::TensorRole::FfnGate, "w1"},       {model::TensorRole::FfnDown, "w2"},
    {model::TensorRole::FfnUp, "w3"},
};

std::string weight_name(const model::FamilyTable& llama, model::TensorRole role) {
  return std::string(llama.row(role).module) + ".weight";
}

void add_layer(SafetensorsWriter& writer,
               const model::FamilyTable& llama,
               const std::map<std::string, at::Tensor>& file,
               const Llama2cConfig& config,
               int64_t layer) {
  const std::string prefix = llama.layer_prefix(layer);
  for (const RoleSource& source : kLayerSources) {
    at::Tensor tensor = file.at(source.file_tensor)[layer];
    if (source.role == model::TensorRole::AttnQ) tensor = to_rotate_half(tensor, config.n_heads);
    if (source.role == model::TensorRole::AttnK) {
      tensor = to_rotate_half(tensor, config.n_kv_heads);
    }
    writer.add(prefix + weight_name(llama, source.role), tensor);
  }
}

void write_weights(const MappedFile& file, const Llama2cConfig& config, const fs::path& path) {
  const model::FamilyTable& llama = model::find_architecture("LlamaForCausalLM").table();
  const std::map<std::string, at::Tensor> tensors = map_tensors(file, config);
  SafetensorsWriter writer;
  writer.set_metadata("format", "pt");  // as transformers' save_pretrained writes it
  writer.add(weight_name(llama, model::TensorRole::TokenEmbedding), tensors.at("tok_embeddings"));
  for (int64_t layer = 0; layer < config.n_layers; ++layer) {
    add_layer(writer, llama, tensors, config, layer);
  }
  writer.add(weight_name(llama, model::TensorRole::OutputNorm), tensors.at("rms_final"));
  if (!config.shared_classifier) {
    writer.add(weight_name(llama, model::TensorRole::LmHead), tensors.at("wcls"));
  }
  writer.write(path.string());
}

// Keys and order of transformers' LlamaConfig as in stories260K-hf/config.json; the values
// llama2.c does not store (eps, theta, token ids) are the ones its model.py hard-codes.
nlohmann::ordered_json hf_config(const Llama2cConfig& c) {
  return {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_size", c.dim},
      {"intermediate_size", c.hidden_dim},
      {"num_hidden_layers", c.n_layers},
      {"num_attention_heads", c.n_heads},
      {"num_key_value_heads", c.n_kv_heads},
      {"head_dim", c.head_size()},
      {"vocab_size", c.vocab_size},
      {"max_position_embeddings", c.max_seq_len},
      {"rms_norm_eps", 1e-5},
      {"rope_theta", 10000.0},
      {"rope_scaling", nullptr},
      {"hidden_act", "silu"},
      {"attention_bias", false},
      {"mlp_bias", false},
      {"tie_word_embeddings", c.shared_classifier},
      {"bos_token_id", 1},
      {"eos_token_id", 2},
      {"initializer_range", 0.02},
      {"pretraining_tp", 1},
      {"use_cache", true},
      {"torch_dtype", "float32"},
  };
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) PTQ_THROW_INPUT(path.string(), ": cannot write");
}

}  // namespace

Llama2cLayout read_llama2c_layout(const std::string& bin_path) {
  const MappedFile file(bin_path);
  const Llama2cConfig config = read_config(file, bin_path);
  // ordered_json keeps the key order for the file; callers want a plain json.
  Llama2cLayout layout{nlohmann::json::parse(hf_config(config).dump()), {}};
  for (const FileTensor& tensor : file_layout(config)) {
    layout.tensors.emplace_back(tensor.name, tensor.shape);
  }
  return layout;
}

void convert_llama2c(const std::string& bin_path, const std::string& out_dir) {
  const MappedFile file(bin_path);
  const Llama2cConfig config = read_config(file, bin_path);
  StagedDirectory staged(out_dir);
  write_weights(file, config, staged.path() / "model.safetensors");
  write_text(staged.path() / "config.json", hf_config(config).dump(2) + "\n");
  staged.commit();
}

}  // namespace ptq::model
