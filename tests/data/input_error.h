#pragma once
// Checks on InputError messages: each must name what is wrong (the file, the line, the key).

#include <gtest/gtest.h>

#include <string>

#include "ptq/common/error.h"

namespace ptq::test {

// The message of the InputError `action()` throws, or "" when it throws none.
template <typename Action>
std::string input_error(Action&& action) {
  try {
    action();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

inline ::testing::AssertionResult mentions(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << message << "\" does not mention \"" << part << "\"";
}

}  // namespace ptq::test
