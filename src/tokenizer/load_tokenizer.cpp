#include <algorithm>
#include <filesystem>
#include <fstream>

#include "io/read_file.h"
#include "ptq/common/error.h"
#include "ptq/tokenizer/tokenizer.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/tiktoken_model.h"
#include "tokenizer/tiktoken_ranks.h"
#include "tokenizer/tokenizer_config.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/vocab_merges.h"

namespace ptq::tokenizer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The file formats, told apart by content: a name says little (Llama 3's tiktoken rank file and
// sentencepiece models are both called tokenizer.model; OPT's vocab is gpt2-vocab.json).
enum class Format { Json, Merges, SentencePiece, Tiktoken };

std::string read_head(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  PTQ_CHECK_INPUT(in, "cannot open tokenizer file ", file.string());
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

Format detect_format(const fs::path& file) {
  const std::string head = read_head(file);
  const size_t first = head.find_first_not_of(" \t\r\n");
  // A sentencepiece ModelProto starts with its first piece: field 1, length-delimited.
  if (!head.empty() && head[0] == '\x0A') return Format::SentencePiece;
  if (first != std::string::npos && head[first] == '{') return Format::Json;
  if (looks_like_tiktoken_ranks(head)) return Format::Tiktoken;
  const std::string line = head.substr(0, head.find('\n'));
  if (line.rfind("#version", 0) == 0 || std::count(line.begin(), line.end(), ' ') == 1) {
    return Format::Merges;
  }
  PTQ_THROW_INPUT("unrecognized tokenizer file ", file.string(),
                  " (expected a tokenizer.json, a vocab.json or merges.txt, a sentencepiece "
                  "model or a tiktoken rank file)");
}

// The other file of a vocab.json + merges.txt pair: `fallback` beside `file`, unless the file's
// name with `word` replaced by `other_word` (and extension `extension`) exists: OPT ships
// gpt2-vocab.json with gpt2-merges.txt.
fs::path pair_file(const fs::path& file,
                   const std::string& word,
                   const std::string& other_word,
                   const std::string& extension,
                   const std::string& fallback) {
  std::string stem = file.stem().string();
  const size_t at = stem.rfind(word);
  if (at != std::string::npos) {
    const fs::path named =
        file.parent_path() / (stem.replace(at, word.size(), other_word) + extension);
    if (fs::exists(named)) return named;
  }
  return file.parent_path() / fallback;
}

fs::path merges_beside(const fs::path& vocab) {
  return pair_file(vocab, "vocab", "merges", ".txt", "merges.txt");
}

fs::path vocab_beside(const fs::path& merges) {
  return pair_file(merges, "merges", "vocab", ".json", "vocab.json");
}

std::unique_ptr<Tokenizer> load_vocab_pair(const json& vocab,
                                           const fs::path& vocab_path,
                                           const fs::path& merges_path) {
  const fs::path dir = vocab_path.parent_path();
  return load_vocab_merges(vocab, vocab_path.string(), merges_path.string(),
                           read_tokenizer_class(dir / "tokenizer_config.json"),
                           read_directory_added_tokens(dir));
}

std::unique_ptr<Tokenizer> load_from_file(const fs::path& file) {
  const fs::path dir = file.parent_path();
  switch (detect_format(file)) {
    case Format::SentencePiece:
      return load_sentencepiece_model(file.string(), read_directory_added_tokens(dir));
    case Format::Tiktoken:
      return load_tiktoken_model(file.string(), read_directory_added_tokens(dir));
    case Format::Merges: {
      const fs::path vocab = vocab_beside(file);
      return load_vocab_pair(io::read_json_file(vocab.string()), vocab, file);
    }
    case Format::Json: {
      const json root = io::read_json_file(file.string());
      // tokenizer.json has a "model" object; vocab.json is a flat token -> id object (where
      // "model" may well be a token).
      if (root.is_object() && root.contains("model") && root["model"].is_object()) {
        return load_tokenizer_json(root, file);
      }
      return load_vocab_pair(root, file, merges_beside(file));
    }
  }
  PTQ_THROW_RUNTIME("unhandled tokenizer format of ", file.string());
}

// Hugging Face's preference when a directory holds several: the fast tokenizer.json first.
std::unique_ptr<Tokenizer> load_from_directory(const fs::path& dir) {
  for (const char* name : {"tokenizer.json", "tokenizer.model", "qwen.tiktoken"}) {
    if (fs::exists(dir / name)) return load_from_file(dir / name);
  }
  if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
    return load_from_file(dir / "vocab.json");
  }
  PTQ_THROW_INPUT("no tokenizer in ", dir.string(),
                  " (looked for tokenizer.json, tokenizer.model, qwen.tiktoken, vocab.json + "
                  "merges.txt)");
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
