//===- readers/zip_archive.h - Reading members of a .keras zip -------------===//
//
// A .keras file is a zip holding config.json, metadata.json and the weights.
// Members are looked up by name and read into memory, never extracted to disk,
// so a member called "../../x" could do no harm; such names are refused all
// the same, since no Keras writes them.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/error.h"

struct zip;

namespace k2t {

struct ZipLimits {
  std::uint64_t max_member_bytes = std::uint64_t{64} << 30;  // 64 GiB
  std::uint64_t max_ratio = 1000;  // uncompressed / compressed, against zip bombs
};

class ZipArchive {
 public:
  static Expected<ZipArchive> Open(const std::string& path, ZipLimits limits = {});
  // The same over an archive held in memory; `data` must outlive the archive.
  static Expected<ZipArchive> OpenBuffer(const void* data, std::size_t size,
                                         ZipLimits limits = {});
  ZipArchive(ZipArchive&&) noexcept;
  ZipArchive& operator=(ZipArchive&&) noexcept;
  ~ZipArchive();

  const std::vector<std::string>& names() const { return names_; }
  bool Has(const std::string& name) const;
  Expected<std::vector<char>> Read(const std::string& name) const;

 private:
  ZipArchive(zip* archive, std::vector<std::string> names, ZipLimits limits);
  static Expected<ZipArchive> Adopt(zip* archive, ZipLimits limits);
  zip* archive_ = nullptr;
  std::vector<std::string> names_;
  ZipLimits limits_;
};

}  // namespace k2t
