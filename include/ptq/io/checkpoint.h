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
#include <mutex>
#include <string>
#include <vector>

#include "ptq/io/safetensors.h"

namespace ptq::io {

class Checkpoint {
 public:
  // Throws InputError when the directory is missing or has neither file, or the index is
  // malformed or names a shard that does not exist. A directory holding both files is read
  // through model.safetensors, as transformers does.
  explicit Checkpoint(const std::string& dir);

  const std::string& dir() const { return _dir; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const;
  // Read-only zero-copy view (clone before writing); throws InputError naming the tensor and
  // the directory, or the shard if the index maps the tensor to a shard that lacks it.
  // Safe to call from several threads.
  at::Tensor tensor(const std::string& name) const;
  // The header entry of `name` (dtype, shape, offsets), read without touching its data;
  // throws like tensor().
  const TensorEntry& entry(const std::string& name) const;
  // Drops the resident file pages of `name` (see SafetensorsReader::release); views of it
  // stay valid. Call after copying a tensor out, so the copy is all that stays in memory.
  void release(const std::string& name) const;
  // The shard file (full path) holding `name`.
  const std::string& file_of(const std::string& name) const;

 private:
  // The reader of the shard holding `name`; throws like tensor().
  const SafetensorsReader& reader_of(const std::string& name) const;
  const SafetensorsReader& reader_for(const std::string& file) const;

  std::string _dir;
  std::map<std::string, std::string> _weight_map;  // tensor name -> shard path
  mutable std::mutex _readers_mutex;  // guards the lazy opening of shards
  mutable std::map<std::string, std::unique_ptr<SafetensorsReader>> _readers;  // by shard path
};

}  // namespace ptq::io
