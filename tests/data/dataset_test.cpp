#include "ptq/data/dataset.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>

#include "data/input_error.h"
#include "data/shared_data_env.h"
#include "test_utils.h"

namespace ptq::data {
namespace {

namespace fs = std::filesystem;
using test::input_error;
using test::mentions;

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override { test::use_shared_data_dir(); }
};

std::string sha256_of(const std::string& bytes) {
  test::TempDir dir;
  test::write_file(dir / "bytes", bytes);
  const std::string command = "sha256sum '" + (dir / "bytes").string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return "";
  char digest[65] = {};
  const size_t read = fread(digest, 1, 64, pipe);
  pclose(pipe);
  return std::string(digest, read);
}

size_t utf8_characters(const std::string& text) {
  size_t count = 0;
  for (const char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

void write_gzip(const fs::path& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

// docs/test-data.md: "\n\n".join(HF test rows).
TEST_F(DatasetTest, WikiText2IsTheGptqString) {
  const std::string text = load_text("wikitext2");
  EXPECT_EQ(text.size(), 1296370u);
  EXPECT_EQ(sha256_of(text), "696cca6b65a171b0a358a4be6732cdfdf2dd6164a32e20fd70e3c13fc4dfae83");
  const std::vector<std::string> rows = load_documents("wikitext2");
  ASSERT_EQ(rows.size(), 4358u);
  EXPECT_EQ(rows[0], "");
  EXPECT_EQ(rows[1], " = Robert Boulter = \n");
  size_t non_empty = 0;
  for (const std::string& row : rows) non_empty += !row.empty();
  EXPECT_EQ(non_empty, 2891u);
}

// docs/test-data.md: one stripped sentence per line; ptb = validation joined with
// "\n\n", ptb-new = test joined with " ".
TEST_F(DatasetTest, PtbSentences) {
  const std::vector<std::string> valid = load_documents("ptb");
  ASSERT_EQ(valid.size(), 3370u);
  EXPECT_EQ(valid[0], "consumers may want to move their telephones a little closer to the tv set");
  EXPECT_EQ(load_text("ptb").rfind(valid[0] + "\n\n" + valid[1], 0), 0u);
  const std::vector<std::string> test_rows = load_documents("ptb-new");
  ASSERT_EQ(test_rows.size(), 3761u);
  EXPECT_EQ(test_rows[0], "no it was n't black monday");
  EXPECT_EQ(load_text("ptb-new").rfind(test_rows[0] + " " + test_rows[1], 0), 0u);
}

// docs/test-data.md: 1,000 documents, 2,189,457 characters of text.
TEST_F(DatasetTest, C4TrainShardDocuments) {
  const std::vector<std::string> docs = load_documents("c4");
  ASSERT_EQ(docs.size(), 1000u);
  EXPECT_EQ(docs[0].rfind("Beginners BBQ Class Taking Place in Missoula!", 0), 0u);
  size_t characters = 0;
  for (const std::string& doc : docs) characters += utf8_characters(doc);
  EXPECT_EQ(characters, 2189457u);
  EXPECT_EQ(
      load_text("c4").size(), docs.size() - 1 + [&] {
        size_t bytes = 0;
        for (const std::string& doc : docs) bytes += doc.size();
        return bytes;
      }());
}

TEST_F(DatasetTest, ReadsPlainAndJsonLinesFiles) {
  test::TempDir dir;
  test::write_file(dir / "plain.txt", "raw bytes\n\n kept ");
  EXPECT_EQ(load_text((dir / "plain.txt").string()), "raw bytes\n\n kept ");
  const std::string lines = "{\"text\": \"first\"}\n\n{\"text\": \"caf\\u00e9\", \"id\": 2}\n";
  test::write_file(dir / "docs.jsonl", lines);
  EXPECT_EQ(load_text((dir / "docs.jsonl").string()), "first\n\ncaf\u00e9");
  write_gzip(dir / "docs.jsonl.gz", lines);
  EXPECT_EQ(load_documents((dir / "docs.jsonl.gz").string()),
            (std::vector<std::string>{"first", "caf\u00e9"}));
}

TEST_F(DatasetTest, ErrorsNameTheFile) {
  test::TempDir dir;
  const std::string missing = (dir / "missing.txt").string();
  EXPECT_TRUE(mentions(input_error([&] { load_text(missing); }), "missing.txt"));
  EXPECT_TRUE(mentions(input_error([] { load_text("wikitext3"); }), "unknown data set"));
  test::write_file(dir / "empty.txt", "");
  EXPECT_TRUE(mentions(input_error([&] { load_text((dir / "empty.txt").string()); }), "empty.txt"));
  test::write_file(dir / "bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \n");
  const std::string bad = input_error([&] { load_text((dir / "bad.jsonl").string()); });
  EXPECT_TRUE(mentions(bad, "bad.jsonl:2"));
  test::write_file(dir / "untexted.jsonl", "{\"text\": \"ok\"}\n{\"body\": \"no\"}\n");
  const std::string untexted = input_error([&] { load_text((dir / "untexted.jsonl").string()); });
  EXPECT_TRUE(mentions(untexted, "untexted.jsonl:2"));
  EXPECT_TRUE(mentions(untexted, "\"text\""));
  test::write_file(dir / "blank.jsonl", "\n\n");
  EXPECT_TRUE(
      mentions(input_error([&] { load_text((dir / "blank.jsonl").string()); }), "is empty"));
}

TEST(DatasetDir, FollowsPtqDataDir) {
  test::TempDir dir;
  setenv("PTQ_DATA_DIR", dir.path().c_str(), 1);
  EXPECT_EQ(shared_data_dir(), dir.path().string());
  EXPECT_TRUE(mentions(input_error([] { load_text("ptb"); }), "ptb.valid.txt"));
  setenv("PTQ_DATA_DIR", (dir / "absent").c_str(), 1);
  EXPECT_TRUE(mentions(input_error([] { shared_data_dir(); }), "PTQ_DATA_DIR"));
  test::use_shared_data_dir();
}

}  // namespace
}  // namespace ptq::data
