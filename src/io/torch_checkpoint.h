#pragma once
// A checkpoint file written by torch.save (PyTorch >= 1.6, the zip format): a zip archive
// (io/zip_archive.h) holding "<prefix>/data.pkl", the pickled state dict, and one record
// "<prefix>/data/<key>" per storage, plus "<prefix>/version" and, since PyTorch 2.1,
// "<prefix>/byteorder". Hugging Face's pytorch_model.bin and its shards are such files.
//
//   ptq::io::TorchCheckpointReader reader("pytorch_model.bin");
//   at::Tensor w = reader.tensor("model.layers.0.self_attn.q_proj.weight");
//
// The pickle is read by io/restricted_unpickler.h, which refuses any global but those that
// rebuild tensors and dicts, so loading a file never runs code from it.
//
// Invariants (beyond TensorFile's):
// 1. every tensor was checked at construction against its storage record: the record holds
//    exactly the elements the pickle declares, and offset + (size - 1) x stride of every
//    element lies inside the storage (no negative sizes or strides).
// 2. tensor() is a view of the mapped record when the tensor is contiguous and aligned,
//    else a contiguous copy of just that tensor (views and transposes saved as such).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ptq/io/tensor_file.h"

namespace ptq::io {

class MappedFile;

class TorchCheckpointReader : public TensorFile {
 public:
  // Throws InputError naming `path` for a legacy (pre-zip) or corrupt archive, a refused
  // pickle, or a tensor that does not fit its storage.
  explicit TorchCheckpointReader(const std::string& path);

  const std::string& path() const override { return _path; }
  std::vector<std::string> names() const override;
  bool contains(const std::string& name) const override;
  const TensorEntry& entry(const std::string& name) const override;
  at::Tensor tensor(const std::string& name) const override;
  void release(const std::string& name) const override;

 private:
  struct Layout {
    TensorEntry entry;  // data_begin: the first element's byte in the file
    std::vector<int64_t> stride;
  };

  const Layout& layout(const std::string& name) const;

  std::string _path;
  std::shared_ptr<MappedFile> _file;
  std::map<std::string, Layout> _tensors;
};

}  // namespace ptq::io
