#include "ptq/report/run_reports.h"

#include <gtest/gtest.h>

#include "data/input_error.h"
#include "report/report_test_helpers.h"
#include "test_utils.h"

namespace ptq::report {
namespace {

using nlohmann::json;
using test::input_error;
using test::mentions;
using test_helpers::eval_report;
using test_helpers::quantize_report;

void write_json(const std::filesystem::path& path, const json& value) {
  test::write_file(path, value.dump());
}

TEST(RunReports, DatasetLabels) {
  EXPECT_EQ(dataset_label("tokens:/x/samples-eval-64x512-seed2.i32"), "samples-eval-64x512-seed2");
  EXPECT_EQ(dataset_label("wikitext2"), "wikitext2");
  EXPECT_EQ(dataset_label("data/c4-val.jsonl"), "c4-val");
}

TEST(RunReports, MergesEvalReportsIntoTheirQuantizeRunAndOrdersRows) {
  test::TempDir tmp;
  write_json(tmp / "a-septq.json", quantize_report("septq", 3, 3.98, "/w/septq-w3", 18.25));
  write_json(tmp / "b-gptq.json", quantize_report("gptq", 4, 4.6, "/w/gptq-w4", 16.5));
  // The quantize run's output, spelled differently.
  write_json(tmp / "c-eval.json", eval_report("/w/./gptq-w4/", "wikitext2", 30.25));
  json fp = eval_report("/models/fp", "tokens:/data/samples-eval.i32", 15.68);
  fp["checkpoint"] = {{"parameters", 100}, {"dtype_bytes", {{"F32", 400}}}};
  write_json(tmp / "d-fp.json", fp);
  test::write_file(tmp / "notes.txt", "not a report");

  const std::vector<RunRow> rows = read_run_reports({tmp.path().string()});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].method, "fp");
  EXPECT_EQ(rows[0].bits, 32);  // 400 bytes for 100 parameters
  EXPECT_DOUBLE_EQ(rows[0].bits_per_weight, 32.0);
  EXPECT_EQ(rows[1].method, "gptq");
  EXPECT_EQ(rows[1].perplexity,
            (std::map<std::string, double>{{"samples-eval", 16.5}, {"wikitext2", 30.25}}));
  EXPECT_EQ(rows[1].reports, (std::vector<std::string>{"b-gptq.json", "c-eval.json"}));
  EXPECT_EQ(rows[2].method, "septq");
  EXPECT_EQ(rows[2].keep_percent, 1.0);
  EXPECT_FALSE(rows[1].keep_percent);
  EXPECT_EQ(datasets_of(rows), (std::vector<std::string>{"samples-eval", "wikitext2"}));
}

TEST(RunReports, EvalReportOfAQuantizedCheckpointAlone) {
  test::TempDir tmp;
  json e = eval_report("/w/rtn", "c4", 40.0);
  e["checkpoint"] = {{"quantization",
                      {{"method", "rtn"},
                       {"bits", 2},
                       {"group_size", 32},
                       {"act_bits", 8},
                       {"bits_per_weight", 3.25},
                       {"method_fields", json::object()}}}};
  write_json(tmp / "e.json", e);
  const std::vector<RunRow> rows = read_run_reports({(tmp / "e.json").string()});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].method, "rtn");
  EXPECT_EQ(rows[0].bits, 2);
  EXPECT_EQ(rows[0].group_size, 32);
  EXPECT_EQ(rows[0].act_bits, 8);
  EXPECT_DOUBLE_EQ(rows[0].bits_per_weight, 3.25);
  EXPECT_FALSE(rows[0].quantize_seconds);
}

// Shapes of tools/zeroshot_eval.cpp's and tools/eval_command.cpp's (--kl-base) reports.
TEST(RunReports, TaskAndKlReportsAddTheirScoresToTheRowOfTheirModel) {
  test::TempDir tmp;
  write_json(tmp / "a-gptq.json", quantize_report("gptq", 4, 4.6, "/w/gptq-w4", 16.5));
  write_json(tmp / "b-tasks.json",
             json{{"config", {{"model", "/w/gptq-w4"}}},
                  {"tasks",
                   {{"piqa",
                     {{"metrics",
                       {{"acc", 0.625},
                        {"acc_stderr", 0.01},
                        {"acc_norm", 0.5},
                        {"acc_norm_stderr", nullptr}}}}},
                    {"lambada_openai", {{"metrics", {{"perplexity", 40.5}}}}}}}});
  write_json(tmp / "c-kl.json",
             json{{"config", {{"model", "/w/gptq-w4"}, {"dataset", "wikitext2"}}},
                  {"kl_divergence",
                   {{"mean_kld", 1.25},
                    {"mean_kld_stderr", 0.02},
                    {"top1_agreement", 0.75},
                    {"top1_agreement_stderr", 0.001}}}});
  const std::vector<RunRow> rows = read_run_reports({tmp.path().string()});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].task_metrics,
            (std::map<std::string, Score>{{"lambada_openai perplexity", {40.5, std::nullopt}},
                                          {"piqa acc", {0.625, 0.01}},
                                          {"piqa acc_norm", {0.5, std::nullopt}}}));
  EXPECT_EQ(rows[0].mean_kld, (std::map<std::string, Score>{{"wikitext2", {1.25, 0.02}}}));
  EXPECT_EQ(rows[0].top1_agreement, (std::map<std::string, Score>{{"wikitext2", {0.75, 0.001}}}));
  EXPECT_EQ(rows[0].reports,
            (std::vector<std::string>{"a-gptq.json", "b-tasks.json", "c-kl.json"}));
  EXPECT_EQ(task_metrics_of(rows),
            (std::vector<std::string>{"lambada_openai perplexity", "piqa acc", "piqa acc_norm"}));
  EXPECT_EQ(kl_datasets_of(rows), std::vector<std::string>{"wikitext2"});
  EXPECT_TRUE(datasets_of(rows) == std::vector<std::string>{"samples-eval"});

  // A task report of a model no quantize report wrote: a row from its "checkpoint".
  json alone{{"config", {{"model", "/models/fp"}}},
             {"tasks", {{"boolq", {{"metrics", {{"acc", 0.5}}}}}}},
             {"checkpoint", {{"parameters", 10}, {"dtype_bytes", {{"BF16", 20}}}}}};
  write_json(tmp / "d-fp.json", alone);
  const std::vector<RunRow> both = read_run_reports({tmp.path().string()});
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].method, "fp");
  EXPECT_EQ(both[0].bits, 16);
  EXPECT_EQ(both[0].task_metrics,
            (std::map<std::string, Score>{{"boolq acc", {0.5, std::nullopt}}}));

  json no_metrics{{"config", {{"model", "/w/gptq-w4"}}}, {"tasks", {{"piqa", {{"acc", 1}}}}}};
  write_json(tmp / "e-bad.json", no_metrics);
  const std::string message = input_error([&] { read_run_reports({tmp.path().string()}); });
  EXPECT_TRUE(mentions(message, "e-bad.json"));
  EXPECT_TRUE(mentions(message, "tasks.piqa.metrics"));
}

TEST(RunReports, BadReportsNameTheFileAndKey) {
  test::TempDir tmp;
  test::write_file(tmp / "broken.json", "{\"settings\": ");
  EXPECT_TRUE(mentions(input_error([&] { read_run_reports({(tmp / "broken.json").string()}); }),
                       "broken.json"));
  json missing = quantize_report("gptq", 4, 4.6, "/w/q", 16.5);
  missing["storage"].erase("bits_per_weight");
  write_json(tmp / "missing.json", missing);
  const std::string message =
      input_error([&] { read_run_reports({(tmp / "missing.json").string()}); });
  EXPECT_TRUE(mentions(message, "missing.json"));
  EXPECT_TRUE(mentions(message, "storage.bits_per_weight"));
  json wrong = quantize_report("gptq", 4, 4.6, "/w/q", 16.5);
  wrong["settings"]["wbits"] = "four";
  write_json(tmp / "wrong.json", wrong);
  EXPECT_TRUE(mentions(input_error([&] { read_run_reports({(tmp / "wrong.json").string()}); }),
                       "settings.wbits"));
  write_json(tmp / "other.json", json{{"hello", 1}});
  EXPECT_TRUE(mentions(input_error([&] { read_run_reports({(tmp / "other.json").string()}); }),
                       "other.json"));
  write_json(tmp / "lonely.json", eval_report("/w/gone", "c4", 9.0));
  EXPECT_TRUE(mentions(input_error([&] { read_run_reports({(tmp / "lonely.json").string()}); }),
                       "lonely.json"));
  EXPECT_TRUE(mentions(input_error([&] { read_run_reports({(tmp / "none.json").string()}); }),
                       "none.json"));
  test::TempDir empty;
  EXPECT_TRUE(
      mentions(input_error([&] { read_run_reports({empty.path().string()}); }), "no report"));
}

}  // namespace
}  // namespace ptq::report
