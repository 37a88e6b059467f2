#pragma once
// What a checkpoint holds, read from its headers only (no tensor data is touched), for
// `ptq inspect`: architecture, tensors (dtype, shape), parameter count, size on disk, and for
// a GPTQ directory (docs/format.md) its quantization settings, SEPTQ's kept weights, the
// effective bits per weight, counted as `ptq quantize` counts them (storage_bits.h), and which
// loaders read it (loader_support.h).
//
//   CheckpointSummary s = summarize_checkpoint("models/stories260K-hf");
//   s.parameters;  // 260032
//
// Inputs: a Hugging Face model directory (config.json + model.safetensors or shards), a
// single .safetensors file (tensors only), or a llama2.c .bin (as `ptq convert` reads it).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ptq/format/loader_support.h"
#include "ptq/format/quantized_checkpoint.h"
#include "ptq/format/storage_bits.h"
#include "ptq/io/dtype.h"
#include "ptq/model/config.h"

namespace ptq::quant {

struct TensorSummary {
  std::string name;
  io::DType dtype = io::DType::F32;
  std::vector<int64_t> shape;

  int64_t numel() const;
  uint64_t bytes() const { return static_cast<uint64_t>(numel()) * io::dtype_size(dtype); }
};

// Tensors that differ only in their layer index (the first all-digit component of the name,
// "model.layers.3.mlp.up_proj.weight"), with the same dtype and shape.
struct TensorKind {
  TensorSummary first;  // the one of the lowest layer index
  int64_t layers = 0;   // how many layers hold it; 0 for a tensor outside the layers
};

struct QuantizationSummary {
  QuantizationFormat format;
  int64_t linears = 0;
  int64_t kept_weights = 0;  // SEPTQ's full-precision side store (outlier_idx entries)
  StorageBits storage;       // of all quantized linears
  std::vector<std::string> unaligned_linears;  // widths not multiples of 32 (loader_support.h)
  bool side_tensors = false;  // tensors beside the GPTQ ones and the bias in some linear

  double kept_percent() const;
  CheckpointTraits traits() const { return {format, unaligned_linears, side_tensors}; }
};

struct CheckpointSummary {
  std::string path;
  std::string format;  // "huggingface", "safetensors" or "llama2c"
  std::optional<model::ModelConfig> config;
  std::vector<TensorSummary> tensors;  // sorted by name; llama2c: in file order
  std::vector<std::string> files;      // the files holding the tensors
  uint64_t file_bytes = 0;             // their size on disk
  // Of the model before quantization: a quantized linear counts its N * K weights (its bias
  // counts as a tensor of its own), its packed, grid and side-store tensors nothing; llama2.c's
  // RoPE tables (freq_cis_*, dropped by `ptq convert`) nothing.
  int64_t parameters = 0;
  std::optional<QuantizationSummary> quantization;

  // The same parameters in fp16, from the shapes.
  uint64_t fp16_bytes() const { return 2 * static_cast<uint64_t>(parameters); }
  // Bytes of tensor data per dtype name ("F32", "I32", ...).
  std::map<std::string, uint64_t> bytes_by_dtype() const;
};

// Throws InputError naming the file for a path that is none of the inputs above, a malformed
// header or config, or a quantization config that disagrees with the tensors (a quantized
// linear whose packed tensors are missing or do not fit the config's bits).
CheckpointSummary summarize_checkpoint(const std::string& path);

// Tensors grouped by kind, in the order of their first appearance in `tensors`.
std::vector<TensorKind> tensor_kinds(const std::vector<TensorSummary>& tensors);

// Everything above, every tensor listed.
nlohmann::json checkpoint_summary_json(const CheckpointSummary& summary);

// What an eval report records of the model it evaluated (quantization settings, effective bits,
// parameters and bytes by dtype), so that ptq report can give the report a row of its own
// (ptq/report/run_reports.h): checkpoint_summary_json of `path` without the per-tensor list,
// which would only bloat the report.
nlohmann::json evaluated_checkpoint_json(const std::string& path);

}  // namespace ptq::quant
