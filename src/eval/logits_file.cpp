#include "ptq/eval/logits_file.h"

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "io/content_hash.h"
#include "ptq/common/error.h"

namespace ptq::eval {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'P', 'T', 'Q', 'L', 'O', 'G', 'P', '1'};
constexpr int64_t kFormat = 1;
constexpr uint64_t kMaxHeaderBytes = uint64_t{1} << 20;
constexpr uint64_t kPreambleBytes = sizeof(kMagic) + sizeof(uint64_t);

nlohmann::json header_json(const LogitsFileHeader& h) {
  return {{"format", kFormat},      {"dataset", h.dataset},      {"model", h.model},
          {"segments", h.segments}, {"seqlen", h.seqlen},        {"vocab", h.vocab},
          {"top_k", h.top_k},       {"token_hash", h.token_hash}};
}

int64_t positive_field(const nlohmann::json& j,
                       const char* key,
                       int64_t low,
                       const std::string& path) {
  PTQ_CHECK_INPUT(j.contains(key) && j[key].is_number_integer(), path,
                  ": the header has no integer \"", key, "\"");
  const auto value = j[key].get<int64_t>();
  PTQ_CHECK_INPUT(value >= low && value <= (int64_t{1} << 40), path, ": header \"", key, "\" is ",
                  value, ", outside [", low, ", 2^40]");
  return value;
}

LogitsFileHeader parse_header(const std::string& text, const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    PTQ_THROW_INPUT(path, ": the header is not valid JSON: ", e.what());
  }
  PTQ_CHECK_INPUT(j.is_object(), path, ": the header is not a JSON object");
  PTQ_CHECK_INPUT(positive_field(j, "format", 0, path) == kFormat, path, ": format ",
                  j["format"].get<int64_t>(), " is not ", kFormat, ", the one this ptq reads");
  LogitsFileHeader h;
  h.segments = positive_field(j, "segments", 1, path);
  h.seqlen = positive_field(j, "seqlen", 2, path);
  h.vocab = positive_field(j, "vocab", 1, path);
  h.top_k = positive_field(j, "top_k", 0, path);
  PTQ_CHECK_INPUT(h.top_k <= h.vocab, path, ": top_k ", h.top_k, " exceeds the vocabulary of ",
                  h.vocab);
  for (const char* key : {"dataset", "model", "token_hash"}) {
    PTQ_CHECK_INPUT(j.contains(key) && j[key].is_string(), path, ": the header has no string \"",
                    key, "\"");
  }
  h.dataset = j["dataset"].get<std::string>();
  h.model = j["model"].get<std::string>();
  h.token_hash = j["token_hash"].get<std::string>();
  return h;
}

// The records' bytes, or -1 when they do not fit an int64 (no file is that large).
int64_t records_bytes(const LogitsFileHeader& h) {
  const int64_t limit = std::numeric_limits<int64_t>::max();
  if (h.segments > limit / (h.seqlen - 1)) return -1;
  const int64_t predictions = h.predictions();
  if (predictions > limit / h.record_bytes()) return -1;
  return predictions * h.record_bytes();
}

}  // namespace

std::string token_hash(const at::Tensor& segments) {
  const at::Tensor ids = segments.to(at::kInt).contiguous();
  return io::hash_hex(io::hash_bytes(ids.data_ptr(), ids.nbytes()));
}

LogitsFileWriter::LogitsFileWriter(std::string path, LogitsFileHeader header)
    : _path(std::move(path)), _temp(_path + ".tmp"), _header(std::move(header)) {
  _out.open(_temp, std::ios::binary | std::ios::trunc);
  PTQ_CHECK_INPUT(_out.is_open(), _temp, ": cannot create: ", std::strerror(errno));
  const std::string text = header_json(_header).dump();
  const uint64_t length = text.size();
  try {
    write_bytes(kMagic, sizeof(kMagic));
    write_bytes(&length, sizeof(length));
    write_bytes(text.data(), text.size());
  } catch (...) {  // no destructor runs for a constructor that throws
    _out.close();
    std::error_code ignored;
    fs::remove(_temp, ignored);
    throw;
  }
}

LogitsFileWriter::~LogitsFileWriter() {
  if (_committed) return;
  _out.close();
  std::error_code ignored;
  fs::remove(_temp, ignored);
}

void LogitsFileWriter::write_bytes(const void* data, size_t size) {
  _out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  PTQ_CHECK_INPUT(_out.good(), _temp, ": write failed: ", std::strerror(errno));
}

void LogitsFileWriter::write_full(const at::Tensor& log_p) {
  PTQ_CHECK_INPUT(_header.top_k == 0, _path, ": full distributions written to a top-k file");
  const at::Tensor rows = log_p.to(at::kFloat).contiguous();
  PTQ_CHECK_INPUT(rows.dim() == 2 && rows.size(1) == _header.vocab, _path,
                  ": log-probs do not have the header's ", _header.vocab, " entries");
  write_bytes(rows.data_ptr(), rows.nbytes());
  _written += rows.size(0);
}

void LogitsFileWriter::write_top_k(const TopKLogProbs& top) {
  const int64_t k = _header.top_k;
  PTQ_CHECK_INPUT(k > 0 && top.log_probs.size(-1) == k, _path,
                  ": top-k entries do not match the header's top_k ", k);
  const at::Tensor values = top.log_probs.to(at::kFloat).contiguous();
  const at::Tensor ids = top.ids.to(at::kInt).contiguous();
  const at::Tensor rest = top.log_rest.to(at::kFloat).contiguous();
  const at::Tensor target = top.log_target.to(at::kFloat).contiguous();
  const int64_t n = values.size(0);
  std::vector<char> record(static_cast<size_t>(_header.record_bytes()));
  for (int64_t i = 0; i < n; ++i) {
    char* out = record.data();
    std::memcpy(out, values.data_ptr<float>() + i * k, 4 * k);
    std::memcpy(out + 4 * k, ids.data_ptr<int32_t>() + i * k, 4 * k);
    std::memcpy(out + 8 * k, rest.data_ptr<float>() + i, 4);
    std::memcpy(out + 8 * k + 4, target.data_ptr<float>() + i, 4);
    write_bytes(record.data(), record.size());
  }
  _written += n;
}

void LogitsFileWriter::commit() {
  PTQ_CHECK_INPUT(_written == _header.predictions(), _path, ": ", _written,
                  " predictions written, the header promises ", _header.predictions());
  _out.close();
  PTQ_CHECK_INPUT(!_out.fail(), _temp, ": cannot write: ", std::strerror(errno));
  std::error_code error;
  fs::rename(_temp, _path, error);
  PTQ_CHECK_INPUT(!error, "cannot rename ", _temp, " to ", _path, ": ", error.message());
  _committed = true;
}

LogitsFileReader::LogitsFileReader(std::string path) : _path(std::move(path)) {
  std::error_code error;
  const uint64_t size = fs::file_size(_path, error);
  PTQ_CHECK_INPUT(!error, _path, ": cannot read: ", error.message());
  _in.open(_path, std::ios::binary);
  PTQ_CHECK_INPUT(_in.is_open(), _path, ": cannot open: ", std::strerror(errno));
  PTQ_CHECK_INPUT(size >= kPreambleBytes, _path, ": ", size,
                  " bytes, too short for a ptq logits file (written by ptq eval --save-logits)");
  char magic[sizeof(kMagic)];
  uint64_t length = 0;
  read_bytes(magic, sizeof(magic));
  PTQ_CHECK_INPUT(std::memcmp(magic, kMagic, sizeof(kMagic)) == 0, _path,
                  " is not a ptq logits file (written by ptq eval --save-logits)");
  read_bytes(&length, sizeof(length));
  PTQ_CHECK_INPUT(length <= kMaxHeaderBytes && length <= size - kPreambleBytes, _path,
                  ": header length ", length, " runs past the end of the ", size, "-byte file");
  std::string text(length, '\0');
  read_bytes(text.data(), text.size());
  _header = parse_header(text, _path);
  const int64_t records = records_bytes(_header);
  const uint64_t expected = kPreambleBytes + length + static_cast<uint64_t>(records);
  PTQ_CHECK_INPUT(records >= 0 && size == expected, _path, " holds ", size,
                  " bytes but its header's ", _header.segments, " segments x ", _header.seqlen - 1,
                  " predictions of ", _header.record_bytes(), " bytes need ", expected,
                  ": the file is truncated or damaged; write it again with --save-logits");
}

void LogitsFileReader::check_matches(const LogitsFileHeader& run) const {
  const LogitsFileHeader& h = _header;
  PTQ_CHECK_INPUT(h.vocab == run.vocab, _path, " holds distributions over ", h.vocab,
                  " tokens but the model's vocabulary has ", run.vocab);
  PTQ_CHECK_INPUT(
      h.segments == run.segments && h.seqlen == run.seqlen && h.token_hash == run.token_hash, _path,
      " was written for ", h.segments, " rows of ", h.seqlen, " tokens of --dataset ", h.dataset,
      " (token hash ", h.token_hash, ") but this run evaluates ", run.segments, " rows of ",
      run.seqlen, " tokens of ", run.dataset, " (token hash ", run.token_hash,
      "): give the --dataset, --seqlen and --max-segments of the --save-logits run");
}

void LogitsFileReader::read_bytes(void* data, size_t size) {
  _in.read(static_cast<char*>(data), static_cast<std::streamsize>(size));
  PTQ_CHECK_INPUT(_in.good(), _path, ": read failed (truncated while in use?)");
}

void LogitsFileReader::take(int64_t n, int64_t top_k) {
  PTQ_CHECK_INPUT(_header.top_k == top_k, _path, ": top_k ", _header.top_k, ", not ", top_k);
  PTQ_CHECK_INPUT(n >= 0 && n <= _header.predictions() - _read, _path, ": ", n,
                  " records asked for, ", _header.predictions() - _read, " left");
  _read += n;
}

at::Tensor LogitsFileReader::read_full(int64_t n) {
  take(n, 0);
  at::Tensor rows = at::empty({n, _header.vocab}, at::kFloat);
  read_bytes(rows.data_ptr(), rows.nbytes());
  return rows;
}

TopKLogProbs LogitsFileReader::read_top_k(int64_t n) {
  const int64_t k = _header.top_k;
  PTQ_CHECK_INPUT(k > 0, _path, " holds full distributions, not top-k ones");
  take(n, k);
  TopKLogProbs top;
  top.log_probs = at::empty({n, k}, at::kFloat);
  at::Tensor ids = at::empty({n, k}, at::kInt);
  top.log_rest = at::empty({n}, at::kFloat);
  top.log_target = at::empty({n}, at::kFloat);
  std::vector<char> record(static_cast<size_t>(_header.record_bytes()));
  for (int64_t i = 0; i < n; ++i) {
    read_bytes(record.data(), record.size());
    std::memcpy(top.log_probs.data_ptr<float>() + i * k, record.data(), 4 * k);
    std::memcpy(ids.data_ptr<int32_t>() + i * k, record.data() + 4 * k, 4 * k);
    std::memcpy(top.log_rest.data_ptr<float>() + i, record.data() + 8 * k, 4);
    std::memcpy(top.log_target.data_ptr<float>() + i, record.data() + 8 * k + 4, 4);
  }
  const int64_t low = ids.numel() ? ids.min().item<int64_t>() : 0;
  const int64_t high = ids.numel() ? ids.max().item<int64_t>() : 0;
  PTQ_CHECK_INPUT(low >= 0 && high < _header.vocab, _path, ": token id outside [0, ", _header.vocab,
                  ") in a top-k record: the file is damaged");
  top.ids = ids.to(at::kLong);
  return top;
}

}  // namespace ptq::eval
