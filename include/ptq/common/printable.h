#pragma once
// Text read from a file (a tensor name, a path, a JSON key) shown on a terminal: escape
// sequences in it must not reach the terminal, which would act on them (move the cursor,
// retitle the window, hide the rest of the line).
//
//   spdlog::info("tensor {}", ptq::printable(name));   // "a\x1b[2Jb" -> "a\\x1b[2Jb"

#include <string>
#include <string_view>

namespace ptq {

// `text` with control characters (C0, DEL and C1) and bytes that are not valid UTF-8 written
// as \xNN (a backslash itself as \\); printable UTF-8 is kept as is.
std::string printable(std::string_view text);

}  // namespace ptq
