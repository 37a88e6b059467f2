#pragma once
// Reads the data.pkl of a torch.save archive: a pickle of a state dict ({name: tensor}).
// Pickle is a program (any global it names is imported and called by Python's unpickler),
// so this is not a general unpickler: it interprets the opcodes itself, builds only plain
// values, and accepts only the globals that torch.save writes for tensors and dicts:
//   torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter,
//   collections.OrderedDict, and torch.<Type>Storage inside the storages' persistent ids.
// Any other global (os.system, builtins.eval, ...) and the opcodes that construct objects
// without naming them in a GLOBAL (INST, OBJ, NEWOBJ, EXT*) are refused with an InputError
// naming the file and the global or opcode; nothing is ever imported or executed.
//
//   auto tensors = ptq::io::unpickle_state_dict(bytes, size, "pytorch_model.bin");

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ptq/io/dtype.h"

namespace ptq::io {

// A storage as torch.save's persistent id names it: ('storage', torch.<Type>Storage, key,
// location, numel). Its bytes are the archive record "<prefix>/data/<key>".
struct PickledStorage {
  std::string key;
  DType dtype;
  int64_t numel;
};

// The arguments of torch._utils._rebuild_tensor_v2, not yet checked against the storage.
struct PickledTensor {
  PickledStorage storage;
  int64_t storage_offset;
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
};

// The (name, tensor) pairs of the pickled dict, in pickle order. Throws InputError naming
// `where` for a refused global or opcode, a malformed or truncated pickle, or a pickle
// that is not a dict of tensors.
std::vector<std::pair<std::string, PickledTensor>> unpickle_state_dict(const uint8_t* data,
                                                                       std::size_t size,
                                                                       const std::string& where);

}  // namespace ptq::io
