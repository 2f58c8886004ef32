//===- fuzz/fuzz_zip.cc - The .keras zip reader -----------------------------===//
//
// The bytes are a zip archive. Both ways of reading members are driven: the
// libzip-backed ZipArchive (every member read in full) and the central
// directory walk that finds an uncompressed member to read in place.
//
//===----------------------------------------------------------------------===//
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "readers/mapped_file.h"
#include "readers/zip_archive.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  const k2t::Limits limits = k2t::fuzz::SmallLimits();
  k2t::ZipLimits zip;
  zip.max_member_bytes = limits.zip_member_bytes;
  zip.max_ratio = limits.zip_ratio;

  auto archive = k2t::ZipArchive::OpenBuffer(data, size, zip);
  std::vector<std::string> names = {"model.weights.h5", "config.json"};
  if (archive.ok()) {
    for (const std::string& name : archive->names()) {
      auto member = archive->Read(name);
      (void)member.ok();
      names.push_back(name);
    }
  }
  for (const std::string& name : names) {
    auto range = k2t::FindStoredZipMember(bytes, size, name);
    // A range that is found must lie inside the archive.
    if (!range.ok() || !*range) continue;
    if ((*range)->offset > size || (*range)->size > size - (*range)->offset) __builtin_trap();
  }
  return 0;
}
