#include "tokenizer/sentencepiece_model.h"

#include "io/read_file.h"
#include "ptq/common/error.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/protobuf_wire.h"
#include "tokenizer/sentencepiece_bpe.h"

namespace ptq::tokenizer {
namespace {

// Field numbers and defaults from sentencepiece_model.proto.
enum ModelField : uint32_t { kPieces = 1, kTrainerSpec = 2, kNormalizerSpec = 3 };
enum PieceField : uint32_t { kPieceText = 1, kPieceScore = 2, kPieceType = 3 };
enum TrainerField : uint32_t {
  kModelType = 3,
  kByteFallback = 35,
  kBosId = 41,
  kEosId = 42,
};
enum NormalizerField : uint32_t {
  kNormalizerName = 1,
  kCharsMap = 2,
  kAddDummyPrefix = 3,
  kRemoveExtraWhitespaces = 4,
  kEscapeWhitespaces = 5,
};
constexpr int kBpeModel = 2;

struct TrainerSpec {
  int model_type = 1;  // UNIGRAM
  bool byte_fallback = false;
  int32_t bos_id = 1;
  int32_t eos_id = 2;
};

Piece read_piece(std::string_view message, const std::string& path) {
  Piece piece;
  for (const ProtoField& field : read_proto_fields(message, path)) {
    if (field.number == kPieceText) piece.text = std::string(field.bytes);
    if (field.number == kPieceScore) piece.score = field.as_float();
    if (field.number == kPieceType) piece.type = static_cast<PieceType>(field.value);
  }
  return piece;
}

TrainerSpec read_trainer_spec(std::string_view message, const std::string& path) {
  TrainerSpec spec;
  for (const ProtoField& field : read_proto_fields(message, path)) {
    // int32 fields: negative ids (-1 = none) arrive as 64-bit two's complement varints.
    const auto value = static_cast<int32_t>(static_cast<int64_t>(field.value));
    if (field.number == kModelType) spec.model_type = value;
    if (field.number == kByteFallback) spec.byte_fallback = value != 0;
    if (field.number == kBosId) spec.bos_id = value;
    if (field.number == kEosId) spec.eos_id = value;
  }
  return spec;
}

// NormalizerSpec's defaults, which also apply when the model has no normalizer_spec at all.
SentencePieceOptions default_options() {
  SentencePieceOptions options;
  options.remove_extra_whitespaces = true;
  return options;
}

SentencePieceOptions read_normalizer_spec(std::string_view message, const std::string& path) {
  SentencePieceOptions options = default_options();
  std::string name = "identity";
  bool has_rules = false;
  for (const ProtoField& field : read_proto_fields(message, path)) {
    if (field.number == kNormalizerName) name = std::string(field.bytes);
    if (field.number == kCharsMap) has_rules = !field.bytes.empty();
    if (field.number == kAddDummyPrefix) options.add_dummy_prefix = field.value != 0;
    if (field.number == kRemoveExtraWhitespaces)
      options.remove_extra_whitespaces = field.value != 0;
    if (field.number == kEscapeWhitespaces) options.escape_whitespaces = field.value != 0;
  }
  PTQ_CHECK_INPUT(!has_rules, path, ": sentencepiece normalization '", name,
                  "' is not supported (only identity)");
  return options;
}

std::optional<int32_t> valid_id(int32_t id, size_t piece_count) {
  if (id < 0 || static_cast<size_t>(id) >= piece_count) return std::nullopt;
  return id;
}

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_model(const std::string& path, SpecialTokens added) {
  const std::string bytes = io::read_file_bytes(path);
  std::vector<Piece> pieces;
  TrainerSpec trainer;
  SentencePieceOptions options = default_options();
  for (const ProtoField& field : read_proto_fields(bytes, path)) {
    if (field.number == kPieces) pieces.push_back(read_piece(field.bytes, path));
    if (field.number == kTrainerSpec) trainer = read_trainer_spec(field.bytes, path);
    if (field.number == kNormalizerSpec) options = read_normalizer_spec(field.bytes, path);
  }
  PTQ_CHECK_INPUT(!pieces.empty(), path, ": not a sentencepiece model (no pieces)");
  PTQ_CHECK_INPUT(trainer.model_type == kBpeModel, path,
                  ": only sentencepiece BPE models are supported (model_type ", trainer.model_type,
                  trainer.model_type == 1 ? ", UNIGRAM)" : ")");
  options.byte_fallback = trainer.byte_fallback;
  const size_t piece_count = pieces.size();
  check_added_token_ids(added, static_cast<int64_t>(piece_count), path);
  auto tokenizer = std::make_unique<SentencePieceBpe>(std::move(pieces), std::nullopt,
                                                      std::move(added), options);
  tokenizer->set_bos_id(valid_id(trainer.bos_id, piece_count));
  tokenizer->set_eos_id(valid_id(trainer.eos_id, piece_count));
  tokenizer->set_add_bos(true);
  return tokenizer;
}

}  // namespace ptq::tokenizer
