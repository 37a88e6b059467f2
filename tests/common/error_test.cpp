#include "ptq/common/error.h"

#include <gtest/gtest.h>

#include "ptq/common/logging.h"

namespace ptq {
namespace {

TEST(Error, ThrowInputConcatenatesItsParts) {
  try {
    PTQ_THROW_INPUT("tensor ", "w", " has ", 3, " dims");
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "tensor w has 3 dims");
  }
}

TEST(Error, LogLevelFromEnvRejectsUnknownLevels) {
  setenv("PTQ_LOG_LEVEL", "loud", 1);
  EXPECT_THROW(log_level_from_env(LogLevel::Info), InputError);
  setenv("PTQ_LOG_LEVEL", "debug", 1);
  EXPECT_EQ(log_level_from_env(LogLevel::Info), LogLevel::Debug);
  unsetenv("PTQ_LOG_LEVEL");
  EXPECT_EQ(log_level_from_env(LogLevel::Warning), LogLevel::Warning);
}

}  // namespace
}  // namespace ptq
