#pragma once
// Machine-readable run reports: the environment a number was measured in, and writing the
// report so that a reader never sees a half-written file.
//
//   nlohmann::json report = {{"perplexity", 15.68}};
//   report["versions"] = ptq::report_versions();
//   ptq::write_json_file("out.json", report);

#include <nlohmann/json.hpp>
#include <string>

namespace ptq {

// {"ptq", "libtorch", "git_revision" (when the executable runs from a git checkout's build
// tree), "host", "threads" (LibTorch intra-op threads)}.
nlohmann::json report_versions();

// Writes `text` to `path` + ".tmp" and renames it to `path`. Throws InputError naming the
// path when it cannot be written (a full disk, a file size limit), leaving no temporary file.
void write_text_file(const std::string& path, const std::string& text);
// Throws InputError naming `option` and `path` unless write_text_file(path, ...) can succeed as
// far as can be told before any work: `path` is a regular file or absent, its folder exists and
// is writable. Called at startup, so a long run does not fail at its last step.
void check_output_file(const std::string& path, const std::string& option);
// write_text_file of `json`, indented.
void write_json_file(const std::string& path, const nlohmann::json& json);

// `value`, or null when it is not finite (the standard error of a single sample is NaN, and
// JSON has no NaN).
nlohmann::json json_number(double value);

}  // namespace ptq
