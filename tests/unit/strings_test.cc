#include "support/strings.h"

#include <gtest/gtest.h>

namespace k2t {
namespace {

TEST(KerasSnakeCase, MatchesKerasNames) {
  EXPECT_EQ(KerasSnakeCase("Conv2DTranspose"), "conv2d_transpose");
  EXPECT_EQ(KerasSnakeCase("BatchNormalization"), "batch_normalization");
  EXPECT_EQ(KerasSnakeCase("PReLU"), "p_re_lu");
  EXPECT_EQ(KerasSnakeCase("LSTM"), "lstm");
  EXPECT_EQ(KerasSnakeCase("UpSampling2D"), "up_sampling2d");
  EXPECT_EQ(KerasSnakeCase("ConvLSTM2D"), "conv_lstm2d");
  EXPECT_EQ(KerasSnakeCase("MultiHeadAttention"), "multi_head_attention");
  EXPECT_EQ(KerasSnakeCase("DepthwiseConv2D"), "depthwise_conv2d");
  EXPECT_EQ(KerasSnakeCase("ReLU"), "re_lu");
}

TEST(IsPlainFileName, OnlyANameWithNoDirectoryPart) {
  EXPECT_TRUE(IsPlainFileName("group1-shard1of2.bin"));
  EXPECT_TRUE(IsPlainFileName("model_00001.weights.h5"));
  EXPECT_TRUE(IsPlainFileName("a..b.h5"));  // dots alone lead nowhere
  for (std::string_view name : {"", ".", "..", "../a.bin", "/tmp/a.bin", "sub/a.bin",
                                "..\\a.bin", "C:a.bin"}) {
    EXPECT_FALSE(IsPlainFileName(name)) << name;
  }
  EXPECT_FALSE(IsPlainFileName(std::string_view("a\0b", 3)));
}

}  // namespace
}  // namespace k2t
