#include "tokenizer/tokenizer_json.h"

#include "io/read_file.h"
#include "ptq/common/error.h"
#include "tokenizer/byte_level_bpe.h"
#include "tokenizer/json_file.h"
#include "tokenizer/sentencepiece_bpe.h"

namespace ptq::tokenizer {
namespace {

using nlohmann::json;
using TokenIds = std::unordered_map<std::string, int32_t>;
using MergePairs = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kMetaspace = "\xE2\x96\x81";

// A component and, when it is a Sequence, its members (pre_tokenizers / normalizers).
std::vector<json> components(const json& node, const char* members) {
  if (!node.is_object()) return {};
  if (node.value("type", "") != "Sequence") return {node};
  return node.value(members, std::vector<json>{});
}

const json* find_component(const std::vector<json>& parts, const std::string& type) {
  for (const json& part : parts) {
    if (part.value("type", "") == type) return &part;
  }
  return nullptr;
}

json added_tokens(const json& root) { return root.value("added_tokens", json::array()); }

// The number of tokens the file holds, which every id must stay below.
size_t token_count(const json& root) {
  const json& model = root["model"];  // an object: make_tokenizer checks it first
  const auto vocab = model.find("vocab");
  const size_t entries = vocab != model.end() && vocab->is_object() ? vocab->size() : 0;
  return entries + added_tokens(root).size();
}

TokenIds read_vocab(const json& root, const std::string& path) {
  const json& model = root["model"];
  PTQ_CHECK_INPUT(model.contains("vocab"), path, ": model.vocab is missing");
  return read_token_ids(model["vocab"], path, added_tokens(root).size());
}

MergePairs read_merges(const json& model, const std::string& path) {
  MergePairs pairs;
  for (const json& merge : model.value("merges", json::array())) {
    if (merge.is_array() && merge.size() == 2) {
      pairs.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      continue;
    }
    const std::string text = merge.is_string() ? merge.get<std::string>() : "";
    const size_t space = text.find(' ');
    PTQ_CHECK_INPUT(space != std::string::npos && text.find(' ', space + 1) == std::string::npos,
                    path, ": malformed merge ", merge.dump());
    pairs.emplace_back(text.substr(0, space), text.substr(space + 1));
  }
  return pairs;
}

SpecialTokens read_added_tokens(const json& root, const std::string& path) {
  SpecialTokens specials;
  const size_t tokens = token_count(root);
  for (const json& token : added_tokens(root)) {
    const std::string content = token.at("content").get<std::string>();
    const auto id = token.at("id").get<int64_t>();
    check_token_id(id, tokens, content, path);
    specials.add(content, static_cast<int32_t>(id), token.value("special", true));
  }
  return specials;
}

// Byte-level models here normalize with NFC (GPT-NeoX, Qwen2) or not at all (GPT-2, Llama 3).
bool byte_level_nfc(const json& root, const std::string& path) {
  bool nfc = false;
  for (const json& normalizer : components(root.value("normalizer", json()), "normalizers")) {
    const std::string type = normalizer.value("type", "");
    PTQ_CHECK_INPUT(type == "NFC", path, ": normalizer ", type,
                    " is not supported with a ByteLevel pre-tokenizer (only NFC)");
    nfc = true;
  }
  return nfc;
}

std::unique_ptr<Tokenizer> make_byte_level(const json& root,
                                           const json& byte_level,
                                           const std::vector<json>& pre_tokenizers,
                                           const std::string& path) {
  ByteLevelBpe::Options options;
  options.add_prefix_space = byte_level.value("add_prefix_space", false);
  if (!byte_level.value("use_regex", true)) {
    // Llama 3 style: the split regex comes from a Split(Isolated) step instead.
    const json* split = find_component(pre_tokenizers, "Split");
    PTQ_CHECK_INPUT(split && split->value("behavior", "") == "Isolated" &&
                        split->contains("pattern") && (*split)["pattern"].contains("Regex"),
                    path, ": ByteLevel without its regex needs a Split(Regex, Isolated) step");
    options.split_pattern = (*split)["pattern"]["Regex"].get<std::string>();
  }
  const json& model = root["model"];
  options.ignore_merges = model.value("ignore_merges", false);
  options.nfc = byte_level_nfc(root, path);
  return std::make_unique<ByteLevelBpe>(read_vocab(root, path),
                                        MergeRanks(read_merges(model, path)),
                                        read_added_tokens(root, path), options);
}

// Pieces by id, typed as sentencepiece would: added special tokens are control pieces and
// <0xXX> pieces are bytes when byte fallback is on.
std::vector<Piece> metaspace_pieces(const json& root, const std::string& path) {
  const json& model = root["model"];
  TokenIds vocab = read_vocab(root, path);
  std::vector<Piece> pieces;
  const size_t tokens = token_count(root);
  auto place = [&](int64_t id, const std::string& text, PieceType type) {
    check_token_id(id, tokens, text, path);
    if (static_cast<size_t>(id) >= pieces.size()) pieces.resize(id + 1, {"", 0, PieceType::Unused});
    pieces[id] = {text, 0, type};
  };
  const bool byte_fallback = model.value("byte_fallback", false);
  for (const auto& [text, id] : vocab) {
    const bool is_byte = text.size() == 6 && text.rfind("<0x", 0) == 0 && text.back() == '>';
    place(id, text, byte_fallback && is_byte ? PieceType::Byte : PieceType::Normal);
  }
  for (const json& token : added_tokens(root)) {
    if (token.value("special", false)) {
      place(token.at("id").get<int64_t>(), token.at("content").get<std::string>(),
            PieceType::Control);
    }
  }
  // After the added tokens: the unknown piece is usually one of them but must stay Unknown.
  const json unk = model.value("unk_token", json());
  if (unk.is_string() && vocab.count(unk.get<std::string>())) {
    place(vocab[unk.get<std::string>()], unk.get<std::string>(), PieceType::Unknown);
  }
  return pieces;
}

// The space handling of a Metaspace pre-tokenizer, or of the Replace(' ', '▁') + Prepend('▁')
// normalizers that newer LLaMA tokenizer.json files use instead.
std::optional<SentencePieceOptions> metaspace_options(const json& root,
                                                      const std::vector<json>& pre_tokenizers) {
  SentencePieceOptions options;
  if (const json* meta = find_component(pre_tokenizers, "Metaspace")) {
    const std::string scheme =
        meta->value("prepend_scheme", meta->value("add_prefix_space", true) ? "always" : "never");
    options.add_dummy_prefix = scheme != "never";
    options.dummy_prefix_at_start_only = scheme == "first";
    options.split_words = meta->value("split", true);
    return options;
  }
  const std::vector<json> normalizers = components(root.value("normalizer", json()), "normalizers");
  const json* replace = find_component(normalizers, "Replace");
  if (!replace || replace->value("content", "") != kMetaspace) return std::nullopt;
  const json* prepend = find_component(normalizers, "Prepend");
  options.add_dummy_prefix = prepend && prepend->value("prepend", "") == kMetaspace;
  return options;
}

void set_template_bos(const json& root, Tokenizer& tokenizer) {
  const json processor = root.value("post_processor", json());
  if (!processor.is_object() || processor.value("type", "") != "TemplateProcessing") return;
  const json single = processor.value("single", json::array());
  if (single.empty() || !single[0].contains("SpecialToken")) return;
  tokenizer.set_bos_id(tokenizer.token_id(single[0]["SpecialToken"].value("id", "")));
  tokenizer.set_add_bos(true);
}

std::unique_ptr<Tokenizer> make_tokenizer(const json& root, const std::string& path) {
  PTQ_CHECK_INPUT(root.is_object() && root.contains("model") && root["model"].is_object(), path,
                  ": no \"model\" object");
  const std::string type = root["model"].value("type", "BPE");
  PTQ_CHECK_INPUT(type == "BPE", path, ": tokenizer model type ", type,
                  " is not supported (only BPE)");
  const std::vector<json> pre_tokenizers =
      components(root.value("pre_tokenizer", json()), "pretokenizers");
  if (const json* byte_level = find_component(pre_tokenizers, "ByteLevel")) {
    auto tokenizer = make_byte_level(root, *byte_level, pre_tokenizers, path);
    // GPT2TokenizerFast's defaults.
    tokenizer->set_bos_id(tokenizer->token_id("<|endoftext|>"));
    tokenizer->set_eos_id(tokenizer->token_id("<|endoftext|>"));
    return tokenizer;
  }
  const auto options = metaspace_options(root, pre_tokenizers);
  PTQ_CHECK_INPUT(options, path,
                  ": unsupported BPE pre-tokenization (need ByteLevel or Metaspace)");
  SentencePieceOptions with_fallback = *options;
  with_fallback.byte_fallback = root["model"].value("byte_fallback", false);
  auto tokenizer = std::make_unique<SentencePieceBpe>(metaspace_pieces(root, path),
                                                      MergeRanks(read_merges(root["model"], path)),
                                                      read_added_tokens(root, path), with_fallback);
  // LlamaTokenizerFast's defaults.
  tokenizer->set_bos_id(tokenizer->token_id("<s>"));
  tokenizer->set_eos_id(tokenizer->token_id("</s>"));
  return tokenizer;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_json(const std::string& path) {
  return load_tokenizer_json(io::read_json_file(path), path);
}

std::unique_ptr<Tokenizer> load_tokenizer_json(const nlohmann::json& root,
                                               const std::string& path) {
  try {
    std::unique_ptr<Tokenizer> tokenizer = make_tokenizer(root, path);
    set_template_bos(root, *tokenizer);
    return tokenizer;
  } catch (const json::exception& e) {
    PTQ_THROW_INPUT(path, ": unexpected tokenizer.json content: ", e.what());
  }
}

}  // namespace ptq::tokenizer
