#include "io/torch_checkpoint.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include <cstdint>
#include <cstring>

#include "io/mapped_file.h"
#include "io/restricted_unpickler.h"
#include "io/zip_archive.h"
#include "ptq/common/error.h"

namespace ptq::io {
namespace {

constexpr const char* kPickleRecord = "data.pkl";

// Refuses files that are not zip archives, naming the legacy torch.save format (a bare
// pickle stream, PyTorch < 1.6) since that is what such a pytorch_model.bin usually is.
void check_zip_magic(const MappedFile& file, const std::string& path) {
  const bool zip = file.size() >= 4 && std::memcmp(file.data(), "PK\x03\x04", 4) == 0;
  if (zip) return;
  constexpr uint8_t kPickleProto = 0x80;
  if (file.size() > 0 && file.data()[0] == kPickleProto) {
    PTQ_THROW_INPUT(path,
                    ": legacy torch.save format (PyTorch < 1.6, not a zip archive) is not "
                    "supported; re-save it with a current torch.save or as safetensors");
  }
  PTQ_THROW_INPUT(path, ": not a torch.save zip archive (no zip signature at its start)");
}

// torch.save names every record "<prefix>/...", prefix the archive's name (PyTorch 1.13
// uses the file's stem, 2.x "archive"): the prefix is that of the one "*/data.pkl" record.
std::string record_prefix(const ZipArchive& archive, const std::string& path) {
  std::string prefix;
  int found = 0;
  for (const auto& [name, record] : archive.records()) {
    const std::size_t slash = name.find('/');
    if (slash != std::string::npos &&
        name.compare(slash + 1, std::string::npos, kPickleRecord) == 0) {
      prefix = name.substr(0, slash + 1);
      ++found;
    }
  }
  if (found != 1) {
    PTQ_THROW_INPUT(path, ": a torch.save archive holds one '<name>/", kPickleRecord,
                    "' record; this one holds ", found);
  }
  return prefix;
}

void check_byteorder(const MappedFile& file,
                     const ZipArchive& archive,
                     const std::string& prefix,
                     const std::string& path) {
  const ZipRecord* record = archive.find(prefix + "byteorder");
  if (record == nullptr) return;  // written since PyTorch 2.1; older files are little-endian
  const std::string order(reinterpret_cast<const char*>(file.data() + record->offset),
                          record->size);
  if (order != "little") {
    PTQ_THROW_INPUT(path, ": storages are stored '", order,
                    "'-endian; only little-endian "
                    "checkpoints are supported");
  }
}

}  // namespace

TorchCheckpointReader::TorchCheckpointReader(const std::string& path)
    : _path(path), _file(std::make_shared<MappedFile>(path)) {
  check_zip_magic(*_file, path);
  const ZipArchive archive(*_file, path);
  const std::string prefix = record_prefix(archive, path);
  check_byteorder(*_file, archive, prefix, path);
  const ZipRecord& pickle = *archive.find(prefix + kPickleRecord);
  for (const auto& [name, pickled] :
       unpickle_state_dict(_file->data() + pickle.offset, pickle.size, path)) {
    const std::string where = path + ": tensor '" + name + "'";
    const PickledStorage& storage = pickled.storage;
    const std::string record_name = prefix + "data/" + storage.key;
    const ZipRecord* record = archive.find(record_name);
    if (record == nullptr) {
      PTQ_THROW_INPUT(where, ": its storage record '", record_name, "' is missing");
    }
    const uint64_t element = dtype_size(storage.dtype);
    uint64_t storage_bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(storage.numel), element, &storage_bytes) ||
        storage_bytes != record->size) {
      PTQ_THROW_INPUT(where, ": storage record '", record_name, "' holds ", record->size,
                      " bytes but the pickle declares ", storage.numel, " elements of ",
                      dtype_name(storage.dtype));
    }
    // The index of the tensor's last element in its storage, all terms checked.
    bool valid = pickled.storage_offset >= 0;
    bool empty = false;
    int64_t numel = 1;  // saturates at INT64_MAX
    int64_t last = pickled.storage_offset;
    for (std::size_t d = 0; d < pickled.shape.size(); ++d) {
      const int64_t size = pickled.shape[d];
      const int64_t stride = pickled.stride[d];
      valid = valid && size >= 0 && stride >= 0;
      empty = empty || size == 0;
      if (__builtin_mul_overflow(numel, size, &numel)) numel = INT64_MAX;
      int64_t span = 0;
      if (size > 0 && (__builtin_mul_overflow(size - 1, stride, &span) ||
                       __builtin_add_overflow(last, span, &last))) {
        valid = false;
      }
    }
    const std::string geometry = detail::concat("shape ", c10::IntArrayRef(pickled.shape),
                                                " stride ", c10::IntArrayRef(pickled.stride),
                                                " at storage offset ", pickled.storage_offset);
    if (!valid) PTQ_THROW_INPUT(where, ": invalid ", geometry);
    if (!empty && last >= storage.numel) {
      PTQ_THROW_INPUT(where, ": ", geometry, " reaches element ", last, " but its storage '",
                      storage.key, "' has ", storage.numel, " elements");
    }
    // Elements sharing storage (a stride-0 expand) would make the contiguous copy tensor()
    // returns larger than the file, by as much as the pickle claims.
    if (!empty && numel > storage.numel) {
      PTQ_THROW_INPUT(where, ": ", geometry, " has ", numel, " elements, more than its storage '",
                      storage.key, "' (", storage.numel,
                      "): tensors whose elements overlap are not supported");
    }
    Layout layout{{name, storage.dtype, pickled.shape, record->offset, record->offset},
                  pickled.stride};
    if (!empty) {
      layout.entry.data_begin += static_cast<uint64_t>(pickled.storage_offset) * element;
      layout.entry.data_end += static_cast<uint64_t>(last + 1) * element;
    }
    if (!_tensors.emplace(name, std::move(layout)).second) {
      PTQ_THROW_INPUT(path, ": tensor '", name, "' appears twice in the state dict");
    }
  }
}

std::vector<std::string> TorchCheckpointReader::names() const {
  std::vector<std::string> names;
  for (const auto& [name, layout] : _tensors) names.push_back(name);
  return names;
}

bool TorchCheckpointReader::contains(const std::string& name) const {
  return _tensors.count(name) > 0;
}

const TorchCheckpointReader::Layout& TorchCheckpointReader::layout(const std::string& name) const {
  const auto it = _tensors.find(name);
  if (it == _tensors.end()) PTQ_THROW_INPUT("tensor '", name, "' not found in ", _path);
  return it->second;
}

const TensorEntry& TorchCheckpointReader::entry(const std::string& name) const {
  return layout(name).entry;
}

at::Tensor TorchCheckpointReader::tensor(const std::string& name) const {
  const Layout& l = layout(name);
  const TensorEntry& e = l.entry;
  const auto options = at::TensorOptions().dtype(to_scalar_type(e.dtype));
  if (e.data_end == e.data_begin) return at::empty(e.shape, options);  // no elements
  // from_blob wants a mutable pointer; the pages are PROT_READ, so writes fault.
  auto* data = const_cast<uint8_t*>(_file->data() + e.data_begin);
  if (reinterpret_cast<uintptr_t>(data) % dtype_size(e.dtype) == 0) {
    const at::Tensor view = at::from_blob(
        data, e.shape, l.stride, [file = _file](void*) {}, options);
    return view.is_contiguous() ? view : view.contiguous();
  }
  // Archives from other zip writers need not align records: copy the tensor's span into
  // aligned memory, as typed kernels may assume naturally aligned elements.
  const uint64_t bytes = e.data_end - e.data_begin;
  at::Tensor span = at::empty({static_cast<int64_t>(bytes / dtype_size(e.dtype))}, options);
  std::memcpy(span.data_ptr(), data, bytes);
  return span.as_strided(e.shape, l.stride).contiguous();
}

void TorchCheckpointReader::release(const std::string& name) const {
  const TensorEntry& e = entry(name);
  _file->release(e.data_begin, e.data_end - e.data_begin);
}

}  // namespace ptq::io
