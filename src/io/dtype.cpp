#include "ptq/io/dtype.h"

#include <array>

#include "ptq/common/error.h"

namespace ptq::io {
namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  std::size_t size;
  c10::ScalarType scalar_type;
};

// Names and sizes as the safetensors specification spells them.
constexpr std::array<DTypeInfo, 10> kDTypes = {{
    {DType::F64, "F64", 8, c10::ScalarType::Double},
    {DType::F32, "F32", 4, c10::ScalarType::Float},
    {DType::F16, "F16", 2, c10::ScalarType::Half},
    {DType::BF16, "BF16", 2, c10::ScalarType::BFloat16},
    {DType::I64, "I64", 8, c10::ScalarType::Long},
    {DType::I32, "I32", 4, c10::ScalarType::Int},
    {DType::I16, "I16", 2, c10::ScalarType::Short},
    {DType::I8, "I8", 1, c10::ScalarType::Char},
    {DType::U8, "U8", 1, c10::ScalarType::Byte},
    {DType::Bool, "BOOL", 1, c10::ScalarType::Bool},
}};

const DTypeInfo& info(DType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  PTQ_THROW_RUNTIME("invalid DType value ", static_cast<int>(dtype));
}

}  // namespace

std::string dtype_name(DType dtype) { return info(dtype).name; }

DType parse_dtype(const std::string& name) {
  for (const auto& entry : kDTypes) {
    if (name == entry.name) return entry.dtype;
  }
  PTQ_THROW_INPUT("unknown dtype '", name,
                  "' (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
}

std::size_t dtype_size(DType dtype) { return info(dtype).size; }

c10::ScalarType to_scalar_type(DType dtype) { return info(dtype).scalar_type; }

DType from_scalar_type(c10::ScalarType type) {
  for (const auto& entry : kDTypes) {
    if (entry.scalar_type == type) return entry.dtype;
  }
  PTQ_THROW_INPUT("tensors of type ", c10::toString(type), " cannot be stored in safetensors");
}

}  // namespace ptq::io
