// ptq eval: perplexity of a model on a text data set (GPTQ protocol) or on pre-tokenized rows.

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "command.h"
#include "number_checks.h"
#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/common/memory.h"
#include "ptq/common/report.h"
#include "ptq/common/timing.h"
#include "ptq/data/dataset.h"
#include "ptq/eval/kl_divergence.h"
#include "ptq/eval/perplexity.h"
#include "ptq/format/checkpoint_summary.h"
#include "ptq/format/quantized_checkpoint.h"
#include "ptq/model/causal_lm.h"
#include "ptq/model/config.h"
#include "ptq/tokenizer/tokenizer.h"
#include "zeroshot_eval.h"

namespace ptq::cli {
namespace {

using Clock = std::chrono::steady_clock;

// The reference protocol evaluates 2048-token windows, or the model's limit if shorter.
constexpr int64_t kDefaultSeqlen = 2048;

struct EvalOptions {
  std::string model;
  std::string dataset;
  int64_t seqlen = 0;  // 0: the default for the data set kind
  int64_t max_segments = 0;
  int64_t batch_size = 0;
  std::string tokenizer;
  std::string report;
  std::string tasks;  // zero-shot tasks instead of perplexity
  std::string task_dir;
  int64_t limit = 0;
  std::string kl_base;           // KL divergence to this model instead of perplexity
  std::string save_logits;       // write the model's distributions here instead of perplexity
  int64_t top_k = -1;            // --save-logits: -1 = by vocabulary size, else the top k
  std::string kl_base_logits;    // KL divergence to the distributions in this file
  int64_t memory_budget_mb = 0;  // 0: available_memory_bytes()
};

struct Timings {
  double load = 0.0;
  double data = 0.0;
  double eval = 0.0;
};

int64_t checked_seqlen(int64_t seqlen, const model::ModelConfig& config) {
  const int64_t positions = config.max_position_embeddings;
  PTQ_CHECK_INPUT(positions <= 0 || seqlen <= positions, "seqlen ", seqlen, " exceeds the ",
                  positions, " positions of ", config.architecture);
  return seqlen;
}

// The segment length: --seqlen, else for tokens:PATH the model's positions, for text the
// protocol's windows.
int64_t eval_seqlen(const EvalOptions& options, const model::ModelConfig& config) {
  if (options.seqlen > 0) return checked_seqlen(options.seqlen, config);
  const int64_t positions = config.max_position_embeddings;
  if (data::is_token_spec(options.dataset)) return checked_seqlen(positions, config);
  return positions > 0 ? std::min(kDefaultSeqlen, positions) : kDefaultSeqlen;
}

// Reads tokens:PATH as rows of eval_seqlen tokens each.
data::TokenRows load_rows(const EvalOptions& options, const model::ModelConfig& config) {
  const std::string path = data::token_spec_path(options.dataset);
  const int64_t row_len = eval_seqlen(options, config);
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  if (!ec) {
    const auto tokens = static_cast<int64_t>(bytes / sizeof(int32_t));
    PTQ_CHECK_INPUT(tokens > 0, "the token file ", path, " is empty");
    PTQ_CHECK_INPUT(tokens >= row_len, "seqlen ", row_len, " is larger than the ", tokens,
                    " tokens of ", path);
  }
  return data::load_token_rows(path, row_len);
}

std::vector<int32_t> load_text_ids(const EvalOptions& options) {
  const std::string text = data::load_text(options.dataset);
  const auto tokenizer =
      tokenizer::load_tokenizer(options.tokenizer.empty() ? options.model : options.tokenizer);
  // One encode() of the whole text: a single BOS at its start, as the protocol tokenizes.
  return tokenizer->encode(text);
}

eval::PerplexityResult evaluate(const EvalOptions& options,
                                model::CausalLM& lm,
                                int64_t budget_bytes,
                                Timings& timings) {
  const auto start = Clock::now();
  eval::PerplexityOptions ppl;
  ppl.max_segments = options.max_segments;
  ppl.batch_size = options.batch_size;
  ppl.resident_budget_bytes = budget_bytes;
  if (data::is_token_spec(options.dataset)) {
    const data::TokenRows rows = load_rows(options, lm.config());
    timings.data = seconds_since(start);
    return eval::evaluate_rows(lm, rows, ppl);
  }
  ppl.seqlen = eval_seqlen(options, lm.config());
  const std::vector<int32_t> ids = load_text_ids(options);
  timings.data = seconds_since(start);
  spdlog::info("{}: {} tokens", options.dataset, ids.size());
  return eval::evaluate_perplexity(lm, ids, ppl);
}

void print_result(const eval::PerplexityResult& result) {
  std::printf(
      "perplexity %.6f\nmean_nll %.6f\ntokens %lld\nsegments %lld\nseqlen %lld\n"
      "tokens_per_second %.1f\n",
      result.perplexity, result.mean_nll, static_cast<long long>(result.tokens),
      static_cast<long long>(result.segments), static_cast<long long>(result.seqlen),
      result.tokens_per_second);
}

void write_report(const EvalOptions& options,
                  const eval::PerplexityResult& result,
                  const Timings& timings) {
  nlohmann::json report = {
      {"perplexity", result.perplexity},
      {"mean_nll", result.mean_nll},
      {"tokens", result.tokens},
      {"segments", result.segments},
      {"seqlen", result.seqlen},
      {"tokens_per_second", result.tokens_per_second},
      {"config",
       {{"model", options.model},
        {"dataset", options.dataset},
        {"seqlen", result.seqlen},
        {"max_segments", options.max_segments},
        {"tokenizer", options.tokenizer.empty() ? options.model : options.tokenizer},
        {"threads", at::get_num_threads()}}},
      {"versions", report_versions()},
      {"timings",
       {{"load_seconds", timings.load},
        {"data_seconds", timings.data},
        {"eval_seconds", timings.eval},
        {"total_seconds", timings.load + timings.data + timings.eval}}},
  };
  if (data::is_token_spec(options.dataset)) report["config"].erase("tokenizer");
  // What was evaluated (quantization settings, effective bits), so that ptq report can put a
  // row in its table for an eval report alone; every tensor's shape would only bloat it.
  report["checkpoint"] = quant::evaluated_checkpoint_json(options.model);
  write_json_file(options.report, report);
}

// The data set as rows of the perplexity windows: token rows as they are, text cut into
// --seqlen windows as evaluate() cuts it.
data::TokenRows load_windows(const EvalOptions& options, const model::ModelConfig& config) {
  if (data::is_token_spec(options.dataset)) return load_rows(options, config);
  const int64_t positions = config.max_position_embeddings;
  const int64_t fallback = positions > 0 ? std::min(kDefaultSeqlen, positions) : kDefaultSeqlen;
  const int64_t seqlen = checked_seqlen(options.seqlen > 0 ? options.seqlen : fallback, config);
  std::vector<int32_t> ids = load_text_ids(options);
  PTQ_CHECK_INPUT(static_cast<int64_t>(ids.size()) >= seqlen, "seqlen ", seqlen,
                  " is larger than the data set's ", ids.size(), " tokens");
  data::TokenRows rows;
  rows.rows = static_cast<int64_t>(ids.size()) / seqlen;
  rows.row_len = seqlen;
  ids.resize(static_cast<size_t>(rows.rows * seqlen));
  rows.ids = std::move(ids);
  return rows;
}

// The memory budget: --memory-budget, else what is available. Exit 3 (MemoryError) before any
// work when not even one layer and one segment of each of `models` models fit their share. What
// the process holds already is not added, as for quantize's check (tools/quantize_command.cpp).
int64_t checked_budget(const EvalOptions& options,
                       const model::ModelConfig& config,
                       int64_t models) {
  const bool given = options.memory_budget_mb > 0;
  const int64_t budget = given ? options.memory_budget_mb << 20 : available_memory_bytes();
  eval::check_streamed_memory(
      config, eval_seqlen(options, config), budget / models,
      given ? "--memory-budget" : "available memory: MemAvailable or the cgroup limit");
  return budget;
}

// A model whose layers are read one at a time during the evaluation (perplexity.h).
std::unique_ptr<model::CausalLM> load_streamed(const std::string& dir) {
  return quant::load_model(dir, model::LoadOptions::lazy());
}

eval::KlOptions kl_options(const EvalOptions& options, int64_t budget) {
  return {options.max_segments, options.batch_size, budget};
}

void report_kl(const EvalOptions& options, const eval::KlResult& r, int64_t seqlen) {
  std::printf(
      "mean_kld %.6f stderr %.6f\nmedian_kld %.6f\np99_kld %.6f\nmax_kld %.6f\n"
      "top1_agreement %.6f stderr %.6f\nmean_delta_p %.6f stderr %.6f\n"
      "rms_delta_p %.6f stderr %.6f\nln_ppl_ratio %.6f stderr %.6f\nperplexity %.6f\n"
      "base_perplexity %.6f\nbase_tail_mass %.6g\ntokens %lld\n",
      r.mean_kld, r.mean_kld_stderr, r.median_kld, r.p99_kld, r.max_kld, r.top1_agreement,
      r.top1_agreement_stderr, r.mean_delta_p, r.mean_delta_p_stderr, r.rms_delta_p,
      r.rms_delta_p_stderr, r.ln_ppl_ratio, r.ln_ppl_ratio_stderr, r.perplexity, r.base_perplexity,
      r.mean_base_tail_mass, static_cast<long long>(r.tokens));
  if (options.report.empty()) return;
  const auto number = json_number;
  nlohmann::json config = {{"model", options.model},
                           {"dataset", options.dataset},
                           {"seqlen", seqlen},
                           {"max_segments", options.max_segments}};
  if (!options.kl_base.empty()) config["kl_base"] = options.kl_base;
  if (!options.kl_base_logits.empty()) config["kl_base_logits"] = options.kl_base_logits;
  write_json_file(options.report, {{"kl_divergence",
                                    {{"mean_kld", number(r.mean_kld)},
                                     {"mean_kld_stderr", number(r.mean_kld_stderr)},
                                     {"median_kld", number(r.median_kld)},
                                     {"p99_kld", number(r.p99_kld)},
                                     {"max_kld", number(r.max_kld)},
                                     {"top1_agreement", number(r.top1_agreement)},
                                     {"top1_agreement_stderr", number(r.top1_agreement_stderr)},
                                     {"mean_delta_p", number(r.mean_delta_p)},
                                     {"mean_delta_p_stderr", number(r.mean_delta_p_stderr)},
                                     {"rms_delta_p", number(r.rms_delta_p)},
                                     {"rms_delta_p_stderr", number(r.rms_delta_p_stderr)},
                                     {"ln_ppl_ratio", number(r.ln_ppl_ratio)},
                                     {"ln_ppl_ratio_stderr", number(r.ln_ppl_ratio_stderr)},
                                     {"perplexity", number(r.perplexity)},
                                     {"base_perplexity", number(r.base_perplexity)},
                                     {"base_tail_mass", number(r.mean_base_tail_mass)},
                                     {"tokens", r.tokens},
                                     {"seconds", r.seconds}}},
                                   {"config", config},
                                   {"checkpoint", quant::evaluated_checkpoint_json(options.model)},
                                   {"versions", report_versions()}});
}

// --kl-base: both models streamed in lockstep, each within half the budget.
int run_kl_eval(const EvalOptions& options) {
  const model::ModelConfig config = model::load_model_config(options.model);
  const int64_t budget = checked_budget(options, config, 2);
  const auto lm = load_streamed(options.model);
  const auto base = load_streamed(options.kl_base);
  const data::TokenRows rows = load_windows(options, lm->config());
  report_kl(options, eval::evaluate_kl_divergence(*lm, *base, rows, kl_options(options, budget)),
            rows.row_len);
  return kExitOk;
}

// --kl-base-logits: the model streamed against the file --save-logits wrote.
int run_kl_file_eval(const EvalOptions& options) {
  const model::ModelConfig config = model::load_model_config(options.model);
  const int64_t budget = checked_budget(options, config, 1);
  const auto lm = load_streamed(options.model);
  const data::TokenRows rows = load_windows(options, lm->config());
  report_kl(options,
            eval::evaluate_kl_divergence_from_file(
                *lm, rows, options.dataset, options.kl_base_logits, kl_options(options, budget)),
            rows.row_len);
  return kExitOk;
}

// --save-logits: the model's distributions written once for later --kl-base-logits runs.
int run_save_logits(const EvalOptions& options) {
  check_output_file(options.save_logits, "--save-logits");
  const model::ModelConfig config = model::load_model_config(options.model);
  const int64_t budget = checked_budget(options, config, 1);
  const auto lm = load_streamed(options.model);
  const data::TokenRows rows = load_windows(options, lm->config());
  const eval::SavedLogits saved = eval::save_base_log_probs(
      *lm, rows, options.dataset, options.save_logits, options.top_k, kl_options(options, budget));
  std::printf("saved_predictions %lld\ntop_k %lld\nperplexity %.6f\nseqlen %lld\n",
              static_cast<long long>(saved.predictions), static_cast<long long>(saved.top_k),
              saved.perplexity, static_cast<long long>(rows.row_len));
  if (options.report.empty()) return kExitOk;
  write_json_file(options.report, {{"save_logits",
                                    {{"file", options.save_logits},
                                     {"predictions", saved.predictions},
                                     {"top_k", saved.top_k},
                                     {"perplexity", saved.perplexity},
                                     {"seconds", saved.seconds}}},
                                   {"config",
                                    {{"model", options.model},
                                     {"dataset", options.dataset},
                                     {"seqlen", rows.row_len},
                                     {"max_segments", options.max_segments}}},
                                   {"versions", report_versions()}});
  return kExitOk;
}

int run_eval(const EvalOptions& options) {
  if (!options.tasks.empty()) {
    return run_zeroshot_eval({options.model, options.tokenizer, options.tasks, options.task_dir,
                              options.limit, options.report});
  }
  PTQ_CHECK_INPUT(!options.dataset.empty(), "eval needs --dataset (or --tasks)");
  // Before any model is read: a long run must not fail at its last step on the report's path.
  if (!options.report.empty()) check_output_file(options.report, "--report");
  if (!options.kl_base.empty()) return run_kl_eval(options);
  if (!options.kl_base_logits.empty()) return run_kl_file_eval(options);
  if (!options.save_logits.empty()) return run_save_logits(options);
  const auto start = Clock::now();
  const int64_t budget = checked_budget(options, model::load_model_config(options.model), 1);
  const auto lm = load_streamed(options.model);
  Timings timings;
  timings.load = seconds_since(start);
  const eval::PerplexityResult result = evaluate(options, *lm, budget, timings);
  timings.eval = result.seconds;
  print_result(result);
  if (!options.report.empty()) write_report(options, result, timings);
  return kExitOk;
}

}  // namespace

Command add_eval_command(CLI::App& parent) {
  auto options = std::make_shared<EvalOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "eval",
      "Perplexity on a data set: the text is tokenized once and cut into non-overlapping "
      "windows of --seqlen tokens (GPTQ protocol); token files are scored row by row");
  CLI::App& app = *command.app;
  app.add_option("--model", options->model, "Hugging Face model directory")->required();
  app.add_option("--dataset", options->dataset,
                 "wikitext2 | ptb | ptb-new | c4 | PATH (text or JSON lines) | tokens:PATH "
                 "(int32 rows)");
  app.add_option("--seqlen", options->seqlen,
                 "Window length (default: min(2048, max_position_embeddings); for tokens:PATH "
                 "the row length, default max_position_embeddings)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 30));
  app.add_option("--max-segments", options->max_segments,
                 "Evaluate only the first N windows, N >= 1 (default: all)")
      ->check(kPositive);
  app.add_option("--batch-size", options->batch_size,
                 "Windows per forward pass (default: as many as fit a 1 GiB activation budget)")
      ->check(kNonNegative);
  app.add_option("--tokenizer", options->tokenizer,
                 "Tokenizer directory or file (default: the model directory)");
  add_report_option(app, &options->report, "Also write the result and its context as JSON here");
  app.add_option("--tasks", options->tasks,
                 "Zero-shot tasks instead of perplexity, scored as lm-evaluation-harness does: "
                 "comma-separated lambada_openai, piqa, winogrande, boolq, arc_easy, "
                 "arc_challenge, hellaswag");
  app.add_option("--task-dir", options->task_dir,
                 "Directory holding <task>/ data folders (default: the shared data's zeroshot/)");
  auto* kl_base = app.add_option(
      "--kl-base", options->kl_base,
      "KL divergence of --model's next-token distributions from this model's "
      "(the original) on --dataset, with llama.cpp's summary, instead of perplexity");
  auto* save = app.add_option(
      "--save-logits", options->save_logits,
      "Write the model's next-token log-probs on --dataset to this file (the original model, "
      "once), for later --kl-base-logits runs, instead of perplexity");
  app.add_option("--top-k", options->top_k,
                 "--save-logits: keep each distribution's K most probable entries and the rest's "
                 "mass (default: full log-probs up to a 4096-entry vocabulary, else K = 256)")
      ->check(kPositive)
      ->needs(save);
  auto* from_file = app.add_option(
      "--kl-base-logits", options->kl_base_logits,
      "KL divergence of --model's next-token distributions from those --save-logits wrote to "
      "this file (same --dataset, --seqlen, --max-segments), instead of perplexity");
  save->excludes(from_file);
  app.add_option("--limit", options->limit, "Score only the first N examples of each task")
      ->check(kPositive);
  app.add_option("--memory-budget", options->memory_budget_mb,
                 "MiB the evaluation may use (default: MemAvailable, or the cgroup's limit if "
                 "lower): bounds the windows in flight; exit 3 before any work when one layer "
                 "and one window do not fit")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  kl_base->excludes("--save-logits")->excludes("--kl-base-logits");
  command.run = [options] { return run_eval(*options); };
  return command;
}

}  // namespace ptq::cli
