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

std::vector<std::string> row_cells(const RunRow& row, const std::vector<std::string>& datasets) {
  const bool q = row.quantized();
  std::vector<std::string> values = {
      row.method,
      std::to_string(row.bits),
      q ? std::to_string(row.group_size) : "-",
      q ? std::to_string(row.act_bits) : "-",
      row.keep_percent ? general(*row.keep_percent) : "-",
      fixed(row.bits_per_weight, 3)};
  for (const std::string& dataset : datasets) {
    const auto it = row.perplexity.find(dataset);
    values.push_back(it == row.perplexity.end() ? "-" : fixed(it->second, 4));
  }
  values.push_back(row.quantize_seconds ? fixed(*row.quantize_seconds, 2) : "-");
  std::string reports;
  for (const std::string& name : row.reports) reports += (reports.empty() ? "" : ", ") + name;
  values.push_back(reports);
  return values;
}

}  // namespace

std::string markdown_table(const std::vector<RunRow>& rows) {
  const std::vector<std::string> datasets = datasets_of(rows);
  std::vector<std::string> header = {"method", "bits", "group", "act bits", "keep %",
                                     "bits/weight"};
  std::vector<std::string> align = {"---", "---:", "---:", "---:", "---:", "---:"};
  for (const std::string& dataset : datasets) {
    header.push_back("ppl " + dataset);
    align.push_back("---:");
  }
  header.insert(header.end(), {"quantize s", "reports"});
  align.insert(align.end(), {"---:", "---"});
  std::string table = cells(header) + cells(align);
  for (const RunRow& row : rows) table += cells(row_cells(row, datasets));
  return table;
}

}  // namespace ptq::report
