#pragma once
// What this process may use and uses of the machine's memory (Linux), for commands that size
// their work to a memory budget:
//
//   const int64_t budget = ptq::available_memory_bytes();   // the default --memory-budget
//   const int64_t working = budget - ptq::resident_memory_bytes();

#include <cstdint>

namespace ptq {

// MemAvailable of /proc/meminfo, or the memory limit of this process's cgroup (v1
// memory.limit_in_bytes or v2 memory.max) when that is lower. Throws std::runtime_error when
// /proc/meminfo cannot be read.
int64_t available_memory_bytes();

// The resident set of this process now (/proc/self/statm). Throws std::runtime_error when it
// cannot be read.
int64_t resident_memory_bytes();

// bytes / 2^20, for messages.
double mebibytes(int64_t bytes);

}  // namespace ptq
