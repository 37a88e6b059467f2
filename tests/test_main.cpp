#include <gtest/gtest.h>

#include "ptq/common/logging.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ptq::set_log_level(ptq::LogLevel::Warning);
  return RUN_ALL_TESTS();
}
