#pragma once
// A Hugging Face model directory's weights, found as transformers and AutoGPTQ look for them,
// the first of:
//   model.safetensors
//   model.safetensors.index.json ({"weight_map": {tensor name: shard file}})
//   <model_file_base_name>.safetensors or .bin, named in quantize_config.json (AutoGPTQ)
//   pytorch_model.bin (torch.save)
//   pytorch_model.bin.index.json (shards pytorch_model-0000k-of-0000n.bin)
// Shards are memory-mapped on first use, so opening a large checkpoint costs no RAM; .bin
// files are read by src/io/torch_checkpoint.h, which never runs code from their pickles.
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
  // Throws InputError when the directory is missing or has none of the files, or the index
  // is malformed or names a shard that does not exist. A directory holding several is read
  // through the first in the list above (safetensors before .bin, as transformers does).
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
  // Drops the resident file pages of `name` (see TensorFile::release); views of it
  // stay valid. Call after copying a tensor out, so the copy is all that stays in memory.
  void release(const std::string& name) const;
  // The shard file (full path) holding `name`.
  const std::string& file_of(const std::string& name) const;

 private:
  // The reader of the shard holding `name`; throws like tensor().
  const TensorFile& reader_of(const std::string& name) const;
  const TensorFile& reader_for(const std::string& file) const;

  std::string _dir;
  std::string _index_file;                         // the index read, if the weights are sharded
  std::map<std::string, std::string> _weight_map;  // tensor name -> shard path
  mutable std::mutex _readers_mutex;               // guards the lazy opening of shards
  mutable std::map<std::string, std::unique_ptr<TensorFile>> _readers;  // by shard path
};

}  // namespace ptq::io
