// The requests the task readers (src/eval/zeroshot_tasks.h) build from ARC's and HellaSwag's
// original file formats, written out by hand from lm-eval's arc_easy.yaml and
// hellaswag/utils.py.

#include "eval/zeroshot_tasks.h"

#include <gtest/gtest.h>

#include "ptq/common/error.h"
#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

TEST(ZeroShotTasks, ArcOriginalFormat) {
  TempDir tmp;
  fs::create_directories(tmp / "arc_easy");
  write_file(
      tmp / "arc_easy" / "ARC-Easy-Test.jsonl",
      R"({"id": "x", "question": {"stem": "Which is a gas?", "choices": [)"
      R"({"text": "ice", "label": "1"}, {"text": "steam", "label": "2"}]}, "answerKey": "2"})"
      "\n");
  const auto docs = eval::read_task_docs("arc_easy", tmp.path().string(), 0);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].gold, 1);
  ASSERT_EQ(docs[0].requests.size(), 2u);
  EXPECT_EQ(docs[0].requests[0].context, "Question: Which is a gas?\nAnswer:");
  EXPECT_EQ(docs[0].requests[1].continuation, " steam");
  EXPECT_EQ(docs[0].choices[1], "steam");
}

// activity_label "Doing laundry", ctx_a "A man opens [header] the lid.", ctx_b "HE pours":
// "Doing laundry: A man opens [header] the lid. He pours" -> the bracket dropped leaves "opens
// the" with two spaces, made one.
TEST(ZeroShotTasks, HellaswagPreprocessing) {
  TempDir tmp;
  fs::create_directories(tmp / "hellaswag");
  write_file(tmp / "hellaswag" / "hellaswag_val.jsonl",
             R"({"activity_label": "Doing laundry", "ctx_a": "A man opens [header] the lid.", )"
             R"("ctx_b": "HE pours", "endings": [" soap in [title] Step one.", "water  in."], )"
             R"("label": 1})"
             "\n");
  const auto docs = eval::read_task_docs("hellaswag", tmp.path().string(), 0);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].gold, 1);
  EXPECT_EQ(docs[0].requests[0].context, "Doing laundry: A man opens the lid. He pours");
  EXPECT_EQ(docs[0].choices[0], "soap in. Step one.");
  EXPECT_EQ(docs[0].choices[1], "water in.");
  EXPECT_EQ(docs[0].requests[1].continuation, " water in.");
}

TEST(ZeroShotTasks, ArcAnswerKeyMustBeALabel) {
  TempDir tmp;
  fs::create_directories(tmp / "arc_challenge");
  write_file(
      tmp / "arc_challenge" / "ARC-Challenge-Test.jsonl",
      R"({"question": {"stem": "q", "choices": [{"text": "a", "label": "A"}]}, "answerKey": "E"})"
      "\n");
  EXPECT_THROW(eval::read_task_docs("arc_challenge", tmp.path().string(), 0), InputError);
}

}  // namespace
}  // namespace ptq::test
