#include <filesystem>

#include "ptq/common/error.h"
#include "ptq/tokenizer/tokenizer.h"
#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/tokenizer_config.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/vocab_merges.h"

namespace ptq::tokenizer {
namespace {

namespace fs = std::filesystem;

// Hugging Face's preference when a directory holds several: the fast tokenizer.json first.
std::unique_ptr<Tokenizer> load_from_directory(const fs::path& dir) {
  if (fs::exists(dir / "tokenizer.json")) return load_tokenizer_json(dir / "tokenizer.json");
  if (fs::exists(dir / "tokenizer.model")) return load_sentencepiece_model(dir / "tokenizer.model");
  if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
    return load_vocab_merges(dir / "vocab.json", dir / "merges.txt");
  }
  PTQ_THROW_INPUT("no tokenizer in ", dir.string(),
                  " (looked for tokenizer.json, tokenizer.model, vocab.json + merges.txt)");
}

std::unique_ptr<Tokenizer> load_from_file(const fs::path& file) {
  const std::string name = file.filename().string();
  const fs::path dir = file.parent_path();
  if (name == "vocab.json") return load_vocab_merges(file, dir / "merges.txt");
  if (name == "merges.txt") return load_vocab_merges(dir / "vocab.json", file);
  if (file.extension() == ".model") return load_sentencepiece_model(file);
  if (file.extension() == ".json") return load_tokenizer_json(file);
  PTQ_THROW_INPUT("unrecognized tokenizer file ", file.string(),
                  " (expected tokenizer.json, *.model, vocab.json or merges.txt)");
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  const fs::path location(path);
  PTQ_CHECK_INPUT(fs::exists(location), "tokenizer path not found: ", path);
  const bool is_dir = fs::is_directory(location);
  std::unique_ptr<Tokenizer> tokenizer =
      is_dir ? load_from_directory(location) : load_from_file(location);
  const fs::path config = (is_dir ? location : location.parent_path()) / "tokenizer_config.json";
  if (fs::exists(config)) apply_tokenizer_config(config, *tokenizer);
  return tokenizer;
}

}  // namespace ptq::tokenizer
