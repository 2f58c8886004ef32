//===- readers/mapped_file.cc - A read-only view of a file in memory --------===//
#include "readers/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace k2t {
namespace {

std::uint64_t Little(const char* p, int bytes) {
  std::uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(p[i]);
  return value;
}

// Whether `length` bytes at `offset` lie within `size`, without computing
// offset + length: offsets read from a damaged file can be near 2^64.
bool Fits(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

constexpr std::uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr std::uint32_t kZip64Locator = 0x07064b50;
constexpr std::uint32_t kZip64End = 0x06064b50;
constexpr std::uint32_t kCentralHeader = 0x02014b50;
constexpr std::uint32_t kLocalHeader = 0x04034b50;

Error Malformed(const char* what) {
  return MakeError("the zip archive is damaged ({})", what);
}

}  // namespace

Expected<std::shared_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return MakeError("cannot open the file");
  struct stat info;
  if (::fstat(fd, &info) != 0 || info.st_size <= 0) {
    ::close(fd);
    return MakeError("cannot read the file's size");
  }
  // Read-only: HDF5 opens the image without H5LT_FILE_IMAGE_OPEN_RW and never
  // writes to it, and a read-only mapping does not count against the memory
  // cap of the command-line tool (RLIMIT_DATA counts writable private pages).
  void* data = ::mmap(nullptr, static_cast<std::size_t>(info.st_size), PROT_READ, MAP_PRIVATE,
                      fd, 0);
  ::close(fd);
  if (data == MAP_FAILED) return MakeError("cannot map the file into memory");
  return std::shared_ptr<MappedFile>(
      new MappedFile(static_cast<char*>(data), static_cast<std::uint64_t>(info.st_size)));
}

MappedFile::~MappedFile() { ::munmap(data_, size_); }

void MappedFile::ReleasePages() const { ::madvise(data_, size_, MADV_DONTNEED); }

Expected<std::optional<ByteRange>> FindStoredZipMember(const char* data, std::uint64_t size,
                                                       const std::string& name) {
  // The end-of-central-directory record is within the last 64 KiB + 22 bytes.
  if (size < 22) return Malformed("too short");
  std::uint64_t end = size - 22;
  const std::uint64_t lowest = size > 65557 ? size - 65557 : 0;
  while (Little(data + end, 4) != kEndOfCentralDirectory) {
    if (end == lowest) return Malformed("no end of central directory");
    --end;
  }
  std::uint64_t entries = Little(data + end + 10, 2);
  std::uint64_t directory = Little(data + end + 16, 4);
  // ZIP64: the real counts live in another record, located just before.
  if (end >= 20 && Little(data + end - 20, 4) == kZip64Locator) {
    const std::uint64_t record = Little(data + end - 20 + 8, 8);
    if (!Fits(record, 56, size) || Little(data + record, 4) != kZip64End) {
      return Malformed("bad ZIP64 record");
    }
    entries = Little(data + record + 32, 8);
    directory = Little(data + record + 48, 8);
  }

  std::uint64_t at = directory;
  for (std::uint64_t k = 0; k < entries; ++k) {
    if (!Fits(at, 46, size) || Little(data + at, 4) != kCentralHeader) {
      return Malformed("bad central directory entry");
    }
    const std::uint64_t method = Little(data + at + 10, 2);
    std::uint64_t compressed = Little(data + at + 20, 4);
    std::uint64_t uncompressed = Little(data + at + 24, 4);
    const std::uint64_t name_length = Little(data + at + 28, 2);
    const std::uint64_t extra_length = Little(data + at + 30, 2);
    const std::uint64_t comment_length = Little(data + at + 32, 2);
    std::uint64_t local = Little(data + at + 42, 4);
    if (!Fits(at + 46, name_length + extra_length, size)) return Malformed("entry past the end");
    const std::string entry_name(data + at + 46, name_length);

    // ZIP64 extra field: the 64-bit values for the fields saturated at 0xFFFFFFFF.
    std::uint64_t extra = at + 46 + name_length;
    const std::uint64_t extra_end = extra + extra_length;
    while (extra + 4 <= extra_end) {
      const std::uint64_t id = Little(data + extra, 2);
      const std::uint64_t length = Little(data + extra + 2, 2);
      std::uint64_t field = extra + 4;
      if (id == 0x0001) {
        if (uncompressed == 0xFFFFFFFF && field + 8 <= extra_end) {
          uncompressed = Little(data + field, 8);
          field += 8;
        }
        if (compressed == 0xFFFFFFFF && field + 8 <= extra_end) {
          compressed = Little(data + field, 8);
          field += 8;
        }
        if (local == 0xFFFFFFFF && field + 8 <= extra_end) local = Little(data + field, 8);
      }
      extra += 4 + length;
    }

    if (entry_name == name) {
      if (method != 0 || compressed != uncompressed) return std::optional<ByteRange>();
      if (!Fits(local, 30, size) || Little(data + local, 4) != kLocalHeader) {
        return Malformed("bad local header");
      }
      const std::uint64_t start =
          local + 30 + Little(data + local + 26, 2) + Little(data + local + 28, 2);
      if (start > size || uncompressed > size - start) return Malformed("member past the end");
      return std::optional<ByteRange>(ByteRange{start, uncompressed});
    }
    at += 46 + name_length + extra_length + comment_length;
  }
  return std::optional<ByteRange>();
}

}  // namespace k2t
