// ptq report: a Markdown table and an SVG plot of perplexity vs effective bits per weight from
// the JSON reports of ptq quantize --report and ptq eval --json (files or folders of *.json).

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "ptq/common/error.h"
#include "ptq/common/report.h"
#include "ptq/report/markdown_table.h"
#include "ptq/report/perplexity_plot.h"
#include "ptq/report/run_reports.h"

namespace ptq::cli {
namespace {

struct ReportOptions {
  std::vector<std::string> reports;
  std::string markdown;
  std::string plot;
  std::string dataset;  // default: the first data set label
};

int run_report(const ReportOptions& options) {
  const std::vector<report::RunRow> rows = report::read_run_reports(options.reports);
  const std::string table = report::markdown_table(rows);
  std::printf("%s", table.c_str());
  if (!options.markdown.empty()) write_text_file(options.markdown, table);
  if (!options.plot.empty()) {
    const std::vector<std::string> datasets = report::datasets_of(rows);
    PTQ_CHECK_INPUT(!datasets.empty(), "--plot: no report holds a perplexity");
    const std::string dataset = options.dataset.empty() ? datasets.front() : options.dataset;
    write_text_file(options.plot, report::perplexity_plot_svg(rows, dataset));
  }
  return kExitOk;
}

}  // namespace

Command add_report_command(CLI::App& parent) {
  auto options = std::make_shared<ReportOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "report",
      "A Markdown table (method, bits, group, act bits, effective bits per weight, perplexity "
      "per data set, time) of ptq quantize/eval JSON reports, and an SVG plot of perplexity vs "
      "bits per weight per method");
  CLI::App& app = *command.app;
  app.add_option("REPORTS", options->reports, "Report files, or folders of *.json reports")
      ->required();
  app.add_option("--markdown", options->markdown, "Also write the table to this file");
  app.add_option("--plot", options->plot, "Write the SVG plot to this file");
  app.add_option("--dataset", options->dataset,
                 "Data set of the plot, as labelled in the table (default: the first)");
  command.run = [options] { return run_report(*options); };
  return command;
}

}  // namespace ptq::cli
