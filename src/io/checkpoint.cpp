#include "ptq/io/checkpoint.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "io/read_file.h"
#include "io/torch_checkpoint.h"
#include "ptq/common/error.h"

namespace ptq::io {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSafetensorsFile = "model.safetensors";
constexpr const char* kSafetensorsIndex = "model.safetensors.index.json";
constexpr const char* kTorchFile = "pytorch_model.bin";
constexpr const char* kTorchIndex = "pytorch_model.bin.index.json";
constexpr const char* kQuantizeConfig = "quantize_config.json";

// Shard names come from a possibly untrusted file: only plain names inside `dir` are allowed.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// {tensor name: shard path} from the index, every shard checked to exist.
std::map<std::string, std::string> read_weight_map(const fs::path& dir,
                                                   const std::string& index_file) {
  const fs::path index_path = dir / index_file;
  const std::string where = index_path.string();
  const nlohmann::json index = read_json_file(index_path.string());
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    PTQ_THROW_INPUT(where, ": expected an object with a \"weight_map\" object");
  }
  std::map<std::string, std::string> weight_map;
  std::set<std::string> checked_shards;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string() || !is_plain_file_name(shard.get<std::string>())) {
      PTQ_THROW_INPUT(where, ": tensor '", name, "' maps to ", shard.dump(),
                      ", not a file name in ", dir.string());
    }
    const fs::path shard_path = dir / shard.get<std::string>();
    if (checked_shards.insert(shard_path.string()).second && !fs::is_regular_file(shard_path)) {
      PTQ_THROW_INPUT(where, ": shard ", shard_path.string(), " (holding tensor '", name,
                      "') does not exist");
    }
    weight_map[name] = shard_path.string();
  }
  return weight_map;
}

// AutoGPTQ names its weights "<model_file_base_name>.safetensors" (or .bin without
// safetensors), e.g. gptq_model-4bit-128g.safetensors; empty if quantize_config.json names
// none or that file does not exist.
std::string gptq_weights_file(const fs::path& dir) {
  const fs::path config_path = dir / kQuantizeConfig;
  if (!fs::exists(config_path)) return "";
  const nlohmann::json config = read_json_file(config_path.string());
  if (!config.is_object() || !config.contains("model_file_base_name") ||
      config["model_file_base_name"].is_null()) {
    return "";
  }
  const nlohmann::json& base = config["model_file_base_name"];
  if (!base.is_string() || !is_plain_file_name(base.get<std::string>())) {
    PTQ_THROW_INPUT(config_path.string(), ": model_file_base_name ", base.dump(),
                    " is not a file name in ", dir.string());
  }
  for (const char* extension : {".safetensors", ".bin"}) {
    const fs::path file = dir / (base.get<std::string>() + extension);
    if (fs::is_regular_file(file)) return file.string();
  }
  return "";
}

std::unique_ptr<TensorFile> open_tensor_file(const std::string& path) {
  if (fs::path(path).extension() == ".bin") return std::make_unique<TorchCheckpointReader>(path);
  return std::make_unique<SafetensorsReader>(path);
}

}  // namespace

Checkpoint::Checkpoint(const std::string& dir) : _dir(dir) {
  if (!fs::is_directory(dir)) PTQ_THROW_INPUT("checkpoint directory ", dir, " does not exist");
  const fs::path path(dir);
  std::string single;
  if (fs::exists(path / kSafetensorsFile)) {
    single = (path / kSafetensorsFile).string();
  } else if (fs::exists(path / kSafetensorsIndex)) {
    _index_file = kSafetensorsIndex;
  } else if (const std::string gptq = gptq_weights_file(path); !gptq.empty()) {
    single = gptq;
  } else if (fs::exists(path / kTorchFile)) {
    single = (path / kTorchFile).string();
  } else if (fs::exists(path / kTorchIndex)) {
    _index_file = kTorchIndex;
  } else {
    PTQ_THROW_INPUT("checkpoint directory ", dir, " has none of ", kSafetensorsFile, ", ",
                    kSafetensorsIndex, ", the model_file_base_name of ", kQuantizeConfig, ", ",
                    kTorchFile, ", ", kTorchIndex);
  }
  if (!_index_file.empty()) {
    _weight_map = read_weight_map(path, _index_file);
    return;
  }
  auto reader = open_tensor_file(single);
  for (const auto& name : reader->names()) _weight_map[name] = single;
  _readers[single] = std::move(reader);
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> names;
  for (const auto& [name, file] : _weight_map) names.push_back(name);
  return names;
}

bool Checkpoint::contains(const std::string& name) const { return _weight_map.count(name) > 0; }

const std::string& Checkpoint::file_of(const std::string& name) const {
  const auto it = _weight_map.find(name);
  if (it == _weight_map.end()) {
    PTQ_THROW_INPUT("tensor '", name, "' not found in checkpoint ", _dir);
  }
  return it->second;
}

at::Tensor Checkpoint::tensor(const std::string& name) const {
  return reader_of(name).tensor(name);
}

const TensorEntry& Checkpoint::entry(const std::string& name) const {
  return reader_of(name).entry(name);
}

void Checkpoint::release(const std::string& name) const { reader_of(name).release(name); }

const TensorFile& Checkpoint::reader_of(const std::string& name) const {
  const std::string& file = file_of(name);
  const TensorFile& reader = reader_for(file);
  if (!reader.contains(name)) {
    PTQ_THROW_INPUT("tensor '", name, "' is mapped to ", file, " by ", _index_file,
                    " but that shard does not hold it");
  }
  return reader;
}

const TensorFile& Checkpoint::reader_for(const std::string& file) const {
  std::lock_guard<std::mutex> lock(_readers_mutex);
  auto& reader = _readers[file];
  if (!reader) reader = open_tensor_file(file);
  return *reader;
}

}  // namespace ptq::io
