//===- layers/masking.cc - Masking, and the masks keras2torch computes ------===//
//
// A Keras mask is True where a time step is real. Embedding(mask_zero=True)
// masks the steps whose index is 0; Masking masks the steps whose features
// all equal mask_value, and zeroes them. The propagate_masks pass inserts an
// internal __ComputeMask call after each source; this file converts it.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include "layers/registry.h"
#include "support/python_text.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

class ComputeMaskConverter : public Converter {
 public:
  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    return std::vector<Shape>{call.output().shape};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    LayoutPlan plan;
    plan.inputs = {current[0].features ? ir::Layout() : current[0]};
    plan.outputs = {ir::Layout()};
    // The mask is (batch, time) in Keras order; a Masking input must be in
    // an order where dropping its last Keras axis leaves (batch, time).
    if (call.layer.config().value("kind", "") == "masking") plan.inputs = {ir::Layout()};
    return plan;
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "mask";
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    const Json& config = call.layer.config();
    if (config.value("kind", "") == "not_zero") return fmt::format("{} != 0", emit.inputs[0]);
    const auto value = NumberValue(config.value("mask_value", Json(0.0)));
    if (!value) return MakeError("mask_value must be a number");
    return fmt::format("({} != {}).any(dim=-1)", emit.inputs[0], PythonFloat(*value));
  }
};

class MaskingConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"mask_value"}; }
  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    if (call.input().shape.size() < 3) {
      return MakeError("expects (batch, time, features...), found shape {}",
                       FormatShape(call.input().shape));
    }
    K2T_RETURN_IF_ERROR(call.config().Float("mask_value", 0.0));
    return std::vector<Shape>{call.input().shape};
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "zero the masked steps";
    return lowering;
  }
  // Keras's output: the input with masked steps set to zero.
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(double value, call.config().Float("mask_value", 0.0));
    return fmt::format("{0} * ({0} != {1}).any(dim=-1, keepdim=True)", emit.inputs[0],
                       PythonFloat(value));
  }
};

}  // namespace

void RegisterMaskingLayers(Registry& registry) {
  registry.Add("__ComputeMask", std::make_shared<ComputeMaskConverter>());
  registry.Add("Masking", std::make_shared<MaskingConverter>());
}

}  // namespace k2t::layers
