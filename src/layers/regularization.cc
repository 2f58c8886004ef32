//===- layers/regularization.cc - Layers that do nothing at inference -------===//
//
// Dropout and its relatives only act while training; at inference (what a
// converted model is for) they pass their input through, so they emit nothing.
//
//===----------------------------------------------------------------------===//
#include "layers/registry.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

class InferenceIdentity : public Converter {
 public:
  explicit InferenceIdentity(std::set<std::string> keys) : keys_(std::move(keys)) {}
  std::set<std::string> KnownKeys() const override { return keys_; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    return std::vector<Shape>{call.input().shape};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    return PassThroughPlan(call, current);
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "identity (inference)";
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return emit.inputs.at(0);
  }
  bool IsIdentity(const CallContext&) const override { return true; }

 private:
  std::set<std::string> keys_;
};

}  // namespace

void RegisterRegularizationLayers(Registry& registry) {
  const std::set<std::string> dropout = {"rate", "noise_shape", "seed", "p", "data_format"};
  for (const char* name : {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                           "AlphaDropout", "GaussianDropout"}) {
    registry.Add(name, std::make_shared<InferenceIdentity>(dropout));
  }
  registry.Add("GaussianNoise", std::make_shared<InferenceIdentity>(
                                    std::set<std::string>{"stddev", "sigma", "seed"}));
  registry.Add("ActivityRegularization",
               std::make_shared<InferenceIdentity>(std::set<std::string>{"l1", "l2"}));
}

}  // namespace k2t::layers
