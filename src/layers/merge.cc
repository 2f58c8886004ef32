//===- layers/merge.cc - Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate ==//
//
// Inputs are brought to one layout (the one most of them already have); a
// Concatenate's axis is remapped to wherever that layout put it. Inputs of
// lower rank are expanded at axis 1 as Keras does, which PyTorch's
// right-aligned broadcasting would not do by itself.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include <map>

#include "layers/registry.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

enum class MergeOp { kAdd, kSubtract, kMultiply, kAverage, kMaximum, kMinimum, kConcatenate };

// The layout most inputs of the highest rank already have.
ir::Layout MajorityLayout(const CallContext& call, const std::vector<ir::Layout>& current) {
  std::size_t rank = 0;
  for (std::size_t i = 0; i < current.size(); ++i) rank = std::max(rank, call.input(i).shape.size());
  std::vector<std::pair<ir::Layout, int>> counts;
  for (std::size_t i = 0; i < current.size(); ++i) {
    if (call.input(i).shape.size() != rank) continue;
    ir::Layout layout = current[i];
    if (layout.features) layout = ir::Layout::Identity();
    auto it = std::find_if(counts.begin(), counts.end(),
                           [&](const auto& entry) { return entry.first == layout; });
    if (it == counts.end()) {
      counts.emplace_back(layout, 1);
    } else {
      ++it->second;
    }
  }
  const auto best = std::max_element(counts.begin(), counts.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
  return best == counts.end() ? ir::Layout() : best->first;
}

class MergeConverter : public Converter {
 public:
  explicit MergeConverter(MergeOp op) : op_(op) {}

  std::set<std::string> KnownKeys() const override { return {"axis"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    if (call.input_count() < 2 && op_ != MergeOp::kConcatenate) {
      return MakeError("needs at least 2 inputs, found {}", call.input_count());
    }
    if (op_ == MergeOp::kConcatenate) return ConcatShape(call);
    // Broadcast, after expanding lower-rank inputs at axis 1.
    std::size_t rank = 0;
    for (std::size_t i = 0; i < call.input_count(); ++i) {
      rank = std::max(rank, call.input(i).shape.size());
    }
    Shape out(rank, 1);
    out[0] = -1;
    for (std::size_t i = 0; i < call.input_count(); ++i) {
      const Shape expanded = Expanded(call.input(i).shape, rank);
      for (std::size_t d = 1; d < rank; ++d) {
        const std::int64_t a = out[d];
        const std::int64_t b = expanded[d];
        if (a == 1 || a < 0) {
          out[d] = (a < 0 && b == 1) ? a : b;
        } else if (b != 1 && b >= 0 && a != b) {
          return MakeError("inputs of shapes {} cannot be combined element-wise",
                           Shapes(call));
        }
      }
    }
    return std::vector<Shape>{out};
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    const ir::Layout target = MajorityLayout(call, current);
    const std::size_t rank = call.output().shape.size();
    LayoutPlan plan;
    for (std::size_t i = 0; i < call.input_count(); ++i) {
      const bool full_rank = call.input(i).shape.size() == rank;
      // Lower-rank inputs are reshaped in Keras order, so they must be in it.
      plan.inputs.push_back(full_rank ? target : ir::Layout::Identity());
    }
    plan.outputs = {target};
    return plan;
  }

  Expected<Lowering> Lower(const CallContext&) const override {
    static const std::map<MergeOp, std::string> names = {
        {MergeOp::kAdd, "+"},          {MergeOp::kSubtract, "-"},
        {MergeOp::kMultiply, "*"},     {MergeOp::kAverage, "mean"},
        {MergeOp::kMaximum, "torch.maximum"}, {MergeOp::kMinimum, "torch.minimum"},
        {MergeOp::kConcatenate, "torch.cat"}};
    Lowering lowering;
    lowering.summary = names.at(op_);
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    std::vector<std::string> inputs;
    const ir::Value& out = call.output();
    for (std::size_t i = 0; i < call.input_count(); ++i) {
      K2T_ASSIGN_OR_RETURN(std::string expr, ExpandedExpression(call, i, emit.inputs[i]));
      inputs.push_back(expr);
    }
    switch (op_) {
      case MergeOp::kAdd:
        return Join(inputs, " + ");
      case MergeOp::kSubtract:
        if (inputs.size() != 2) return MakeError("Subtract needs exactly 2 inputs");
        return inputs[0] + " - " + inputs[1];
      case MergeOp::kMultiply:
        return Join(inputs, " * ");
      case MergeOp::kAverage:
        return fmt::format("({}) / {}", Join(inputs, " + "), inputs.size());
      case MergeOp::kMaximum:
      case MergeOp::kMinimum: {
        const std::string fn = op_ == MergeOp::kMaximum ? "torch.maximum" : "torch.minimum";
        std::string expr = inputs[0];
        for (std::size_t i = 1; i < inputs.size(); ++i) {
          expr = fmt::format("{}({}, {})", fn, expr, inputs[i]);
        }
        return expr;
      }
      case MergeOp::kConcatenate: {
        K2T_ASSIGN_OR_RETURN(std::int64_t axis, call.config().Int("axis", -1));
        K2T_ASSIGN_OR_RETURN(int dim, TorchAxis(out, static_cast<int>(axis)));
        return fmt::format("torch.cat([{}], dim={})", Join(inputs, ", "), dim);
      }
    }
    return MakeError("internal error: unknown merge");
  }

 private:
  static Shape Expanded(const Shape& shape, std::size_t rank) {
    Shape out = shape;
    while (out.size() < rank) out.insert(out.begin() + 1, 1);
    return out;
  }

  static std::string Shapes(const CallContext& call) {
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < call.input_count(); ++i) parts.push_back(FormatShape(call.input(i).shape));
    return Join(parts, ", ");
  }

  // A lower-rank input reshaped to the output's rank and layout.
  Expected<std::string> ExpandedExpression(const CallContext& call, std::size_t i,
                                           const std::string& expr) const {
    const ir::Value& out = call.output();
    const Shape& in = call.input(i).shape;
    if (in.size() == out.shape.size()) return expr;
    const Shape expanded = Expanded(in, out.shape.size());
    std::vector<std::string> dims = {"-1"};
    const auto& perm = out.layout.perm;
    for (std::size_t t = 1; t < expanded.size(); ++t) {
      const std::int64_t d = expanded[perm.empty() ? t : static_cast<std::size_t>(perm[t])];
      if (d < 0) return MakeError("cannot expand an input of shape {} with unknown sizes", FormatShape(in));
      dims.push_back(std::to_string(d));
    }
    return fmt::format("{}.reshape({})", expr, Join(dims, ", "));
  }

  Expected<std::vector<Shape>> ConcatShape(const CallContext& call) const {
    K2T_ASSIGN_OR_RETURN(std::int64_t axis, call.config().Int("axis", -1));
    Shape out = call.input(0).shape;
    const auto rank = static_cast<std::int64_t>(out.size());
    const std::int64_t a = axis < 0 ? axis + rank : axis;
    if (a <= 0 || a >= rank) return MakeError("axis {} is out of range for rank {}", axis, rank);
    for (std::size_t i = 1; i < call.input_count(); ++i) {
      const Shape& s = call.input(i).shape;
      if (s.size() != out.size()) {
        return MakeError("inputs of shapes {} have different ranks", Shapes(call));
      }
      for (std::int64_t d = 1; d < rank; ++d) {
        if (d == a) continue;
        if (s[d] >= 0 && out[d] >= 0 && s[d] != out[d]) {
          return MakeError("inputs of shapes {} differ outside axis {}", Shapes(call), axis);
        }
      }
      out[a] = (out[a] < 0 || s[a] < 0) ? -1 : out[a] + s[a];
    }
    return std::vector<Shape>{out};
  }

  MergeOp op_;
};

}  // namespace

void RegisterMergeLayers(Registry& registry) {
  registry.Add("Add", std::make_shared<MergeConverter>(MergeOp::kAdd));
  registry.Add("Subtract", std::make_shared<MergeConverter>(MergeOp::kSubtract));
  registry.Add("Multiply", std::make_shared<MergeConverter>(MergeOp::kMultiply));
  registry.Add("Average", std::make_shared<MergeConverter>(MergeOp::kAverage));
  registry.Add("Maximum", std::make_shared<MergeConverter>(MergeOp::kMaximum));
  registry.Add("Minimum", std::make_shared<MergeConverter>(MergeOp::kMinimum));
  registry.Add("Concatenate", std::make_shared<MergeConverter>(MergeOp::kConcatenate));
}

}  // namespace k2t::layers
