//===- layers/embedding.cc - Embedding ---------------------------------------===//
#include <fmt/format.h>

#include "layers/registry.h"
#include "support/strings.h"
#include "layers/weights_transform.h"

namespace k2t::layers {
namespace {

class EmbeddingConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer",
            "embeddings_constraint", "mask_zero", "input_length", "lora_rank", "lora_alpha",
            "sparse", "weights"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t out, call.config().Int("output_dim"));
    Shape shape = call.input().shape;
    shape.push_back(out);
    return std::vector<Shape>{shape};
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t in, call.config().Int("input_dim"));
    K2T_ASSIGN_OR_RETURN(std::int64_t out, call.config().Int("output_dim"));
    return std::vector<WeightSpec>{{"embeddings", {in, out}}};
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t in, call.config().Int("input_dim"));
    K2T_ASSIGN_OR_RETURN(std::int64_t out, call.config().Int("output_dim"));
    K2T_ASSIGN_OR_RETURN(bool mask_zero, call.config().Bool("mask_zero", false));
    Lowering lowering;
    lowering.module = fmt::format("nn.Embedding({}, {})", in, out);
    lowering.summary = "nn.Embedding";
    lowering.params.push_back(CopyParam("weight", 0, {in, out}));
    if (mask_zero) lowering.notes.push_back("mask_zero: index 0 marks padding for the layers after");
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    // Keras casts float indices to integers; nn.Embedding needs them integral.
    if (IsFloating(call.input().dtype)) return fmt::format("{}({}.long())", emit.self(), emit.inputs[0]);
    return fmt::format("{}({})", emit.self(), emit.inputs[0]);
  }
};

}  // namespace

void RegisterEmbeddingLayers(Registry& registry) {
  registry.Add("Embedding", std::make_shared<EmbeddingConverter>());
}

}  // namespace k2t::layers
