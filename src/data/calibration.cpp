#include "ptq/data/calibration.h"

#include <ATen/ATen.h>

#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/data/dataset.h"
#include "ptq/data/python_random.h"
#include "ptq/tokenizer/tokenizer.h"

namespace ptq::quant {
namespace {

void check_options(const CalibrationOptions& options) {
  PTQ_CHECK_INPUT(options.nsamples >= 1, "--nsamples must be at least 1, got ", options.nsamples);
  PTQ_CHECK_INPUT(options.seqlen >= 2, "--seqlen must be at least 2, got ", options.seqlen);
}

void check_length(int64_t tokens, int64_t seqlen, const std::string& source) {
  PTQ_CHECK_INPUT(tokens >= seqlen + 1, "calibration data ", source, " has ", tokens,
                  " tokens, fewer than seqlen + 1 = ", seqlen + 1);
}

void copy_window(const std::vector<int32_t>& ids, int64_t start, at::Tensor row) {
  const at::Tensor window =
      at::from_blob(const_cast<int32_t*>(ids.data()) + start, {row.size(0)}, at::kInt);
  row.copy_(window);
}

// The first nsamples rows of an int32 token file cut into rows of seqlen.
at::Tensor token_rows(const std::string& path, const CalibrationOptions& options) {
  const data::TokenRows rows = data::load_token_rows(path, options.seqlen);
  PTQ_CHECK_INPUT(rows.rows >= options.nsamples, "calibration data tokens:", path, " has ",
                  rows.rows, " rows of ", options.seqlen, " tokens, fewer than --nsamples ",
                  options.nsamples);
  const at::Tensor all =
      at::from_blob(const_cast<int32_t*>(rows.ids.data()), {rows.rows, rows.row_len}, at::kInt);
  return all.slice(0, 0, options.nsamples).to(at::kLong);
}

}  // namespace

std::vector<int64_t> text_window_starts(
    int64_t tokens, int64_t seqlen, int64_t nsamples, int64_t seed, const std::string& source) {
  check_length(tokens, seqlen, source);
  PythonRandom random(seed);
  std::vector<int64_t> starts(nsamples);
  for (int64_t& start : starts) start = random.randint(0, tokens - seqlen - 1);
  return starts;
}

at::Tensor sample_text_windows(const std::vector<int32_t>& ids,
                               const CalibrationOptions& options,
                               const std::string& source) {
  check_options(options);
  const std::vector<int64_t> starts = text_window_starts(
      static_cast<int64_t>(ids.size()), options.seqlen, options.nsamples, options.seed, source);
  at::Tensor out = at::empty({options.nsamples, options.seqlen}, at::kLong);
  for (int64_t s = 0; s < options.nsamples; ++s) copy_window(ids, starts[s], out[s]);
  return out;
}

// get_c4 re-draws a document until one is long enough; the condition is len >= seqlen while
// randint(0, len - seqlen - 1) needs len > seqlen (a document of exactly seqlen tokens makes
// Python raise). Documents of at least seqlen + 1 tokens are required up front so the loop
// ends; the draws are the reference's whenever it does not fail.
at::Tensor sample_document_windows(const std::vector<std::string>& documents,
                                   const tokenizer::Tokenizer& tokenizer,
                                   const CalibrationOptions& options) {
  check_options(options);
  const auto ndocs = static_cast<int64_t>(documents.size());
  PTQ_CHECK_INPUT(ndocs > 0, "calibration data ", options.spec, " has no documents");
  bool any_long = false;
  for (const std::string& doc : documents) {
    any_long = any_long || static_cast<int64_t>(tokenizer.encode(doc).size()) >= options.seqlen + 1;
    if (any_long) break;
  }
  PTQ_CHECK_INPUT(any_long, "calibration data ", options.spec, " has no document of at least ",
                  options.seqlen + 1, " tokens (seqlen + 1)");
  PythonRandom random(options.seed);
  at::Tensor out = at::empty({options.nsamples, options.seqlen}, at::kLong);
  for (int64_t s = 0; s < options.nsamples; ++s) {
    std::vector<int32_t> ids;
    do {
      ids = tokenizer.encode(documents[random.randint(0, ndocs - 1)]);
    } while (static_cast<int64_t>(ids.size()) < options.seqlen + 1);
    const int64_t start = random.randint(0, static_cast<int64_t>(ids.size()) - options.seqlen - 1);
    copy_window(ids, start, out[s]);
  }
  return out;
}

at::Tensor load_calibration(const CalibrationOptions& options, const std::string& tokenizer_path) {
  check_options(options);
  if (data::is_token_spec(options.spec)) {
    return token_rows(data::token_spec_path(options.spec), options);
  }
  const auto tokenizer = tokenizer::load_tokenizer(tokenizer_path);
  if (options.spec == "c4") {
    return sample_document_windows(data::load_documents("c4"), *tokenizer, options);
  }
  if (options.spec == "wikitext2" || options.spec == "ptb") {
    // datautils.py calibrates on the train split; shared/data ships the evaluation splits only.
    spdlog::warn("calibrating on {}'s evaluation split (its train split is not shipped)",
                 options.spec);
  }
  const std::vector<int32_t> ids = tokenizer->encode(data::load_text(options.spec));
  spdlog::info("calibration {}: {} tokens", options.spec, ids.size());
  return sample_text_windows(ids, options, options.spec);
}

}  // namespace ptq::quant
