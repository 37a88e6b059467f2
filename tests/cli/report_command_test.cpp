// `ptq report` on a folder of hand-made reports: the table on stdout and in --markdown, the
// plot in --plot, and exit code 2 naming the file for a malformed report.

#include <gtest/gtest.h>

#include "report/report_test_helpers.h"
#include "test_utils.h"

namespace ptq::test {
namespace {

using report::test_helpers::quantize_report;

TEST(ReportCommand, FolderOfReportsToTableAndPlot) {
  TempDir tmp;
  std::filesystem::create_directory(tmp / "runs");
  write_file(tmp / "runs" / "rtn.json", quantize_report("rtn", 3, 3.5, "/w/rtn", 40).dump());
  write_file(tmp / "runs" / "gptq.json", quantize_report("gptq", 3, 3.5, "/w/gptq", 20).dump());
  const CliResult r = run_cli({"report", (tmp / "runs").string(), "--markdown",
                               (tmp / "table.md").string(), "--plot", (tmp / "plot.svg").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string gptq_row = "| gptq | 3 | -1 | 16 | - | 3.500 | 20.0000 | 1.50 | gptq.json |\n";
  EXPECT_NE(r.out.find(gptq_row), std::string::npos) << r.out;
  EXPECT_LT(r.out.find(gptq_row), r.out.find("| rtn |"));
  EXPECT_EQ(read_file(tmp / "table.md"), r.out);
  const std::string svg = read_file(tmp / "plot.svg");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("perplexity on samples-eval"), std::string::npos);
  EXPECT_NE(svg.find("data-method=\"rtn\""), std::string::npos);
}

TEST(ReportCommand, MalformedReportExitsTwoNamingIt) {
  TempDir tmp;
  write_file(tmp / "bad.json", "{\"settings\": {}, \"storage\": {}}");
  const CliResult r = run_cli({"report", (tmp / "bad.json").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find((tmp / "bad.json").string()), std::string::npos) << r.err;
  const CliResult missing = run_cli({"report", (tmp / "missing").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find((tmp / "missing").string()), std::string::npos) << missing.err;
  const CliResult other = run_cli(
      {"report", (tmp / "bad.json").string(), "--plot", (tmp / "p.svg").string(), "--dataset"});
  EXPECT_EQ(other.exit_code, 2);  // usage
  EXPECT_FALSE(std::filesystem::exists(tmp / "p.svg"));
}

TEST(ReportCommand, UnwritableOutputExitsTwoNamingIt) {
  TempDir tmp;
  write_file(tmp / "r.json", quantize_report("rtn", 3, 3.5, "/w/rtn", 40).dump());
  const std::string table = (tmp / "no-such-dir" / "table.md").string();
  const CliResult r = run_cli({"report", (tmp / "r.json").string(), "--markdown", table});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(table), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ptq::test
