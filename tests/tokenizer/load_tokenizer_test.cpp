#include <gtest/gtest.h>

#include <filesystem>

#include "data/input_error.h"
#include "ptq/tokenizer/tokenizer.h"
#include "test_utils.h"

namespace ptq::tokenizer {
namespace {

namespace fs = std::filesystem;

fs::path gpt2_dir() { return test::shared_dir() / "data" / "gpt2-tokenizer"; }

std::string load_error(const fs::path& path) {
  return test::input_error([&] { load_tokenizer(path); });
}

using test::mentions;

TEST(TokenizerLoad, NamesMissingPaths) {
  test::TempDir dir;
  EXPECT_TRUE(mentions(load_error(dir / "nowhere"), "nowhere"));
  EXPECT_TRUE(mentions(load_error(dir.path()), "looked for tokenizer.json"));
  test::write_file(dir / "vocab.txt", "a\n");
  EXPECT_TRUE(mentions(load_error(dir / "vocab.txt"), "unrecognized tokenizer file"));
  fs::create_symlink(gpt2_dir() / "vocab.json", dir / "vocab.json");
  EXPECT_TRUE(mentions(load_error(dir / "vocab.json"), "merges.txt"));
}

TEST(TokenizerLoad, ReportsMalformedMergesLine) {
  test::TempDir dir;
  fs::create_symlink(gpt2_dir() / "vocab.json", dir / "vocab.json");
  test::write_file(dir / "merges.txt", "#version: 0.2\n\xC4\xA0 t\nbroken\n");
  EXPECT_TRUE(mentions(load_error(dir.path()), "merges.txt:3"));
}

TEST(TokenizerLoad, RejectsVocabularyWithoutByteAlphabet) {
  test::TempDir dir;
  test::write_file(dir / "vocab.json", R"({"a": 0, "b": 1})");
  test::write_file(dir / "merges.txt", "a b\n");
  EXPECT_TRUE(mentions(load_error(dir.path()), "no token for byte"));
}

TEST(TokenizerLoad, RejectsConfigTokenOutsideVocabulary) {
  test::TempDir dir;
  fs::create_symlink(gpt2_dir() / "vocab.json", dir / "vocab.json");
  fs::create_symlink(gpt2_dir() / "merges.txt", dir / "merges.txt");
  test::write_file(dir / "tokenizer_config.json", R"({"bos_token": "<s>"})");
  EXPECT_TRUE(mentions(load_error(dir.path()), "tokenizer_config.json"));
  test::write_file(dir / "tokenizer_config.json", R"({"add_bos_token": "yes"})");
  EXPECT_TRUE(mentions(load_error(dir.path()), "add_bos_token"));
}

}  // namespace
}  // namespace ptq::tokenizer
