#include "ptq/format/checkpoint_summary.h"

#include <filesystem>
#include <set>
#include <tuple>

#include "ptq/common/error.h"
#include "ptq/format/outlier_store.h"
#include "ptq/io/checkpoint.h"
#include "ptq/io/safetensors.h"
#include "ptq/model/llama2c.h"

namespace ptq::quant {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The GPTQ v1 tensors of a quantized linear; any other "<module>.<suffix>" but the bias is
// the method's side store (docs/format.md).
const std::set<std::string> kGptqSuffixes = {"qweight", "qzeros", "scales", "g_idx"};
constexpr const char kQweightSuffix[] = ".qweight";

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() > suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "<module>.<suffix>" with a suffix without dots: the module, else "".
std::string module_of(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? "" : name.substr(0, dot);
}

TensorSummary summary_of(const io::TensorEntry& entry) {
  return {entry.name, entry.dtype, entry.shape};
}

void add_file(CheckpointSummary& summary, const std::string& file) {
  summary.files.push_back(file);
  summary.file_bytes += fs::file_size(file);
}

void read_safetensors_file(CheckpointSummary& summary, const std::string& file) {
  const io::SafetensorsReader reader(file);
  for (const std::string& name : reader.names()) {
    summary.tensors.push_back(summary_of(reader.entry(name)));
  }
  add_file(summary, file);
}

void read_directory(CheckpointSummary& summary, const std::string& dir) {
  summary.config = model::load_model_config(dir);
  const io::Checkpoint checkpoint(dir);
  std::set<std::string> files;
  for (const std::string& name : checkpoint.names()) {
    summary.tensors.push_back(summary_of(checkpoint.entry(name)));
    files.insert(checkpoint.file_of(name));
  }
  for (const std::string& file : files) add_file(summary, file);
}

void read_llama2c(CheckpointSummary& summary, const std::string& file) {
  const model::Llama2cLayout layout = model::read_llama2c_layout(file);
  summary.config = model::parse_model_config(layout.hf_config, file);
  for (const auto& [name, shape] : layout.tensors) {
    summary.tensors.push_back({name, io::DType::F32, shape});
  }
  add_file(summary, file);
}

const TensorSummary& find_tensor(const std::map<std::string, const TensorSummary*>& by_name,
                                 const std::string& name,
                                 const std::string& where) {
  const auto it = by_name.find(name);
  PTQ_CHECK_INPUT(it != by_name.end(), where, ": quantized linear has no tensor '", name, "'");
  return *it->second;
}

// The storage of quantized linear `module` from its tensors' shapes, checked against its bits
// and group size (the config's, or its "dynamic" override's).
StorageBits linear_storage(const std::map<std::string, const TensorSummary*>& by_name,
                           const std::string& module,
                           const QuantizationFormat& format,
                           const std::string& where,
                           QuantizationSummary& summary) {
  const std::optional<LinearSetting> setting = module_setting(format, module);
  PTQ_CHECK_INPUT(setting, where, ": '", module,
                  "' has a .qweight, but a \"-:\" rule of \"dynamic\" leaves it unquantized");
  const int bits = setting->bits;
  const int group_size = setting->group_size;
  const TensorSummary& qweight = find_tensor(by_name, module + ".qweight", where);
  const TensorSummary& scales = find_tensor(by_name, module + ".scales", where);
  const TensorSummary& g_idx = find_tensor(by_name, module + ".g_idx", where);
  find_tensor(by_name, module + ".qzeros", where);
  PTQ_CHECK_INPUT(scales.shape.size() == 2 && g_idx.shape.size() == 1, where, ": '", module,
                  "' has scales ", scales.shape.size(), "-D and g_idx ", g_idx.shape.size(),
                  "-D; GPTQ stores [G, N] and [K]");
  const int64_t rows = scales.shape[1];
  const int64_t columns = g_idx.shape[0];
  const std::vector<int64_t> packed = {(columns + 31) / 32 * bits, rows};
  PTQ_CHECK_INPUT(qweight.shape == packed, where, ": '", module, ".qweight' has shape [",
                  qweight.shape.size() == 2
                      ? std::to_string(qweight.shape[0]) + ", " + std::to_string(qweight.shape[1])
                      : "not 2-D",
                  "]; ", columns, " inputs and ", rows, " outputs at the config's ", bits,
                  " bits pack into [", packed[0], ", ", packed[1], "]");
  // GPTQ stores one grid row per group (act-order permutes g_idx, not the count).
  const int64_t groups = group_size > 0 ? (columns + group_size - 1) / group_size : 1;
  PTQ_CHECK_INPUT(scales.shape[0] == groups, where, ": '", module, ".scales' holds ",
                  scales.shape[0], " groups for ", columns, " inputs, but the config's group size ",
                  group_size, " implies ", groups);
  if (!loader_width(rows, columns)) summary.unaligned_linears.push_back(module);
  StoredLinearSizes sizes;
  sizes.weights = rows * columns;
  sizes.scales = scales.numel();
  sizes.g_idx = g_idx.numel();
  for (const auto& [name, tensor] : by_name) {
    if (module_of(name) != module) continue;
    const std::string suffix = name.substr(module.size() + 1);
    if (kGptqSuffixes.count(suffix) || suffix == "bias") continue;
    sizes.extra_bytes += static_cast<int64_t>(tensor->bytes());
    summary.side_tensors = true;
    if (suffix == kOutlierIndexSuffix) summary.kept_weights += tensor->numel();
  }
  return storage_bits(sizes, bits);
}

// The quantized linears' storage; the weights they stand for replace their tensors in the
// parameter count.
void read_quantization(CheckpointSummary& summary,
                       const std::optional<QuantizationFormat>& format) {
  std::map<std::string, const TensorSummary*> by_name;
  std::set<std::string> modules;
  for (const TensorSummary& tensor : summary.tensors) {
    by_name[tensor.name] = &tensor;
    if (ends_with(tensor.name, kQweightSuffix)) modules.insert(module_of(tensor.name));
  }
  const std::string where = summary.path;
  if (!format) {
    PTQ_CHECK_INPUT(modules.empty(), where, ": tensor '", *modules.begin(),
                    ".qweight' is a quantized linear, but there is no quantization config "
                    "(config.json \"quantization_config\" or quantize_config.json)");
    return;
  }
  PTQ_CHECK_INPUT(!modules.empty(), where,
                  ": has a quantization config but no quantized linear (no '*.qweight' tensor)");
  QuantizationSummary q;
  q.format = *format;
  q.linears = static_cast<int64_t>(modules.size());
  for (const std::string& module : modules) {
    q.storage += linear_storage(by_name, module, *format, where, q);
  }
  for (const TensorSummary& tensor : summary.tensors) {
    const std::string module = module_of(tensor.name);
    const bool storage = modules.count(module) && tensor.name != module + ".bias";
    if (storage) summary.parameters -= tensor.numel();
  }
  summary.parameters += q.storage.weights;
  summary.quantization = q;
}

bool is_rope_table(const std::string& name) { return name.rfind("freq_cis_", 0) == 0; }

// The first all-digit component of a dotted name, as (position, value), or (npos, -1).
std::pair<size_t, int64_t> layer_index(const std::string& name) {
  size_t begin = 0;
  while (begin <= name.size()) {
    size_t end = name.find('.', begin);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(begin, end - begin);
    const bool digits = !part.empty() && part.size() < 10 &&
                        part.find_first_not_of("0123456789") == std::string::npos;
    if (digits) return {begin, std::stoll(part)};
    begin = end + 1;
  }
  return {std::string::npos, -1};
}

}  // namespace

int64_t TensorSummary::numel() const {
  int64_t n = 1;
  for (const int64_t d : shape) n *= d;
  return n;
}

double QuantizationSummary::kept_percent() const {
  return storage.weights > 0
             ? 100.0 * static_cast<double>(kept_weights) / static_cast<double>(storage.weights)
             : 0.0;
}

std::map<std::string, uint64_t> CheckpointSummary::bytes_by_dtype() const {
  std::map<std::string, uint64_t> bytes;
  for (const TensorSummary& tensor : tensors) bytes[io::dtype_name(tensor.dtype)] += tensor.bytes();
  return bytes;
}

CheckpointSummary summarize_checkpoint(const std::string& path) {
  CheckpointSummary summary;
  summary.path = path;
  if (fs::is_directory(path)) {
    summary.format = "huggingface";
    read_directory(summary, path);
  } else if (fs::is_regular_file(path) && ends_with(path, ".safetensors")) {
    summary.format = "safetensors";
    read_safetensors_file(summary, path);
  } else if (fs::is_regular_file(path) && ends_with(path, ".bin")) {
    summary.format = "llama2c";
    read_llama2c(summary, path);
  } else {
    PTQ_CHECK_INPUT(fs::exists(path), path, " does not exist");
    PTQ_THROW_INPUT(path,
                    " is neither a model directory, a .safetensors file nor a llama2.c "
                    ".bin checkpoint");
  }
  for (const TensorSummary& tensor : summary.tensors) {
    if (!is_rope_table(tensor.name) || summary.format != "llama2c") {
      summary.parameters += tensor.numel();
    }
  }
  if (summary.format == "huggingface") read_quantization(summary, find_quantization_format(path));
  return summary;
}

std::vector<TensorKind> tensor_kinds(const std::vector<TensorSummary>& tensors) {
  using Key = std::tuple<std::string, io::DType, std::vector<int64_t>>;
  std::map<Key, size_t> index_of;  // into kinds
  std::vector<TensorKind> kinds;
  std::vector<int64_t> lowest;  // layer index of each kind's first
  for (const TensorSummary& tensor : tensors) {
    const auto [position, layer] = layer_index(tensor.name);
    if (position == std::string::npos) {
      kinds.push_back({tensor, 0});
      lowest.push_back(-1);
      continue;
    }
    const size_t end = tensor.name.find('.', position);
    const std::string pattern = tensor.name.substr(0, position) + "*" +
                                (end == std::string::npos ? "" : tensor.name.substr(end));
    const Key key{pattern, tensor.dtype, tensor.shape};
    const auto found = index_of.find(key);
    if (found == index_of.end()) {
      index_of[key] = kinds.size();
      kinds.push_back({tensor, 1});
      lowest.push_back(layer);
      continue;
    }
    TensorKind& kind = kinds[found->second];
    ++kind.layers;
    if (layer < lowest[found->second]) {
      kind.first = tensor;
      lowest[found->second] = layer;
    }
  }
  return kinds;
}

json checkpoint_summary_json(const CheckpointSummary& summary) {
  json tensors = json::array();
  for (const TensorSummary& tensor : summary.tensors) {
    tensors.push_back(
        {{"name", tensor.name}, {"dtype", io::dtype_name(tensor.dtype)}, {"shape", tensor.shape}});
  }
  json result = {{"path", summary.path},
                 {"format", summary.format},
                 {"parameters", summary.parameters},
                 {"files", summary.files},
                 {"file_bytes", summary.file_bytes},
                 {"fp16_bytes", summary.fp16_bytes()},
                 {"dtype_bytes", summary.bytes_by_dtype()},
                 {"tensors", tensors}};
  if (summary.config) {
    const model::ModelConfig& c = *summary.config;
    result["architecture"] = {{"architecture", c.architecture},
                              {"model_type", c.model_type},
                              {"layers", c.num_layers},
                              {"hidden_size", c.hidden_size},
                              {"intermediate_size", c.intermediate_size},
                              {"heads", c.num_heads},
                              {"kv_heads", c.num_kv_heads},
                              {"head_dim", c.head_dim},
                              {"vocab_size", c.vocab_size},
                              {"max_position_embeddings", c.max_position_embeddings},
                              {"tie_word_embeddings", c.tie_word_embeddings},
                              {"torch_dtype", c.torch_dtype}};
  }
  if (summary.quantization) {
    const QuantizationSummary& q = *summary.quantization;
    result["quantization"] = {
        {"method", q.format.method},
        {"bits", q.format.bits},
        {"group_size", q.format.group_size},
        {"dynamic", dynamic_json(q.format.dynamic)},
        {"act_bits", q.format.activations.bits},
        {"sym", q.format.sym},
        {"desc_act", q.format.desc_act},
        {"method_fields", q.format.method_fields},
        {"linears", q.linears},
        {"quantized_weights", q.storage.weights},
        {"kept_weights", q.kept_weights},
        {"kept_percent", q.kept_percent()},
        {"bits_per_weight", q.storage.per_weight()},
        {"storage_bits",
         {{"codes", q.storage.codes},
          {"grids", q.storage.grids},
          {"g_idx", q.storage.g_idx},
          {"extra", q.storage.extra}}},
        {"checkpoint_format", checkpoint_format_name(q.format.checkpoint_format)},
        {"unaligned_linears", q.unaligned_linears},
        {"loaders", loader_support_json(loader_support(q.traits()))}};
  }
  return result;
}

json evaluated_checkpoint_json(const std::string& path) {
  json summary = checkpoint_summary_json(summarize_checkpoint(path));
  summary.erase("tensors");
  return summary;
}

}  // namespace ptq::quant
