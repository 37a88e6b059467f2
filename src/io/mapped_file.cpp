#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ptq/common/error.h"

namespace ptq::io {

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) PTQ_THROW_INPUT(path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    PTQ_THROW_INPUT(path, ": not a regular file");
  }
  _size = static_cast<std::size_t>(st.st_size);
  if (_size > 0) {
    void* addr = ::mmap(nullptr, _size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int mmap_errno = errno;
    ::close(fd);  // the mapping keeps the file referenced
    if (addr == MAP_FAILED) PTQ_THROW_INPUT(path, ": cannot map: ", std::strerror(mmap_errno));
    _data = static_cast<uint8_t*>(addr);
  } else {
    ::close(fd);
  }
}

void MappedFile::release(std::size_t offset, std::size_t length) const {
  if (length == 0) return;
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t begin = offset / page * page;
  // MADV_DONTNEED on a PROT_READ, MAP_PRIVATE file mapping only drops clean pages that were
  // never copied on write, so nothing is lost: widening the range to whole pages (which may
  // cover the ends of neighbouring tensors) is safe, and any later access rereads the file.
  if (::madvise(_data + begin, offset + length - begin, MADV_DONTNEED) != 0) {
    PTQ_THROW_RUNTIME("madvise(MADV_DONTNEED) of a file mapping failed: ", std::strerror(errno));
  }
}

MappedFile::~MappedFile() {
  if (_data != nullptr) ::munmap(_data, _size);
}

}  // namespace ptq::io
