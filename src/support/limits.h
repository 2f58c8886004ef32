//===- support/limits.h - Caps on what a hostile file may make us do -------===//
//
// Model files come from strangers, so every size that a file declares (and
// that would otherwise decide how much memory or time a conversion takes) is
// checked against a cap before it is acted on. The defaults let every real
// Keras model through; each cap can be raised from the command line, and the
// message that reports it names the flag.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>

namespace k2t {

struct Limits {
  std::uint64_t json_bytes = std::uint64_t{1} << 30;  // 1 GiB of config text
  int json_depth = 512;                                 // nesting of [ and {
  std::uint64_t zip_member_bytes = std::uint64_t{64} << 30;  // 64 GiB unpacked
  std::uint64_t zip_ratio = 1000;       // unpacked / packed size of one zip member
  std::int64_t layers = 100'000;        // layers in the model, nested ones included
  std::int64_t nodes = 1'000'000;       // layer calls once nested models are inlined
  std::int64_t tensor_elements = std::int64_t{1} << 32;  // elements of one weight
  std::uint64_t dataset_ratio = 1;      // bytes of one HDF5 dataset / bytes of its file
  // Wall-clock seconds for one run of the command-line tool. HDF5's own
  // parser can loop forever on some damaged files (docs/fuzzing.md), and no
  // check before it can tell; this is the backstop.
  std::int64_t seconds = 3600;
  // MiB of memory one run of the command-line tool may allocate, enforced on
  // the process that converts (tools/supervisor.h). 0 for the library: it
  // cannot cap the memory of the program it is loaded into.
  std::int64_t memory_mib = 0;
};

// The command-line flag that raises each cap, for messages.
inline constexpr const char* kJsonBytesFlag = "--max-json-bytes";
inline constexpr const char* kJsonDepthFlag = "--max-json-depth";
inline constexpr const char* kZipMemberBytesFlag = "--max-zip-member-bytes";
inline constexpr const char* kZipRatioFlag = "--max-zip-ratio";
inline constexpr const char* kLayersFlag = "--max-layers";
inline constexpr const char* kNodesFlag = "--max-nodes";
inline constexpr const char* kTensorElementsFlag = "--max-tensor-elements";
inline constexpr const char* kDatasetRatioFlag = "--max-dataset-ratio";
inline constexpr const char* kSecondsFlag = "--max-seconds";
inline constexpr const char* kMemoryFlag = "--max-memory-mib";

// "(raise it with --max-json-bytes)", the tail of every limit message.
inline std::string RaiseWith(const char* flag) {
  return std::string("(raise it with ") + flag + ")";
}

}  // namespace k2t
