#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "ptq/common/logging.h"

namespace {

// --ptq-skipped-exit-code=N: exit N when no case failed but some skipped. CTest runs cases in
// groups (tests/cmake/PtqTestGroups.cmake) and reports such a group as skipped, not passed.
int take_skipped_exit_code(int& argc, char** argv) {
  static const char kFlag[] = "--ptq-skipped-exit-code=";
  int code = 0;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], kFlag, sizeof(kFlag) - 1) == 0) {
      code = std::atoi(argv[i] + sizeof(kFlag) - 1);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const int skipped_exit_code = take_skipped_exit_code(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  ptq::set_log_level(ptq::LogLevel::Warning);
  // CTest runs one test process per core: a single intra-op thread each avoids oversubscription.
  at::set_num_threads(1);
  // ... and so does every ptq process a test starts (unless it passes --threads itself).
  setenv("PTQ_THREADS", "1", /*overwrite=*/0);
  const int status = RUN_ALL_TESTS();
  if (status == 0 && skipped_exit_code != 0 &&
      ::testing::UnitTest::GetInstance()->skipped_test_count() > 0) {
    return skipped_exit_code;
  }
  return status;
}
