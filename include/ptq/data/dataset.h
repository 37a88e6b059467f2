#pragma once
// Evaluation and calibration text, prepared exactly as the GPTQ reference protocol does
// (docs/eval-protocol.md), and pre-tokenized rows.
//
//   std::string text = ptq::data::load_text("wikitext2");   // "\n\n".join(test rows)
//   std::vector<std::string> docs = ptq::data::load_documents("c4");  // rows before joining
//   ptq::data::TokenRows rows = ptq::data::load_token_rows("samples.i32", 512);
//
// Named sets are read from the shared data directory: $PTQ_DATA_DIR if set, else the first
// of ./../shared/data, <executable>/../../shared/data that exists (<executable>: the directory
// of the running binary, so build/ptq in a checkout finds the checkout's ../shared/data).

#include <cstdint>
#include <string>
#include <vector>

namespace ptq::data {

// Pre-tokenized segments: int32 little-endian, row-major [rows, row_len].
struct TokenRows {
  std::vector<int32_t> ids;
  int64_t rows = 0;
  int64_t row_len = 0;
};

// The shared data directory (throws InputError when none is found, saying where it looked).
std::string shared_data_dir();

// True for "tokens:PATH" specs.
bool is_token_spec(const std::string& spec);
// The PATH of a "tokens:PATH" spec (the spec must be one).
std::string token_spec_path(const std::string& spec);

// `spec`: a named set or a PATH.
//   wikitext2  wikitext-2-raw test rows, joined with "\n\n" (GPTQ's wikitext2)
//   ptb        PTB validation sentences, joined with "\n\n" (GPTQ's ptb)
//   ptb-new    PTB test sentences, joined with " " (GPTQ's ptb-new)
//   c4         the shipped C4 train-shard documents, joined with " " (c4-new style; the C4
//              validation shard is not available, see docs/test-data.md)
//   PATH       *.jsonl, *.jsonl.gz, *.json.gz: JSON lines with a "text" field, joined with
//              "\n\n"; any other file: its bytes, as one document
// Returns the one string the protocol tokenizes. Throws InputError naming the file for an
// unknown name, a missing or empty file, a malformed JSON line or a record without "text".
std::string load_text(const std::string& spec);

// Throws the InputError load_text or load_token_rows would for an unknown name or a file that
// is missing or not a regular file, without reading it: commands check their data sets first.
void check_dataset_spec(const std::string& spec);

// The rows / documents of `spec` before joining (calibration samples windows from them).
std::vector<std::string> load_documents(const std::string& spec);

// `path` (without the "tokens:" prefix); row_len must divide the file's token count, else
// InputError naming the file.
TokenRows load_token_rows(const std::string& path, int64_t row_len);

}  // namespace ptq::data
