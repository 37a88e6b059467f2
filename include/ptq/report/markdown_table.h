#pragma once
// A Markdown table of runs (ptq/report/run_reports.h): method, bits, group, act bits, keep %,
// effective bits per weight, perplexity per data set, mean KLD and top-1 agreement per data
// set, each zero-shot "task metric" (4 decimals, "value ± stderr" where the report has one, "-"
// where not measured), quantize seconds and the reports' file names.

#include <string>
#include <vector>

#include "ptq/report/run_reports.h"

namespace ptq::report {

std::string markdown_table(const std::vector<RunRow>& rows);

}  // namespace ptq::report
