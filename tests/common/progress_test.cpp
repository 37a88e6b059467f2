// The progress bar's text, its time formats and the --progress names.

#include "ptq/common/progress.h"

#include <gtest/gtest.h>

#include "ptq/common/error.h"

namespace ptq {
namespace {

TEST(Progress, BarShowsFractionCountsElapsedAndRemainingTime) {
  // 3 of 12 steps in 30 s: 10 s per step, 9 steps to go -> 1:30; 2.5 of 10 cells -> 2.
  EXPECT_EQ(render_progress_bar("quantize", 3, 12, 30.0, 10),
            "quantize [##--------]  25%  3/12  0:30 < 1:30");
  EXPECT_EQ(render_progress_bar("perplexity", 64, 64, 75.4, 4),
            "perplexity [####] 100%  64/64  1:15 < 0:00");
}

TEST(Progress, BarBeforeTheFirstStepHasNoEstimate) {
  EXPECT_EQ(render_progress_bar("quantize", 0, 5, 1.0, 5), "quantize [-----]   0%  0/5  0:01 < ?");
}

TEST(Progress, DurationsAreMinutesSecondsOrHours) {
  EXPECT_EQ(format_duration(0.4), "0:00");
  EXPECT_EQ(format_duration(59.6), "1:00");
  EXPECT_EQ(format_duration(3599.0), "59:59");
  EXPECT_EQ(format_duration(3725.0), "1:02:05");
  EXPECT_EQ(format_duration(-3.0), "0:00");
}

TEST(Progress, StyleNames) {
  EXPECT_EQ(parse_progress_style("json"), ProgressStyle::Json);
  EXPECT_EQ(parse_progress_style("plain"), ProgressStyle::Plain);
  EXPECT_EQ(parse_progress_style("bar"), ProgressStyle::Bar);
  EXPECT_EQ(parse_progress_style("none"), ProgressStyle::None);
  EXPECT_EQ(parse_progress_style("auto"), ProgressStyle::Auto);
  EXPECT_THROW(parse_progress_style("xml"), InputError);
}

}  // namespace
}  // namespace ptq
