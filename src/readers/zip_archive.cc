//===- readers/zip_archive.cc - Reading members of a .keras zip -------------===//
#include "readers/zip_archive.h"

#include <zip.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "support/limits.h"
#include "support/strings.h"

namespace k2t {

ZipArchive::ZipArchive(zip* archive, std::vector<std::string> names, ZipLimits limits)
    : archive_(archive), names_(std::move(names)), limits_(limits) {}

ZipArchive::ZipArchive(ZipArchive&& other) noexcept { *this = std::move(other); }

ZipArchive& ZipArchive::operator=(ZipArchive&& other) noexcept {
  if (this != &other) {
    if (archive_) zip_discard(archive_);
    archive_ = other.archive_;
    names_ = std::move(other.names_);
    limits_ = other.limits_;
    other.archive_ = nullptr;
  }
  return *this;
}

ZipArchive::~ZipArchive() {
  if (archive_) zip_discard(archive_);
}

namespace {

std::string ZipErrorText(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string reason = zip_error_strerror(&error);
  zip_error_fini(&error);
  for (char& c : reason) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return reason;
}

Error OpenFailure(int code) {
  switch (code) {
    case ZIP_ER_NOZIP:
      return MakeError("the zip archive is truncated or damaged: its central directory is "
                       "missing or unreadable");
    case ZIP_ER_INCONS:
      return MakeError("the zip archive is damaged: its central directory does not match its "
                       "members");
    case ZIP_ER_NOENT:
      return MakeError("no such file");
    default:
      return MakeError("cannot read the zip archive ({}); it may be truncated or damaged",
                       ZipErrorText(code));
  }
}

// True when extracting `name` as a path would leave the directory it is
// extracted into: absolute paths, drive letters and ".." components.
bool LeavesArchive(std::string_view name) {
  if (name.empty()) return false;
  if (name[0] == '/' || name[0] == '\\') return true;
  if (name.size() >= 2 && name[1] == ':') return true;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find_first_of("/\\", start);
    if (end == std::string_view::npos) end = name.size();
    if (name.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

// Lists the members of an opened archive, refusing the ambiguous and the
// hostile; takes ownership of `archive`.
Expected<ZipArchive> ZipArchive::Adopt(zip* archive, ZipLimits limits) {
  const zip_int64_t count = zip_get_num_entries(archive, 0);
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (zip_int64_t i = 0; i < count; ++i) {
    const char* name = zip_get_name(archive, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (!name) continue;
    // `name` points into the archive: each message is made before it is discarded.
    // Two members with one name make "which one is the model" ambiguous.
    if (!seen.insert(name).second) {
      Error error = MakeError("the zip archive has two members named '{}'", PrintableText(name));
      zip_discard(archive);
      return error;
    }
    // Nothing is ever extracted, but such a name only comes from a crafted archive.
    if (LeavesArchive(name)) {
      Error error = MakeError("the zip archive has a member named '{}', a path outside the "
                              "archive; keras2torch refuses such archives",
                              PrintableText(name));
      zip_discard(archive);
      return error;
    }
    names.emplace_back(name);
  }
  return ZipArchive(archive, std::move(names), limits);
}

Expected<ZipArchive> ZipArchive::Open(const std::string& path, ZipLimits limits) {
  int code = 0;
  zip* archive = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  // libzip refuses duplicate names only as an inconsistency; open again
  // without the check to say which name it is.
  if (!archive && code == ZIP_ER_EXISTS) archive = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (!archive) return OpenFailure(code);
  return Adopt(archive, limits);
}

Expected<ZipArchive> ZipArchive::OpenBuffer(const void* data, std::size_t size,
                                            ZipLimits limits) {
  auto open = [&](int flags, int& code) -> zip* {
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* source = zip_source_buffer_create(data, size, /*freep=*/0, &error);
    if (!source) {
      code = zip_error_code_zip(&error);
      zip_error_fini(&error);
      return nullptr;
    }
    zip* archive = zip_open_from_source(source, flags, &error);
    code = zip_error_code_zip(&error);
    zip_error_fini(&error);
    if (!archive) zip_source_free(source);
    return archive;
  };
  int code = 0;
  zip* archive = open(ZIP_RDONLY | ZIP_CHECKCONS, code);
  if (!archive && code == ZIP_ER_EXISTS) archive = open(ZIP_RDONLY, code);
  if (!archive) return OpenFailure(code);
  return Adopt(archive, limits);
}

bool ZipArchive::Has(const std::string& name) const {
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

Expected<std::vector<char>> ZipArchive::Read(const std::string& name) const {
  const zip_int64_t index = zip_name_locate(archive_, name.c_str(), ZIP_FL_ENC_RAW);
  if (index < 0) return MakeError("the archive has no member '{}'", name);
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat_index(archive_, static_cast<zip_uint64_t>(index), 0, &stat) != 0) {
    return MakeError("cannot read member '{}' of the archive", name);
  }
  if (stat.size > limits_.max_member_bytes) {
    return MakeError("member '{}' unpacks to {} bytes, more than the limit of {} bytes {}",
                     PrintableText(name), stat.size, limits_.max_member_bytes,
                     RaiseWith(kZipMemberBytesFlag));
  }
  // A member that claims bytes out of nothing is the limit case of a bomb.
  if (stat.size > 0 && (stat.comp_size == 0 || stat.size / stat.comp_size > limits_.max_ratio)) {
    const std::string ratio =
        stat.comp_size == 0 ? "infinitely many" : std::to_string(stat.size / stat.comp_size);
    return MakeError("member '{}' expands {} times when unpacked, more than the limit of {} {}",
                     PrintableText(name), ratio, limits_.max_ratio, RaiseWith(kZipRatioFlag));
  }

  zip_file_t* file = zip_fopen_index(archive_, static_cast<zip_uint64_t>(index), 0);
  if (!file) {
    return MakeError("cannot open member '{}' of the archive ({})", name,
                     ZipErrorText(zip_get_error(archive_)->zip_err));
  }
  // Read in pieces, so that memory follows the bytes really there rather than
  // the size a damaged header claims.
  std::vector<char> data;
  constexpr std::size_t kPiece = std::size_t{1} << 20;
  zip_int64_t got = 0;
  while (data.size() < stat.size) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<zip_uint64_t>(kPiece, stat.size - data.size()));
    const std::size_t before = data.size();
    data.resize(before + want);
    got = zip_fread(file, data.data() + before, want);
    data.resize(before + static_cast<std::size_t>(std::max<zip_int64_t>(got, 0)));
    if (got <= 0) break;
  }
  // The checksum is verified when the end of the member is reached.
  char extra = 0;
  if (data.size() == stat.size) got = zip_fread(file, &extra, 1);
  const int code = got < 0 ? zip_file_get_error(file)->zip_err : ZIP_ER_OK;
  zip_fclose(file);
  if (code == ZIP_ER_CRC) {
    return MakeError("member '{}' of the archive is damaged: its checksum does not match", name);
  }
  if (data.size() != stat.size || got < 0) {
    return MakeError("member '{}' of the archive is truncated or damaged ({} of {} bytes read)",
                     name, data.size(), stat.size);
  }
  return data;
}

}  // namespace k2t
