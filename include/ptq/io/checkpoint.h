#pragma once
// A Hugging Face model directory's weights: either one `model.safetensors` or shards listed
// in `model.safetensors.index.json` ({"weight_map": {tensor name: shard file}}). Shards are
// memory-mapped on first use, so opening a large checkpoint costs no RAM.
//
//   ptq::io::Checkpoint ckpt("models/opt-125m");
//   at::Tensor w = ckpt.tensor("model.decoder.layers.0.fc1.weight");

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ptq/io/safetensors.h"

namespace ptq::io {

class Checkpoint {
 public:
  // Throws InputError when the directory has neither file, the index is malformed or
  // names a shard that does not exist.
  explicit Checkpoint(const std::string& dir);

  const std::string& dir() const { return _dir; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const;
  // Read-only zero-copy view; throws InputError naming the tensor and the directory.
  at::Tensor tensor(const std::string& name) const;
  // The shard file (full path) holding `name`.
  const std::string& file_of(const std::string& name) const;

 private:
  const SafetensorsReader& reader_for(const std::string& file) const;

  std::string _dir;
  std::map<std::string, std::string> _weight_map;  // tensor name -> shard path
  mutable std::map<std::string, std::unique_ptr<SafetensorsReader>> _readers;
};

}  // namespace ptq::io
