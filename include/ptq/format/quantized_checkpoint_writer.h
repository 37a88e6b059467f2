#pragma once
// Writes a quantized Hugging Face directory in GPTQ format, v1 ("gptq") or v2 ("gptq_v2") as
// format.checkpoint_format says (layout: docs/format.md; which loaders read it: traits() and
// loader_support.h):
//
//   QuantizedCheckpointWriter writer("models/llama", "out/llama-4bit", format, 2ull << 30);
//   for (...) writer.add_quantized_linear("model.layers.0.mlp.up_proj", quantized, bias);
//   writer.finish();  // copies the remaining tensors, configs and tokenizer files
//
// Invariants:
// 1. nothing appears at `out_dir` before finish() succeeds: the directory is built in a
//    sibling "<out_dir>.tmp-<pid>" and renamed into place; the destructor of an unfinished
//    writer (an error, a crash unwinding) removes it.
// 2. memory is bounded by one shard: tensors are buffered until the current shard would
//    exceed max_shard_bytes, then that shard is written and freed (a tensor larger than the
//    limit gets a shard of its own, as Hugging Face's sharding does).
// 3. each source tensor appears once: in its source dtype unless replaced, i.e. a quantized
//    module's .weight (and its .bias when one was given), or a name passed to add_tensor(),
//    or omitted (omit_source_tensor()).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "ptq/format/loader_support.h"
#include "ptq/format/quantized_checkpoint.h"
#include "ptq/io/checkpoint.h"
#include "ptq/io/safetensors.h"
#include "ptq/quant/uniform_quantizer.h"

namespace ptq::io {
class StagedDirectory;
}  // namespace ptq::io

namespace ptq::quant {

class QuantizedCheckpointWriter {
 public:
  // Throws InputError if `out_dir` exists and is not an empty directory, if its parent is not
  // a directory, if the temporary directory cannot be created, or if `source_dir` is not a
  // model directory (config.json and safetensors weights).
  QuantizedCheckpointWriter(const std::string& source_dir,
                            const std::string& out_dir,
                            QuantizationFormat format,
                            uint64_t max_shard_bytes);
  ~QuantizedCheckpointWriter();  // removes the temporary directory unless finish() succeeded
  QuantizedCheckpointWriter(const QuantizedCheckpointWriter&) = delete;
  QuantizedCheckpointWriter& operator=(const QuantizedCheckpointWriter&) = delete;

  // Stores `module`.qweight, .qzeros, .scales (fp16), .g_idx (pack_gptq at the module's bits,
  // module_setting) and .bias as fp16 when `bias` is defined. The source holds the module either as
  // `module`.weight or, for a quantized source, as GPTQ tensors (whose scales and g_idx give
  // its shape; they are replaced by these, and its bias, if not given, is copied as stored).
  // Throws InputError if the source has neither of the codes' shape, for a module added twice,
  // or for grids whose count is not the module's group size's.
  void add_quantized_linear(const std::string& module,
                            const QuantizedWeight& weight,
                            const at::Tensor& bias);
  // Sets the format's per-linear settings (QuantizationFormat::dynamic) and the method's fields
  // that depend on them (QuantizationFormat::method_fields, e.g. SEPTQ's per-linear keep
  // fractions), once they are chosen (--target-bits). Throws InputError once a quantized linear
  // was added.
  void set_per_linear_settings(std::vector<DynamicRule> rules, nlohmann::json method_fields);
  // An extra tensor of a quantized linear (a method's side store), stored as given; replaces a
  // source tensor of the same name.
  void add_tensor(const std::string& name, const at::Tensor& tensor);
  // The source tensor `name` is not copied into the output (a side store folded into the
  // codes). Throws InputError if the source has no such tensor or it was already added.
  void omit_source_tensor(const std::string& name);
  // Copies the source tensors not replaced or omitted, names the shards (model.safetensors, or
  // model-0000i-of-0000N.safetensors + model.safetensors.index.json), writes config.json and
  // quantize_config.json, copies the tokenizer files, and renames the directory into place.
  void finish();

  // What decides which loaders read the output, from the linears added so far.
  CheckpointTraits traits() const { return {_format, _unaligned_linears, _side_tensors}; }
  // Grids (group, output row) of the linears added so far, and how many of them the v1 zero
  // refit changed (QuantizedWeight::refit_groups).
  int64_t grids() const { return _grids; }
  int64_t refit_groups() const { return _refit_groups; }

 private:
  // Throws InputError unless the source holds `module` with the codes' shape [N, K].
  void check_source_shape(const std::string& module, const QuantizedWeight& weight) const;
  void add_to_shard(const std::string& name, const at::Tensor& tensor);
  void flush_shard();
  void copy_source_tensors();
  void name_shards() const;
  void write_configs() const;
  void copy_tokenizer_files() const;

  std::filesystem::path _source_dir;
  std::unique_ptr<io::StagedDirectory> _staged;  // the output, built in "<out_dir>.tmp-<pid>"
  QuantizationFormat _format;
  uint64_t _max_shard_bytes;
  io::Checkpoint _source;
  nlohmann::json _source_config;  // read up front, so a bad one fails before quantization
  io::SafetensorsWriter _shard;   // the shard being filled
  int _shard_tensors = 0;
  uint64_t _shard_bytes = 0;
  int _shards_written = 0;
  std::map<std::string, int> _shard_of;  // tensor name -> shard number (1-based)
  std::set<std::string> _replaced;       // names stored or not to copy from the source
  uint64_t _total_bytes = 0;
  std::vector<std::string> _unaligned_linears;
  bool _side_tensors = false;
  int64_t _grids = 0;
  int64_t _refit_groups = 0;
};

}  // namespace ptq::quant
