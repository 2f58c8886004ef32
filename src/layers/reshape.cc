//===- layers/reshape.cc - Flatten, Reshape, Permute, ZeroPadding, Cropping ==//
//
// Flatten follows Keras's order (channels last). When its input is stored
// channels first, the flattened features come out in (c, h, w) order; rather
// than permuting at run time, the layout planner marks the features and the
// next Dense reorders its weight rows. Permute is a pure change of layout and
// costs nothing at run time. Padding and cropping act on whichever PyTorch
// axes hold the Keras spatial axes.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include <algorithm>

#include "layers/padding.h"
#include "layers/registry.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

// Keras's flatten order over the input's axes: 1..r-1, or, for a
// channels_first Flatten of a rank >= 3 tensor, spatial axes then channels.
std::vector<int> KerasFlattenOrder(int rank, bool channels_last) {
  std::vector<int> order;
  if (!channels_last && rank >= 3) {
    for (int a = 2; a < rank; ++a) order.push_back(a);
    order.push_back(1);
    return order;
  }
  for (int a = 1; a < rank; ++a) order.push_back(a);
  return order;
}

class FlattenConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"data_format"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    const Shape& in = call.input().shape;
    std::int64_t features = 1;
    for (std::size_t i = 1; i < in.size(); ++i) {
      if (in[i] < 0) {
        features = -1;
        break;
      }
      features *= in[i];
    }
    return std::vector<Shape>{{in.empty() ? -1 : in[0], features}};
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    const int rank = static_cast<int>(call.input().shape.size());
    const std::vector<int> keras_order = KerasFlattenOrder(rank, channels_last);
    std::vector<int> wanted = {0};
    wanted.insert(wanted.end(), keras_order.begin(), keras_order.end());

    LayoutPlan plan;
    plan.outputs = {ir::Layout::Identity()};
    const ir::Layout& in = current[0];
    std::vector<int> torch_order = in.perm;
    if (torch_order.empty()) {
      for (int a = 0; a < rank; ++a) torch_order.push_back(a);
    }
    // Only the order of axes longer than 1 matters: (N, C, 1, 1) flattens
    // like (N, 1, 1, C).
    std::vector<int> torch_in_keras_flatten_terms;
    for (int axis : torch_order) {
      torch_in_keras_flatten_terms.push_back(static_cast<int>(
          std::find(wanted.begin(), wanted.end(), axis) - wanted.begin()));
    }
    Shape sizes_in_wanted_order;
    for (int axis : wanted) sizes_in_wanted_order.push_back(call.input().shape[axis]);
    const bool already_keras =
        !in.features && ir::SameElementOrder(torch_in_keras_flatten_terms, sizes_in_wanted_order);
    const bool sizes_known = call.output().shape.size() == 2 && call.output().shape[1] >= 0;
    if (already_keras || in.features || call.keras_order_output || !sizes_known || rank < 3) {
      ir::Layout keras_layout;
      keras_layout.perm = wanted;
      plan.inputs = {already_keras ? in : keras_layout};
      return plan;
    }
    // Flatten as stored; the features carry their order to the next layer.
    plan.inputs = {in};
    ir::Layout::FeatureOrder features;
    for (int axis : keras_order) features.dims.push_back(call.input().shape[axis]);
    for (std::size_t t = 1; t < torch_order.size(); ++t) {
      const auto pos = std::find(keras_order.begin(), keras_order.end(), torch_order[t]);
      features.order.push_back(static_cast<int>(pos - keras_order.begin()));
    }
    features.origin_node = call.node.id;
    plan.outputs[0].features = features;
    return plan;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    Lowering lowering;
    lowering.summary = "torch.flatten";
    if (call.output().layout.features) {
      lowering.notes.push_back("flattened channels first; the next layer's weights absorb the "
                               "order");
    }
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    if (call.input().shape.size() <= 2) return emit.inputs[0];
    return fmt::format("torch.flatten({}, 1)", emit.inputs[0]);
  }
};

class ReshapeConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"target_shape"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(auto target, call.config().IntList("target_shape"));
    const Shape& in = call.input().shape;
    std::int64_t known_in = 1;
    bool in_known = true;
    for (std::size_t i = 1; i < in.size(); ++i) {
      if (in[i] < 0) in_known = false;
      known_in *= std::max<std::int64_t>(in[i], 1);
    }
    std::int64_t product = 1;
    int unknown = -1;
    for (std::size_t i = 0; i < target.size(); ++i) {
      if (target[i] == -1) {
        if (unknown >= 0) return MakeError("target_shape {} has more than one -1", FormatList(target));
        unknown = static_cast<int>(i);
      } else if (target[i] <= 0) {
        return MakeError("target_shape {} has an invalid size", FormatList(target));
      } else {
        product *= target[i];
      }
    }
    if (unknown >= 0 && in_known) {
      if (known_in % product != 0) {
        return MakeError("cannot reshape {} features into {}", known_in, FormatList(target));
      }
      target[static_cast<std::size_t>(unknown)] = known_in / product;
    } else if (in_known && unknown < 0 && product != known_in) {
      return MakeError("cannot reshape an input of shape {} ({} values) into {}", FormatShape(in),
                       known_in, FormatList(target));
    }
    Shape out = {in.empty() ? -1 : in[0]};
    out.insert(out.end(), target.begin(), target.end());
    return std::vector<Shape>{out};
  }

  // Reshape works on Keras's element order. An input whose PyTorch layout
  // only moves axes of size 1 already has it; an output that, laid out
  // channels first, also only moves axes of size 1 (a (1, 1, C) target) is
  // produced channels first directly, so the convolution after it needs no
  // permute.
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    LayoutPlan plan = KerasOrderPlan(call);
    const ir::Value& in = call.input();
    const int in_rank = static_cast<int>(in.shape.size());
    if (!current[0].features && ir::SameElementOrder(current[0].Axes(in_rank), in.shape)) {
      plan.inputs[0] = current[0];
    }
    const Shape& out = call.output().shape;
    const int out_rank = static_cast<int>(out.size());
    const bool known = std::all_of(out.begin() + 1, out.end(), [](auto d) { return d >= 0; });
    const ir::Layout channels_first = ir::Layout::ChannelsFirst(out_rank);
    if (out_rank >= 3 && known && !call.keras_order_output &&
        ir::SameElementOrder(channels_first.perm, out)) {
      plan.outputs[0] = channels_first;
    }
    return plan;
  }

  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "reshape";
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    const Shape out = TorchShape(call.output());
    std::vector<std::string> dims = {"-1"};
    bool unknown_inner = false;
    for (std::size_t i = 1; i < out.size(); ++i) {
      unknown_inner = unknown_inner || out[i] < 0;
      dims.push_back(std::to_string(out[i]));
    }
    if (unknown_inner) dims[0] = emit.inputs[0] + ".shape[0]";
    return fmt::format("{}.reshape({})", emit.inputs[0], Join(dims, ", "));
  }
};

// Permute only renames axes: the output is the same tensor with another layout.
class PermuteConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"dims"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(auto dims, Dims(call));
    const Shape& in = call.input().shape;
    Shape out = {in[0]};
    for (int d : dims) out.push_back(in[static_cast<std::size_t>(d)]);
    return std::vector<Shape>{out};
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    K2T_ASSIGN_OR_RETURN(auto dims, Dims(call));
    const int rank = static_cast<int>(call.input().shape.size());
    // Output Keras axis k is input Keras axis source[k].
    std::vector<int> source = {0};
    source.insert(source.end(), dims.begin(), dims.end());
    std::vector<int> inverse(static_cast<std::size_t>(rank));
    for (int k = 0; k < rank; ++k) inverse[static_cast<std::size_t>(source[k])] = k;

    ir::Layout in = current[0];
    if (in.features) in = ir::Layout::Identity();
    std::vector<int> torch_axes = in.perm;
    if (torch_axes.empty()) {
      for (int a = 0; a < rank; ++a) torch_axes.push_back(a);
    }
    ir::Layout out;
    for (int keras_in_axis : torch_axes) out.perm.push_back(inverse[static_cast<std::size_t>(keras_in_axis)]);
    LayoutPlan plan;
    plan.inputs = {in};
    plan.outputs = {out};
    return plan;
  }

  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "layout only (no run-time permute)";
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext&, const EmitContext& emit) const override {
    return emit.inputs[0];
  }
  bool IsIdentity(const CallContext&) const override { return true; }

 private:
  static Expected<std::vector<int>> Dims(const CallContext& call) {
    K2T_ASSIGN_OR_RETURN(auto raw, call.config().IntList("dims"));
    const std::size_t rank = call.input().shape.size();
    if (raw.size() + 1 != rank) {
      return MakeError("dims {} must name each of the {} non-batch axes", FormatList(raw), rank - 1);
    }
    std::vector<int> dims;
    std::set<std::int64_t> seen;
    for (auto d : raw) {
      if (d < 1 || d >= static_cast<std::int64_t>(rank) || !seen.insert(d).second) {
        return MakeError("dims {} is not a permutation of 1..{}", FormatList(raw), rank - 1);
      }
      dims.push_back(static_cast<int>(d));
    }
    return dims;
  }
};

// Pads or crops pairs (before, after) on the spatial axes.
class SpatialPadConverter : public Converter {
 public:
  SpatialPadConverter(int rank, bool crop) : rank_(rank), crop_(crop) {}

  std::set<std::string> KnownKeys() const override {
    return {crop_ ? "cropping" : "padding", "data_format"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(auto pairs, Pairs(call));
    K2T_ASSIGN_OR_RETURN(auto axes, SpatialAxes(call));
    Shape out = call.input().shape;
    for (int i = 0; i < rank_; ++i) {
      std::int64_t& d = out[static_cast<std::size_t>(axes[i])];
      if (d < 0) continue;
      const std::int64_t change = pairs[i].before + pairs[i].after;
      if (crop_ && change >= d) {
        return MakeError("cropping {} leaves nothing of size {}", change, d);
      }
      d = crop_ ? d - change : d + change;
    }
    return std::vector<Shape>{out};
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    LayoutPlan plan;
    ir::Layout in = current[0];
    if (in.features) in = ir::Layout::Identity();
    plan.inputs = {in};
    plan.outputs = {in};
    (void)call;
    return plan;
  }

  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = crop_ ? "slicing" : "F.pad";
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(auto pairs, Pairs(call));
    K2T_ASSIGN_OR_RETURN(auto axes, SpatialAxes(call));
    const int rank = static_cast<int>(call.input().shape.size());
    // PyTorch axis -> pair.
    std::vector<PadPair> by_torch_axis(static_cast<std::size_t>(rank));
    for (int i = 0; i < rank_; ++i) {
      K2T_ASSIGN_OR_RETURN(int dim, TorchAxis(call.input(), axes[i]));
      by_torch_axis[static_cast<std::size_t>(dim)] = pairs[i];
    }
    if (crop_) {
      std::vector<std::string> slices;
      for (int d = 0; d < rank; ++d) {
        const PadPair& p = by_torch_axis[static_cast<std::size_t>(d)];
        if (p.before == 0 && p.after == 0) {
          slices.push_back(":");
        } else {
          slices.push_back(fmt::format("{}:{}", p.before == 0 ? "" : std::to_string(p.before),
                                       p.after == 0 ? "" : std::to_string(-p.after)));
        }
      }
      while (!slices.empty() && slices.back() == ":") slices.pop_back();
      return fmt::format("{}[{}]", emit.inputs[0], Join(slices, ", "));
    }
    // F.pad lists pairs from the last axis backwards, up to the first padded one.
    int first = rank;
    for (int d = 0; d < rank; ++d) {
      const PadPair& p = by_torch_axis[static_cast<std::size_t>(d)];
      if (p.before != 0 || p.after != 0) {
        first = d;
        break;
      }
    }
    if (first == rank) return emit.inputs[0];
    std::vector<PadPair> pads(by_torch_axis.begin() + first, by_torch_axis.end());
    return fmt::format("F.pad({}, {})", emit.inputs[0], FPadArgument(pads));
  }

 private:
  Expected<std::vector<int>> SpatialAxes(const CallContext& call) const {
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    if (static_cast<int>(call.input().shape.size()) != rank_ + 2) {
      return MakeError("expects an input of rank {}, found shape {}", rank_ + 2,
                       FormatShape(call.input().shape));
    }
    std::vector<int> axes;
    // 1D layers have no data_format: the steps axis is 1.
    const int first = (rank_ == 1 || channels_last) ? 1 : 2;
    for (int i = 0; i < rank_; ++i) axes.push_back(first + i);
    return axes;
  }

  // The config's int, pair, or pair-of-pairs form, as one pair per axis.
  Expected<std::vector<PadPair>> Pairs(const CallContext& call) const {
    const std::string key = crop_ ? "cropping" : "padding";
    const Json& value = call.config().Raw(key);
    std::vector<PadPair> pairs;
    auto integer = [](const Json& v) { return v.is_number_integer() && v.get<std::int64_t>() >= 0; };
    if (integer(value)) {
      const auto n = value.get<std::int64_t>();
      return std::vector<PadPair>(static_cast<std::size_t>(rank_), PadPair{n, n});
    }
    if (value.is_array() && rank_ == 1 && value.size() == 2 && integer(value[0]) &&
        integer(value[1])) {
      return std::vector<PadPair>{{value[0].get<std::int64_t>(), value[1].get<std::int64_t>()}};
    }
    if (value.is_array() && static_cast<int>(value.size()) == rank_) {
      for (const Json& item : value) {
        if (integer(item)) {
          pairs.push_back({item.get<std::int64_t>(), item.get<std::int64_t>()});
        } else if (item.is_array() && item.size() == 2 && integer(item[0]) && integer(item[1])) {
          pairs.push_back({item[0].get<std::int64_t>(), item[1].get<std::int64_t>()});
        } else {
          break;
        }
      }
      if (static_cast<int>(pairs.size()) == rank_) return pairs;
    }
    return MakeError("'{}' must be an integer, {} integers or {} pairs, found {}", key, rank_,
                     rank_, Abbreviate(value));
  }

  int rank_;
  bool crop_;
};

}  // namespace

void RegisterReshapeLayers(Registry& registry) {
  registry.Add("Flatten", std::make_shared<FlattenConverter>());
  registry.Add("Reshape", std::make_shared<ReshapeConverter>());
  registry.Add("Permute", std::make_shared<PermuteConverter>());
  for (int rank = 1; rank <= 3; ++rank) {
    registry.Add(fmt::format("ZeroPadding{}D", rank),
                 std::make_shared<SpatialPadConverter>(rank, false));
    registry.Add(fmt::format("Cropping{}D", rank), std::make_shared<SpatialPadConverter>(rank, true));
  }
}

}  // namespace k2t::layers
