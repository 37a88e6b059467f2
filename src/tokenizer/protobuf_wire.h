#pragma once
// A minimal reader of the protobuf wire format (https://protobuf.dev/programming-guides/encoding/),
// enough to read sentencepiece's tokenizer.model without libprotobuf.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptq::tokenizer {

struct ProtoField {
  uint32_t number = 0;
  uint32_t wire_type = 0;  // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
  uint64_t value = 0;      // varint, or the raw bits of a fixed32 / fixed64
  std::string_view bytes;  // length-delimited payload (a view into the message)

  float as_float() const;
};

// The fields of one message, in order. Throws InputError naming `source` when it is truncated
// or uses a wire type other than the four above.
std::vector<ProtoField> read_proto_fields(std::string_view message, const std::string& source);

}  // namespace ptq::tokenizer
