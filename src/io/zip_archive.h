#pragma once
// The records of a zip archive as torch.save writes it (PyTorchStreamWriter): every record
// stored uncompressed, so each one is a byte range of the file that can be mapped in place.
// Zip64 archives (files over 4 GiB, more than 65535 records) are read too.
//
// LibTorch's own reader (caffe2::serialize::PyTorchStreamReader) is exported by Debian's
// libtorch-dev but gives a record's size only by copying the record (getRecord), which
// would defeat mapping a storage and checking it against the sizes the pickle declares.
//
// Invariants: every record's bytes lie inside the file, before the central directory;
// names are unique; encrypted or compressed records are refused (InputError naming the
// file and the record).

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "io/mapped_file.h"

namespace ptq::io {

struct ZipRecord {
  uint64_t offset;  // of the record's first data byte in the file
  uint64_t size;
};

class ZipArchive {
 public:
  // Throws InputError naming `path` if the file is not a well-formed zip archive.
  ZipArchive(const MappedFile& file, const std::string& path);

  const std::map<std::string, ZipRecord>& records() const { return _records; }
  // nullptr if there is no record `name`.
  const ZipRecord* find(const std::string& name) const;

 private:
  std::map<std::string, ZipRecord> _records;
};

}  // namespace ptq::io
