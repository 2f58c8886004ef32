//===- fuzz/fuzz_config.cc - Config JSON -> normalized model -> graph -------===//
//
// The bytes are a model's JSON as a .keras config.json, an .h5 model_config
// attribute or a to_json() file would hold it. Everything from the parser to
// the graph builder must answer with a value or an error, never a crash.
//
//===----------------------------------------------------------------------===//
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

#include "config/normalize.h"
#include "fuzz_util.h"
#include "ir/graph.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const k2t::Limits limits = k2t::fuzz::SmallLimits();
  k2t::JsonLimits json;
  json.max_bytes = limits.json_bytes;
  json.max_depth = limits.json_depth;
  auto parsed = k2t::ParseJson(
      std::string_view(reinterpret_cast<const char*>(data), size), json);
  if (!parsed.ok()) return 0;

  k2t::ModelFile file;
  file.path = "fuzz.json";
  file.format = k2t::FileFormat::kJsonConfig;
  file.model = std::move(*parsed);
  k2t::fuzz::Guard([&] {
    auto model = k2t::config::Normalize(file);
    if (!model.ok()) return;
    auto graph = k2t::ir::BuildGraph(model->model, limits);
    (void)graph.ok();
  });
  return 0;
}
