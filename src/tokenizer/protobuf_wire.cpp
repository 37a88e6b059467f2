#include "tokenizer/protobuf_wire.h"

#include <cstring>

#include "ptq/common/error.h"

namespace ptq::tokenizer {
namespace {

class WireReader {
 public:
  WireReader(std::string_view data, const std::string& source) : _data(data), _source(source) {}

  bool done() const { return _pos >= _data.size(); }

  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      check(1);
      const auto byte = static_cast<uint8_t>(_data[_pos++]);
      value |= uint64_t{byte & 0x7Fu} << shift;
      if (!(byte & 0x80)) return value;
    }
    PTQ_THROW_INPUT(_source, ": malformed protobuf varint at byte ", _pos);
  }

  uint64_t fixed(size_t width) {
    check(width);
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i) {
      value |= uint64_t{static_cast<uint8_t>(_data[_pos + i])} << (8 * i);
    }
    _pos += width;
    return value;
  }

  std::string_view bytes() {
    const uint64_t length = varint();
    check(length);
    const std::string_view payload = _data.substr(_pos, length);
    _pos += length;
    return payload;
  }

 private:
  void check(uint64_t needed) const {
    PTQ_CHECK_INPUT(needed <= _data.size() - _pos, _source, ": protobuf message truncated at byte ",
                    _pos);
  }

  std::string_view _data;
  const std::string& _source;
  size_t _pos = 0;
};

}  // namespace

float ProtoField::as_float() const {
  const auto bits = static_cast<uint32_t>(value);
  float result;
  std::memcpy(&result, &bits, sizeof(result));
  return result;
}

std::vector<ProtoField> read_proto_fields(std::string_view message, const std::string& source) {
  WireReader reader(message, source);
  std::vector<ProtoField> fields;
  while (!reader.done()) {
    const uint64_t tag = reader.varint();
    ProtoField field;
    field.number = static_cast<uint32_t>(tag >> 3);
    field.wire_type = static_cast<uint32_t>(tag & 7);
    switch (field.wire_type) {
      case 0:
        field.value = reader.varint();
        break;
      case 1:
        field.value = reader.fixed(8);
        break;
      case 2:
        field.bytes = reader.bytes();
        break;
      case 5:
        field.value = reader.fixed(4);
        break;
      default:
        PTQ_THROW_INPUT(source, ": unsupported protobuf wire type ", field.wire_type, " (field ",
                        field.number, ")");
    }
    fields.push_back(field);
  }
  return fields;
}

}  // namespace ptq::tokenizer
