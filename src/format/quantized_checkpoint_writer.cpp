#include "ptq/format/quantized_checkpoint_writer.h"

#include <ATen/ATen.h>

#include <cstdio>

#include "io/read_file.h"
#include "io/staged_directory.h"
#include "ptq/common/error.h"
#include "ptq/common/report.h"
#include "ptq/format/gptq_packing.h"

namespace ptq::quant {
namespace {

namespace fs = std::filesystem;

// What Hugging Face's save_pretrained copies beside the weights and loaders look for.
constexpr const char* kTokenizerFiles[] = {
    "tokenizer.json",          "tokenizer.model",   "tokenizer_config.json",
    "special_tokens_map.json", "vocab.json",        "merges.txt",
    "generation_config.json",  "added_tokens.json", "qwen.tiktoken",
};

// Shards are numbered while written and named once their count is known.
fs::path pending_shard(const fs::path& dir, int number) {
  return dir / ("shard-" + std::to_string(number) + ".safetensors");
}

// Hugging Face's sharded names: model-00001-of-00003.safetensors.
std::string shard_name(int number, int count) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", number, count);
  return name;
}

void rename_file(const fs::path& from, const fs::path& to) {
  std::error_code error;
  fs::rename(from, to, error);
  PTQ_CHECK_INPUT(!error, "cannot rename ", from.string(), " to ", to.string(), ": ",
                  error.message());
}

}  // namespace

QuantizedCheckpointWriter::QuantizedCheckpointWriter(const std::string& source_dir,
                                                     const std::string& out_dir,
                                                     QuantizationFormat format,
                                                     uint64_t max_shard_bytes)
    : _source_dir(source_dir),
      _format(std::move(format)),
      _max_shard_bytes(max_shard_bytes),
      _source(source_dir),
      _source_config(io::read_json_file((_source_dir / "config.json").string())) {
  PTQ_CHECK_INPUT(_source_config.is_object(), (_source_dir / "config.json").string(),
                  ": expected a JSON object");
  PTQ_CHECK_INPUT(max_shard_bytes > 0, "the shard size limit must be positive");
  // What readers would reject (bits, group size, method_fields) is rejected before the
  // hours of quantization that precede finish().
  parse_quantization_config(quantization_config_json(_format), "the quantization format");
  _staged = std::make_unique<io::StagedDirectory>(out_dir);
}

// Out of line: StagedDirectory is incomplete in the header. Its destructor removes the
// temporary directory unless finish() succeeded.
QuantizedCheckpointWriter::~QuantizedCheckpointWriter() = default;

void QuantizedCheckpointWriter::check_source_shape(const std::string& module,
                                                   const QuantizedWeight& weight) const {
  const std::string weight_name = module + ".weight";
  const std::string scales_name = module + ".scales";
  // A quantized source (re-exported) stores [N, K] as scales [G, N] and g_idx [K].
  const bool quantized = !_source.contains(weight_name) && _source.contains(module + ".qweight") &&
                         _source.contains(scales_name) && _source.contains(module + ".g_idx");
  PTQ_CHECK_INPUT(_source.contains(weight_name) || quantized, "cannot store quantized linear '",
                  module, "': ", _source.dir(), " has no tensor '", weight_name, "'");
  // Views of the mapped files: the shapes read no data.
  const std::vector<int64_t> shape =
      quantized ? std::vector<int64_t>{_source.tensor(scales_name).size(-1),
                                       _source.tensor(module + ".g_idx").numel()}
                : _source.tensor(weight_name).sizes().vec();
  const std::string& held = quantized ? scales_name : weight_name;
  PTQ_CHECK_INPUT(weight.codes.sizes() == at::IntArrayRef(shape), "quantized linear '", module,
                  "' has codes ", weight.codes.sizes(), " but ", held, " in ",
                  _source.file_of(held), " holds ", at::IntArrayRef(shape));
}

void QuantizedCheckpointWriter::add_quantized_linear(const std::string& module,
                                                     const QuantizedWeight& weight,
                                                     const at::Tensor& bias) {
  check_source_shape(module, weight);
  const std::optional<LinearSetting> setting = module_setting(_format, module);
  PTQ_CHECK_INPUT(setting, "cannot store quantized linear '", module,
                  "': the format's \"dynamic\" leaves it unquantized");
  const int64_t groups = group_count(weight.codes.size(1), setting->group_size);
  PTQ_CHECK_INPUT(weight.scales.size(0) == groups, "quantized linear '", module, "' has ",
                  weight.scales.size(0), " groups; its group size ", setting->group_size,
                  " in the format implies ", groups);
  const GptqPackedWeight packed = pack_gptq(weight, setting->bits, _format.checkpoint_format);
  // The original weight is not stored (docs/format.md); the bias is, in fp16. A quantized
  // source's packed tensors are replaced by the ones stored here (same names).
  _replaced.insert(module + ".weight");
  add_to_shard(module + ".qweight", packed.qweight);
  add_to_shard(module + ".qzeros", packed.qzeros);
  add_to_shard(module + ".scales", packed.scales);
  add_to_shard(module + ".g_idx", packed.g_idx);
  if (bias.defined()) add_to_shard(module + ".bias", bias.to(at::kHalf));
  if (!loader_width(weight.codes.size(0), weight.codes.size(1))) {
    _unaligned_linears.push_back(module);
  }
  _grids += weight.scales.numel();
  _refit_groups += weight.refit_groups;
}

void QuantizedCheckpointWriter::set_per_linear_settings(std::vector<DynamicRule> rules,
                                                        nlohmann::json method_fields) {
  PTQ_CHECK_INPUT(_grids == 0, "the per-linear settings of ", _staged->target().string(),
                  " cannot change once quantized linears are stored");
  _format.dynamic = std::move(rules);
  _format.method_fields = std::move(method_fields);
  parse_quantization_config(quantization_config_json(_format), "the quantization format");
}

void QuantizedCheckpointWriter::add_tensor(const std::string& name, const at::Tensor& tensor) {
  add_to_shard(name, tensor);
  _side_tensors = true;
}

void QuantizedCheckpointWriter::omit_source_tensor(const std::string& name) {
  PTQ_CHECK_INPUT(_source.contains(name), "cannot leave out '", name, "': ", _source.dir(),
                  " has no such tensor");
  PTQ_CHECK_INPUT(_shard_of.count(name) == 0, "cannot leave out '", name,
                  "': it was already added to ", _staged->target().string());
  _replaced.insert(name);
}

void QuantizedCheckpointWriter::finish() {
  PTQ_CHECK_INPUT(!_staged->committed(), _staged->target().string(), " was already written");
  copy_source_tensors();
  if (_shard_tensors > 0 || _shards_written == 0) flush_shard();
  name_shards();
  write_configs();
  copy_tokenizer_files();
  _staged->commit();
}

void QuantizedCheckpointWriter::add_to_shard(const std::string& name, const at::Tensor& tensor) {
  PTQ_CHECK_INPUT(!_staged->committed(), "cannot add '", name, "': ", _staged->target().string(),
                  " was already written");
  PTQ_CHECK_INPUT(_shard_of.count(name) == 0, "tensor '", name, "' added twice to ",
                  _staged->target().string());
  const uint64_t bytes = tensor.nbytes();
  // As Hugging Face shards: a new shard when this tensor would overflow a non-empty one.
  if (_shard_tensors > 0 && _shard_bytes + bytes > _max_shard_bytes) flush_shard();
  _shard.add(name, tensor);
  _shard_of[name] = _shards_written + 1;
  _replaced.insert(name);
  ++_shard_tensors;
  _shard_bytes += bytes;
  _total_bytes += bytes;
}

void QuantizedCheckpointWriter::flush_shard() {
  // save_pretrained's metadata; transformers refuses safetensors files without "format".
  _shard.set_metadata("format", "pt");
  _shard.write(pending_shard(_staged->path(), ++_shards_written).string());
  _shard = io::SafetensorsWriter();
  _shard_tensors = 0;
  _shard_bytes = 0;
}

void QuantizedCheckpointWriter::copy_source_tensors() {
  for (const std::string& name : _source.names()) {
    // add_to_shard copies the mapped bytes, so memory stays bounded by one shard.
    if (_replaced.count(name) == 0) add_to_shard(name, _source.tensor(name));
  }
}

void QuantizedCheckpointWriter::name_shards() const {
  if (_shards_written == 1) {
    rename_file(pending_shard(_staged->path(), 1), _staged->path() / "model.safetensors");
    return;
  }
  for (int number = 1; number <= _shards_written; ++number) {
    rename_file(pending_shard(_staged->path(), number),
                _staged->path() / shard_name(number, _shards_written));
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (const auto& [name, number] : _shard_of) {
    weight_map[name] = shard_name(number, _shards_written);
  }
  write_json_file((_staged->path() / "model.safetensors.index.json").string(),
                  {{"metadata", {{"total_size", _total_bytes}}}, {"weight_map", weight_map}});
}

void QuantizedCheckpointWriter::write_configs() const {
  const nlohmann::json quantization = quantization_config_json(_format);
  nlohmann::json config = _source_config;
  config["quantization_config"] = quantization;
  config["torch_dtype"] = "float16";  // exllama/fp16 kernels gate on it (docs/format.md)
  write_json_file((_staged->path() / "config.json").string(), config);
  // For older loaders that read only quantize_config.json (docs/format.md).
  write_json_file((_staged->path() / "quantize_config.json").string(), quantization);
}

void QuantizedCheckpointWriter::copy_tokenizer_files() const {
  for (const char* name : kTokenizerFiles) {
    const fs::path from = _source_dir / name;
    if (!fs::exists(from)) continue;
    std::error_code error;
    const fs::path to = _staged->path() / name;
    fs::copy_file(from, to, error);
    PTQ_CHECK_INPUT(!error, "cannot copy ", from.string(), " to ", to.string(), ": ",
                    error.message());
  }
}

}  // namespace ptq::quant
