//===- tests/unit/test_util.h - Helpers shared by the unit tests -----------===//
//
// Temporary directories that clean up after themselves, file writing, and a
// way to run a JSON config through the pipeline without a file on disk.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "readers/model_file.h"
#include "support/json.h"

namespace k2t::testing {

// A fresh directory under the system temp directory, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "k2t-unit-XXXXXX").string();
    const char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void WriteBytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A ModelFile as the JSON reader would make it, without weights.
inline ModelFile JsonModelFile(const std::string& json_text,
                               const std::string& keras_version = "") {
  ModelFile file;
  file.path = "model.json";
  file.format = FileFormat::kJsonConfig;
  auto parsed = ParseJson(json_text);
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message());
  if (parsed.ok()) file.model = *parsed;
  file.keras_version = keras_version;
  return file;
}

}  // namespace k2t::testing
