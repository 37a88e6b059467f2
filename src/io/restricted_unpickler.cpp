#include "io/restricted_unpickler.h"

#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

#include "ptq/common/error.h"

namespace ptq::io {
namespace {

// Opcodes as Python's Lib/pickle.py names them (protocols 2 to 5, the binary ones).
enum Opcode : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kBinFloat = 'G',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinUnicode = 'X',
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kEmptyList = ']',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kAppends = 'e',
  kBinGet = 'h',
  kInst = 'i',
  kLongBinGet = 'j',
  kEmptyDict = '}',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kSetItems = 'u',
  kEmptyTuple = ')',
  kProto = 0x80,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

constexpr int kHighestProtocol = 5;

// The storage classes torch.save names in persistent ids (torch/storage.py), by element type.
const std::map<std::string, DType>& storage_types() {
  static const std::map<std::string, DType> types = {
      {"torch.DoubleStorage", DType::F64}, {"torch.FloatStorage", DType::F32},
      {"torch.HalfStorage", DType::F16},   {"torch.BFloat16Storage", DType::BF16},
      {"torch.LongStorage", DType::I64},   {"torch.IntStorage", DType::I32},
      {"torch.ShortStorage", DType::I16},  {"torch.CharStorage", DType::I8},
      {"torch.ByteStorage", DType::U8},    {"torch.BoolStorage", DType::Bool}};
  return types;
}

constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kRebuildParameter = "torch._utils._rebuild_parameter";
constexpr const char* kOrderedDict = "collections.OrderedDict";

struct Value;
using ValuePtr = std::shared_ptr<Value>;

// What the pickle builds. A Global is only the accepted name, never anything callable.
struct Value {
  enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor };
  Kind kind = Kind::None;
  int64_t integer = 0;          // Bool, Int
  double real = 0;              // Float
  std::string text;             // String; Global: "module.name"
  std::vector<ValuePtr> items;  // Tuple, List; Dict: key, value, key, value, ...
  PickledTensor tensor;         // Tensor; Storage: tensor.storage only
};

const char* kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::None:
      return "None";
    case Value::Kind::Bool:
      return "bool";
    case Value::Kind::Int:
      return "int";
    case Value::Kind::Float:
      return "float";
    case Value::Kind::String:
      return "string";
    case Value::Kind::Tuple:
      return "tuple";
    case Value::Kind::List:
      return "list";
    case Value::Kind::Dict:
      return "dict";
    case Value::Kind::Global:
      return "global";
    case Value::Kind::Storage:
      return "storage";
    case Value::Kind::Tensor:
      return "tensor";
  }
  return "value";
}

ValuePtr make(Value::Kind kind) {
  auto value = std::make_shared<Value>();
  value->kind = kind;
  return value;
}

class Unpickler {
 public:
  Unpickler(const uint8_t* data, std::size_t size, const std::string& where)
      : _data(data), _size(size), _where(where) {}

  ValuePtr run() {
    while (true) {
      _opcode_at = _at;
      const uint8_t opcode = read_byte();
      if (opcode == kStop) return pop();
      step(opcode);
    }
  }

 private:
  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    PTQ_THROW_INPUT(_where, ": data.pkl byte ", _opcode_at, ": ", parts...);
  }

  // --- reading the opcode stream

  const uint8_t* take(uint64_t count) {
    if (count > _size - _at) {
      fail("truncated pickle (", count, " bytes needed, ", _size - _at, " left)");
    }
    const uint8_t* bytes = _data + _at;
    _at += count;
    return bytes;
  }
  uint8_t read_byte() { return *take(1); }
  uint64_t read_le(int count) {
    const uint8_t* bytes = take(count);
    uint64_t value = 0;
    for (int i = count - 1; i >= 0; --i) value = (value << 8) | bytes[i];
    return value;
  }
  std::string read_string(uint64_t count) {
    const uint8_t* bytes = take(count);
    return std::string(reinterpret_cast<const char*>(bytes), count);
  }
  std::string read_line() {
    const auto* begin = _data + _at;
    const auto* newline = static_cast<const uint8_t*>(std::memchr(begin, '\n', _size - _at));
    if (newline == nullptr) fail("truncated pickle (unterminated line)");
    std::string line(reinterpret_cast<const char*>(begin), newline - begin);
    _at += line.size() + 1;
    return line;
  }

  // --- the stack

  ValuePtr pop() {
    if (_stack.empty() || (!_marks.empty() && _stack.size() == _marks.back())) {
      fail("pickle pops an empty stack");
    }
    ValuePtr value = std::move(_stack.back());
    _stack.pop_back();
    return value;
  }
  ValuePtr& top() {
    if (_stack.empty() || (!_marks.empty() && _stack.size() == _marks.back())) {
      fail("pickle reads an empty stack");
    }
    return _stack.back();
  }
  std::vector<ValuePtr> pop_mark() {
    if (_marks.empty()) fail("pickle has no MARK to pop to");
    const std::size_t mark = _marks.back();
    _marks.pop_back();
    std::vector<ValuePtr> items(_stack.begin() + static_cast<std::ptrdiff_t>(mark), _stack.end());
    _stack.resize(mark);
    return items;
  }
  void push(ValuePtr value) { _stack.push_back(std::move(value)); }
  void push_int(int64_t integer) {
    auto value = make(Value::Kind::Int);
    value->integer = integer;
    push(value);
  }
  void push_string(std::string text) {
    auto value = make(Value::Kind::String);
    value->text = std::move(text);
    push(value);
  }
  void push_tuple(std::vector<ValuePtr> items) {
    auto value = make(Value::Kind::Tuple);
    value->items = std::move(items);
    push(value);
  }
  void memo_put(uint64_t index) { _memo[index] = top(); }
  void memo_get(uint64_t index) {
    const auto it = _memo.find(index);
    if (it == _memo.end()) fail("pickle reads memo entry ", index, " before writing it");
    push(it->second);
  }

  // --- values

  int64_t as_int(const ValuePtr& value, const char* what) const {
    if (value->kind != Value::Kind::Int && value->kind != Value::Kind::Bool) {
      fail(what, " is a ", kind_name(value->kind), ", not an int");
    }
    return value->integer;
  }
  std::vector<int64_t> as_ints(const ValuePtr& value, const char* what) const {
    if (value->kind != Value::Kind::Tuple) {
      fail(what, " is a ", kind_name(value->kind), ", not a tuple");
    }
    std::vector<int64_t> ints;
    for (const auto& item : value->items) ints.push_back(as_int(item, what));
    return ints;
  }
  const std::string& as_string(const ValuePtr& value, const char* what) const {
    if (value->kind != Value::Kind::String) {
      fail(what, " is a ", kind_name(value->kind), ", not a string");
    }
    return value->text;
  }

  // The only place a name from the pickle is looked up: it becomes a Global value if it is
  // one of the accepted names, and the load stops otherwise.
  void push_global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (full != kRebuildTensor && full != kRebuildParameter && full != kOrderedDict &&
        storage_types().count(full) == 0) {
      fail("refused to load: the pickle names the global '", full,
           "', which does not rebuild a tensor or a dict (accepted: ", kRebuildTensor, ", ",
           kRebuildParameter, ", ", kOrderedDict,
           ", torch.<Type>Storage); nothing in the file was run");
    }
    auto value = make(Value::Kind::Global);
    value->text = full;
    push(value);
  }

  // ('storage', torch.<Type>Storage, key, location, numel), as torch.serialization._save
  // writes it; a key seen before must name the same storage.
  void persistent_load(const ValuePtr& id) {
    const bool shaped =
        id->kind == Value::Kind::Tuple && id->items.size() == 5 &&
        id->items[0]->kind == Value::Kind::String && id->items[0]->text == "storage" &&
        id->items[1]->kind == Value::Kind::Global && storage_types().count(id->items[1]->text) > 0;
    if (!shaped) {
      fail("persistent id is not ('storage', torch.<Type>Storage, key, location, numel)");
    }
    PickledStorage storage{as_string(id->items[2], "storage key"),
                           storage_types().at(id->items[1]->text),
                           as_int(id->items[4], "storage size")};
    if (storage.numel < 0) fail("storage '", storage.key, "' has ", storage.numel, " elements");
    const auto [it, added] = _storages.emplace(storage.key, storage);
    if (!added && (it->second.dtype != storage.dtype || it->second.numel != storage.numel)) {
      fail("storage '", storage.key, "' is named twice with different types or sizes");
    }
    auto value = make(Value::Kind::Storage);
    value->tensor.storage = storage;
    push(value);
  }

  // Calls of the accepted globals, evaluated here without Python.
  void reduce() {
    const ValuePtr args = pop();
    const ValuePtr callable = pop();
    if (callable->kind != Value::Kind::Global) {
      fail("REDUCE calls a ", kind_name(callable->kind), ", not an accepted global");
    }
    if (args->kind != Value::Kind::Tuple) fail("REDUCE arguments are not a tuple");
    const std::vector<ValuePtr>& a = args->items;
    const std::string& name = callable->text;
    if (name == kOrderedDict) {
      if (!a.empty()) fail(kOrderedDict, " is called with arguments");
      push(make(Value::Kind::Dict));
    } else if (name == kRebuildTensor) {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if ((a.size() != 6 && a.size() != 7) || a[0]->kind != Value::Kind::Storage) {
        fail(kRebuildTensor, " is called with ", a.size(),
             " arguments, not (storage, offset, "
             "size, stride, requires_grad, backward_hooks)");
      }
      auto tensor = make(Value::Kind::Tensor);
      tensor->tensor = {a[0]->tensor.storage, as_int(a[1], "storage offset"),
                        as_ints(a[2], "tensor size"), as_ints(a[3], "tensor stride")};
      if (tensor->tensor.shape.size() != tensor->tensor.stride.size()) {
        fail("tensor size and stride have different lengths");
      }
      push(tensor);
    } else if (name == kRebuildParameter) {
      // (data, requires_grad, backward_hooks): the parameter is its data tensor
      if (a.size() != 3 || a[0]->kind != Value::Kind::Tensor) {
        fail(kRebuildParameter, " is not called with (tensor, requires_grad, backward_hooks)");
      }
      push(a[0]);
    } else {
      fail("REDUCE calls ", name, ", which is not callable");
    }
  }

  void set_items(const std::vector<ValuePtr>& items) {
    ValuePtr& dict = top();
    if (dict->kind != Value::Kind::Dict) fail("SETITEMS on a ", kind_name(dict->kind));
    if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
    dict->items.insert(dict->items.end(), items.begin(), items.end());
  }

  void append(const std::vector<ValuePtr>& items) {
    ValuePtr& list = top();
    if (list->kind != Value::Kind::List) fail("APPENDS on a ", kind_name(list->kind));
    list->items.insert(list->items.end(), items.begin(), items.end());
  }

  void step(uint8_t opcode) {
    switch (opcode) {
      case kProto: {
        const int protocol = read_byte();
        if (protocol > kHighestProtocol) fail("unknown pickle protocol ", protocol);
        return;
      }
      case kFrame:
        read_le(8);
        return;  // a length hint only
      case kMark:
        _marks.push_back(_stack.size());
        return;
      case kPop:
        pop();
        return;
      case kPopMark:
        pop_mark();
        return;
      case kDup:
        push(top());
        return;
      case kNone:
        push(make(Value::Kind::None));
        return;
      case kNewTrue:
      case kNewFalse: {
        auto value = make(Value::Kind::Bool);
        value->integer = opcode == kNewTrue;
        push(value);
        return;
      }
      case kBinInt:
        push_int(static_cast<int32_t>(read_le(4)));
        return;
      case kBinInt1:
        push_int(read_le(1));
        return;
      case kBinInt2:
        push_int(read_le(2));
        return;
      case kLong1: {
        const int count = read_byte();
        if (count > 8) fail("integer of ", count, " bytes");
        uint64_t bits = read_le(count);
        if (count > 0 && count < 8 && (bits >> (8 * count - 1)) != 0) {
          bits |= ~uint64_t{0} << (8 * count);  // sign-extend
        }
        push_int(static_cast<int64_t>(bits));
        return;
      }
      case kBinFloat: {
        uint64_t bits = 0;
        for (const uint8_t *b = take(8), *end = b + 8; b != end; ++b) bits = (bits << 8) | *b;
        auto value = make(Value::Kind::Float);
        std::memcpy(&value->real, &bits, sizeof bits);  // big-endian IEEE 754
        push(value);
        return;
      }
      case kBinUnicode:
      case kBinBytes:
        push_string(read_string(read_le(4)));
        return;
      case kShortBinUnicode:
      case kShortBinBytes:
        push_string(read_string(read_le(1)));
        return;
      case kBinUnicode8:
      case kBinBytes8:
        push_string(read_string(read_le(8)));
        return;
      case kEmptyTuple:
        push_tuple({});
        return;
      case kTuple:
        push_tuple(pop_mark());
        return;
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        std::vector<ValuePtr> items(opcode - kTuple1 + 1);
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
        push_tuple(std::move(items));
        return;
      }
      case kEmptyList:
        push(make(Value::Kind::List));
        return;
      case kEmptyDict:
        push(make(Value::Kind::Dict));
        return;
      case kAppend: {
        const ValuePtr item = pop();
        append({item});
        return;
      }
      case kAppends:
        append(pop_mark());
        return;
      case kSetItem: {
        const ValuePtr value = pop();
        const ValuePtr key = pop();
        set_items({key, value});
        return;
      }
      case kSetItems:
        set_items(pop_mark());
        return;
      case kBinPut:
        memo_put(read_le(1));
        return;
      case kLongBinPut:
        memo_put(read_le(4));
        return;
      case kMemoize:
        memo_put(_memo.size());
        return;
      case kBinGet:
        memo_get(read_le(1));
        return;
      case kLongBinGet:
        memo_get(read_le(4));
        return;
      case kGlobal: {
        const std::string module = read_line();
        push_global(module, read_line());
        return;
      }
      case kStackGlobal: {
        const ValuePtr name = pop();
        const ValuePtr module = pop();
        push_global(as_string(module, "STACK_GLOBAL module"), as_string(name, "STACK_GLOBAL name"));
        return;
      }
      case kInst: {  // calls module.name(*args) with no GLOBAL opcode before it
        const std::string module = read_line();
        push_global(module, read_line());
        fail("INST opcode (an object built by calling a global) is not accepted");
      }
      case kBinPersId:
        persistent_load(pop());
        return;
      case kReduce:
        reduce();
        return;
      case kBuild: {
        // OrderedDict's state (state_dict's _metadata attribute): carries no tensor.
        pop();
        if (top()->kind != Value::Kind::Dict) fail("BUILD on a ", kind_name(top()->kind));
        return;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", opcode);
        fail("pickle opcode ", hex,
             " is not accepted (only the opcodes torch.save writes for "
             "a state dict are)");
      }
    }
  }

  const uint8_t* _data;
  std::size_t _size;
  const std::string& _where;
  std::size_t _at = 0;
  std::size_t _opcode_at = 0;
  std::vector<ValuePtr> _stack;
  std::vector<std::size_t> _marks;
  std::unordered_map<uint64_t, ValuePtr> _memo;
  std::map<std::string, PickledStorage> _storages;
};

}  // namespace

std::vector<std::pair<std::string, PickledTensor>> unpickle_state_dict(const uint8_t* data,
                                                                       std::size_t size,
                                                                       const std::string& where) {
  const ValuePtr root = Unpickler(data, size, where).run();
  if (root->kind != Value::Kind::Dict) {
    PTQ_THROW_INPUT(where, ": data.pkl holds a ", kind_name(root->kind),
                    ", not a state dict of tensors");
  }
  std::vector<std::pair<std::string, PickledTensor>> tensors;
  for (std::size_t i = 0; i < root->items.size(); i += 2) {
    const Value& key = *root->items[i];
    const Value& value = *root->items[i + 1];
    if (key.kind != Value::Kind::String) {
      PTQ_THROW_INPUT(where, ": state dict key ", i / 2, " is a ", kind_name(key.kind),
                      ", not a string");
    }
    if (value.kind != Value::Kind::Tensor) {
      PTQ_THROW_INPUT(where, ": state dict entry '", key.text, "' is a ", kind_name(value.kind),
                      ", not a tensor");
    }
    tensors.emplace_back(key.text, value.tensor);
  }
  return tensors;
}

}  // namespace ptq::io
