#include "readers/zip_archive.h"

#include <gtest/gtest.h>
#include <zip.h>

#include <cstdint>

#include "support/strings.h"
#include "test_util.h"

namespace k2t {
namespace {

using testing::TempDir;

struct Member {
  std::string name;
  std::string data;
  bool deflate = false;
};

// An archive written by libzip, as a zip tool or Python would write it.
void WriteWithLibzip(const std::string& path, const std::vector<Member>& members) {
  int code = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  ASSERT_NE(archive, nullptr) << code;
  for (const Member& member : members) {
    zip_source_t* source =
        zip_source_buffer(archive, member.data.data(), member.data.size(), /*freep=*/0);
    ASSERT_NE(source, nullptr);
    const zip_int64_t index = zip_file_add(archive, member.name.c_str(), source, ZIP_FL_ENC_UTF_8);
    ASSERT_GE(index, 0) << member.name;
    zip_set_file_compression(archive, static_cast<zip_uint64_t>(index),
                             member.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  ASSERT_EQ(zip_close(archive), 0);
}

std::uint32_t Crc32(const std::string& data) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void Put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>(v >> 8));
}

void Put32(std::string& out, std::uint32_t v) {
  Put16(out, static_cast<std::uint16_t>(v & 0xFFFF));
  Put16(out, static_cast<std::uint16_t>(v >> 16));
}

// A stored zip written byte by byte, for what libzip refuses to write
// (two members of one name).
std::string HandMadeZip(const std::vector<Member>& members) {
  std::string out;
  std::string directory;
  for (const Member& m : members) {
    const auto offset = static_cast<std::uint32_t>(out.size());
    const auto size = static_cast<std::uint32_t>(m.data.size());
    const std::uint32_t crc = Crc32(m.data);
    Put32(out, 0x04034b50);
    Put16(out, 20);  // version needed
    Put16(out, 0);   // flags
    Put16(out, 0);   // stored
    Put16(out, 0);   // time
    Put16(out, 0x21);  // date
    Put32(out, crc);
    Put32(out, size);
    Put32(out, size);
    Put16(out, static_cast<std::uint16_t>(m.name.size()));
    Put16(out, 0);
    out += m.name + m.data;

    Put32(directory, 0x02014b50);
    Put16(directory, 20);  // made by
    Put16(directory, 20);  // needed
    Put16(directory, 0);
    Put16(directory, 0);
    Put16(directory, 0);
    Put16(directory, 0x21);
    Put32(directory, crc);
    Put32(directory, size);
    Put32(directory, size);
    Put16(directory, static_cast<std::uint16_t>(m.name.size()));
    Put16(directory, 0);  // extra
    Put16(directory, 0);  // comment
    Put16(directory, 0);  // disk
    Put16(directory, 0);  // internal attributes
    Put32(directory, 0);  // external attributes
    Put32(directory, offset);
    directory += m.name;
  }
  const auto directory_offset = static_cast<std::uint32_t>(out.size());
  out += directory;
  Put32(out, 0x06054b50);
  Put16(out, 0);
  Put16(out, 0);
  Put16(out, static_cast<std::uint16_t>(members.size()));
  Put16(out, static_cast<std::uint16_t>(members.size()));
  Put32(out, static_cast<std::uint32_t>(directory.size()));
  Put32(out, directory_offset);
  Put16(out, 0);
  return out;
}

std::string AsString(const std::vector<char>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST(ZipArchiveTest, ReadsStoredAndDeflatedMembers) {
  TempDir dir;
  const std::string path = dir.File("model.keras");
  const std::string big(50000, 'w');
  WriteWithLibzip(path, {{"metadata.json", R"({"keras_version": "3.15.1"})"},
                         {"config.json", R"({"class_name": "Sequential"})", true},
                         {"model.weights.h5", big, true},
                         {"assets/empty", ""}});
  auto archive = ZipArchive::Open(path);
  ASSERT_TRUE(archive.ok()) << archive.error().message();
  EXPECT_EQ(archive->names(), (std::vector<std::string>{"metadata.json", "config.json",
                                                        "model.weights.h5", "assets/empty"}));
  EXPECT_TRUE(archive->Has("config.json"));
  EXPECT_FALSE(archive->Has("model.weights.npz"));
  EXPECT_EQ(AsString(*archive->Read("config.json")), R"({"class_name": "Sequential"})");
  EXPECT_EQ(AsString(*archive->Read("model.weights.h5")), big);
  EXPECT_TRUE(archive->Read("assets/empty")->empty());

  auto missing = archive->Read("model.weights.npz");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "the archive has no member 'model.weights.npz'");
}

TEST(ZipArchiveTest, MemberNamesLeavingTheArchiveAreRefused) {
  TempDir dir;
  const std::vector<std::string> hostile = {"../../escape.txt", "assets/../../x", "/abs/path",
                                            "..\\win.txt", "C:/evil", ".."};
  for (const std::string& name : hostile) {
    const std::string path = dir.File("hostile.keras");
    WriteWithLibzip(path, {{"config.json", "{}"}, {name, "x"}});
    auto archive = ZipArchive::Open(path);
    ASSERT_FALSE(archive.ok()) << name;
    EXPECT_EQ(archive.error().message(),
              "the zip archive has a member named '" + PrintableText(name) +
                  "', a path outside the archive; keras2torch refuses such archives");
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path().parent_path().parent_path() / "escape.txt"));
  // Dots inside names are ordinary.
  const std::string path = dir.File("dots.keras");
  WriteWithLibzip(path, {{"assets/..hidden", "x"}, {"a..b/c", "y"}});
  EXPECT_TRUE(ZipArchive::Open(path).ok());
}

TEST(ZipArchiveTest, DuplicateMemberNamesAreRefused) {
  TempDir dir;
  const std::string path = dir.File("duplicate.keras");
  testing::WriteBytes(path, HandMadeZip({{"metadata.json", "{}"},
                                         {"config.json", R"({"class_name": "A"})"},
                                         {"config.json", R"({"class_name": "B"})"}}));
  auto archive = ZipArchive::Open(path);
  ASSERT_FALSE(archive.ok());
  EXPECT_EQ(archive.error().message(), "the zip archive has two members named 'config.json'");
}

TEST(ZipArchiveTest, HandMadeArchiveIsValid) {
  // The writer above is only trusted because an archive without duplicates reads back.
  TempDir dir;
  const std::string path = dir.File("hand.zip");
  testing::WriteBytes(path, HandMadeZip({{"a.txt", "alpha"}, {"b.txt", "beta"}}));
  auto archive = ZipArchive::Open(path);
  ASSERT_TRUE(archive.ok()) << archive.error().message();
  EXPECT_EQ(AsString(*archive->Read("b.txt")), "beta");
}

TEST(ZipArchiveTest, MemberSizeLimit) {
  TempDir dir;
  const std::string path = dir.File("big.keras");
  WriteWithLibzip(path, {{"big.bin", std::string(200, 'b')}, {"small.bin", "s"}});
  ZipLimits limits;
  limits.max_member_bytes = 100;
  auto archive = ZipArchive::Open(path, limits);
  ASSERT_TRUE(archive.ok());
  auto big = archive->Read("big.bin");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().message(),
            "member 'big.bin' unpacks to 200 bytes, more than the limit of 100 bytes "
            "(raise it with --max-zip-member-bytes)");
  EXPECT_TRUE(archive->Read("small.bin").ok());
}

TEST(ZipArchiveTest, CompressionRatioLimit) {
  TempDir dir;
  const std::string path = dir.File("bomb.keras");
  WriteWithLibzip(path, {{"zeros.bin", std::string(100000, '\0'), true}});

  // What libzip's deflate made of it, to state the expected ratio.
  int code = 0;
  zip_t* raw = zip_open(path.c_str(), ZIP_RDONLY, &code);
  ASSERT_NE(raw, nullptr);
  zip_stat_t stat;
  ASSERT_EQ(zip_stat_index(raw, 0, 0, &stat), 0);
  zip_discard(raw);
  const std::uint64_t ratio = stat.size / stat.comp_size;
  ASSERT_GT(ratio, 10u);

  ZipLimits limits;
  limits.max_ratio = 10;
  auto archive = ZipArchive::Open(path, limits);
  ASSERT_TRUE(archive.ok());
  auto zeros = archive->Read("zeros.bin");
  ASSERT_FALSE(zeros.ok());
  EXPECT_EQ(zeros.error().message(),
            fmt::format("member 'zeros.bin' expands {} times when unpacked, more than the limit "
                        "of 10 (raise it with --max-zip-ratio)",
                        ratio));
  // The default limit (1000) lets an ordinary archive through.
  EXPECT_TRUE(ZipArchive::Open(path)->Read("zeros.bin").ok());
}

TEST(ZipArchiveTest, TruncatedArchive) {
  TempDir dir;
  const std::string path = dir.File("whole.keras");
  WriteWithLibzip(path, {{"config.json", std::string(1000, 'c')}, {"metadata.json", "{}"}});
  const std::string bytes = testing::ReadBytes(path);
  for (std::size_t length : {std::size_t{4}, std::size_t{30}, bytes.size() / 2, bytes.size() - 1}) {
    const std::string cut = dir.File("cut.keras");
    testing::WriteBytes(cut, bytes.substr(0, length));
    auto archive = ZipArchive::Open(cut);
    ASSERT_FALSE(archive.ok()) << length;
    EXPECT_EQ(archive.error().message(),
              "the zip archive is truncated or damaged: its central directory is missing or "
              "unreadable")
        << length;
  }
}

TEST(ZipArchiveTest, CorruptCentralDirectory) {
  TempDir dir;
  const std::string path = dir.File("corrupt.keras");
  WriteWithLibzip(path, {{"config.json", "{}"}, {"metadata.json", "{}"}});
  const std::string bytes = testing::ReadBytes(path);
  const std::size_t directory = bytes.find("PK\x01\x02");
  ASSERT_NE(directory, std::string::npos);

  // Flipped checksum: the directory no longer agrees with the member header.
  std::string crc = bytes;
  for (std::size_t i = directory + 16; i < directory + 20; ++i) crc[i] = static_cast<char>(~crc[i]);
  testing::WriteBytes(dir.File("crc.keras"), crc);
  auto crc_archive = ZipArchive::Open(dir.File("crc.keras"));
  ASSERT_FALSE(crc_archive.ok());
  EXPECT_EQ(crc_archive.error().message(),
            "the zip archive is damaged: its central directory does not match its members");

  // Flipped sizes: the entry points outside the archive.
  std::string sizes = bytes;
  for (std::size_t i = directory + 20; i < directory + 28; ++i) {
    sizes[i] = static_cast<char>(~sizes[i]);
  }
  testing::WriteBytes(dir.File("sizes.keras"), sizes);
  auto sizes_archive = ZipArchive::Open(dir.File("sizes.keras"));
  ASSERT_FALSE(sizes_archive.ok());
  EXPECT_EQ(sizes_archive.error().message(),
            "the zip archive is truncated or damaged: its central directory is missing or "
            "unreadable");
}

TEST(ZipArchiveTest, CorruptMemberData) {
  TempDir dir;
  const std::string path = dir.File("member.keras");
  const std::string payload(64, 'p');
  WriteWithLibzip(path, {{"config.json", payload}});
  std::string bytes = testing::ReadBytes(path);
  const std::size_t at = bytes.find(payload);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] = 'X';
  const std::string corrupt = dir.File("bad_crc.keras");
  testing::WriteBytes(corrupt, bytes);
  auto archive = ZipArchive::Open(corrupt);
  ASSERT_TRUE(archive.ok());
  auto member = archive->Read("config.json");
  ASSERT_FALSE(member.ok());
  EXPECT_EQ(member.error().message(),
            "member 'config.json' of the archive is damaged: its checksum does not match");
}

}  // namespace
}  // namespace k2t
