#pragma once
// Helpers shared by the io tests: hand-built safetensors bytes and InputError checks.

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ptq/common/error.h"

namespace ptq::test {

// [8-byte little-endian length][header][data], exactly as given (no padding).
inline std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string bytes;
  uint64_t length = header.size();
  for (int i = 0; i < 8; ++i, length >>= 8) bytes.push_back(static_cast<char>(length & 0xff));
  return bytes + header + data;
}

// Expects `action` to throw InputError whose message contains every one of `parts`.
inline void expect_input_error(const std::function<void()>& action,
                               const std::vector<std::string>& parts) {
  try {
    action();
    ADD_FAILURE() << "no InputError thrown";
  } catch (const InputError& e) {
    const std::string message = e.what();
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
}

}  // namespace ptq::test
