//===- passes/plan_layout.cc - Each tensor's axis order in PyTorch ----------===//
//
// Spatial layers run channels first in PyTorch. Every Value carries the
// permutation between its Keras axes and its PyTorch axes; converters state
// what they accept, and a permute is emitted only where an input arrives in
// an order its consumer cannot take and no weight can absorb the difference.
//
// Three refinements run to a fixed point:
//   - a Flatten whose channels-first features reach a consumer that needs
//     Keras order is re-planned to permute before flattening;
//   - with PyTorch io-layout, a model input whose consumers all want the same
//     order (NCHW for a CNN) takes that order, so no permute remains;
//   - a permute at a model input or output is counted as a boundary permute,
//     also one after layout-keeping layers that run on the input as it came.
//
//===----------------------------------------------------------------------===//
#include <map>

#include "passes/conversion.h"
#include "support/strings.h"

namespace k2t::passes {
namespace {

struct Attempt {
  std::vector<LayoutChange> changes;
  std::set<int> flattens_to_fix;  // Flatten nodes that must produce Keras order
  // For each value, the model input it carries unchanged in layout (through
  // layers like Rescaling or ZeroPadding that keep their input's layout), or -1.
  std::map<int, int> origin;
};

// True when a one-input layer passes its input's layout on whatever it is:
// the output has the input's rank, and asked with another layout (channels
// first or Keras order) the layer takes and gives that one unchanged. A
// Reshape or Embedding changes the rank, a convolution insists on channels
// first; the layers after them are not the model input's consumers.
bool KeepsAnyLayout(const Conversion& c, const ir::Node& node, const layers::CallContext& context,
                    const ir::Layout& current) {
  const int rank = static_cast<int>(c.graph.value(node.inputs[0]).shape.size());
  if (rank != static_cast<int>(c.graph.value(node.outputs[0]).shape.size())) return false;
  const ir::Layout other =
      current.IsIdentity() ? ir::Layout::ChannelsFirst(rank) : ir::Layout::Identity();
  if (other == current || current.features) return true;
  auto probe = c.ConverterOf(node).PlanLayout(context, {other});
  if (!probe.ok()) return false;
  return probe->inputs.size() == 1 && !probe->outputs.empty() && probe->inputs[0] == other &&
         probe->outputs[0] == other;
}

Expected<Attempt> PlanOnce(Conversion& c, const std::vector<ir::Layout>& input_layouts,
                           const std::set<int>& keras_order_nodes) {
  ir::Graph& graph = c.graph;
  Attempt attempt;
  for (std::size_t i = 0; i < graph.inputs.size(); ++i) {
    graph.value(graph.inputs[i]).layout = input_layouts[i];
    attempt.origin[graph.inputs[i]] = static_cast<int>(i);
  }

  for (const ir::Node& node : graph.nodes) {
    const ir::Layer& layer = graph.layer_of(node);
    std::vector<ir::Layout> current;
    for (int input : node.inputs) current.push_back(graph.value(input).layout);
    layers::CallContext context = c.Context(node);
    context.keras_order_output = keras_order_nodes.count(node.id) > 0;
    auto plan = c.ConverterOf(node).PlanLayout(context, current);
    if (!plan.ok()) return AtLayer(std::move(plan).error(), layer);
    if (plan->inputs.size() != node.inputs.size() || plan->outputs.size() < node.outputs.size()) {
      return AtLayer(MakeError("internal error: layout plan does not match the call"), layer);
    }
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      if (plan->inputs[i] == current[i]) continue;
      if (current[i].features) {
        attempt.flattens_to_fix.insert(current[i].features->origin_node);
        continue;
      }
      attempt.changes.push_back({node.id, static_cast<int>(i), current[i], plan->inputs[i]});
    }
    for (std::size_t t = 0; t < node.outputs.size(); ++t) {
      graph.value(node.outputs[t]).layout = plan->outputs[t];
    }
    // One input, taken as it came and passed on in the same layout, by a layer
    // that would keep any layout. A convolution also keeps channels first, but
    // only because it demands it: counting the layers after it as the input's
    // consumers would make the input flip between their wishes and its own.
    if (node.inputs.size() == 1 && node.outputs.size() == 1 && plan->inputs[0] == current[0] &&
        plan->outputs[0] == current[0] && attempt.origin.count(node.inputs[0])) {
      if (KeepsAnyLayout(c, node, context, current[0])) {
        attempt.origin[node.outputs[0]] = attempt.origin[node.inputs[0]];
      }
    }
  }

  for (std::size_t o = 0; o < graph.outputs.size(); ++o) {
    const ir::Layout& layout = graph.value(graph.outputs[o]).layout;
    if (layout.features) {
      attempt.flattens_to_fix.insert(layout.features->origin_node);
    } else if (c.options.io_layout == IoLayout::kKeras && !layout.IsIdentity()) {
      attempt.changes.push_back({-1, static_cast<int>(o), layout, ir::Layout::Identity(), true});
    }
  }
  return attempt;
}

// For each model input, the order that the layers reached from it (directly
// or through layout-keeping layers) convert it to, when they all agree.
std::map<std::size_t, ir::Layout> WantedInputLayouts(const Conversion& c, const Attempt& attempt) {
  std::map<std::size_t, ir::Layout> wanted;
  std::set<std::size_t> disagree;
  for (const LayoutChange& change : attempt.changes) {
    if (change.node < 0) continue;
    const ir::Node& node = c.graph.nodes[static_cast<std::size_t>(change.node)];
    const auto origin = attempt.origin.find(node.inputs[static_cast<std::size_t>(change.input)]);
    if (origin == attempt.origin.end()) continue;
    const auto input = static_cast<std::size_t>(origin->second);
    const auto it = wanted.find(input);
    if (it != wanted.end() && !(it->second == change.to)) disagree.insert(input);
    wanted.emplace(input, change.to);
  }
  for (std::size_t input : disagree) wanted.erase(input);
  return wanted;
}

// Plans with these input layouts, re-planning while some Flatten must give
// up its flattened channels-first order.
Expected<Attempt> PlanSettled(Conversion& c, const std::vector<ir::Layout>& input_layouts,
                              std::set<int>& keras_order_nodes) {
  // Each round fixes at least one Flatten, so the graph size bounds them.
  for (std::size_t round = 0; round <= c.graph.nodes.size(); ++round) {
    K2T_ASSIGN_OR_RETURN(Attempt attempt, PlanOnce(c, input_layouts, keras_order_nodes));
    if (attempt.flattens_to_fix.empty()) return attempt;
    keras_order_nodes.insert(attempt.flattens_to_fix.begin(), attempt.flattens_to_fix.end());
  }
  return MakeError("internal error: the layout planner did not settle");
}

}  // namespace

Status PlanLayout(Conversion& conversion) {
  std::vector<ir::Layout> input_layouts(conversion.graph.inputs.size());
  std::set<int> keras_order_nodes;
  K2T_ASSIGN_OR_RETURN(Attempt attempt,
                       PlanSettled(conversion, input_layouts, keras_order_nodes));

  // With PyTorch io-layout, give an input the order its layers want, as
  // long as that leaves fewer conversions (an input feeding both a
  // convolution and a Reshape keeps one permute either way).
  while (conversion.options.io_layout == IoLayout::kTorch) {
    bool improved = false;
    for (const auto& [input, layout] : WantedInputLayouts(conversion, attempt)) {
      if (input_layouts[input] == layout) continue;
      // At the boundary a rank 3 or 4 tensor is NCL / NCHW or Keras's order,
      // never a wrapper's (B, T, C, L): that permute stays inside forward.
      const std::size_t rank = conversion.graph.value(conversion.graph.inputs[input]).shape.size();
      if ((rank == 3 || rank == 4) && !layout.IsIdentity() &&
          !(layout == ir::Layout::ChannelsFirst(static_cast<int>(rank)))) {
        continue;
      }
      std::vector<ir::Layout> trial = input_layouts;
      trial[input] = layout;
      std::set<int> trial_nodes = keras_order_nodes;
      K2T_ASSIGN_OR_RETURN(Attempt candidate, PlanSettled(conversion, trial, trial_nodes));
      if (candidate.changes.size() >= attempt.changes.size()) continue;
      input_layouts = std::move(trial);
      keras_order_nodes = std::move(trial_nodes);
      attempt = std::move(candidate);
      improved = true;
    }
    if (!improved) break;
  }
  // The last plan tried must be the one the Values keep.
  K2T_ASSIGN_OR_RETURN(attempt, PlanSettled(conversion, input_layouts, keras_order_nodes));

  // With Keras io-layout, a permute of a model input is a boundary permute even
  // when layout-keeping layers (ZeroPadding, Rescaling, ...) run on it first in
  // Keras order: it exists only because the input arrives in Keras order, and
  // placing it before those layers would cost the same. (ResNet's stem pads
  // before its first convolution.)
  for (LayoutChange& change : attempt.changes) {
    if (change.node < 0) continue;
    const ir::Node& node = conversion.graph.nodes[static_cast<std::size_t>(change.node)];
    const int value = node.inputs[static_cast<std::size_t>(change.input)];
    change.at_boundary = conversion.options.io_layout == IoLayout::kKeras &&
                         (conversion.graph.value(value).producer < 0 ||
                          attempt.origin.count(value) > 0);
  }
  conversion.layout_changes = std::move(attempt.changes);
  conversion.keras_order_nodes = std::move(keras_order_nodes);
  return Status::Ok();
}

}  // namespace k2t::passes
