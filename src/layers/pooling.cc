//===- layers/pooling.cc - Max/average pooling, global pooling -------------===//
//
// 'same' pooling follows TF: the odd pixel of padding goes after, max pooling
// ignores padded cells, and average pooling divides by the number of real
// cells in each window (count_include_pad=False), asymmetric pads included.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include "layers/padding.h"
#include "layers/registry.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

constexpr const char* kAvgPoolSameSource = R"(def _avg_pool_same(
    x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...], pads: tuple[int, ...]
) -> torch.Tensor:
    """Average pooling over TF 'same' padding: padded cells do not count."""
    pool = {3: F.avg_pool1d, 4: F.avg_pool2d, 5: F.avg_pool3d}[x.dim()]
    total = pool(F.pad(x, pads), kernel, stride)
    count = pool(F.pad(torch.ones_like(x[:, :1]), pads), kernel, stride)
    return total / count
)";

struct PoolConfig {
  int rank = 2;
  std::vector<std::int64_t> size, strides;
  std::string padding;
  bool channels_last = true;
};

Expected<PoolConfig> ReadPool(const CallContext& call, int rank) {
  const ConfigReader config = call.config();
  PoolConfig pool;
  pool.rank = rank;
  K2T_ASSIGN_OR_RETURN(pool.size, config.IntTuple("pool_size", rank, 2));
  if (config.IsNull("strides")) {
    pool.strides = pool.size;
  } else {
    K2T_ASSIGN_OR_RETURN(pool.strides, config.IntTuple("strides", rank));
  }
  K2T_ASSIGN_OR_RETURN(pool.padding, config.String("padding", "valid"));
  for (char& c : pool.padding) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (pool.padding != "valid" && pool.padding != "same") {
    return MakeError("padding '{}' is not supported; expected valid or same", pool.padding);
  }
  K2T_ASSIGN_OR_RETURN(pool.channels_last, config.ChannelsLast());
  return pool;
}

Shape SpatialOf(const Shape& shape, int rank, bool channels_last) {
  const std::size_t start = channels_last ? 1 : 2;
  return Shape(shape.begin() + static_cast<long>(start),
               shape.begin() + static_cast<long>(start) + rank);
}

class PoolConverter : public Converter {
 public:
  PoolConverter(int rank, bool max) : rank_(rank), max_(max) {}

  std::set<std::string> KnownKeys() const override {
    return {"pool_size", "strides", "padding", "data_format"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(PoolConfig pool, ReadPool(call, rank_));
    const Shape& in = call.input().shape;
    if (static_cast<int>(in.size()) != rank_ + 2) {
      return MakeError("expects an input of rank {}, found shape {}", rank_ + 2, FormatShape(in));
    }
    const Shape spatial = SpatialOf(in, rank_, pool.channels_last);
    Shape out = in;
    const std::size_t start = pool.channels_last ? 1 : 2;
    for (int i = 0; i < rank_; ++i) {
      out[start + i] = WindowOutputSize(spatial[i], pool.size[i], pool.strides[i], 1, pool.padding);
    }
    return std::vector<Shape>{out};
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>&) const override {
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    return ChannelsFirstPlan(call, channels_last);
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(PoolConfig pool, ReadPool(call, rank_));
    const Plan plan = MakePlan(pool, call);
    Lowering lowering;
    lowering.summary = fmt::format("nn.{}Pool{}d", max_ ? "Max" : "Avg", rank_);
    if (plan.explicit_pads) {
      lowering.notes.push_back(max_ ? "asymmetric 'same' padding applied with -inf, as TF does"
                                    : "asymmetric 'same' padding: averages over real cells only");
      if (!max_) {
        lowering.definitions.emplace_back("_avg_pool_same", kAvgPoolSameSource);
        return lowering;  // no module: the helper does the pooling
      }
    }
    std::string module = fmt::format("nn.{}Pool{}d(kernel_size={}", max_ ? "Max" : "Avg", rank_,
                                     IntOrTuple(pool.size));
    if (pool.strides != pool.size) module += ", stride=" + IntOrTuple(pool.strides);
    // Explicit pads are applied by F.pad in forward; the module must not pad again.
    if (!plan.explicit_pads && plan.module_padding > 0) {
      module += ", padding=" + IntOrTuple(plan.symmetric_pads);
      if (!max_) module += ", count_include_pad=False";
    }
    lowering.module = module + ")";
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(PoolConfig pool, ReadPool(call, rank_));
    const Plan plan = MakePlan(pool, call);
    if (!plan.explicit_pads) return fmt::format("{}({})", emit.self(), emit.inputs[0]);
    const std::string pads = FPadArgument(plan.pads);
    if (max_) {
      return fmt::format("{}(F.pad({}, {}, value=float(\"-inf\")))", emit.self(), emit.inputs[0],
                         pads);
    }
    return fmt::format("_avg_pool_same({}, {}, {}, {})", emit.inputs[0], PyTuple(pool.size),
                       PyTuple(pool.strides), pads);
  }

 private:
  struct Plan {
    bool explicit_pads = false;
    std::vector<PadPair> pads;
    std::vector<std::int64_t> symmetric_pads;
    std::int64_t module_padding = 0;
  };

  Plan MakePlan(const PoolConfig& pool, const CallContext& call) const {
    Plan plan;
    if (pool.padding != "same") return plan;
    const Shape spatial = SpatialOf(call.input().shape, rank_, pool.channels_last);
    bool symmetric = true;
    for (int i = 0; i < rank_; ++i) {
      // Pooling sizes must be known for 'same'; unknown sizes pad as for size 0.
      plan.pads.push_back(SamePadding(std::max<std::int64_t>(spatial[i], 0), pool.size[i],
                                      pool.strides[i], 1));
      const PadPair& p = plan.pads.back();
      // PyTorch's own padding must be symmetric and at most half the window.
      symmetric = symmetric && p.symmetric() && p.before * 2 <= pool.size[i];
      plan.symmetric_pads.push_back(p.before);
      plan.module_padding = std::max(plan.module_padding, p.before);
    }
    plan.explicit_pads = !symmetric;
    return plan;
  }

  int rank_;
  bool max_;
};

// Global pooling reduces the spatial axes wherever the layout keeps them, so
// it needs no permute.
class GlobalPoolConverter : public Converter {
 public:
  GlobalPoolConverter(int rank, bool max) : rank_(rank), max_(max) {}

  std::set<std::string> KnownKeys() const override { return {"data_format", "keepdims"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    K2T_ASSIGN_OR_RETURN(bool keepdims, call.config().Bool("keepdims", false));
    const Shape& in = call.input().shape;
    if (static_cast<int>(in.size()) != rank_ + 2) {
      return MakeError("expects an input of rank {}, found shape {}", rank_ + 2, FormatShape(in));
    }
    const std::int64_t channels = channels_last ? in.back() : in[1];
    if (!keepdims) return std::vector<Shape>{{in[0], channels}};
    Shape out(in.size(), 1);
    out[0] = in[0];
    out[channels_last ? in.size() - 1 : 1] = channels;
    return std::vector<Shape>{out};
  }

  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    K2T_ASSIGN_OR_RETURN(bool keepdims, call.config().Bool("keepdims", false));
    LayoutPlan plan;
    plan.inputs = current;
    plan.outputs = {keepdims ? current[0] : ir::Layout::Identity()};
    return plan;
  }

  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = max_ ? "amax over spatial dims" : "mean over spatial dims";
    return lowering;
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    K2T_ASSIGN_OR_RETURN(bool keepdims, call.config().Bool("keepdims", false));
    std::vector<std::int64_t> dims;
    const int first = channels_last ? 1 : 2;
    for (int k = first; k < first + rank_; ++k) {
      K2T_ASSIGN_OR_RETURN(int dim, TorchAxis(call.input(), k));
      dims.push_back(dim);
    }
    std::sort(dims.begin(), dims.end());
    const std::string dim_text = dims.size() == 1 ? std::to_string(dims[0]) : PyTuple(dims);
    for (const auto& [key, mask] : emit.tensor_kwargs) {
      if (key != "mask" || max_ || rank_ != 1) continue;
      // Keras averages over the unmasked steps only.
      K2T_ASSIGN_OR_RETURN(int channel, TorchAxis(call.input(), channels_last ? -1 : 1));
      const std::string weights = fmt::format("{}.unsqueeze({}).to({}.dtype)", mask, channel,
                                              emit.inputs[0]);
      return fmt::format("({} * {}).sum(dim={}{}) / {}.sum(dim={}{})", emit.inputs[0], weights,
                         dim_text, keepdims ? ", keepdim=True" : "", weights, dim_text,
                         keepdims ? ", keepdim=True" : "");
    }
    return fmt::format("{}.{}(dim={}{})", emit.inputs[0], max_ ? "amax" : "mean", dim_text,
                       keepdims ? ", keepdim=True" : "");
  }

 private:
  int rank_;
  bool max_;
};

}  // namespace

void RegisterPoolingLayers(Registry& registry) {
  for (int rank = 1; rank <= 3; ++rank) {
    registry.Add(fmt::format("MaxPooling{}D", rank), std::make_shared<PoolConverter>(rank, true));
    registry.Add(fmt::format("AveragePooling{}D", rank),
                 std::make_shared<PoolConverter>(rank, false));
    registry.Add(fmt::format("GlobalMaxPooling{}D", rank),
                 std::make_shared<GlobalPoolConverter>(rank, true));
    registry.Add(fmt::format("GlobalAveragePooling{}D", rank),
                 std::make_shared<GlobalPoolConverter>(rank, false));
  }
}

}  // namespace k2t::layers
