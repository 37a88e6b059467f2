#pragma once
// Conversion of a llama2.c checkpoint (the "legacy v0" export of karpathy/llama2.c's
// export.py) into a Hugging Face LlamaForCausalLM directory: config.json + model.safetensors.
//
//   ptq::model::convert_llama2c("stories260K.bin", "models/stories260K-hf");
//
// The .bin file is 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size, max_seq_len) followed by fp32 tensors in a fixed order; a negative vocab_size
// means the classifier is not shared with the embedding and is stored last. The rows of wq
// and wk are permuted per head from llama2.c's interleaved RoPE pairs to HF's rotate-half
// layout; the stored RoPE tables are dropped (HF recomputes them). docs/test-data.md describes
// the stories260K checkpoint this was written for.
//
// The whole model is held in memory once while writing (SafetensorsWriter copies).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ptq::model {

// What a .bin holds, from its header: the config.json convert_llama2c writes, and the fp32
// tensors in file order ("tok_embeddings" [vocab, dim], "wq" [n_layers, dim, dim], ...,
// "freq_cis_real"/"freq_cis_imag" (the RoPE tables), "wcls" if not shared).
struct Llama2cLayout {
  nlohmann::json hf_config;
  std::vector<std::pair<std::string, std::vector<int64_t>>> tensors;
};

// Reads and validates the header against the file size, as convert_llama2c does (same
// InputErrors), without reading the tensors.
Llama2cLayout read_llama2c_layout(const std::string& bin_path);

// Writes `out_dir` atomically: it is built in a sibling "<out_dir>.tmp-<pid>" directory and
// renamed into place, so a failure leaves nothing behind. Throws InputError naming the file
// if the .bin is malformed (bad dims, size not exactly what the header implies), or if
// `out_dir` exists and is not an empty directory.
void convert_llama2c(const std::string& bin_path, const std::string& out_dir);

}  // namespace ptq::model
