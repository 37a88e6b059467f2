#pragma once
// The zero-shot tasks' data files turned into loglikelihood requests, with each task's prompt
// as lm-evaluation-harness's task configuration writes it (docs/zeroshot.md):
//   lambada_openai  lambada_test.jsonl: context = text up to its last ' ', continuation = ' ' +
//                   the last word (split on the space character only)
//   piqa            valid.jsonl + valid-labels.lst: "Question: {goal}\nAnswer:", choices
//                   " " + sol1, " " + sol2
//   winogrande      dev.jsonl: contexts sentence[:i] + option (i: the "_"), one shared
//                   continuation " " + sentence[i+1:].strip()
//   boolq           dev.jsonl: "{passage}\nQuestion: {question}?\nAnswer:", choices " no",
//                   " yes"
//   arc_easy, arc_challenge  ARC-Easy-Test.jsonl / ARC-Challenge-Test.jsonl (the original ARC
//                   files, which the user brings): "Question: {stem}\nAnswer:", the choices'
//                   texts, gold = the index of answerKey among the labels
//   hellaswag       hellaswag_val.jsonl (the original file, which the user brings): lm-eval's
//                   preprocessing of activity_label + ": " + ctx_a + " " + ctx_b.capitalize()
//                   and of each ending (strip, " [title]" -> ". ", "[...]" removed, "  " -> " ")

#include <cstdint>
#include <string>
#include <vector>

#include "pair_encoding.h"

namespace ptq::eval {

enum class TaskKind {
  Loglikelihood,   // one request; acc = greedy, perplexity
  MultipleChoice,  // one request per choice; acc (and acc_norm)
};

struct TaskDoc {
  std::vector<LoglikelihoodRequest> requests;
  std::vector<std::string> choices;  // what acc_norm divides by the length of
  int64_t gold = 0;
};

struct TaskSpec {
  std::string name;
  TaskKind kind;
  bool acc_norm;  // whether lm-eval reports acc_norm for the task
};

// InputError listing the known tasks for an unknown name.
TaskSpec task_spec(const std::string& name);
std::vector<std::string> task_names();

// The first `limit` (0: all) examples of `task` from `dir`/<task>/. Throws InputError naming
// the file and line for a missing file, malformed JSON, a missing or mistyped field, or a
// label file whose line count differs from the data's.
std::vector<TaskDoc> read_task_docs(const std::string& task, const std::string& dir, int64_t limit);

}  // namespace ptq::eval
