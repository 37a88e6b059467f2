#pragma once
// An output directory built out of sight and renamed into place when complete:
//
//   StagedDirectory staged(out_dir);            // checks out_dir, creates "<out_dir>.tmp-<pid>"
//   write_files(staged.path());
//   staged.commit();                            // renames the temporary directory to out_dir
//
// Invariants:
// 1. nothing appears at target() before commit() succeeds; the destructor of an uncommitted
//    StagedDirectory (an error, a crash unwinding) removes the temporary directory.
// 2. target() is never overwritten: it must not exist or be an empty directory (rename()
//    replaces an empty directory atomically and fails on a non-empty one).

#include <cstdint>
#include <filesystem>
#include <string>

namespace ptq::io {

// `dir` without a trailing slash (which would make a sibling "<dir>.suffix" a child instead).
std::filesystem::path normalized_dir(const std::string& dir);

// The temporary directory a StagedDirectory of process `pid` builds `target` in.
std::filesystem::path staging_dir(const std::filesystem::path& target, int64_t pid);

class StagedDirectory {
 public:
  // Throws InputError if `out_dir` exists and is not an empty directory, if its parent is not
  // a directory, or if the temporary directory cannot be created. A trailing slash in
  // `out_dir` is ignored.
  explicit StagedDirectory(const std::string& out_dir);
  ~StagedDirectory();  // removes the temporary directory unless committed
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  // The temporary directory to write into.
  const std::filesystem::path& path() const { return _tmp; }
  // Where the directory goes on commit().
  const std::filesystem::path& target() const { return _target; }
  bool committed() const { return _committed; }

  // Renames path() to target(); throws InputError if that fails.
  void commit();

 private:
  std::filesystem::path _target;
  std::filesystem::path _tmp;
  bool _committed = false;
};

}  // namespace ptq::io
