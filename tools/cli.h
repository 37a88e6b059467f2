#pragma once
// The ptq command line as a function, for tools/main.cpp and for tests that run a command
// in-process (with methods registered only in the test binary).

namespace ptq::cli {

// Parses argv, runs the subcommand and returns the exit code (README: exit codes); errors are
// logged, not thrown.
int run(int argc, char** argv);

}  // namespace ptq::cli
