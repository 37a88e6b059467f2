#pragma once
// A read-only memory mapping of a whole file, shared by every tensor viewing it: the tensors
// hold a shared_ptr in their deleter, so the mapping lives until the last view is freed.
//
// Invariants:
// 1. the mapping is PROT_READ and MAP_PRIVATE: writing through data() faults, so callers
//    must clone a view before modifying it.
// 2. an empty file has size() == 0 and data() == nullptr (mmap cannot map zero bytes).

#include <cstddef>
#include <cstdint>
#include <string>

namespace ptq::io {

class MappedFile {
 public:
  // Throws InputError naming `path` if it cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return _data; }
  std::size_t size() const { return _size; }
  // Drops the resident pages of bytes [offset, offset + length) (inside the file), widened
  // to whole pages, so they stop counting in this process's RSS. The contents do not
  // change: the next read faults the pages back in from the file.
  void release(std::size_t offset, std::size_t length) const;

 private:
  uint8_t* _data = nullptr;
  std::size_t _size = 0;
};

}  // namespace ptq::io
