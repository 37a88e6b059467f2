#include "io/zip_archive.h"

#include <algorithm>

#include "ptq/common/error.h"

namespace ptq::io {
namespace {

// Signatures and fixed sizes from PKWARE's APPNOTE.TXT (sections 4.3.7, 4.3.12, 4.3.14-16).
constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kMaxCommentSize = 0xffff;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kEncryptedFlag = 0x0001;
constexpr uint16_t kStoredMethod = 0;

// Little-endian reads from a byte range whose bounds the caller has checked.
uint64_t read_le(const uint8_t* bytes, int count) {
  uint64_t value = 0;
  for (int i = count - 1; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

class Parser {
 public:
  Parser(const MappedFile& file, const std::string& path) : _file(file), _path(path) {}

  std::map<std::string, ZipRecord> records() {
    const uint64_t end = find_end_record();
    uint64_t count = u16(end + 10);
    uint64_t directory_size = u32(end + 12);
    uint64_t directory_offset = u32(end + 16);
    if (count == 0xffff || directory_size == 0xffffffff || directory_offset == 0xffffffff) {
      read_zip64_end(end, count, directory_size, directory_offset);
    }
    if (directory_offset > end || directory_size > end - directory_offset) {
      PTQ_THROW_INPUT(_path, ": corrupt zip archive: the central directory [", directory_offset,
                      ", +", directory_size, ") lies outside the file");
    }
    std::map<std::string, ZipRecord> records;
    uint64_t at = directory_offset;
    const uint64_t directory_end = directory_offset + directory_size;
    for (uint64_t i = 0; i < count; ++i) {
      auto [name, record] = read_central_header(at, directory_end, directory_offset);
      if (!records.emplace(name, record).second) {
        PTQ_THROW_INPUT(_path, ": corrupt zip archive: record '", name, "' appears twice");
      }
    }
    return records;
  }

 private:
  void need(uint64_t offset, uint64_t length, const char* what) const {
    if (offset > _file.size() || length > _file.size() - offset) {
      PTQ_THROW_INPUT(_path, ": corrupt or truncated zip archive: ", what, " at byte ", offset,
                      " runs past the end of the file (", _file.size(), " bytes)");
    }
  }
  uint64_t u16(uint64_t offset) const { return read_le(_file.data() + offset, 2); }
  uint64_t u32(uint64_t offset) const { return read_le(_file.data() + offset, 4); }
  uint64_t u64(uint64_t offset) const { return read_le(_file.data() + offset, 8); }

  // The end-of-central-directory record: the last one in the file, followed by at most a
  // 64 KiB comment.
  uint64_t find_end_record() const {
    const uint64_t size = _file.size();
    if (size < kEndSize) {
      PTQ_THROW_INPUT(_path, ": not a zip archive (", size, " bytes, too short)");
    }
    const uint64_t lowest =
        size - kEndSize > kMaxCommentSize ? size - kEndSize - kMaxCommentSize : 0;
    for (uint64_t at = size - kEndSize + 1; at-- > lowest;) {
      if (u32(at) == kEndSignature && at + kEndSize + u16(at + 20) <= size) return at;
    }
    PTQ_THROW_INPUT(_path,
                    ": corrupt or truncated zip archive: no end of central directory "
                    "record");
  }

  void read_zip64_end(uint64_t end,
                      uint64_t& count,
                      uint64_t& directory_size,
                      uint64_t& directory_offset) const {
    if (end < kZip64LocatorSize || u32(end - kZip64LocatorSize) != kZip64LocatorSignature) {
      PTQ_THROW_INPUT(_path,
                      ": corrupt zip archive: the zip64 end of central directory "
                      "locator is missing");
    }
    const uint64_t zip64_end = u64(end - kZip64LocatorSize + 8);
    need(zip64_end, kZip64EndSize, "the zip64 end of central directory");
    if (u32(zip64_end) != kZip64EndSignature) {
      PTQ_THROW_INPUT(_path, ": corrupt zip archive: no zip64 end of central directory at byte ",
                      zip64_end);
    }
    count = u64(zip64_end + 32);
    directory_size = u64(zip64_end + 40);
    directory_offset = u64(zip64_end + 48);
  }

  // Replaces the 32-bit fields saturated at 0xffffffff by their zip64 extra-field values,
  // which come in this order: uncompressed size, compressed size, local header offset.
  void apply_zip64_extra(uint64_t extra,
                         uint64_t extra_size,
                         const std::string& name,
                         uint64_t& size,
                         uint64_t& compressed_size,
                         uint64_t& local) const {
    for (uint64_t at = extra; at + 4 <= extra + extra_size;) {
      const uint64_t id = u16(at);
      const uint64_t length = u16(at + 2);
      if (at + 4 + length > extra + extra_size) break;
      if (id == kZip64ExtraId) {
        uint64_t field = at + 4;
        for (uint64_t* value : {&size, &compressed_size, &local}) {
          if (*value != 0xffffffff) continue;
          if (field + 8 > at + 4 + length) {
            PTQ_THROW_INPUT(_path, ": corrupt zip archive: record '", name,
                            "' has a short zip64 extra field");
          }
          *value = u64(field);
          field += 8;
        }
        return;
      }
      at += 4 + length;
    }
  }

  std::pair<std::string, ZipRecord> read_central_header(uint64_t& at,
                                                        uint64_t directory_end,
                                                        uint64_t directory_offset) const {
    if (at + kCentralHeaderSize > directory_end || u32(at) != kCentralHeaderSignature) {
      PTQ_THROW_INPUT(_path, ": corrupt zip archive: bad central directory entry at byte ", at);
    }
    const uint64_t flags = u16(at + 8);
    const uint64_t method = u16(at + 10);
    uint64_t compressed_size = u32(at + 20);
    uint64_t size = u32(at + 24);
    const uint64_t name_size = u16(at + 28);
    const uint64_t extra_size = u16(at + 30);
    const uint64_t comment_size = u16(at + 32);
    uint64_t local = u32(at + 42);
    const uint64_t name_at = at + kCentralHeaderSize;
    if (name_at + name_size + extra_size + comment_size > directory_end) {
      PTQ_THROW_INPUT(_path, ": corrupt zip archive: central directory entry at byte ", at,
                      " runs past the directory");
    }
    const std::string name(reinterpret_cast<const char*>(_file.data() + name_at), name_size);
    apply_zip64_extra(name_at + name_size, extra_size, name, size, compressed_size, local);
    at = name_at + name_size + extra_size + comment_size;

    if ((flags & kEncryptedFlag) != 0) {
      PTQ_THROW_INPUT(_path, ": record '", name, "' is encrypted");
    }
    if (method != kStoredMethod || compressed_size != size) {
      PTQ_THROW_INPUT(_path, ": record '", name, "' is compressed (method ", method,
                      "); torch.save stores records uncompressed");
    }
    need(local, kLocalHeaderSize, "a local file header");
    if (u32(local) != kLocalHeaderSignature) {
      PTQ_THROW_INPUT(_path, ": corrupt zip archive: no local header for record '", name,
                      "' at byte ", local);
    }
    // The local header's own name and extra lengths decide where the data starts
    // (PyTorchStreamWriter pads the local extra field to align storages to 64 bytes).
    const uint64_t data = local + kLocalHeaderSize + u16(local + 26) + u16(local + 28);
    if (data > directory_offset || size > directory_offset - data) {
      PTQ_THROW_INPUT(_path, ": corrupt or truncated zip archive: record '", name, "' [", data,
                      ", +", size, ") overlaps the central directory at byte ", directory_offset);
    }
    return {name, ZipRecord{data, size}};
  }

  const MappedFile& _file;
  const std::string& _path;
};

}  // namespace

ZipArchive::ZipArchive(const MappedFile& file, const std::string& path)
    : _records(Parser(file, path).records()) {}

const ZipRecord* ZipArchive::find(const std::string& name) const {
  const auto it = _records.find(name);
  return it == _records.end() ? nullptr : &it->second;
}

}  // namespace ptq::io
