#pragma once
// A cgroup v1 memory cgroup with a hard limit, for tests that prove a run fits in a memory
// budget: the kernel enforces the limit, so exceeding it fails the run instead of a reading.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

// A test that bounds the resident memory of a real run in a memory cgroup. Under
// AddressSanitizer (scripts/test.sh's second pass) shadow memory and the allocation quarantine
// make such bounds meaningless, so there the test is compiled disabled: CTest does not run it
// (tests/cmake/write_test_groups.cmake skips DISABLED_ cases) and GoogleTest counts it as such.
#if defined(__SANITIZE_ADDRESS__)
#define PTQ_MEMORY_LIMIT_TEST(suite, name) TEST(suite, DISABLED_##name)
#else
#define PTQ_MEMORY_LIMIT_TEST(suite, name) TEST(suite, name)
#endif

namespace ptq::test {

// A cgroup v1 memory cgroup with a hard limit, removed with the object. usable() is false
// when the memory hierarchy is not writable (not root, cgroup v2, no such controller).
class MemoryCgroup {
 public:
  MemoryCgroup(const std::string& name, int64_t limit_bytes)
      : _path(std::filesystem::path("/sys/fs/cgroup/memory") / name) {
    std::error_code error;
    _created = std::filesystem::create_directory(_path, error);
    _usable = _created && write("memory.limit_in_bytes", limit_bytes);
  }
  ~MemoryCgroup() {
    std::error_code error;  // rmdir succeeds once empty: callers reap the child first
    if (_created) std::filesystem::remove(_path, error);
  }
  MemoryCgroup(const MemoryCgroup&) = delete;
  MemoryCgroup& operator=(const MemoryCgroup&) = delete;

  bool usable() const { return _usable; }
  // Moves the calling process in (from the child, so no work runs outside the limit).
  bool join() const { return write("cgroup.procs", ::getpid()); }
  int64_t read(const std::string& file) const {
    int64_t value = -1;
    std::ifstream(_path / file) >> value;
    return value;
  }

 private:
  bool write(const std::string& file, int64_t value) const {
    std::ofstream out(_path / file);
    out << value << std::flush;
    return static_cast<bool>(out);
  }

  std::filesystem::path _path;
  bool _created = false;
  bool _usable = false;
};

}  // namespace ptq::test
