#pragma once
// A Markdown table of runs (ptq/report/run_reports.h): method, bits, group, act bits, keep %,
// effective bits per weight, perplexity per data set (4 decimals, "-" where not measured),
// quantize seconds and the reports' file names.

#include <string>
#include <vector>

#include "ptq/report/run_reports.h"

namespace ptq::report {

std::string markdown_table(const std::vector<RunRow>& rows);

}  // namespace ptq::report
