#pragma once
// Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
//   [8-byte little-endian header length N][N bytes of JSON header][data section]
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__" string map.
//
//   ptq::io::SafetensorsReader reader("model.safetensors");
//   at::Tensor w = reader.tensor("model.layers.0.self_attn.q_proj.weight");  // no copy
//
//   ptq::io::SafetensorsWriter writer;
//   writer.add("x", at::ones({2, 3}));
//   writer.write("out.safetensors");  // temp file, then rename
//
// Invariants of a reader:
// 1. the header was fully validated at construction (length inside the file, JSON
//    well-formed, known dtypes, non-negative shapes, offsets inside the data section,
//    byte length == numel x dtype size, tensors tiling the data section with no overlap and
//    no gap); any violation is an InputError naming the file and the tensor.
// 2. tensors are views of the file mapped PROT_READ: writing to one crashes the process, so
//    callers that modify a tensor must clone() it first. Each view keeps the mapping alive.
//    A tensor whose bytes are not aligned to its element size is returned as a copy instead.
//
// Invariants of a writer's output:
// 1. header keys: "__metadata__" first (when non-empty), then tensor names sorted; the data
//    section holds the tensors in the same order, as Hugging Face's safetensors writes them.
// 2. the header is padded with spaces to a multiple of 8 bytes.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ptq/io/dtype.h"
#include "ptq/io/tensor_file.h"

namespace ptq::io {

class MappedFile;

class SafetensorsReader : public TensorFile {
 public:
  explicit SafetensorsReader(const std::string& path);

  const std::string& path() const override { return _path; }
  std::vector<std::string> names() const override;  // sorted
  bool contains(const std::string& name) const override;
  const TensorEntry& entry(const std::string& name) const override;
  // A read-only view of the mapped bytes (see invariant 2); throws InputError naming the
  // tensor and the file if there is no such tensor.
  at::Tensor tensor(const std::string& name) const override;
  // Drops the resident pages holding `name`'s bytes from this process (they stay in the page
  // cache, which the kernel can reclaim); a later read of them, through any view, faults
  // them back in from the file. Throws InputError if there is no such tensor.
  void release(const std::string& name) const override;
  const std::map<std::string, std::string>& metadata() const { return _metadata; }

 private:
  std::string _path;
  std::shared_ptr<MappedFile> _file;
  uint64_t _data_offset = 0;
  std::map<std::string, TensorEntry> _entries;
  std::map<std::string, std::string> _metadata;
};

class SafetensorsWriter {
 public:
  // Stores a contiguous CPU copy of `tensor` (the caller may reuse its tensor afterwards).
  // Throws InputError for a name added twice, "__metadata__", or a dtype safetensors lacks.
  void add(const std::string& name, const at::Tensor& tensor);
  void set_metadata(const std::string& key, const std::string& value);
  // Writes to `path` + ".tmp", fsyncs and renames, so a crash never leaves a half-written
  // file under the final name. Throws InputError naming the path if it cannot be written.
  void write(const std::string& path) const;
  uint64_t data_bytes() const;

 private:
  std::string header() const;  // JSON, padded

  std::map<std::string, at::Tensor> _tensors;
  std::map<std::string, std::string> _metadata;
};

}  // namespace ptq::io
