//===- fuzz/fuzz_model_file.cc - Any model file, HDF5 above all -------------===//
//
// The bytes are a model file as keras2torch opens it from disk: recognised by
// its first bytes, then read as an HDF5 full model, a .keras zip (whose
// weights HDF5 reads from memory) or a JSON architecture. Every weight the
// file lists is then described and read, which drives HDF5's own parser over
// the fuzzed bytes and the caps on declared sizes.
//
//===----------------------------------------------------------------------===//
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/normalize.h"
#include "fuzz_util.h"
#include "ir/graph.h"
#include "readers/model_file.h"

namespace {

// The file is written once per input; libFuzzer runs one input at a time.
const std::string& ScratchPath() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string pattern = std::string(dir ? dir : "/tmp") + "/k2t-fuzz-XXXXXX";
    const int fd = mkstemp(pattern.data());
    if (fd >= 0) close(fd);
    return pattern;
  }();
  return path;
}

void ReadAll(const k2t::WeightSource& weights, const std::vector<k2t::WeightRef>& refs) {
  for (const k2t::WeightRef& ref : refs) {
    auto tensor = weights.Read(ref);
    (void)tensor.ok();
  }
}

// Keras 3 layout: vars of every group, to a bounded depth.
void WalkV3(const k2t::WeightSource& weights, const std::string& path, int depth) {
  if (depth > 6) return;
  auto vars = weights.Vars(path);
  if (vars.ok()) ReadAll(weights, *vars);
  (void)weights.VarsName(path);
  auto children = weights.Children(path);
  if (!children.ok()) return;
  int visited = 0;
  for (const std::string& child : *children) {
    if (child == "vars" || ++visited > 16) continue;
    const std::string below = path.empty() ? child : path + "/" + child;
    if (weights.HasGroup(below)) WalkV3(weights, below, depth + 1);
  }
}

void WalkWeights(const k2t::WeightSource& weights) {
  if (weights.layout() == k2t::WeightLayout::kV3) {
    WalkV3(weights, "", 0);
    return;
  }
  auto names = weights.LayerNames();
  if (!names.ok()) return;
  int visited = 0;
  for (const std::string& name : *names) {
    if (++visited > 64) break;
    auto refs = weights.LayerWeights(name);
    if (refs.ok()) ReadAll(weights, *refs);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::atexit([] { unlink(ScratchPath().c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = ScratchPath();
  FILE* out = std::fopen(path.c_str(), "wb");
  if (!out) std::abort();
  std::fwrite(data, 1, size, out);
  std::fclose(out);

  k2t::ReadOptions options;
  options.limits = k2t::fuzz::SmallLimits();
  options.json.max_bytes = options.limits.json_bytes;
  options.json.max_depth = options.limits.json_depth;
  options.zip.max_member_bytes = options.limits.zip_member_bytes;
  k2t::fuzz::Guard([&] {
    auto file = k2t::ReadModelFile(path, options);
    if (!file.ok()) return;
    if (file->weights) WalkWeights(*file->weights);
    auto model = k2t::config::Normalize(*file);
    if (!model.ok()) return;
    auto graph = k2t::ir::BuildGraph(model->model, options.limits);
    (void)graph.ok();
  });
  return 0;
}
