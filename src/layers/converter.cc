//===- layers/converter.cc - Defaults and shared layout plans ---------------===//
#include "layers/converter.h"

namespace k2t::layers {

Expected<std::vector<WeightSpec>> Converter::Weights(const CallContext&) const {
  return std::vector<WeightSpec>{};
}

Expected<LayoutPlan> Converter::PlanLayout(const CallContext& call,
                                           const std::vector<ir::Layout>&) const {
  return KerasOrderPlan(call, call.node.outputs.size());
}

LayoutPlan KerasOrderPlan(const CallContext& call, std::size_t output_count) {
  LayoutPlan plan;
  plan.inputs.assign(call.node.inputs.size(), ir::Layout::Identity());
  plan.outputs.assign(std::max(output_count, call.node.outputs.size()), ir::Layout::Identity());
  return plan;
}

LayoutPlan ChannelsFirstPlan(const CallContext& call, bool channels_last) {
  LayoutPlan plan;
  for (int input : call.node.inputs) {
    const int rank = static_cast<int>(call.graph.value(input).shape.size());
    plan.inputs.push_back(channels_last ? ir::Layout::ChannelsFirst(rank) : ir::Layout());
  }
  for (int output : call.node.outputs) {
    const int rank = static_cast<int>(call.graph.value(output).shape.size());
    plan.outputs.push_back(channels_last ? ir::Layout::ChannelsFirst(rank) : ir::Layout());
  }
  return plan;
}

LayoutPlan PassThroughPlan(const CallContext& call, const std::vector<ir::Layout>& current) {
  LayoutPlan plan;
  plan.inputs = current;
  const ir::Layout out = current.empty() ? ir::Layout() : current[0];
  plan.outputs.assign(call.node.outputs.size(), out);
  return plan;
}

Shape TorchShape(const ir::Value& value) {
  if (value.layout.features) {
    return value.shape;  // same sizes, only the feature order differs
  }
  if (value.layout.perm.empty()) return value.shape;
  Shape out;
  for (int axis : value.layout.perm) out.push_back(value.shape[static_cast<std::size_t>(axis)]);
  return out;
}

Expected<int> TorchAxis(const ir::Value& value, int keras_axis) {
  const int rank = static_cast<int>(value.shape.size());
  const int axis = keras_axis < 0 ? keras_axis + rank : keras_axis;
  if (axis < 0 || axis >= rank) {
    return MakeError("axis {} is out of range for a tensor of rank {}", keras_axis, rank);
  }
  if (value.layout.perm.empty()) return axis;
  for (int i = 0; i < rank; ++i) {
    if (value.layout.perm[static_cast<std::size_t>(i)] == axis) return i;
  }
  return MakeError("axis {} is not in the tensor's layout", keras_axis);
}

}  // namespace k2t::layers
