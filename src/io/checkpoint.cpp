#include "ptq/io/checkpoint.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "io/read_file.h"
#include "ptq/common/error.h"

namespace ptq::io {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// Shard names come from a possibly untrusted file: only plain names inside `dir` are allowed.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

// {tensor name: shard path} from the index, every shard checked to exist.
std::map<std::string, std::string> read_weight_map(const fs::path& dir) {
  const fs::path index_path = dir / kIndexFile;
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

}  // namespace

Checkpoint::Checkpoint(const std::string& dir) : _dir(dir) {
  if (!fs::is_directory(dir)) PTQ_THROW_INPUT("checkpoint directory ", dir, " does not exist");
  const fs::path single = fs::path(dir) / kSingleFile;
  if (fs::exists(single)) {
    auto reader = std::make_unique<SafetensorsReader>(single.string());
    for (const auto& name : reader->names()) _weight_map[name] = single.string();
    _readers[single.string()] = std::move(reader);
  } else if (fs::exists(fs::path(dir) / kIndexFile)) {
    _weight_map = read_weight_map(dir);
  } else {
    PTQ_THROW_INPUT("checkpoint directory ", dir, " has neither ", kSingleFile, " nor ",
                    kIndexFile);
  }
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

const SafetensorsReader& Checkpoint::reader_of(const std::string& name) const {
  const std::string& file = file_of(name);
  const SafetensorsReader& reader = reader_for(file);
  if (!reader.contains(name)) {
    PTQ_THROW_INPUT("tensor '", name, "' is mapped to ", file, " by ", kIndexFile,
                    " but that shard does not hold it");
  }
  return reader;
}

const SafetensorsReader& Checkpoint::reader_for(const std::string& file) const {
  std::lock_guard<std::mutex> lock(_readers_mutex);
  auto& reader = _readers[file];
  if (!reader) reader = std::make_unique<SafetensorsReader>(file);
  return *reader;
}

}  // namespace ptq::io
