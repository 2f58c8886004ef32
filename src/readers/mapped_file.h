//===- readers/mapped_file.h - A read-only view of a file in memory --------===//
//
// Used to read the weights inside a .keras archive without unpacking them:
// when the member is stored uncompressed (Keras writes it so), HDF5 reads the
// mapped bytes directly. Pages are handed back to the kernel after each
// tensor, so resident memory stays near the largest tensor.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "support/error.h"

namespace k2t {

class MappedFile {
 public:
  static Expected<std::shared_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  std::uint64_t size() const { return size_; }
  // Drops the resident pages; later reads fault them in again from the file.
  void ReleasePages() const;

 private:
  MappedFile(char* data, std::uint64_t size) : data_(data), size_(size) {}
  char* data_;
  std::uint64_t size_;
};

// Where the bytes of a zip member lie, when it is stored uncompressed.
struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

// Finds member `name` of the zip archive in `data` through its central
// directory (ZIP64 included). Returns nothing when the member is compressed
// or absent; an error when the archive's structure is inconsistent.
Expected<std::optional<ByteRange>> FindStoredZipMember(const char* data, std::uint64_t size,
                                                       const std::string& name);

}  // namespace k2t
