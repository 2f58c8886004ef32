//===- emit/safetensors_writer.cc - Streaming safetensors output ------------===//
#include "emit/safetensors_writer.h"

#include <algorithm>
#include <cstdio>
#include <memory>

#include "support/json.h"
#include "support/strings.h"

namespace k2t {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

Status WriteAll(std::FILE* file, const void* data, std::size_t size) {
  if (size == 0) return Status::Ok();
  if (std::fwrite(data, 1, size, file) != size) return MakeError("cannot write the weights file");
  return Status::Ok();
}

}  // namespace

Status WriteSafetensors(const std::string& path, std::vector<SafetensorsEntry> entries,
                        const std::map<std::string, std::string>& metadata) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.key < b.key; });

  // Header: offsets follow from the shapes alone.
  Json header = Json::object();
  header["__metadata__"] = Json(metadata);
  std::uint64_t offset = 0;
  for (const SafetensorsEntry& entry : entries) {
    K2T_ASSIGN_OR_RETURN(std::int64_t count, ElementCount(entry.shape));
    const std::uint64_t bytes = static_cast<std::uint64_t>(count) * DTypeSize(entry.dtype);
    header[entry.key] = {{"dtype", SafetensorsDTypeName(entry.dtype)},
                         {"shape", entry.shape},
                         {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');

  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "wb"));
  if (!file) return MakeError("cannot create '{}'", path);
  std::uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<std::uint8_t>(text.size() >> (8 * i));
  K2T_RETURN_IF_ERROR(WriteAll(file.get(), length, sizeof(length)));
  K2T_RETURN_IF_ERROR(WriteAll(file.get(), text.data(), text.size()));

  // Data: one tensor alive at a time.
  for (SafetensorsEntry& entry : entries) {
    K2T_ASSIGN_OR_RETURN(Tensor tensor, entry.produce());
    if (tensor.shape() != entry.shape) {
      return MakeError("internal error: tensor '{}' came out with shape {}, expected {}",
                       entry.key, FormatList(tensor.shape()), FormatList(entry.shape));
    }
    if (tensor.dtype() != entry.dtype) {
      if (!(entry.dtype == DType::kF32 && IsFloating(tensor.dtype()))) {
        return MakeError("internal error: tensor '{}' has type {}, expected {}", entry.key,
                         TorchDTypeName(tensor.dtype()), TorchDTypeName(entry.dtype));
      }
      tensor = tensor.ToFloat32();
    }
    K2T_RETURN_IF_ERROR(WriteAll(file.get(), tensor.data(), tensor.byte_size()));
  }
  if (std::fflush(file.get()) != 0) return MakeError("cannot write the weights file");
  return Status::Ok();
}

}  // namespace k2t
