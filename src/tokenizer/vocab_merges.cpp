#include "tokenizer/vocab_merges.h"

#include <sstream>

#include "io/read_file.h"
#include "ptq/common/error.h"
#include "tokenizer/byte_level_bpe.h"
#include "tokenizer/json_file.h"

namespace ptq::tokenizer {
namespace {

constexpr const char* kEndOfText = "<|endoftext|>";

// One "left right" pair per line. Only a first line starting with "#version" is a header:
// merges such as "# #" also begin with '#'.
std::vector<std::pair<std::string, std::string>> read_merges(const std::string& path) {
  std::istringstream lines(io::read_file_bytes(path));
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t space = line.find(' ');
    PTQ_CHECK_INPUT(space != std::string::npos && space > 0 && space + 1 < line.size() &&
                        line.find(' ', space + 1) == std::string::npos,
                    path, ":", number, ": expected \"left right\", got \"", line, "\"");
    pairs.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  return pairs;
}

}  // namespace

std::unique_ptr<Tokenizer> load_vocab_merges(const std::string& vocab_path,
                                             const std::string& merges_path) {
  std::unordered_map<std::string, int32_t> vocab =
      read_token_ids(io::read_json_file(vocab_path), vocab_path);
  SpecialTokens specials;
  const auto end_of_text = vocab.find(kEndOfText);
  std::optional<int32_t> end_of_text_id;
  if (end_of_text != vocab.end()) {
    end_of_text_id = end_of_text->second;
    specials.add(kEndOfText, *end_of_text_id);
  }
  auto tokenizer =
      std::make_unique<ByteLevelBpe>(std::move(vocab), MergeRanks(read_merges(merges_path)),
                                     std::move(specials), ByteLevelBpe::Options{});
  tokenizer->set_bos_id(end_of_text_id);
  tokenizer->set_eos_id(end_of_text_id);
  return tokenizer;
}

}  // namespace ptq::tokenizer
