#pragma once
// Calibration samples: nsamples windows of seqlen token ids, drawn exactly as the GPTQ
// reference's datautils.py does (docs/eval-protocol.md), with ptq::quant::PythonRandom standing in
// for CPython's random so the same seed gives the same windows:
//
//   CalibrationOptions options{"wikitext2", 128, 2048, 0};
//   at::Tensor ids = load_calibration(options, "models/llama");  // int64 [128, 2048]
//
// Specs: wikitext2 | ptb | PATH (text, JSON lines): random windows of the one tokenized
// joined text; c4: a random document with >= seqlen tokens, then a random window of it;
// tokens:PATH: the first nsamples rows of an int32 token file.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ptq::tokenizer {
class Tokenizer;
}

namespace ptq::quant {

struct CalibrationOptions {
  std::string spec;
  int64_t nsamples = 128;
  int64_t seqlen = 2048;  // for tokens:PATH the row length the file is cut into
  int64_t seed = 0;
};

// Start positions of datautils.py's text windows: random.seed(seed), then nsamples times
// randint(0, tokens - seqlen - 1). Throws InputError (naming `source`) when
// tokens < seqlen + 1.
std::vector<int64_t> text_window_starts(
    int64_t tokens, int64_t seqlen, int64_t nsamples, int64_t seed, const std::string& source);

// Windows of one token stream, [nsamples, seqlen] int64.
at::Tensor sample_text_windows(const std::vector<int32_t>& ids,
                               const CalibrationOptions& options,
                               const std::string& source);

// datautils.py get_c4's calibration loop over `documents`, [nsamples, seqlen] int64.
// Throws InputError when no document has seqlen + 1 tokens.
at::Tensor sample_document_windows(const std::vector<std::string>& documents,
                                   const tokenizer::Tokenizer& tokenizer,
                                   const CalibrationOptions& options);

// The calibration ids for options.spec; text is tokenized with the tokenizer at
// `tokenizer_path` (a model directory or tokenizer file).
at::Tensor load_calibration(const CalibrationOptions& options, const std::string& tokenizer_path);

}  // namespace ptq::quant
