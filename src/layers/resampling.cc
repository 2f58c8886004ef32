//===- layers/resampling.cc - UpSampling, Resizing, CenterCrop ---------------===//
//
// TF2 and Keras 3 resize with half-pixel centres and no antialiasing when
// enlarging: 'nearest' is PyTorch's 'nearest-exact' and 'bilinear' is
// 'bilinear' with align_corners=False. Integer up-sampling by repetition is
// plain 'nearest'. Bicubic (TF's a = -0.5 against PyTorch's -0.75) and the
// other TF kernels have no PyTorch equivalent and are refused.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include "layers/padding.h"
#include "layers/registry.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

Status CheckRank(const CallContext& call, std::size_t rank) {
  if (call.input().shape.size() != rank) {
    return MakeError("expects an input of rank {}, found shape {}", rank,
                     FormatShape(call.input().shape));
  }
  return Status::Ok();
}

// UpSampling1D repeats along the steps axis, wherever the layout keeps it.
class UpSampling1DConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"size", "length"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(CheckRank(call, 3));
    K2T_ASSIGN_OR_RETURN(std::int64_t size, Size(call));
    Shape out = call.input().shape;
    if (out[1] >= 0) out[1] *= size;
    return std::vector<Shape>{out};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>& current) const override {
    LayoutPlan plan;
    const ir::Layout in = current[0].features ? ir::Layout() : current[0];
    plan.inputs = {in};
    plan.outputs = {in};
    return plan;
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "repeat_interleave";
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(std::int64_t size, Size(call));
    K2T_ASSIGN_OR_RETURN(int dim, TorchAxis(call.input(), 1));
    return fmt::format("{}.repeat_interleave({}, dim={})", emit.inputs[0], size, dim);
  }

 private:
  static Expected<std::int64_t> Size(const CallContext& call) {
    if (call.config().Has("length") && !call.config().Has("size")) return call.config().Int("length");
    return call.config().Int("size", 2);
  }
};

// UpSampling2D/3D: integer factors, nearest (repetition) or bilinear (2D).
class UpSamplingConverter : public Converter {
 public:
  explicit UpSamplingConverter(int rank) : rank_(rank) {}
  std::set<std::string> KnownKeys() const override {
    return {"size", "data_format", "interpolation"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(CheckRank(call, static_cast<std::size_t>(rank_) + 2));
    K2T_ASSIGN_OR_RETURN(auto size, call.config().IntTuple("size", rank_, 2));
    K2T_RETURN_IF_ERROR(Mode(call));
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    Shape out = call.input().shape;
    const int first = channels_last ? 1 : 2;
    for (int i = 0; i < rank_; ++i) {
      std::int64_t& d = out[static_cast<std::size_t>(first + i)];
      if (d >= 0) d *= size[i];
    }
    return std::vector<Shape>{out};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>&) const override {
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    return ChannelsFirstPlan(call, channels_last);
  }
  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(std::string mode, Mode(call));
    Lowering lowering;
    lowering.summary = "F.interpolate " + mode;
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(auto size, call.config().IntTuple("size", rank_, 2));
    K2T_ASSIGN_OR_RETURN(std::string mode, Mode(call));
    if (mode == "nearest") {
      return fmt::format("F.interpolate({}, scale_factor={}, mode=\"nearest\")", emit.inputs[0],
                         PyTuple(size));
    }
    return fmt::format("F.interpolate({}, scale_factor={}, mode=\"{}\", align_corners=False)",
                       emit.inputs[0], PyTuple(size), mode);
  }

 private:
  Expected<std::string> Mode(const CallContext& call) const {
    K2T_ASSIGN_OR_RETURN(std::string mode, call.config().String("interpolation", "nearest"));
    if (mode == "nearest") return mode;
    if (mode == "bilinear" && rank_ == 2) {
      // Standalone Keras 2.2 used TF1's resize_bilinear (no half-pixel
      // centres), which PyTorch cannot express.
      if (call.keras.major == 2 && !call.keras.tf_keras) {
        return MakeError("bilinear up-sampling of standalone Keras 2 (TF1 resize_bilinear, "
                         "corner-aligned) has no PyTorch equivalent");
      }
      return mode;
    }
    return MakeError("interpolation '{}' is not supported; nearest{} can be converted",
                     PrintableText(mode), rank_ == 2 ? " and bilinear" : "");
  }

  int rank_;
};

struct ResizeConfig {
  std::int64_t height = 0, width = 0;
  std::string mode;
  bool crop = false;
  bool channels_last = true;
};

class ResizingConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"height", "width", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio",
            "fill_mode", "fill_value", "antialias", "data_format"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(CheckRank(call, 4));
    K2T_ASSIGN_OR_RETURN(ResizeConfig c, Read(call));
    Shape out = call.input().shape;
    out[c.channels_last ? 1 : 2] = c.height;
    out[c.channels_last ? 2 : 3] = c.width;
    return std::vector<Shape>{out};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>&) const override {
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    return ChannelsFirstPlan(call, channels_last);
  }
  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(ResizeConfig c, Read(call));
    Lowering lowering;
    lowering.summary = "F.interpolate " + c.mode;
    if (c.crop) lowering.notes.push_back("cropped to the target aspect ratio, centred, as Keras");
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(ResizeConfig c, Read(call));
    std::string x = emit.inputs[0];
    if (c.crop) {
      const Shape& in = call.input().shape;
      const std::int64_t h = in[c.channels_last ? 1 : 2];
      const std::int64_t w = in[c.channels_last ? 2 : 3];
      if (h < 0 || w < 0) return MakeError("crop_to_aspect_ratio needs known input sizes");
      // Keras: the largest centred box with the target's aspect ratio.
      const std::int64_t crop_h = std::clamp<std::int64_t>(w * c.height / c.width, 1, h);
      const std::int64_t crop_w = std::clamp<std::int64_t>(h * c.width / c.height, 1, w);
      const std::int64_t top = (h - crop_h) / 2;
      const std::int64_t left = (w - crop_w) / 2;
      x = fmt::format("{}[:, :, {}:{}, {}:{}]", x, top, top + crop_h, left, left + crop_w);
    }
    const std::string size = fmt::format("({}, {})", c.height, c.width);
    if (c.mode == "nearest") {
      return fmt::format("F.interpolate({}, size={}, mode=\"nearest-exact\")", x, size);
    }
    return fmt::format("F.interpolate({}, size={}, mode=\"bilinear\", align_corners=False)", x,
                       size);
  }

 private:
  static Expected<ResizeConfig> Read(const CallContext& call) {
    const ConfigReader config = call.config();
    ResizeConfig c;
    K2T_ASSIGN_OR_RETURN(c.height, config.Int("height"));
    K2T_ASSIGN_OR_RETURN(c.width, config.Int("width"));
    K2T_ASSIGN_OR_RETURN(c.mode, config.String("interpolation", "bilinear"));
    K2T_ASSIGN_OR_RETURN(c.crop, config.Bool("crop_to_aspect_ratio", false));
    K2T_ASSIGN_OR_RETURN(c.channels_last, config.ChannelsLast());
    K2T_ASSIGN_OR_RETURN(bool pad, config.Bool("pad_to_aspect_ratio", false));
    K2T_ASSIGN_OR_RETURN(bool antialias, config.Bool("antialias", false));
    if (c.height <= 0 || c.width <= 0) return MakeError("height and width must be positive");
    if (c.mode != "nearest" && c.mode != "bilinear") {
      return MakeError("interpolation '{}' is not supported; nearest and bilinear can be converted",
                       PrintableText(c.mode));
    }
    if (pad) return MakeError("pad_to_aspect_ratio is not supported");
    const Shape& in = call.input().shape;
    const std::int64_t h = in.size() == 4 ? in[c.channels_last ? 1 : 2] : -1;
    const std::int64_t w = in.size() == 4 ? in[c.channels_last ? 2 : 3] : -1;
    // Antialiasing only changes down-sampling, where TF's and PyTorch's filters differ.
    if (antialias && c.mode != "nearest" && (h < 0 || w < 0 || h > c.height || w > c.width)) {
      return MakeError("antialias=True when shrinking is not supported (TF's filter differs "
                       "from PyTorch's)");
    }
    return c;
  }
};

class CenterCropConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override { return {"height", "width", "data_format"}; }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_RETURN_IF_ERROR(CheckRank(call, 4));
    K2T_ASSIGN_OR_RETURN(auto box, Box(call));
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    Shape out = call.input().shape;
    out[channels_last ? 1 : 2] = box[1];
    out[channels_last ? 2 : 3] = box[3];
    return std::vector<Shape>{out};
  }
  Expected<LayoutPlan> PlanLayout(const CallContext& call,
                                  const std::vector<ir::Layout>&) const override {
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    return ChannelsFirstPlan(call, channels_last);
  }
  Expected<Lowering> Lower(const CallContext&) const override {
    Lowering lowering;
    lowering.summary = "slicing";
    return lowering;
  }
  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(auto box, Box(call));
    return fmt::format("{}[:, :, {}:{}, {}:{}]", emit.inputs[0], box[0], box[0] + box[1], box[2],
                       box[2] + box[3]);
  }

 private:
  // (top, height, left, width) of the centred box.
  static Expected<std::vector<std::int64_t>> Box(const CallContext& call) {
    K2T_ASSIGN_OR_RETURN(std::int64_t height, call.config().Int("height"));
    K2T_ASSIGN_OR_RETURN(std::int64_t width, call.config().Int("width"));
    K2T_ASSIGN_OR_RETURN(bool channels_last, call.config().ChannelsLast());
    const Shape& in = call.input().shape;
    const std::int64_t h = in[channels_last ? 1 : 2];
    const std::int64_t w = in[channels_last ? 2 : 3];
    if (h < 0 || w < 0) return MakeError("needs known input height and width");
    if (h < height || w < width) {
      return MakeError("the input ({}x{}) is smaller than the crop ({}x{}); Keras then resizes, "
                       "which is not supported",
                       h, w, height, width);
    }
    return std::vector<std::int64_t>{(h - height) / 2, height, (w - width) / 2, width};
  }
};

}  // namespace

void RegisterResamplingLayers(Registry& registry) {
  registry.Add("UpSampling1D", std::make_shared<UpSampling1DConverter>());
  registry.Add("UpSampling2D", std::make_shared<UpSamplingConverter>(2));
  registry.Add("UpSampling3D", std::make_shared<UpSamplingConverter>(3));
  registry.Add("Resizing", std::make_shared<ResizingConverter>());
  registry.Add("CenterCrop", std::make_shared<CenterCropConverter>());
}

}  // namespace k2t::layers
