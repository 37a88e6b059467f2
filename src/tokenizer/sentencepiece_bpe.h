#pragma once
// SentencePiece BPE (LLaMA), natively: libsentencepiece cannot share a process with Debian's
// LibTorch (their protobuf symbols interpose and it crashes at load).
//
// Encoding, per text segment between added tokens: spaces become U+2581 ('▁'), a '▁' is
// prepended (add_dummy_prefix), user-defined pieces are cut out whole (sentencepiece's prefix
// matcher on the normalized text: they never merge with a neighbour), the UTF-8 characters in
// between are merged pairwise (by the score of the merged piece as sentencepiece does, or by
// merge rank as Hugging Face's BPE does), and a final symbol that is not a piece becomes its
// <0xXX> byte pieces (byte fallback) or the unknown piece.

#include <array>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ptq/tokenizer/tokenizer.h"
#include "tokenizer/merge_ranks.h"
#include "tokenizer/special_tokens.h"

namespace ptq::tokenizer {

// sentencepiece_model.proto SentencePiece.Type.
enum class PieceType {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6
};

struct Piece {
  std::string text;
  float score = 0;
  PieceType type = PieceType::Normal;
};

struct SentencePieceOptions {
  bool add_dummy_prefix = true;
  // Hugging Face Metaspace(prepend_scheme="first"): only text at the very start gets the prefix,
  // not text following an added token.
  bool dummy_prefix_at_start_only = false;
  bool remove_extra_whitespaces = false;
  bool escape_whitespaces = true;
  bool byte_fallback = false;
  // Hugging Face Metaspace(split=True): merge each '▁'-led word separately.
  bool split_words = false;
};

class SentencePieceBpe : public Tokenizer {
 public:
  // `pieces` by id. Pairs merge by `merges` rank when given, else by the merged piece's score.
  // `specials` are the added tokens; those past the pieces extend the vocabulary (as control
  // pieces when special).
  SentencePieceBpe(std::vector<Piece> pieces,
                   std::optional<MergeRanks> merges,
                   SpecialTokens specials,
                   const SentencePieceOptions& options);

  std::vector<int32_t> encode_raw(const std::string& text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(_pieces.size()); }
  std::optional<int32_t> token_id(const std::string& token) const override;

 private:
  std::string normalize(std::string_view text, bool at_start) const;
  std::vector<std::string_view> words(std::string_view normalized) const;
  std::optional<double> pair_priority(std::string_view left, std::string_view right) const;
  void append_symbol_ids(std::string_view symbol, std::vector<int32_t>& ids) const;
  void encode_normalized(std::string_view normalized, std::vector<int32_t>& ids) const;

  std::vector<Piece> _pieces;
  std::optional<MergeRanks> _merges;
  SpecialTokens _specials;
  SpecialTokens _user_defined;  // matched in the normalized text
  SentencePieceOptions _options;
  std::unordered_map<std::string, int32_t> _mergeable_ids;  // normal and user-defined pieces
  std::unordered_map<std::string, int32_t> _all_ids;
  std::array<std::optional<int32_t>, 256> _byte_ids;
  std::optional<int32_t> _unk_id;
};

}  // namespace ptq::tokenizer
