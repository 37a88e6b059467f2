#pragma once
// Evaluation and calibration text, prepared exactly as the GPTQ reference protocol does
// (see ../shared/notes/eval-protocol.md), and pre-tokenized rows.
//
//   std::string text = ptq::data::load_text("wikitext2");   // "\n\n".join(test rows)
//   ptq::data::TokenRows rows = ptq::data::load_token_rows("samples.i32", 512);
//
// Named sets are read from the shared data directory: $PTQ_DATA_DIR if set, else the first
// of ./../shared/data, <executable>/../../shared/data that exists.

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

// `spec`: wikitext2 | ptb | c4 | PATH (plain text, or JSON lines(.gz) with a "text" field).
// Returns the one string the protocol tokenizes. Throws InputError for an unknown name, a
// missing or empty file, or a JSON-lines record without text.
std::string load_text(const std::string& spec);

// `path` (without the "tokens:" prefix); row_len must divide the file's token count.
TokenRows load_token_rows(const std::string& path, int64_t row_len);

}  // namespace ptq::data
