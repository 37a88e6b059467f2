#pragma once
// A base model's next-token distributions on a token set, written once by
// `ptq eval --save-logits` and read back by `--kl-base-logits` (docs/kl-divergence.md), so that
// the base and the quantized model never need to be in memory together.
//
// Layout (little-endian):
//   "PTQLOGP1"                     8 bytes
//   header length H                uint64
//   header                         H bytes of JSON: format 1, dataset, model, segments, seqlen,
//                                  vocab, top_k (0 = full), token_hash
//   segments x (seqlen - 1) records, in segment and position order, each
//     top_k == 0: vocab float32 log-probs
//     top_k == k: k float32 log-probs (descending), k int32 token ids, float32 ln(rest mass),
//                 float32 log-prob of the target token
//
//   LogitsFileWriter out("fp.logits", header);   // writes fp.logits.tmp
//   out.write_full(log_p);                       // or write_top_k(top)
//   out.commit();                                // checks the count, renames to fp.logits
//
//   LogitsFileReader in("fp.logits");            // validated before anything is allocated
//   in.check_matches(expected);                  // the run's own header
//   at::Tensor base_log_p = in.read_full(n);

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "ptq/eval/kl_divergence.h"

namespace ptq::eval {

// Full distributions up to this vocabulary size (2 KiB per prediction at most); larger ones
// keep their top kDefaultTopK entries unless --top-k says otherwise.
constexpr int64_t kFullVocabularyLimit = 4096;
constexpr int64_t kDefaultTopK = 256;

struct LogitsFileHeader {
  std::string dataset;  // as given, for messages
  std::string model;
  int64_t segments = 0;
  int64_t seqlen = 0;
  int64_t vocab = 0;
  int64_t top_k = 0;       // 0: full distributions
  std::string token_hash;  // of the segments' int32 ids (token_hash())

  int64_t predictions() const { return segments * (seqlen - 1); }
  int64_t record_bytes() const { return top_k == 0 ? 4 * vocab : 8 * top_k + 8; }
};

// 16 hex digits of the content hash of `segments` [S, T] as little-endian int32 ids.
std::string token_hash(const at::Tensor& segments);

class LogitsFileWriter {
 public:
  // Throws InputError naming the file when `path`.tmp cannot be created.
  LogitsFileWriter(std::string path, LogitsFileHeader header);
  // Removes the temporary file unless commit() succeeded.
  ~LogitsFileWriter();
  LogitsFileWriter(const LogitsFileWriter&) = delete;
  LogitsFileWriter& operator=(const LogitsFileWriter&) = delete;

  void write_full(const at::Tensor& log_p);   // [N, vocab] fp32; header top_k == 0
  void write_top_k(const TopKLogProbs& top);  // header top_k == k
  // Throws InputError unless every prediction was written and the file could be flushed;
  // renames the temporary file to `path`.
  void commit();

 private:
  void write_bytes(const void* data, size_t size);

  std::string _path, _temp;
  LogitsFileHeader _header;
  std::ofstream _out;
  int64_t _written = 0;
  bool _committed = false;
};

class LogitsFileReader {
 public:
  // Throws InputError naming the file when it is not a ptq logits file, its header is
  // malformed, or its size is not the header's (a truncated file).
  explicit LogitsFileReader(std::string path);

  const LogitsFileHeader& header() const { return _header; }
  // Throws InputError naming the file and what differs when `run` (this run's token rows,
  // seqlen, vocabulary) is not what the file was written for.
  void check_matches(const LogitsFileHeader& run) const;
  // The next n records; throw InputError past the last one or when a read fails.
  at::Tensor read_full(int64_t n);  // [n, vocab] fp32
  TopKLogProbs read_top_k(int64_t n);

 private:
  void read_bytes(void* data, size_t size);
  void take(int64_t n, int64_t top_k);

  std::string _path;
  LogitsFileHeader _header;
  std::ifstream _in;
  int64_t _read = 0;
};

}  // namespace ptq::eval
