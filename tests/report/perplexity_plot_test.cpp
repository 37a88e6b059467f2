#include "ptq/report/perplexity_plot.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

#include "data/input_error.h"
#include "test_utils.h"

namespace ptq::report {
namespace {

RunRow row(const std::string& method, double bits_per_weight, double perplexity) {
  RunRow r;
  r.method = method;
  r.bits = method == "fp" ? 32 : 3;
  r.bits_per_weight = bits_per_weight;
  r.perplexity = {{"eval", perplexity}};
  return r;
}

struct ParsedSvg {
  std::vector<std::string> points;  // "method cx cy", in document order
  int ticks = 0;
  std::vector<std::string> references;  // y of the dashed full-precision lines
  std::string error;
};

// Parses `svg` with Python's XML parser (so it must be well-formed XML) and lists what the
// tests check; independent of how the plot was written.
ParsedSvg parse_svg(const std::string& svg) {
  test::TempDir tmp;
  test::write_file(tmp / "plot.svg", svg);
  const std::string script =
      "import sys, xml.etree.ElementTree as ET\n"
      "ns = '{http://www.w3.org/2000/svg}'\n"
      "root = ET.parse(sys.argv[1]).getroot()\n"
      "assert root.tag == ns + 'svg', root.tag\n"
      "for c in root.iter(ns + 'circle'):\n"
      "    print('point', c.get('data-method'), c.get('cx'), c.get('cy'))\n"
      "for l in root.iter(ns + 'line'):\n"
      "    if l.get('class') == 'tick': print('tick')\n"
      "    if l.get('class') == 'reference': print('reference', l.get('y1'))\n";
  test::write_file(tmp / "parse.py", script);
  const std::string command =
      "python3 " + (tmp / "parse.py").string() + " " + (tmp / "plot.svg").string() + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[256];
  while (pipe && fgets(buffer, sizeof(buffer), pipe)) output += buffer;
  const int status = pipe ? pclose(pipe) : -1;
  ParsedSvg parsed;
  if (status != 0) {
    parsed.error = output.empty() ? "python3 failed" : output;
    return parsed;
  }
  std::istringstream lines(output);
  std::string kind;
  while (lines >> kind) {
    if (kind == "tick") {
      ++parsed.ticks;
    } else if (kind == "reference") {
      std::string y;
      lines >> y;
      parsed.references.push_back(y);
    } else {
      std::string method, cx, cy;
      lines >> method >> cx >> cy;
      parsed.points.push_back(method + " " + cx + " " + cy);
    }
  }
  return parsed;
}

// x axis [floor 3.98, ceil 4.6] = [3, 5]; perplexities 15.68..18.25 spread less than 5x: linear,
// step the first of 1, 2, 5 x 10^k >= 2.57 / 5 = 0.514, i.e. 1, axis [15, 19].
//   px(4.6)  = 70 + 1.6 / 2 * 400 = 390,  px(3.98) = 70 + 0.98 / 2 * 400 = 266
//   py(16.5) = 340 - 1.5 / 4 * 300 = 227.5,  py(18.25) = 340 - 3.25 / 4 * 300 = 96.25
//   py(15.68) = 340 - 0.68 / 4 * 300 = 289 (the full-precision line)
TEST(PerplexityPlot, LinearAxisPointsAtTheirCoordinates) {
  const std::string svg = perplexity_plot_svg(
      {row("fp", 32, 15.68), row("gptq", 4.6, 16.5), row("septq", 3.98, 18.25)}, "eval");
  const ParsedSvg parsed = parse_svg(svg);
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.points, (std::vector<std::string>{"gptq 390.00 227.50", "septq 266.00 96.25"}));
  EXPECT_EQ(parsed.references, (std::vector<std::string>{"289.00"}));
  EXPECT_EQ(parsed.ticks, 3 + 5);                          // x 3, 4, 5; y 15..19
  EXPECT_NE(svg.find(">gptq</text>"), std::string::npos);  // legend
  EXPECT_NE(svg.find(">fp (32 bits) 15.68</text>"), std::string::npos);
}

// 20 to 400 spreads 20x: log10 axis [10, 1000], ticks 10 20 50 100 200 500 1000; x [2, 4].
//   py(20)  = 340 - (log10 20 - 1) / 2 * 300 = 340 - 0.30103 * 150 = 294.85
//   py(400) = 340 - (log10 400 - 1) / 2 * 300 = 340 - 1.60206 * 150 = 99.69
//   px(2.2) = 70 + 0.2 / 2 * 400 = 110,  px(3.5) = 70 + 1.5 / 2 * 400 = 370; in bits order
TEST(PerplexityPlot, LogAxisForALargeSpread) {
  const std::string svg = perplexity_plot_svg({row("rtn", 3.5, 20), row("rtn", 2.2, 400)}, "eval");
  const ParsedSvg parsed = parse_svg(svg);
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.points, (std::vector<std::string>{"rtn 110.00 99.69", "rtn 370.00 294.85"}));
  EXPECT_EQ(parsed.ticks, 3 + 7);
  EXPECT_NE(svg.find("(log scale)"), std::string::npos);
}

TEST(PerplexityPlot, EscapesNamesAndRejectsAMissingDataset) {
  const ParsedSvg parsed = parse_svg(perplexity_plot_svg({row("a<&>\"b", 4, 10)}, "eval"));
  ASSERT_EQ(parsed.error, "");
  ASSERT_EQ(parsed.points.size(), 1u);
  EXPECT_EQ(parsed.points[0].rfind("a<&>\"b ", 0), 0u);
  EXPECT_TRUE(test::mentions(
      test::input_error([] { perplexity_plot_svg({row("rtn", 4, 10)}, "wikitext2"); }),
      "wikitext2"));
}

}  // namespace
}  // namespace ptq::report
