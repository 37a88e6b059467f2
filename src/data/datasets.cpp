#include <filesystem>

#include "data/json_lines.h"
#include "io/read_file.h"
#include "ptq/common/error.h"
#include "ptq/data/dataset.h"

namespace ptq::data {
namespace {

namespace fs = std::filesystem;

// Rows and the separator the GPTQ protocol joins them with.
struct Corpus {
  std::vector<std::string> rows;
  std::string separator;
  std::string source;  // for error messages
};

// Python's str.strip() for the ASCII whitespace these corpora use.
std::string_view strip(std::string_view text) {
  constexpr const char* kWhitespace = " \t\n\r\v\f";
  const size_t first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kWhitespace) - first + 1);
}

// The lines of `bytes`, each with its '\n' (the last one may lack it).
std::vector<std::string_view> lines_with_newline(std::string_view bytes) {
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < bytes.size();) {
    const size_t end = std::min(bytes.find('\n', start), bytes.size() - 1) + 1;
    lines.push_back(bytes.substr(start, end - start));
    start = end;
  }
  return lines;
}

// Hugging Face's wikitext rows are the file's lines, '\n' kept, with blank lines (" \n" in
// the file) as "" (docs/test-data.md).
Corpus wikitext2(const std::string& path) {
  Corpus corpus{{}, "\n\n", path};
  const std::string bytes = io::read_file_bytes(path);
  for (const std::string_view line : lines_with_newline(bytes)) {
    corpus.rows.emplace_back(strip(line).empty() ? std::string_view() : line);
  }
  return corpus;
}

// ptb_text_only's 'sentence' is one line of the Mikolov file with the surrounding spaces and
// the '\n' stripped (its loader yields line.strip()), one row per line.
Corpus ptb(const std::string& path, const std::string& separator) {
  Corpus corpus{{}, separator, path};
  const std::string bytes = io::read_file_bytes(path);
  for (const std::string_view line : lines_with_newline(bytes)) {
    corpus.rows.emplace_back(strip(line));
  }
  return corpus;
}

bool is_json_lines(const std::string& path) {
  for (const char* suffix : {".jsonl", ".jsonl.gz", ".json.gz"}) {
    const std::string_view end(suffix);
    if (path.size() >= end.size() && path.compare(path.size() - end.size(), end.size(), end) == 0) {
      return true;
    }
  }
  return false;
}

// The file of a named set in the shared data directory, or "" for any other spec.
std::string named_set_file(const std::string& spec) {
  const char* file = spec == "wikitext2" ? "wikitext-2-raw/wiki.test.raw"
                     : spec == "ptb"     ? "ptb/ptb.valid.txt"
                     : spec == "ptb-new" ? "ptb/ptb.test.txt"
                     : spec == "c4"      ? "c4/c4-train.00000-of-01024.first1000.jsonl.gz"
                                         : nullptr;
  return file ? (fs::path(shared_data_dir()) / file).string() : std::string();
}

// The text file `spec` reads; throws InputError for an unknown name or an unusable file.
std::string checked_file(const std::string& spec) {
  const std::string named = named_set_file(spec);
  std::error_code error;
  PTQ_CHECK_INPUT(!named.empty() || fs::exists(fs::symlink_status(spec, error)),
                  "unknown data set '", spec,
                  "' (expected wikitext2, ptb, ptb-new, c4 or an existing file)");
  const std::string path = named.empty() ? spec : named;
  io::check_regular_file(path);
  return path;
}

Corpus resolve(const std::string& spec) {
  const std::string path = checked_file(spec);
  if (spec == "wikitext2") return wikitext2(path);
  if (spec == "ptb") return ptb(path, "\n\n");
  if (spec == "ptb-new") return ptb(path, " ");
  if (spec == "c4") return {read_json_lines_text(path), " ", path};
  if (is_json_lines(spec)) return {read_json_lines_text(spec), "\n\n", spec};
  return {{io::read_file_bytes(spec)}, "", spec};
}

Corpus load_corpus(const std::string& spec) {
  Corpus corpus = resolve(spec);
  bool has_text = false;
  for (const std::string& row : corpus.rows) has_text = has_text || !row.empty();
  PTQ_CHECK_INPUT(has_text, "data set '", spec, "' is empty (", corpus.source, ")");
  return corpus;
}

}  // namespace

void check_dataset_spec(const std::string& spec) {
  if (is_token_spec(spec)) {
    io::check_regular_file(token_spec_path(spec));
  } else {
    checked_file(spec);
  }
}

std::vector<std::string> load_documents(const std::string& spec) { return load_corpus(spec).rows; }

std::string load_text(const std::string& spec) {
  const Corpus corpus = load_corpus(spec);
  size_t size = 0;
  for (const std::string& row : corpus.rows) size += row.size() + corpus.separator.size();
  std::string text;
  text.reserve(size);
  for (size_t i = 0; i < corpus.rows.size(); ++i) {
    if (i > 0) text += corpus.separator;
    text += corpus.rows[i];
  }
  return text;
}

}  // namespace ptq::data
