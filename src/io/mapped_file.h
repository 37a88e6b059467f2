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

 private:
  uint8_t* _data = nullptr;
  std::size_t _size = 0;
};

}  // namespace ptq::io
