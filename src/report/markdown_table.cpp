#include "ptq/report/markdown_table.h"

#include <cstdio>

namespace ptq::report {
namespace {

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

std::string general(double value) {
  char text[64];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

// A value from a report (a method name, a file name) as one table cell: '|' would end the
// cell and a line break the row; a backslash is escaped so "\|" in a value stays itself.
std::string cell(const std::string& value) {
  std::string text;
  for (const char c : value) {
    if (c == '|' || c == '\\') text += '\\';
    text += c == '\n' || c == '\r' ? ' ' : c;
  }
  return text;
}

std::string cells(const std::vector<std::string>& values) {
  std::string line = "|";
  for (const std::string& value : values) line += " " + cell(value) + " |";
  return line + "\n";
}

// "0.6123 ± 0.0112"; the value alone without a standard error.
std::string score_cell(const Score& score) {
  return fixed(score.value, 4) +
         (score.stderr_value ? " \u00b1 " + fixed(*score.stderr_value, 4) : std::string());
}

// The table's variable columns: perplexity, KL and zero-shot keys present in some row.
struct Columns {
  std::vector<std::string> datasets, kl_datasets, task_metrics;
};

template <typename Value, typename Format>
void push_cells(std::vector<std::string>& values,
                const std::map<std::string, Value>& by_key,
                const std::vector<std::string>& keys,
                Format format) {
  for (const std::string& key : keys) {
    const auto it = by_key.find(key);
    values.push_back(it == by_key.end() ? "-" : format(it->second));
  }
}

std::vector<std::string> row_cells(const RunRow& row, const Columns& columns) {
  const bool q = row.quantized();
  std::vector<std::string> values = {row.method,
                                     std::to_string(row.bits),
                                     q ? std::to_string(row.group_size) : "-",
                                     q ? std::to_string(row.act_bits) : "-",
                                     row.keep_percent ? general(*row.keep_percent) : "-",
                                     fixed(row.bits_per_weight, 3)};
  push_cells(values, row.perplexity, columns.datasets, [](double v) { return fixed(v, 4); });
  for (const std::string& dataset : columns.kl_datasets) {
    push_cells(values, row.mean_kld, {dataset}, score_cell);
    push_cells(values, row.top1_agreement, {dataset}, score_cell);
  }
  push_cells(values, row.task_metrics, columns.task_metrics, score_cell);
  values.push_back(row.quantize_seconds ? fixed(*row.quantize_seconds, 2) : "-");
  std::string reports;
  for (const std::string& name : row.reports) reports += (reports.empty() ? "" : ", ") + name;
  values.push_back(reports);
  return values;
}

}  // namespace

std::string markdown_table(const std::vector<RunRow>& rows) {
  const Columns columns{datasets_of(rows), kl_datasets_of(rows), task_metrics_of(rows)};
  std::vector<std::string> header = {"method",   "bits",   "group",
                                     "act bits", "keep %", "bits/weight"};
  std::vector<std::string> align = {"---", "---:", "---:", "---:", "---:", "---:"};
  for (const std::string& dataset : columns.datasets) header.push_back("ppl " + dataset);
  for (const std::string& dataset : columns.kl_datasets) {
    header.insert(header.end(), {"KLD " + dataset, "top-1 " + dataset});
  }
  for (const std::string& metric : columns.task_metrics) header.push_back(metric);
  align.resize(header.size(), "---:");
  header.insert(header.end(), {"quantize s", "reports"});
  align.insert(align.end(), {"---:", "---"});
  std::string table = cells(header) + cells(align);
  for (const RunRow& row : rows) table += cells(row_cells(row, columns));
  return table;
}

}  // namespace ptq::report
