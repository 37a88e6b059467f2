#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "ptq/common/logging.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ptq::set_log_level(ptq::LogLevel::Warning);
  // CTest runs one test process per core: a single intra-op thread each avoids oversubscription.
  at::set_num_threads(1);
  // ... and so does every ptq process a test starts (unless it passes --threads itself).
  setenv("PTQ_THREADS", "1", /*overwrite=*/0);
  return RUN_ALL_TESTS();
}
