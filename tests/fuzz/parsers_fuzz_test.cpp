// Deterministic mutation fuzzing of the parsers that read user files: safetensors headers,
// config.json (alone and against real tensors), tokenizer.json and JSON-lines corpora. Every
// mutated input must load or be rejected with an InputError; any other exception, a crash or
// (in the sanitizer build) an ASan/UBSan report fails. The seed is fixed, so a failure
// reproduces; PTQ_FUZZ_ITERATIONS raises the per-target count for longer runs.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "data/json_lines.h"
#include "io/torch_checkpoint.h"
#include "model/model_test_utils.h"
#include "ptq/common/error.h"
#include "ptq/io/safetensors.h"
#include "ptq/model/causal_lm.h"
#include "ptq/model/config.h"
#include "ptq/tokenizer/tokenizer.h"
#include "test_utils.h"
#include "tokenizer/tokenizer_json_samples.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

int iterations() {
  const char* value = std::getenv("PTQ_FUZZ_ITERATIONS");
  return value != nullptr ? std::atoi(value) : 1000;
}

// Byte-level mutations, stacked 1-4 per input; `hot` bytes at the front (a safetensors header)
// receive most of them.
class Mutator {
 public:
  explicit Mutator(uint64_t seed) : _rng(seed) {}

  std::string mutate(std::string data, size_t hot) {
    const int rounds = 1 + static_cast<int>(_rng() % 4);
    for (int i = 0; i < rounds; ++i) mutate_once(data, hot);
    return data;
  }

 private:
  size_t position(const std::string& data, size_t hot) {
    if (data.empty()) return 0;
    const size_t range = (hot > 0 && hot < data.size() && _rng() % 5 != 0) ? hot : data.size();
    return _rng() % range;
  }

  void mutate_once(std::string& data, size_t hot) {
    static const std::vector<std::string> tokens = {
        "0",     "-1",      "4294967296", "18446744073709551615",
        "1e308", "NaN",     "\"",         "{",
        "}",     "[",       "]",          ",",
        ":",     "\\",      "\\u0000",    "null",
        "true",  "\"F64\"", "\"I8\"",     "\"BOOL\"",
        "\xff"};
    const size_t at = position(data, hot);
    switch (_rng() % 7) {
      case 0:  // flip a bit
        if (!data.empty()) data[at] = static_cast<char>(data[at] ^ (1 << (_rng() % 8)));
        break;
      case 1:  // an interesting byte
        if (!data.empty()) data[at] = "\0\xff\x7f\x80\"{}[],:09-e\\\n"[_rng() % 17];
        break;
      case 2:  // an interesting token
        data.insert(at, tokens[_rng() % tokens.size()]);
        break;
      case 3:  // delete a range
        data.erase(at, 1 + _rng() % 16);
        break;
      case 4:  // duplicate a range
        data.insert(at, data.substr(position(data, hot), 1 + _rng() % 16));
        break;
      case 5:  // truncate
        data.resize(at);
        break;
      default:  // replace a digit run with a large or negative number
        for (size_t i = at; i < data.size(); ++i) {
          if (data[i] < '0' || data[i] > '9') continue;
          size_t end = i;
          while (end < data.size() && data[end] >= '0' && data[end] <= '9') ++end;
          data.replace(i, end - i, tokens[1 + _rng() % 4]);
          break;
        }
    }
  }

  std::mt19937_64 _rng;
};

struct Outcome {
  int accepted = 0;
  int rejected = 0;
};

// A field from /proc/self/status in bytes (its values are in kB).
int64_t status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    int64_t kib = 0;
    if (key == field + ":" && status >> kib) return kib * 1024;
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return -1;
}

// How far one parse raised the resident set above where it started: the peak (VmHWM) is reset
// to the current RSS first (Linux clear_refs 5). A small input must not take memory by what it
// claims; every mutant stays under kMutantRssBound.
constexpr int64_t kMutantRssBound = int64_t{256} << 20;

int64_t rss_growth(const std::function<void()>& parse) {
  std::ofstream("/proc/self/clear_refs") << "5";
  const int64_t before = status_bytes("VmRSS");
  try {
    parse();
  } catch (...) {
    const int64_t growth = status_bytes("VmHWM") - before;
    EXPECT_LT(growth, kMutantRssBound);
    throw;
  }
  return status_bytes("VmHWM") - before;
}

// Runs `parse` on `iterations()` mutants of the seeds (written to `path` each time), after
// checking that every seed itself parses (or the mutants would test nothing past the error).
Outcome fuzz(const std::string& target,
             const std::vector<std::string>& seeds,
             size_t hot,
             const fs::path& path,
             const std::function<void()>& parse) {
  for (const std::string& seed : seeds) {
    write_file(path, seed);
    try {
      parse();
    } catch (const std::exception& e) {
      ADD_FAILURE() << target << " rejects its own seed: " << e.what();
    }
  }
  Mutator mutator(std::hash<std::string>{}(target));
  Outcome outcome;
  const int n = iterations();
  for (int i = 0; i < n; ++i) {
    const std::string input = mutator.mutate(seeds[i % seeds.size()], hot);
    write_file(path, input);
    try {
      EXPECT_LT(rss_growth(parse), kMutantRssBound) << target << " iteration " << i;
      ++outcome.accepted;
    } catch (const InputError&) {
      ++outcome.rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << target << " iteration " << i << ": " << e.what() << " (not an InputError)";
    }
  }
  std::printf("[ fuzz %-15s ] %d inputs: %d accepted, %d rejected with an InputError\n",
              target.c_str(), n, outcome.accepted, outcome.rejected);
  return outcome;
}

std::string small_safetensors(const fs::path& path) {
  io::SafetensorsWriter writer;
  writer.add("a.weight", at::arange(12, at::kFloat).reshape({3, 4}));
  writer.add("b.half", at::ones({5}, at::kHalf));
  writer.add("c.bf16", at::full({2, 2}, 0.5, at::kBFloat16));
  writer.add("d.ids", at::arange(7, at::kInt));
  writer.set_metadata("format", "pt");
  writer.write(path.string());
  return read_file(path);
}

TEST(ParserFuzz, SafetensorsHeaders) {
  TempDir tmp;
  const std::string seed = small_safetensors(tmp / "seed.safetensors");
  const fs::path path = tmp / "model.safetensors";
  const Outcome outcome = fuzz("safetensors", {seed}, 8 + 320, path, [&] {
    const io::SafetensorsReader reader(path.string());
    for (const std::string& name : reader.names()) reader.tensor(name).sum();  // touch the bytes
  });
  EXPECT_GT(outcome.rejected, 0);
}

// A torch.save archive (tests/reference/make_torch_bin_fixtures.py): in-place mutations of
// its first record, data.pkl, reach the restricted unpickler through an intact zip.
TEST(ParserFuzz, TorchSaveArchives) {
  TempDir tmp;
  const std::string seed = read_file(fixtures_dir() / "torch_bin" / "views.bin");
  const size_t pickle_end = seed.find(std::string("PK\x03\x04", 4), 4);  // the next record
  const fs::path path = tmp / "pytorch_model.bin";
  const Outcome outcome = fuzz("pytorch_model.bin", {seed}, pickle_end, path, [&] {
    const io::TorchCheckpointReader reader(path.string());
    for (const std::string& name : reader.names()) reader.tensor(name).sum();  // touch the bytes
  });
  EXPECT_GT(outcome.rejected, 0);
}

TEST(ParserFuzz, ModelConfigs) {
  TempDir tmp;
  std::vector<std::string> seeds;
  for (const std::string& name : model_fixtures()) {
    seeds.push_back(read_file(fs::path(fixture_model(name)) / "config.json"));
  }
  const Outcome outcome = fuzz("config.json", seeds, 0, tmp / "config.json",
                               [&] { model::load_model_config((tmp / "config.json").string()); });
  EXPECT_GT(outcome.accepted, 0);
  EXPECT_GT(outcome.rejected, 0);
}

// A mutated config.json beside real tensors: loading must check every shape it implies.
TEST(ParserFuzz, ConfigsAgainstTensors) {
  TempDir tmp;
  fs::copy_file(fs::path(fixture_model("qwen2")) / "model.safetensors", tmp / "model.safetensors");
  const std::string seed = read_file(fs::path(fixture_model("qwen2")) / "config.json");
  fuzz("config+tensors", {seed}, 0, tmp / "config.json",
       [&] { model::load_causal_lm(tmp.path().string()); });
}

TEST(ParserFuzz, TokenizerJson) {
  TempDir tmp;
  const std::vector<std::string> seeds = {metaspace_tokenizer_json().dump(2),
                                          byte_level_tokenizer_json().dump(2)};
  fuzz("tokenizer.json", seeds, 0, tmp / "tokenizer.json",
       [&] { tokenizer::load_tokenizer(tmp.path().string())->encode("ab c\n\u00e9"); });
}

TEST(ParserFuzz, JsonLines) {
  TempDir tmp;
  const std::string seed =
      "{\"text\": \"first document\", \"timestamp\": \"2019-04-25\"}\n"
      "\n"
      "{\"text\": \"caf\\u00e9 \\\"quoted\\\"\\nnext line\", \"url\": \"http://x\"}\n";
  fuzz("json-lines", {seed}, 0, tmp / "corpus.jsonl",
       [&] { data::read_json_lines_text((tmp / "corpus.jsonl").string()); });
}

// Counts, ids and shapes that claim huge sizes in otherwise small files, set one at a time:
// each must be rejected (or accepted) without taking memory by the claim.
const std::vector<int64_t> kHugeClaims = {1000000, 50000000, 2147483647, int64_t{1} << 31,
                                          int64_t{1} << 40};

void expect_bounded(const std::string& what, const std::function<void()>& parse) {
  try {
    EXPECT_LT(rss_growth(parse), kMutantRssBound) << what;
  } catch (const InputError&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": " << e.what() << " (not an InputError)";
  }
}

TEST(ParserFuzz, ConfigCountsClaimingHugeSizes) {
  TempDir tmp;
  const fs::path stories = shared_dir() / "models" / "stories260K-hf";
  fs::copy_file(stories / "model.safetensors", tmp / "model.safetensors");
  const nlohmann::json seed = nlohmann::json::parse(read_file(stories / "config.json"));
  int cases = 0;
  for (const auto& [key, value] : seed.items()) {
    if (!value.is_number_integer()) continue;
    for (const int64_t claim : kHugeClaims) {
      nlohmann::json config = seed;
      config[key] = claim;
      write_file(tmp / "config.json", config.dump());
      expect_bounded(key + " = " + std::to_string(claim),
                     [&] { model::load_causal_lm(tmp.path().string()); });
      ++cases;
    }
  }
  EXPECT_GE(cases, 5 * 8);  // layers, hidden, intermediate, heads, kv heads, vocab, positions..
}

TEST(ParserFuzz, TokenizerIdsClaimingHugeSizes) {
  TempDir tmp;
  int cases = 0;
  for (const nlohmann::json& seed : {metaspace_tokenizer_json(), byte_level_tokenizer_json()}) {
    for (const int64_t claim : kHugeClaims) {
      nlohmann::json vocab_claim = seed;
      vocab_claim["model"]["vocab"].begin().value() = claim;
      nlohmann::json added_claim = seed;
      if (!added_claim.value("added_tokens", nlohmann::json::array()).empty()) {
        added_claim["added_tokens"][0]["id"] = claim;
      }
      for (const nlohmann::json& tokenizer : {vocab_claim, added_claim}) {
        write_file(tmp / "tokenizer.json", tokenizer.dump());
        expect_bounded("id " + std::to_string(claim),
                       [&] { tokenizer::load_tokenizer(tmp.path().string())->encode("ab c"); });
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 2 * 2 * static_cast<int>(kHugeClaims.size()));
}

TEST(ParserFuzz, SafetensorsShapesClaimingHugeSizes) {
  TempDir tmp;
  const std::string seed = small_safetensors(tmp / "seed.safetensors");
  uint64_t header_size = 0;
  std::memcpy(&header_size, seed.data(), sizeof(header_size));  // little-endian u64
  const nlohmann::json header = nlohmann::json::parse(seed.substr(8, header_size));
  const std::string data = seed.substr(8 + header_size);
  int cases = 0;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    for (size_t dim = 0; dim < entry["shape"].size(); ++dim) {
      for (const int64_t claim : kHugeClaims) {
        nlohmann::json mutated = header;
        mutated[name]["shape"][dim] = claim;
        const std::string text = mutated.dump();
        std::string file(8, '\0');
        const uint64_t size = text.size();
        std::memcpy(file.data(), &size, sizeof(size));
        write_file(tmp / "model.safetensors", file + text + data);
        expect_bounded(name + " dim " + std::to_string(dim) + " = " + std::to_string(claim), [&] {
          const io::SafetensorsReader reader((tmp / "model.safetensors").string());
          for (const std::string& tensor : reader.names()) reader.tensor(tensor).sum();
        });
        ++cases;
      }
    }
  }
  EXPECT_GT(cases, 0);
}

}  // namespace
}  // namespace ptq::test
