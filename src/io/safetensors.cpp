#include "ptq/io/safetensors.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

#include "io/mapped_file.h"
#include "ptq/common/error.h"

namespace ptq::io {
namespace {

using nlohmann::json;

constexpr uint64_t kLengthBytes = 8;

uint64_t read_le64(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

std::string le64_bytes(uint64_t value) {
  std::string bytes(kLengthBytes, '\0');
  for (auto& byte : bytes) {
    byte = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return bytes;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    text += (i > 0 ? "," : "") + std::to_string(shape[i]);
  }
  return text + "]";
}

// Parses one header entry; `where` is "PATH: tensor 'NAME'" for the error messages.
DType parse_entry_dtype(const json& value, const std::string& where) {
  if (!value.contains("dtype") || !value["dtype"].is_string()) {
    PTQ_THROW_INPUT(where, ": missing or non-string \"dtype\"");
  }
  try {
    return parse_dtype(value["dtype"].get<std::string>());
  } catch (const InputError& e) {
    PTQ_THROW_INPUT(where, ": ", e.what());
  }
}

std::vector<int64_t> parse_entry_shape(const json& value, const std::string& where) {
  if (!value.contains("shape") || !value["shape"].is_array()) {
    PTQ_THROW_INPUT(where, ": missing or non-array \"shape\"");
  }
  std::vector<int64_t> shape;
  for (const auto& dim : value["shape"]) {
    // nlohmann parses non-negative integers as unsigned, negative ones as signed.
    const bool valid =
        dim.is_number_unsigned() && dim.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
    if (!valid) {
      PTQ_THROW_INPUT(where, ": shape ", value["shape"].dump(), " must hold non-negative integers");
    }
    shape.push_back(dim.get<int64_t>());
  }
  return shape;
}

void parse_entry_offsets(const json& value, const std::string& where, TensorEntry& entry) {
  const bool valid = value.contains("data_offsets") && value["data_offsets"].is_array() &&
                     value["data_offsets"].size() == 2 &&
                     value["data_offsets"][0].is_number_unsigned() &&
                     value["data_offsets"][1].is_number_unsigned();
  if (!valid) PTQ_THROW_INPUT(where, ": \"data_offsets\" must be [begin, end], both >= 0");
  entry.data_begin = value["data_offsets"][0].get<uint64_t>();
  entry.data_end = value["data_offsets"][1].get<uint64_t>();
}

// Bytes the tensor needs, or nothing if the count overflows 64 bits.
std::optional<uint64_t> needed_bytes(const TensorEntry& entry) {
  uint64_t bytes = dtype_size(entry.dtype);
  for (const int64_t dim : entry.shape) {
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes)) return std::nullopt;
  }
  return bytes;
}

TensorEntry parse_entry(const std::string& path,
                        const std::string& name,
                        const json& value,
                        uint64_t data_size) {
  const std::string where = path + ": tensor '" + name + "'";
  if (!value.is_object()) PTQ_THROW_INPUT(where, ": entry is not a JSON object");
  TensorEntry entry;
  entry.name = name;
  entry.dtype = parse_entry_dtype(value, where);
  entry.shape = parse_entry_shape(value, where);
  parse_entry_offsets(value, where, entry);
  if (entry.data_begin > entry.data_end) {
    PTQ_THROW_INPUT(where, ": data_offsets begin ", entry.data_begin, " > end ", entry.data_end);
  }
  if (entry.data_end > data_size) {
    PTQ_THROW_INPUT(where, ": data_offsets [", entry.data_begin, ",", entry.data_end,
                    "] lie past the end of the data section (", data_size, " bytes)");
  }
  const uint64_t bytes = entry.data_end - entry.data_begin;
  const std::optional<uint64_t> needed = needed_bytes(entry);
  if (needed != bytes) {
    PTQ_THROW_INPUT(where, " has ", bytes, " bytes but shape ", shape_string(entry.shape), " x ",
                    dtype_name(entry.dtype), " needs ",
                    needed ? std::to_string(*needed) : std::string("more than 2^64"));
  }
  return entry;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& value) {
  if (!value.is_object()) PTQ_THROW_INPUT(path, ": \"__metadata__\" is not a JSON object");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      PTQ_THROW_INPUT(path, ": \"__metadata__\" value of '", key, "' is not a string");
    }
    metadata[key] = item.get<std::string>();
  }
  return metadata;
}

// The specification requires the tensors to tile the data section exactly: no byte shared
// by two tensors, none left unused (the reference implementation rejects both).
void check_layout(const std::string& path,
                  const std::map<std::string, TensorEntry>& entries,
                  uint64_t data_size) {
  std::vector<const TensorEntry*> sorted;
  for (const auto& [name, entry] : entries) sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return std::tie(a->data_begin, a->data_end) < std::tie(b->data_begin, b->data_end);
  });
  uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry* entry : sorted) {
    if (entry->data_begin < covered) {
      PTQ_THROW_INPUT(path, ": tensor '", entry->name, "' [", entry->data_begin, ",",
                      entry->data_end, ") overlaps tensor '", previous->name, "' [",
                      previous->data_begin, ",", previous->data_end, ")");
    }
    if (entry->data_begin > covered) {
      PTQ_THROW_INPUT(path, ": bytes [", covered, ",", entry->data_begin,
                      ") of the data section before tensor '", entry->name,
                      "' belong to no tensor");
    }
    covered = entry->data_end;
    previous = entry;
  }
  if (covered != data_size) {
    PTQ_THROW_INPUT(path, ": the data section has ", data_size, " bytes but the tensors cover ",
                    covered);
  }
}

// A file descriptor being written; closes (without syncing) if not finished.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) : _path(path) {
    _fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (_fd < 0) PTQ_THROW_INPUT(path, ": cannot create: ", std::strerror(errno));
  }
  ~OutputFile() {
    if (_fd >= 0) ::close(_fd);
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t written = ::write(_fd, bytes, size);
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) PTQ_THROW_INPUT(_path, ": write failed: ", std::strerror(errno));
      bytes += written;
      size -= static_cast<std::size_t>(written);
    }
  }

  // fsync before the rename, so the final name never refers to data still in flight.
  void sync_and_close() {
    const bool ok = ::fsync(_fd) == 0;
    const int sync_errno = errno;
    const bool closed = ::close(_fd) == 0;
    _fd = -1;
    if (!ok || !closed) {
      PTQ_THROW_INPUT(_path, ": cannot flush to disk: ", std::strerror(ok ? errno : sync_errno));
    }
  }

 private:
  std::string _path;
  int _fd = -1;
};

}  // namespace

SafetensorsReader::SafetensorsReader(const std::string& path)
    : _path(path), _file(std::make_shared<MappedFile>(path)) {
  const uint64_t file_size = _file->size();
  if (file_size < kLengthBytes) {
    PTQ_THROW_INPUT(path, ": file has ", file_size,
                    " bytes, too short for the 8-byte header length");
  }
  const uint64_t header_size = read_le64(_file->data());
  if (header_size > file_size - kLengthBytes) {
    PTQ_THROW_INPUT(path, ": header length ", header_size, " runs past the end of the file (",
                    file_size, " bytes)");
  }
  _data_offset = kLengthBytes + header_size;
  const uint64_t data_size = file_size - _data_offset;
  const auto* header_begin = reinterpret_cast<const char*>(_file->data() + kLengthBytes);
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_size);
  } catch (const json::exception& e) {  // parse errors and out-of-range numbers
    PTQ_THROW_INPUT(path, ": header is not valid JSON: ", e.what());
  }
  if (!header.is_object()) PTQ_THROW_INPUT(path, ": header is not a JSON object");
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      _metadata = parse_metadata(path, value);
    } else {
      _entries[name] = parse_entry(path, name, value, data_size);
    }
  }
  check_layout(path, _entries, data_size);
}

std::vector<std::string> SafetensorsReader::names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : _entries) names.push_back(name);
  return names;
}

bool SafetensorsReader::contains(const std::string& name) const { return _entries.count(name) > 0; }

const TensorEntry& SafetensorsReader::entry(const std::string& name) const {
  const auto it = _entries.find(name);
  if (it == _entries.end()) PTQ_THROW_INPUT("tensor '", name, "' not found in ", _path);
  return it->second;
}

at::Tensor SafetensorsReader::tensor(const std::string& name) const {
  const TensorEntry& e = entry(name);
  const auto options = at::TensorOptions().dtype(to_scalar_type(e.dtype));
  // from_blob wants a mutable pointer; the pages are PROT_READ, so writes fault (see header).
  auto* data = const_cast<uint8_t*>(_file->data() + _data_offset + e.data_begin);
  // The format only guarantees byte alignment (the header length is arbitrary in files from
  // other writers), and typed kernels may assume naturally aligned elements: copy instead.
  if (reinterpret_cast<uintptr_t>(data) % dtype_size(e.dtype) != 0) {
    at::Tensor copy = at::empty(e.shape, options);
    // An empty tensor has no storage: memcpy's pointers must not be null even for 0 bytes.
    if (copy.numel() > 0) std::memcpy(copy.data_ptr(), data, e.data_end - e.data_begin);
    return copy;
  }
  return at::from_blob(
      data, e.shape, [file = _file](void*) {}, options);
}

void SafetensorsReader::release(const std::string& name) const {
  const TensorEntry& e = entry(name);
  _file->release(_data_offset + e.data_begin, e.data_end - e.data_begin);
}

void SafetensorsWriter::add(const std::string& name, const at::Tensor& tensor) {
  PTQ_CHECK_INPUT(name != "__metadata__", "'__metadata__' cannot name a tensor");
  PTQ_CHECK_INPUT(_tensors.count(name) == 0, "tensor '", name, "' added twice");
  from_scalar_type(tensor.scalar_type());  // throws for types safetensors cannot hold
  _tensors[name] = tensor.to(tensor.options().device(at::kCPU), /*non_blocking=*/false,
                             /*copy=*/true, at::MemoryFormat::Contiguous);
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  _metadata[key] = value;
}

uint64_t SafetensorsWriter::data_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, tensor] : _tensors) total += tensor.nbytes();
  return total;
}

std::string SafetensorsWriter::header() const {
  // Field order and "__metadata__" first as the reference implementation writes them, so
  // files ptq writes are byte-identical to Hugging Face's for the same tensors.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!_metadata.empty()) header["__metadata__"] = _metadata;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : _tensors) {
    const uint64_t end = offset + tensor.nbytes();
    header[name] = {{"dtype", dtype_name(from_scalar_type(tensor.scalar_type()))},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text = header.dump();
  // Padding to 8 bytes keeps 8-byte types aligned when the file is mapped.
  text.append((kLengthBytes - text.size() % kLengthBytes) % kLengthBytes, ' ');
  return text;
}

void SafetensorsWriter::write(const std::string& path) const {
  const std::string text = header();
  const std::string tmp_path = path + ".tmp";
  try {
    OutputFile out(tmp_path);
    out.write(le64_bytes(text.size()).data(), kLengthBytes);
    out.write(text.data(), text.size());
    for (const auto& [name, tensor] : _tensors) out.write(tensor.data_ptr(), tensor.nbytes());
    out.sync_and_close();
    std::error_code error;
    std::filesystem::rename(tmp_path, path, error);
    if (error) PTQ_THROW_INPUT(path, ": cannot rename ", tmp_path, ": ", error.message());
  } catch (...) {
    ::unlink(tmp_path.c_str());
    throw;
  }
}

}  // namespace ptq::io
