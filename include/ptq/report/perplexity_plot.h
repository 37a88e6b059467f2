#pragma once
// An SVG plot (no dependencies) of perplexity on one data set against effective bits per
// weight: one series (colored markers joined by a line, in bits order) per method, each
// full-precision row as a dashed horizontal line, axes with ticks, and a legend.
//
// Geometry, so that a point's position can be derived from its values:
//   canvas kWidth x kHeight; plot area x in [kLeft, kRight], y in [kTop, kBottom] (SVG y down).
//   x axis: [floor(min bits), ceil(max bits)] over the quantized points (one wider on each side
//           when they are equal), ticks every 1 bit (every ceil(span / 10) bits past 10).
//   y axis, over all plotted perplexities (lines included):
//     log10 when max / min > kLogSpread: [10^floor(log10 min), 10^ceil(log10 max)], ticks at
//       1, 2, 5 x 10^k inside it;
//     linear otherwise: step = the first of 1, 2, 5 x 10^k at least (max - min) / 5,
//       [floor(min / step) * step, ceil(max / step) * step] (one step wider above when equal).
//   px(x) = kLeft + (x - x0) / (x1 - x0) * (kRight - kLeft)
//   py(y) = kBottom - (f(y) - f(y0)) / (f(y1) - f(y0)) * (kBottom - kTop), f = log10 or identity
// Each point is <circle class="point" data-method=".." cx=".." cy=".."> (2 decimals).

#include <string>
#include <vector>

#include "ptq/report/run_reports.h"

namespace ptq::report {

constexpr double kWidth = 640, kHeight = 400;
constexpr double kLeft = 70, kRight = 470, kTop = 40, kBottom = 340;
constexpr double kLogSpread = 5;

// The rows with a perplexity on `dataset`; throws InputError naming `dataset` if none has.
std::string perplexity_plot_svg(const std::vector<RunRow>& rows, const std::string& dataset);

}  // namespace ptq::report
