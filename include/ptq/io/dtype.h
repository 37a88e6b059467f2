#pragma once
// The element types a safetensors file may hold, and their mapping to LibTorch.

#include <c10/core/ScalarType.h>

#include <cstddef>
#include <string>

namespace ptq::io {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

// "F32", "BF16", ... as spelled in safetensors headers.
std::string dtype_name(DType dtype);
// Throws InputError for a name safetensors does not define (or ptq does not support).
DType parse_dtype(const std::string& name);
std::size_t dtype_size(DType dtype);
c10::ScalarType to_scalar_type(DType dtype);
DType from_scalar_type(c10::ScalarType type);

}  // namespace ptq::io
