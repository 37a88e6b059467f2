#include "ptq/common/memory.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "ptq/common/error.h"

namespace ptq {
namespace {

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

int64_t mem_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  PTQ_THROW_RUNTIME("cannot read MemAvailable from /proc/meminfo");
}

// The limit file's number; "max" (v2's no limit) or an unreadable file is no limit.
int64_t read_limit(const std::string& path) {
  std::ifstream in(path);
  int64_t value = 0;
  return in >> value ? value : kNoLimit;
}

// /proc/self/cgroup lines are "id:controllers:path"; v1 names "memory" among the controllers,
// v2 has the single line "0::path". The paths are relative to the mounted hierarchies.
int64_t cgroup_limit_bytes() {
  std::ifstream cgroups("/proc/self/cgroup");
  std::string line;
  int64_t limit = kNoLimit;
  while (std::getline(cgroups, line)) {
    const size_t first = line.find(':');
    const size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    std::string controller;
    std::istringstream list(controllers);
    bool memory = false;
    while (std::getline(list, controller, ',')) memory = memory || controller == "memory";
    if (memory) {
      limit =
          std::min(limit, read_limit("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes"));
    } else if (controllers.empty()) {
      limit = std::min(limit, read_limit("/sys/fs/cgroup" + path + "/memory.max"));
    }
  }
  return limit;
}

}  // namespace

int64_t available_memory_bytes() { return std::min(mem_available_bytes(), cgroup_limit_bytes()); }

int64_t resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size_pages = 0;
  int64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) {
    PTQ_THROW_RUNTIME("cannot read the resident set from /proc/self/statm");
  }
  return resident_pages * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

double mebibytes(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace ptq
