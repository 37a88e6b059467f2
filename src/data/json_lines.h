#pragma once
// JSON-lines corpora (one {"text": ...} object per line), plain or gzip-compressed.

#include <string>
#include <vector>

namespace ptq::data {

// The "text" of every record in file order; blank lines are skipped. Throws InputError naming
// the file (and the line) when it is missing, not valid gzip, malformed or lacks "text".
std::vector<std::string> read_json_lines_text(const std::string& path);

}  // namespace ptq::data
