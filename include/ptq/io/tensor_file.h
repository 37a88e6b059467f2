#pragma once
// One file of named tensors as a checkpoint holds it: a safetensors file
// (ptq/io/safetensors.h) or a torch.save archive (src/io/torch_checkpoint.h). Checkpoint
// (ptq/io/checkpoint.h) reads its shards through this interface, whatever their format.
//
// Invariants of every implementation:
// 1. the file was fully validated at construction: every tensor's bytes lie inside the
//    file, and shape x dtype size matches them; violations are InputErrors naming the file.
// 2. tensor() returns a read-only view of the mapped file when it can (clone before
//    writing), so opening a large file costs no RAM.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ptq/io/dtype.h"

namespace ptq::io {

struct TensorEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  // The tensor's bytes: relative to the data section in a safetensors file, to the start
  // of the file in a torch.save archive.
  uint64_t data_begin;
  uint64_t data_end;
};

class TensorFile {
 public:
  virtual ~TensorFile() = default;

  virtual const std::string& path() const = 0;
  virtual std::vector<std::string> names() const = 0;  // sorted
  virtual bool contains(const std::string& name) const = 0;
  // Throws InputError naming the tensor and the file if there is no such tensor.
  virtual const TensorEntry& entry(const std::string& name) const = 0;
  // A contiguous tensor, read-only (see invariant 2); throws like entry().
  virtual at::Tensor tensor(const std::string& name) const = 0;
  // Drops the resident pages holding `name`'s bytes from this process (they stay in the
  // page cache); a later read faults them back in. Throws like entry().
  virtual void release(const std::string& name) const = 0;
};

}  // namespace ptq::io
