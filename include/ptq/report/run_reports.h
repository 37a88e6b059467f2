#pragma once
// The runs described by the JSON reports of `ptq quantize --report` and `ptq eval --json`,
// one row per quantized (or full-precision) checkpoint, for `ptq report`:
//
//   std::vector<RunRow> rows = read_run_reports({"sweep-out"});  // its *.json
//
// An eval report of a quantize run's output ("config.model" == "settings.out", compared as
// lexically normal paths) adds its numbers to that run's row: a perplexity, zero-shot task
// metrics (`ptq eval --tasks`) or the KL divergence to a base model (`--kl-base`,
// `--kl-base-logits`); the other eval reports get a row of their own from the checkpoint
// settings `ptq eval` records ("checkpoint", see ptq/format/checkpoint_summary.h).

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ptq::report {

// A mean and its standard error as the report gives it (none: a single sample).
struct Score {
  double value = 0;
  std::optional<double> stderr_value;

  bool operator==(const Score& other) const {
    return value == other.value && stderr_value == other.stderr_value;
  }
};

struct RunRow {
  std::string method;   // rtn, gptq, septq, ruquant, ...; "fp" when not quantized
  int bits = 0;         // weight bits; a full-precision row: its stored bits per weight
  int group_size = -1;  // -1: per output channel
  int act_bits = 16;    // 16: activations not quantized
  std::optional<double> keep_percent;        // septq only
  double bits_per_weight = 0;                // effective (quantized linears, storage_bits.h)
  std::map<std::string, double> perplexity;  // by data set label (dataset_label)
  std::map<std::string, Score>
      task_metrics;  // by "task metric": "piqa acc", "lambada_openai perplexity"
  std::map<std::string, Score> mean_kld;        // KL(base || this) per token, by data set label
  std::map<std::string, Score> top1_agreement;  // fraction of same top tokens, by data set label
  std::optional<double> quantize_seconds;
  std::string model;                 // the checkpoint directory the row describes
  std::vector<std::string> reports;  // file names of the reports it came from

  bool quantized() const { return method != "fp"; }
};

// "tokens:PATH" and PATH: the file's stem; a named data set (wikitext2, c4, ...) itself.
std::string dataset_label(const std::string& spec);

// Reads every file in `paths` and every *.json directly inside a directory in `paths` (in
// name order). Rows: full-precision first, then by method, bits (descending), group size,
// act bits, keep percent. Throws InputError naming the file for one that is not JSON, not a
// ptq report, or lacks a key the table needs, and for no report at all.
std::vector<RunRow> read_run_reports(const std::vector<std::string>& paths);

// The data set labels of `rows`' perplexities, sorted.
std::vector<std::string> datasets_of(const std::vector<RunRow>& rows);

// The "task metric" keys of `rows`' zero-shot metrics, sorted.
std::vector<std::string> task_metrics_of(const std::vector<RunRow>& rows);

// The data set labels of `rows`' KL divergences, sorted.
std::vector<std::string> kl_datasets_of(const std::vector<RunRow>& rows);

}  // namespace ptq::report
