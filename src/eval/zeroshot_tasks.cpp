#include "zeroshot_tasks.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "ptq/common/error.h"

namespace ptq::eval {
namespace {

using Json = nlohmann::json;

const std::vector<TaskSpec>& task_table() {
  static const std::vector<TaskSpec> table = {
      {"arc_challenge", TaskKind::MultipleChoice, true},
      {"arc_easy", TaskKind::MultipleChoice, true},
      {"boolq", TaskKind::MultipleChoice, false},
      {"hellaswag", TaskKind::MultipleChoice, true},
      {"lambada_openai", TaskKind::Loglikelihood, false},
      {"piqa", TaskKind::MultipleChoice, true},
      {"winogrande", TaskKind::MultipleChoice, false},
  };
  return table;
}

// Non-empty lines of `path`, at most `limit` (0: all).
std::vector<std::string> read_lines(const std::string& path, int64_t limit) {
  std::ifstream in(path, std::ios::binary);
  PTQ_CHECK_INPUT(in.good(), "cannot open ", path);
  std::vector<std::string> lines;
  std::string line;
  while ((limit == 0 || static_cast<int64_t>(lines.size()) < limit) && std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  PTQ_CHECK_INPUT(!lines.empty(), path, " holds no examples");
  return lines;
}

Json parse_line(const std::string& path, size_t index, const std::string& line) {
  try {
    Json record = Json::parse(line);
    PTQ_CHECK_INPUT(record.is_object(), path, ":", index + 1, ": not a JSON object");
    return record;
  } catch (const Json::parse_error& e) {
    PTQ_THROW_INPUT(path, ":", index + 1, ": malformed JSON: ", e.what());
  }
}

std::string string_field(const Json& record, const char* key, const std::string& path, size_t i) {
  const auto it = record.find(key);
  PTQ_CHECK_INPUT(it != record.end() && it->is_string(), path, ":", i + 1, ": \"", key,
                  "\" is missing or not a string");
  return it->get<std::string>();
}

// Each JSON line of `file` through `make`, which gets the record and its 0-based line index.
std::vector<TaskDoc> read_records(const std::string& path,
                                  int64_t limit,
                                  const std::function<TaskDoc(const Json&, size_t)>& make) {
  const std::vector<std::string> lines = read_lines(path, limit);
  std::vector<TaskDoc> docs;
  docs.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) docs.push_back(make(parse_line(path, i, lines[i]), i));
  return docs;
}

TaskDoc multiple_choice(const std::string& context,
                        std::vector<std::string> choices,
                        int64_t gold) {
  TaskDoc doc;
  for (const auto& choice : choices) doc.requests.push_back({context, " " + choice});
  doc.choices = std::move(choices);
  doc.gold = gold;
  return doc;
}

std::vector<TaskDoc> read_lambada(const std::string& dir, int64_t limit) {
  const std::string path = dir + "/lambada_test.jsonl";
  return read_records(path, limit, [&](const Json& record, size_t i) {
    const std::string text = string_field(record, "text", path, i);
    const size_t space = text.rfind(' ');
    PTQ_CHECK_INPUT(space != std::string::npos, path, ":", i + 1, ": the text has no space");
    TaskDoc doc;
    doc.requests.push_back({text.substr(0, space), text.substr(space)});
    return doc;
  });
}

std::vector<TaskDoc> read_piqa(const std::string& dir, int64_t limit) {
  const std::string path = dir + "/valid.jsonl";
  const std::string labels_path = dir + "/valid-labels.lst";
  const std::vector<std::string> labels = read_lines(labels_path, limit);
  std::vector<TaskDoc> docs = read_records(path, limit, [&](const Json& record, size_t i) {
    PTQ_CHECK_INPUT(i < labels.size(), labels_path, " has fewer labels than ", path, " examples");
    PTQ_CHECK_INPUT(labels[i] == "0" || labels[i] == "1", labels_path, ":", i + 1,
                    ": the label must be 0 or 1, got \"", labels[i], "\"");
    return multiple_choice(
        "Question: " + string_field(record, "goal", path, i) + "\nAnswer:",
        {string_field(record, "sol1", path, i), string_field(record, "sol2", path, i)},
        labels[i] == "1" ? 1 : 0);
  });
  PTQ_CHECK_INPUT(docs.size() == labels.size(), labels_path, " holds ", labels.size(),
                  " labels for ", docs.size(), " examples of ", path);
  return docs;
}

std::vector<TaskDoc> read_winogrande(const std::string& dir, int64_t limit) {
  const std::string path = dir + "/dev.jsonl";
  return read_records(path, limit, [&](const Json& record, size_t i) {
    const std::string sentence = string_field(record, "sentence", path, i);
    const std::string answer = string_field(record, "answer", path, i);
    PTQ_CHECK_INPUT(answer == "1" || answer == "2", path, ":", i + 1,
                    ": \"answer\" must be \"1\" or \"2\", got \"", answer, "\"");
    const size_t blank = sentence.find('_');
    PTQ_CHECK_INPUT(blank != std::string::npos, path, ":", i + 1, ": the sentence has no \"_\"");
    // Partial scoring: the options complete the context; only the text after the blank is
    // scored, the same continuation after each.
    const std::string continuation = " " + strip_whitespace(sentence.substr(blank + 1));
    TaskDoc doc;
    for (const char* key : {"option1", "option2"}) {
      const std::string context = sentence.substr(0, blank) + string_field(record, key, path, i);
      doc.requests.push_back({context, continuation});
      doc.choices.push_back(context);
    }
    doc.gold = answer == "2" ? 1 : 0;
    return doc;
  });
}

std::vector<TaskDoc> read_boolq(const std::string& dir, int64_t limit) {
  const std::string path = dir + "/dev.jsonl";
  return read_records(path, limit, [&](const Json& record, size_t i) {
    const auto answer = record.find("answer");
    PTQ_CHECK_INPUT(answer != record.end() && answer->is_boolean(), path, ":", i + 1,
                    ": \"answer\" is missing or not true/false");
    return multiple_choice(string_field(record, "passage", path, i) + "\nQuestion: " +
                               string_field(record, "question", path, i) + "?\nAnswer:",
                           {"no", "yes"}, answer->get<bool>() ? 1 : 0);
  });
}

// ARC's original JSON lines: {"question": {"stem", "choices": [{"text", "label"}]},
// "answerKey"}; gold = the index of answerKey among the labels.
std::vector<TaskDoc> read_arc(const std::string& path, int64_t limit) {
  return read_records(path, limit, [&](const Json& record, size_t i) {
    const auto question = record.find("question");
    PTQ_CHECK_INPUT(question != record.end() && question->is_object() &&
                        question->contains("choices") && (*question)["choices"].is_array(),
                    path, ":", i + 1, ": \"question\" with \"choices\" is missing");
    const std::string answer = string_field(record, "answerKey", path, i);
    std::vector<std::string> texts;
    int64_t gold = -1;
    for (const auto& choice : (*question)["choices"]) {
      PTQ_CHECK_INPUT(choice.is_object(), path, ":", i + 1, ": a choice is not an object");
      if (string_field(choice, "label", path, i) == answer)
        gold = static_cast<int64_t>(texts.size());
      texts.push_back(string_field(choice, "text", path, i));
    }
    PTQ_CHECK_INPUT(gold >= 0, path, ":", i + 1, ": answerKey \"", answer,
                    "\" is not a choice label");
    return multiple_choice("Question: " + string_field(*question, "stem", path, i) + "\nAnswer:",
                           std::move(texts), gold);
  });
}

// lm-eval's hellaswag preprocess(): strip, " [title]" -> ". ", drop every "[...]" (shortest
// match), then "  " -> " " (one pass, as str.replace).
std::string hellaswag_preprocess(const std::string& raw) {
  std::string text = strip_whitespace(raw);
  std::string titled;
  for (size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, 8, " [title]") == 0) {
      titled += ". ";
      pos += 8;
    } else {
      titled += text[pos++];
    }
  }
  std::string unbracketed;
  for (size_t pos = 0; pos < titled.size();) {
    const size_t close =
        titled[pos] == '[' ? titled.find_first_of("]\n", pos + 1) : std::string::npos;
    if (close != std::string::npos && titled[close] == ']') {
      pos = close + 1;
    } else {
      unbracketed += titled[pos++];
    }
  }
  std::string out;
  for (size_t pos = 0; pos < unbracketed.size();) {
    if (unbracketed.compare(pos, 2, "  ") == 0) {
      out += ' ';
      pos += 2;
    } else {
      out += unbracketed[pos++];
    }
  }
  return out;
}

// Python's str.capitalize() on ASCII letters: the first upper-cased, the rest lower-cased.
std::string capitalize(std::string text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    text[i] = static_cast<char>(i == 0 ? std::toupper(c) : std::tolower(c));
  }
  return text;
}

// HellaSwag's original JSON lines: query = preprocess(activity_label + ": " + ctx_a + " " +
// capitalize(ctx_b)), choices = preprocess(each ending), gold = label.
std::vector<TaskDoc> read_hellaswag(const std::string& path, int64_t limit) {
  return read_records(path, limit, [&](const Json& record, size_t i) {
    const auto endings = record.find("endings");
    PTQ_CHECK_INPUT(endings != record.end() && endings->is_array() && !endings->empty(), path, ":",
                    i + 1, ": \"endings\" is missing or empty");
    const auto label = record.find("label");
    PTQ_CHECK_INPUT(label != record.end() && (label->is_number_integer() || label->is_string()),
                    path, ":", i + 1, ": \"label\" is missing");
    const int64_t gold =
        label->is_string() ? std::stoll(label->get<std::string>()) : label->get<int64_t>();
    PTQ_CHECK_INPUT(gold >= 0 && gold < static_cast<int64_t>(endings->size()), path, ":", i + 1,
                    ": \"label\" ", gold, " is not an ending's index");
    std::vector<std::string> choices;
    for (const auto& ending : *endings) {
      PTQ_CHECK_INPUT(ending.is_string(), path, ":", i + 1, ": an ending is not a string");
      choices.push_back(hellaswag_preprocess(ending.get<std::string>()));
    }
    const std::string context = string_field(record, "ctx_a", path, i) + " " +
                                capitalize(string_field(record, "ctx_b", path, i));
    return multiple_choice(
        hellaswag_preprocess(string_field(record, "activity_label", path, i) + ": " + context),
        std::move(choices), gold);
  });
}

}  // namespace

TaskSpec task_spec(const std::string& name) {
  for (const auto& spec : task_table()) {
    if (spec.name == name) return spec;
  }
  std::string known;
  for (const auto& n : task_names()) known += (known.empty() ? "" : ", ") + n;
  PTQ_THROW_INPUT("unknown task \"", name, "\"; known tasks: ", known);
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& spec : task_table()) names.push_back(spec.name);
  return names;
}

std::vector<TaskDoc> read_task_docs(const std::string& task,
                                    const std::string& dir,
                                    int64_t limit) {
  PTQ_CHECK_INPUT(limit >= 0, "--limit must be >= 0, got ", limit);
  const std::string folder = dir + "/" + task_spec(task).name;
  PTQ_CHECK_INPUT(std::filesystem::is_directory(folder), "the task directory ", folder,
                  " does not exist");
  if (task == "arc_easy") return read_arc(folder + "/ARC-Easy-Test.jsonl", limit);
  if (task == "arc_challenge") return read_arc(folder + "/ARC-Challenge-Test.jsonl", limit);
  if (task == "hellaswag") return read_hellaswag(folder + "/hellaswag_val.jsonl", limit);
  if (task == "lambada_openai") return read_lambada(folder, limit);
  if (task == "piqa") return read_piqa(folder, limit);
  if (task == "winogrande") return read_winogrande(folder, limit);
  return read_boolq(folder, limit);
}

}  // namespace ptq::eval
