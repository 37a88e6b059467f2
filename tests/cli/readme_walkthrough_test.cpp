// Runs every command of README.md's "Walkthrough" section, as a newcomer would from the
// checkout (with ../shared beside it and ptq built into build/), and checks that each
// succeeds and prints what the README shows, so that the README cannot rot.
//
// The section's ```sh blocks are commands (one per line, "\" continues a line); a ```text
// block right after one is the stdout it must print, line by line and word by word: "…"
// stands for any one word (times, throughput), numbers with a decimal point may differ by a
// relative 1e-3 (other CPUs round differently), every other word must be equal.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

struct Step {
  std::vector<std::string> commands;
  std::optional<std::string> expected;  // stdout
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The steps of the section "## Walkthrough" (up to the next "## " heading).
std::vector<Step> walkthrough_steps(const std::string& readme) {
  const std::vector<std::string> lines = lines_of(readme);
  auto line = std::find(lines.begin(), lines.end(), "## Walkthrough");
  if (line == lines.end()) return {};
  std::vector<Step> steps;
  std::string fence;  // "sh" or "text" inside a block
  std::string block;
  for (++line; line != lines.end() && line->rfind("## ", 0) != 0; ++line) {
    if (fence.empty()) {
      if (*line == "```sh" || *line == "```text") fence = line->substr(3);
      continue;
    }
    if (*line != "```") {
      block += *line + "\n";
      continue;
    }
    if (fence == "sh") {
      Step step;
      std::string command;
      for (const std::string& l : lines_of(block)) {
        if (l.empty() || l[0] == '#') continue;
        const bool continues = !l.empty() && l.back() == '\\';
        command += continues ? l.substr(0, l.size() - 1) : l;
        if (!continues) {
          step.commands.push_back(command);
          command.clear();
        }
      }
      steps.push_back(step);
    } else if (!steps.empty() && !steps.back().expected) {
      steps.back().expected = block;
    }
    fence.clear();
    block.clear();
  }
  return steps;
}

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

bool decimal_number(const std::string& word, double& value) {
  if (word.find('.') == std::string::npos) return false;
  char* end = nullptr;
  value = std::strtod(word.c_str(), &end);
  return end == word.c_str() + word.size();
}

bool word_matches(const std::string& expected, const std::string& actual) {
  if (expected == "…" || expected == actual) return true;
  double e = 0, a = 0;
  if (!decimal_number(expected, e) || !decimal_number(actual, a)) return false;
  return std::abs(e - a) <= 1e-3 * std::max(std::abs(e), std::abs(a));
}

void expect_output(const std::string& expected, const std::string& actual) {
  const std::vector<std::string> want = lines_of(expected);
  const std::vector<std::string> got = lines_of(actual);
  ASSERT_EQ(want.size(), got.size()) << "README shows:\n" << expected << "ptq printed:\n" << actual;
  for (size_t i = 0; i < want.size(); ++i) {
    const std::vector<std::string> w = words_of(want[i]);
    const std::vector<std::string> g = words_of(got[i]);
    bool same = w.size() == g.size();
    for (size_t k = 0; same && k < w.size(); ++k) same = word_matches(w[k], g[k]);
    EXPECT_TRUE(same) << "README shows: " << want[i] << "\nptq printed:  " << got[i];
  }
}

// `text` replaced by `by` wherever it occurs.
std::string replaced(std::string in, const std::string& text, const std::string& by) {
  for (size_t at = in.find(text); at != std::string::npos; at = in.find(text, at + by.size())) {
    in.replace(at, text.size(), by);
  }
  return in;
}

// Runs `command` with bash (pipefail: a failing ptq before "| tail" fails the step) in `dir`,
// "build/ptq" being the ptq under test, one thread; its stdout.
std::string run_shell(const fs::path& dir, const std::string& command, const fs::path& log) {
  const std::string script =
      "cd '" + dir.string() + "' && " + replaced(command, "build/ptq", PTQ_CLI_PATH);
  const std::string line = "PTQ_THREADS=1 bash -o pipefail -c '" + replaced(script, "'", "'\\''") +
                           "' 2>>'" + log.string() + "'";
  FILE* pipe = popen(line.c_str(), "r");
  if (!pipe) return "";
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  const int status = pclose(pipe);
  EXPECT_EQ(status, 0) << command << "\n" << read_file(log);
  return out;
}

TEST(ReadmeWalkthrough, EveryCommandRunsAndPrintsWhatTheReadmeShows) {
  const std::vector<Step> steps =
      walkthrough_steps(read_file(fs::path(PTQ_SOURCE_DIR) / "README.md"));
  // inspect -> quantize -> eval -> report, each shown with its output.
  std::string all;
  int shown = 0;
  for (const Step& step : steps) {
    for (const std::string& command : step.commands) all += command + "\n";
    shown += step.expected ? 1 : 0;
  }
  for (const char* command : {"ptq inspect", "ptq quantize", "ptq eval", "ptq report"}) {
    EXPECT_NE(all.find(command), std::string::npos) << "the walkthrough lacks " << command;
  }
  EXPECT_GE(shown, 4);
  // The checkout's place: ../shared beside it.
  TempDir tmp;
  const fs::path checkout = tmp / "ptq";
  fs::create_directory(checkout);
  fs::create_directory_symlink(fs::absolute(shared_dir()), tmp / "shared");
  for (const Step& step : steps) {
    std::string out;
    for (const std::string& command : step.commands) {
      SCOPED_TRACE(command);
      out += run_shell(checkout, command, tmp / "stderr.log");
    }
    if (step.expected) expect_output(*step.expected, out);
  }
}

}  // namespace
}  // namespace ptq::test
