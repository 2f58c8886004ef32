#include "layers/pyexpr/translate.h"

#include <gtest/gtest.h>

#include "pyexpr_test_util.h"

namespace k2t::pyexpr {
namespace {

struct Case {
  std::vector<Shape> inputs;
  bool list_input = false;
  Json arguments = Json::object();
  Json defaults;
  Json closure;
};

Expected<Translation> Translate(const char* base64, const Case& c) {
  const auto decoded = testing::Decode(base64);
  if (!decoded.code) return MakeError("fixture does not decode");
  K2T_ASSIGN_OR_RETURN(Function function, Decompile(*decoded.code, decoded.disassembly));
  LambdaCall call;
  call.function = &function;
  const char* names[] = {"a", "b", "c"};
  for (std::size_t i = 0; i < c.inputs.size(); ++i) {
    call.inputs.push_back({c.inputs.size() == 1 ? "x" : names[i], c.inputs[i]});
  }
  call.list_input = c.list_input;
  call.arguments = c.arguments;
  call.defaults = c.defaults;
  call.closure = c.closure;
  return TranslateLambda(call);
}

struct Expected1 {
  const char* name;
  Case input;
  std::string code;
  Shape shape;
  bool elementwise;
};

// Each fixture, from every Python version, translates to the same code.
TEST(TranslateTest, SameCodeFromEveryVersion) {
  const std::vector<Expected1> cases = {
      {"scale", {{{-1, 4, 4, 3}}}, "x / 255.0 - 0.5", {-1, 4, 4, 3}, true},
      {"slice_channel", {{{-1, 4, 4, 3}}}, "x[:, :, :, 0:1]", {-1, 4, 4, 1}, false},
      {"slice_rows", {{{-1, 5, 3}}}, "x[:, 1:]", {-1, 4, 3}, false},
      {"l2_normalize", {{{-1, 6}}}, "_l2_normalize(x, 1, 1e-12)", {-1, 6}, false},
      {"expand_dims", {{{-1, 6}}}, "torch.unsqueeze(x, 1)", {-1, 1, 6}, false},
      {"mean_keepdims", {{{-1, 5, 3}}}, "torch.mean(x, dim=1, keepdim=True)", {-1, 1, 3},
       false},
      {"concatenate", {{{-1, 2, 3}, {-1, 2, 4}}, true}, "torch.cat([a, b], dim=2)",
       {-1, 2, 7}, false},
      {"resize", {{{-1, 4, 4, 3}}},
       "F.interpolate(x.permute(0, 3, 1, 2), size=(8, 8), mode=\"bilinear\", "
       "align_corners=False).permute(0, 2, 3, 1)",
       {-1, 8, 8, 3}, false},
      {"default_arg", {{{-1, 3}}, false, Json::object(), Json::array({2.0})}, "x * 2.0",
       {-1, 3}, true},
      {"default_arg", {{{-1, 3}}, false, {{"scale", 3}}, Json::array({2.0})}, "x * 3",
       {-1, 3}, true},
      {"closure", {{{-1, 4, 5}}, false, Json::object(), Json(), Json::array({3})},
       "x[..., :3]", {-1, 4, 3}, false},
      {"locals", {{{-1, 5}, {-1, 5}}, true},
       "torch.sqrt(torch.clamp(torch.clamp(torch.sum(torch.square(a - b), dim=1, "
       "keepdim=True), min=1e-07), min=0.0))",
       {-1, 1}, false},
      {"precedence", {{{-1, 3}}}, "-x ** 2 + (x - 1) * 3 / -(2 - x)", {-1, 3}, true},
      {"keyword_only", {{{-1, 3}}, false, {{"k", 2}}}, "x * 2", {-1, 3}, true},
      {"shape_arithmetic", {{{-1, 2, 3, 4}}},
       "torch.reshape(x, (x.shape[0], 6, -1))", {-1, 6, 4}, false},
  };
  for (const auto& fixture : fixtures::kCompiled) {
    for (const auto& c : cases) {
      if (std::string(c.name) != fixture.name) continue;
      SCOPED_TRACE(std::string(fixture.python) + " " + fixture.name);
      auto translation = Translate(fixture.base64, c.input);
      ASSERT_TRUE(translation.ok()) << translation.error().message();
      ASSERT_EQ(translation->outputs.size(), 1u);
      EXPECT_EQ(translation->outputs[0].code, c.code);
      EXPECT_EQ(translation->outputs[0].shape, c.shape);
      EXPECT_EQ(translation->elementwise, c.elementwise);
    }
  }
}

TEST(TranslateTest, HelpersAndNotes) {
  const auto* fixture = testing::FindCompiled("3.10", "l2_normalize");
  ASSERT_NE(fixture, nullptr);
  auto translation = Translate(fixture->base64, {{{-1, 6}}});
  ASSERT_TRUE(translation.ok()) << translation.error().message();
  ASSERT_EQ(translation->definitions.size(), 1u);
  EXPECT_EQ(translation->definitions[0].first, "_l2_normalize");
  EXPECT_NE(translation->definitions[0].second.find("torch.rsqrt(torch.clamp(squares, "
                                                    "min=epsilon))"),
            std::string::npos);
  ASSERT_EQ(translation->notes.size(), 1u);
  EXPECT_EQ(translation->notes[0], "the global name K was read as keras.backend");
}

TEST(TranslateTest, SplitGivesSeveralOutputs) {
  const auto* fixture = testing::FindCompiled("3.12", "split");
  ASSERT_NE(fixture, nullptr);
  auto translation = Translate(fixture->base64, {{{-1, 4, 6}}});
  ASSERT_TRUE(translation.ok()) << translation.error().message();
  ASSERT_EQ(translation->outputs.size(), 2u);
  EXPECT_EQ(translation->outputs[0].code, "x[:, :, 0:3]");
  EXPECT_EQ(translation->outputs[1].code, "x[:, :, 3:6]");
  EXPECT_EQ(translation->outputs[1].shape, (Shape{-1, 4, 3}));
}

TEST(TranslateTest, RefusalsNameWhatIsMissing) {
  const std::vector<std::tuple<const char*, Case, std::string>> cases = {
      {"unknown_global", {{{-1, 3}}},
       "the global name 'my_helper' is not a module keras2torch knows (K, backend, keras, tf, "
       "np, ops, math)"},
      {"reverse", {{{-1, 3}}},
       "slice step -1 is not translated: PyTorch has no negative or zero steps"},
      {"keyword_only", {{{-1, 3}}},
       "parameter 'k' gets no value: it is not in the layer's arguments and has no saved "
       "default"},
      {"closure", {{{-1, 3}}}, "closure variable 'n' has no saved value"},
      {"mean_keepdims", {{{-1}}},
       "keras.backend.mean: axis 1 is out of range for a tensor of rank 1"},
      {"concatenate", {{{-1, 2, 3}, {-1, 5, 4}}, true},
       "keras.backend.concatenate of tensors of shapes (N, 2, 3) and (N, 5, 4)"},
  };
  for (const auto& [name, input, message] : cases) {
    SCOPED_TRACE(name);
    const auto* fixture = testing::FindCompiled("3.11", name);
    ASSERT_NE(fixture, nullptr);
    auto translation = Translate(fixture->base64, input);
    ASSERT_FALSE(translation.ok());
    EXPECT_EQ(translation.error().message(), message);
  }
}

TEST(TranslateTest, CorpusFunctions) {
  const auto* tile = testing::FindCorpus("halimelsaputra__");
  ASSERT_NE(tile, nullptr);
  auto translation = Translate(tile->base64, {{{-1, 1, 1, 10}}});
  ASSERT_TRUE(translation.ok()) << translation.error().message();
  EXPECT_EQ(translation->outputs[0].code, "x.repeat(1, 28, 28, 1)");
  EXPECT_EQ(translation->outputs[0].shape, (Shape{-1, 28, 28, 10}));

  const auto* distance = testing::FindCorpus("Ayush-Mi__");
  ASSERT_NE(distance, nullptr);
  translation = Translate(distance->base64, {{{-1, 128}, {-1, 128}}, true});
  ASSERT_TRUE(translation.ok()) << translation.error().message();
  EXPECT_EQ(translation->outputs[0].shape, (Shape{-1, 1}));

  const auto* sampling = testing::FindCorpus("UMT-");
  ASSERT_NE(sampling, nullptr);
  translation = Translate(sampling->base64, {{{-1, 16}, {-1, 16}}, true});
  ASSERT_FALSE(translation.ok());
  EXPECT_EQ(translation.error().message(),
            "the function keras.backend.random_normal is not one keras2torch translates");

  const auto* scale = testing::FindCorpus("datlife__");
  ASSERT_NE(scale, nullptr);
  translation = Translate(scale->base64, {{{-1, 80, 320, 3}}});
  ASSERT_TRUE(translation.ok()) << translation.error().message();
  EXPECT_EQ(translation->outputs[0].code, "x / 255.0 - 0.5");
  EXPECT_TRUE(translation->elementwise);
}

}  // namespace
}  // namespace k2t::pyexpr
