#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
  // A read fault also maps the cached pages around it (the kernel's fault-around, 64 KiB by
  // default), so reading the next tensor maps the tail of this one back in: without a margin
  // that much stayed resident per tensor, ~200 KB per streamed layer.
  constexpr std::size_t kFaultAround = std::size_t{64} << 10;
  const std::size_t begin = (offset > kFaultAround ? offset - kFaultAround : 0) / page * page;
  const std::size_t end = std::min(_size, offset + length + kFaultAround);
  // MADV_DONTNEED on a PROT_READ, MAP_PRIVATE file mapping only drops clean pages that were
  // never copied on write, so nothing is lost: widening the range (over the ends of
  // neighbouring tensors) is safe, and any later access rereads the file.
  if (::madvise(_data + begin, end - begin, MADV_DONTNEED) != 0) {
    PTQ_THROW_RUNTIME("madvise(MADV_DONTNEED) of a file mapping failed: ", std::strerror(errno));
  }
}

MappedFile::~MappedFile() {
  if (_data != nullptr) ::munmap(_data, _size);
}

}  // namespace ptq::io
