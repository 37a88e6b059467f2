// Calibration windows drawn as datautils.py draws them, checked against CPython 3.11.

#include "ptq/data/calibration.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <numeric>

#include "ptq/common/error.h"
#include "test_utils.h"

namespace ptq::quant {
namespace {

// python3 -c 'import random; random.seed(0); print([random.randint(0, 1000000) for _ in range(5)])'
TEST(Calibration, WindowStartsMatchCPythonSeed0) {
  const int64_t seqlen = 2048;
  const std::vector<int64_t> starts =
      text_window_starts(1000000 + seqlen + 1, seqlen, 5, 0, "test");
  EXPECT_EQ(starts, (std::vector<int64_t>{885440, 403958, 794772, 933488, 441001}));
}

// random.seed(1); [random.randint(0, 32767 - 2048 - 1) for _ in range(5)]
TEST(Calibration, WindowStartsMatchCPythonSeed1) {
  EXPECT_EQ(text_window_starts(32767, 2048, 5, 1, "test"),
            (std::vector<int64_t>{4402, 18651, 27768, 26288, 25027}));
}

TEST(Calibration, WindowsAreSlicesOfTheStream) {
  std::vector<int32_t> ids(5000);
  std::iota(ids.begin(), ids.end(), 0);
  const CalibrationOptions options{"stream", 4, 100, 3};
  const at::Tensor windows = sample_text_windows(ids, options, "stream");
  ASSERT_EQ(windows.sizes(), (std::vector<int64_t>{4, 100}));
  EXPECT_EQ(windows.scalar_type(), at::kLong);
  const std::vector<int64_t> starts = text_window_starts(5000, 100, 4, 3, "stream");
  for (int64_t s = 0; s < 4; ++s) {
    EXPECT_TRUE(windows[s].equal(at::arange(starts[s], starts[s] + 100, at::kLong)));
  }
}

TEST(Calibration, TooShortDataNamesTheDataSet) {
  const std::vector<int32_t> ids(100, 1);
  const CalibrationOptions options{"tiny.txt", 2, 100, 0};
  try {
    sample_text_windows(ids, options, "tiny.txt");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tiny.txt"), std::string::npos) << e.what();
  }
}

TEST(Calibration, TokenRowsAreTheFirstRows) {
  const std::string path =
      (test::shared_dir() / "models" / "stories260K" / "samples-calib-128x512-seed1.i32").string();
  const at::Tensor ids = load_calibration({"tokens:" + path, 3, 512, 0}, "");
  ASSERT_EQ(ids.sizes(), (std::vector<int64_t>{3, 512}));
  EXPECT_EQ(ids[0][0].item<int64_t>(), 1);  // each row starts with BOS (docs/test-data.md)
  EXPECT_THROW(load_calibration({"tokens:" + path, 129, 512, 0}, ""), InputError);
}

}  // namespace
}  // namespace ptq::quant
