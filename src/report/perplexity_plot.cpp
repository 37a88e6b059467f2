#include "ptq/report/perplexity_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "ptq/common/error.h"

namespace ptq::report {
namespace {

struct Point {
  double bits;
  double perplexity;
};

struct Line {
  std::string label;
  double perplexity;
};

// A mapping of values to one coordinate, and its tick values.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;

  double fraction(double value) const {
    if (log) return (std::log10(value) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (value - lo) / (hi - lo);
  }
};

const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                               "#9467bd", "#8c564b", "#e377c2", "#17becf"};

Axis bits_axis(double min, double max) {
  Axis axis;
  axis.lo = std::floor(min);
  axis.hi = std::ceil(max);
  if (axis.lo == axis.hi) {
    axis.lo -= 1;
    axis.hi += 1;
  }
  const double step = axis.hi - axis.lo > 10 ? std::ceil((axis.hi - axis.lo) / 10) : 1;
  for (double t = axis.lo; t <= axis.hi + 1e-9; t += step) axis.ticks.push_back(t);
  return axis;
}

// The first of 1, 2, 5 x 10^k at least `at_least` (> 0).
double nice_step(double at_least) {
  double scale = std::pow(10.0, std::floor(std::log10(at_least)));
  while (true) {
    for (const double m : {1.0, 2.0, 5.0}) {
      if (m * scale >= at_least * (1 - 1e-12)) return m * scale;
    }
    scale *= 10;
  }
}

Axis perplexity_axis(double min, double max) {
  Axis axis;
  if (max / min > kLogSpread) {
    axis.log = true;
    axis.lo = std::pow(10.0, std::floor(std::log10(min)));
    axis.hi = std::pow(10.0, std::ceil(std::log10(max)));
    for (double decade = axis.lo; decade < axis.hi * 1.001; decade *= 10) {
      for (const double m : {1.0, 2.0, 5.0}) {
        if (m * decade <= axis.hi * 1.001) axis.ticks.push_back(m * decade);
      }
    }
    return axis;
  }
  const double step = max > min ? nice_step((max - min) / 5) : nice_step(max / 10);
  axis.lo = std::floor(min / step) * step;
  axis.hi = std::ceil(max / step) * step;
  if (axis.hi == axis.lo) axis.hi += step;
  for (double t = axis.lo; t <= axis.hi + step * 1e-9; t += step) axis.ticks.push_back(t);
  return axis;
}

double px(const Axis& x, double value) { return kLeft + x.fraction(value) * (kRight - kLeft); }
double py(const Axis& y, double value) { return kBottom - y.fraction(value) * (kBottom - kTop); }

std::string number(double value, const char* format = "%.2f") {
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string text_at(double x, double y, const std::string& anchor, const std::string& text) {
  return "<text x=\"" + number(x) + "\" y=\"" + number(y) + "\" text-anchor=\"" + anchor + "\">" +
         escape(text) + "</text>\n";
}

std::string axes_svg(const Axis& x, const Axis& y, const std::string& dataset) {
  std::string svg = "<rect x=\"" + number(kLeft) + "\" y=\"" + number(kTop) + "\" width=\"" +
                    number(kRight - kLeft) + "\" height=\"" + number(kBottom - kTop) +
                    "\" fill=\"none\" stroke=\"#333\"/>\n";
  for (const double t : x.ticks) {
    const double at = px(x, t);
    svg += "<line class=\"tick\" x1=\"" + number(at) + "\" y1=\"" + number(kBottom) + "\" x2=\"" +
           number(at) + "\" y2=\"" + number(kBottom + 5) + "\" stroke=\"#333\"/>\n";
    svg += text_at(at, kBottom + 18, "middle", number(t, "%g"));
  }
  for (const double t : y.ticks) {
    const double at = py(y, t);
    svg += "<line class=\"tick\" x1=\"" + number(kLeft - 5) + "\" y1=\"" + number(at) + "\" x2=\"" +
           number(kRight) + "\" y2=\"" + number(at) + "\" stroke=\"#ddd\"/>\n";
    svg += text_at(kLeft - 8, at + 4, "end", number(t, "%g"));
  }
  svg += text_at((kLeft + kRight) / 2, kBottom + 38, "middle", "effective bits per weight");
  svg += "<text transform=\"translate(18 " + number((kTop + kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" +
         escape("perplexity on " + dataset + (y.log ? " (log scale)" : "")) + "</text>\n";
  return svg;
}

std::string series_svg(const Axis& x,
                       const Axis& y,
                       const std::string& method,
                       const std::vector<Point>& points,
                       const char* color) {
  std::string polyline = "<polyline fill=\"none\" stroke=\"" + std::string(color) + "\" points=\"";
  std::string circles;
  for (const Point& p : points) {
    const std::string cx = number(px(x, p.bits));
    const std::string cy = number(py(y, p.perplexity));
    polyline += cx + "," + cy + " ";
    circles += "<circle class=\"point\" data-method=\"" + escape(method) + "\" cx=\"" + cx +
               "\" cy=\"" + cy + "\" r=\"3.5\" fill=\"" + color + "\"><title>" +
               escape(method + ": " + number(p.bits, "%.3f") + " bits/weight, perplexity " +
                      number(p.perplexity, "%.4f")) +
               "</title></circle>\n";
  }
  return polyline + "\"/>\n" + circles;
}

std::string legend_entry(int index, const std::string& label, const char* color, bool dashed) {
  const double at = kTop + 10 + 20 * index;
  return "<line x1=\"" + number(kRight + 20) + "\" y1=\"" + number(at) + "\" x2=\"" +
         number(kRight + 44) + "\" y2=\"" + number(at) + "\" stroke=\"" + color + "\"" +
         (dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n" +
         text_at(kRight + 50, at + 4, "start", label);
}

}  // namespace

std::string perplexity_plot_svg(const std::vector<RunRow>& rows, const std::string& dataset) {
  std::map<std::string, std::vector<Point>> series;
  std::vector<Line> lines;
  for (const RunRow& row : rows) {
    const auto it = row.perplexity.find(dataset);
    if (it == row.perplexity.end()) continue;
    if (row.quantized()) {
      series[row.method].push_back({row.bits_per_weight, it->second});
    } else {
      lines.push_back({row.method + " (" + std::to_string(row.bits) + " bits)", it->second});
    }
  }
  PTQ_CHECK_INPUT(!series.empty(), "no quantized run in the reports has a perplexity on ", dataset,
                  " to plot");
  double min_bits = INFINITY, max_bits = -INFINITY, min_ppl = INFINITY, max_ppl = -INFINITY;
  for (auto& [method, points] : series) {
    std::sort(points.begin(), points.end(),
              [](const Point& a, const Point& b) { return a.bits < b.bits; });
    for (const Point& p : points) {
      min_bits = std::min(min_bits, p.bits);
      max_bits = std::max(max_bits, p.bits);
      min_ppl = std::min(min_ppl, p.perplexity);
      max_ppl = std::max(max_ppl, p.perplexity);
    }
  }
  for (const Line& line : lines) {
    min_ppl = std::min(min_ppl, line.perplexity);
    max_ppl = std::max(max_ppl, line.perplexity);
  }
  PTQ_CHECK_INPUT(
      std::isfinite(min_bits) && std::isfinite(max_bits) && min_ppl > 0 && std::isfinite(max_ppl),
      "cannot plot perplexities in [", min_ppl, ", ", max_ppl, "] at [", min_bits, ", ", max_bits,
      "] bits per weight: they must be finite and positive");
  const Axis x = bits_axis(min_bits, max_bits);
  const Axis y = perplexity_axis(min_ppl, max_ppl);
  std::string svg =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
      "width=\"" +
      number(kWidth, "%g") + "\" height=\"" + number(kHeight, "%g") + "\" viewBox=\"0 0 " +
      number(kWidth, "%g") + " " + number(kHeight, "%g") +
      "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += axes_svg(x, y, dataset);
  int index = 0;
  for (const Line& line : lines) {
    const double at = py(y, line.perplexity);
    svg += "<line class=\"reference\" x1=\"" + number(kLeft) + "\" y1=\"" + number(at) +
           "\" x2=\"" + number(kRight) + "\" y2=\"" + number(at) +
           "\" stroke=\"#555\" stroke-dasharray=\"6 4\"/>\n";
    svg += legend_entry(index++, line.label + " " + number(line.perplexity, "%.2f"), "#555", true);
  }
  int color = 0;
  for (const auto& [method, points] : series) {
    const char* c = kColors[color++ % (sizeof(kColors) / sizeof(kColors[0]))];
    svg += series_svg(x, y, method, points, c);
    svg += legend_entry(index++, method, c, false);
  }
  return svg + "</svg>\n";
}

}  // namespace ptq::report
