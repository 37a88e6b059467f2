#include "ptq/report/markdown_table.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ptq::report {
namespace {

TEST(MarkdownTable, OneRowPerRunOneColumnPerDataset) {
  RunRow fp;
  fp.method = "fp";
  fp.bits = 32;
  fp.bits_per_weight = 32;
  fp.perplexity = {{"eval", 15.68007}};
  fp.reports = {"fp.json"};
  RunRow septq;
  septq.method = "septq";
  septq.bits = 3;
  septq.keep_percent = 0.5;
  septq.bits_per_weight = 3.98765;
  septq.perplexity = {{"eval", 18.25}, {"wikitext2", 120.5}};
  septq.quantize_seconds = 2.346;
  septq.reports = {"s.json", "s-wiki.json"};
  EXPECT_EQ(
      markdown_table({fp, septq}),
      "| method | bits | group | act bits | keep % | bits/weight | ppl eval | ppl wikitext2 "
      "| quantize s | reports |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
      "| fp | 32 | - | - | - | 32.000 | 15.6801 | - | - | fp.json |\n"
      "| septq | 3 | -1 | 16 | 0.5 | 3.988 | 18.2500 | 120.5000 | 2.35 | s.json, s-wiki.json |\n");
}

TEST(MarkdownTable, KlAndTaskColumnsWithStandardErrors) {
  RunRow fp;
  fp.method = "fp";
  fp.bits = 16;
  fp.bits_per_weight = 16;
  fp.task_metrics = {{"piqa acc", {0.75, 0.0125}}, {"boolq acc", {0.5, std::nullopt}}};
  RunRow rtn;
  rtn.method = "rtn";
  rtn.bits = 4;
  rtn.bits_per_weight = 4.5;
  rtn.mean_kld = {{"wikitext2", {2.16978, 0.011089}}};
  rtn.top1_agreement = {{"wikitext2", {0.28621, 0.0025}}};
  rtn.task_metrics = {{"piqa acc", {0.625, 0.01}}};
  EXPECT_EQ(markdown_table({fp, rtn}),
            "| method | bits | group | act bits | keep % | bits/weight | KLD wikitext2 "
            "| top-1 wikitext2 | boolq acc | piqa acc | quantize s | reports |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
            "| fp | 16 | - | - | - | 16.000 | - | - | 0.5000 | 0.7500 \u00b1 0.0125 | - |  |\n"
            "| rtn | 4 | -1 | 16 | - | 4.500 | 2.1698 \u00b1 0.0111 | 0.2862 \u00b1 0.0025 | - "
            "| 0.6250 \u00b1 0.0100 | - |  |\n");
}

// A method name from a report holding '|' or a line break must stay in its cell and row.
TEST(MarkdownTable, CellsEscapePipesAndLineBreaks) {
  RunRow row;
  row.method = "a|b\nc";
  row.bits = 4;
  row.bits_per_weight = 4;
  row.reports = {"x\\|y.json"};
  const std::string table = markdown_table({row});
  EXPECT_NE(table.find("| a\\|b c | 4 |"), std::string::npos) << table;
  EXPECT_NE(table.find("| x\\\\\\|y.json |"), std::string::npos) << table;
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 3) << table;
}

}  // namespace
}  // namespace ptq::report
