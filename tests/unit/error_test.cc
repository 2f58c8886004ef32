#include "support/error.h"

#include <gtest/gtest.h>

#include <memory>

namespace k2t {
namespace {

TEST(ErrorTest, DescribeWithoutContext) {
  EXPECT_EQ(MakeError("the file is empty").Describe(), "the file is empty");
}

TEST(ErrorTest, DescribeWithFileAndLayer) {
  Error error = MakeError("units must be positive, found {}", -3);
  error.AtLayer("dense_1", "Dense").InFile("model.h5");
  EXPECT_EQ(error.Describe(),
            "model.h5: layer 'dense_1' (Dense): units must be positive, found -3");
  EXPECT_EQ(error.file(), "model.h5");
  EXPECT_EQ(error.layer(), "dense_1");
  EXPECT_EQ(error.layer_class(), "Dense");
}

TEST(ErrorTest, LayerWithoutClass) {
  Error error = MakeError("broken");
  error.AtLayer("x", "");
  EXPECT_EQ(error.Describe(), "layer 'x': broken");
}

TEST(ErrorTest, InnermostContextWins) {
  Error error = MakeError("bad");
  error.AtLayer("inner/dense", "Dense");
  error.AtLayer("inner", "Functional");
  error.InFile("weights.h5");
  error.InFile("model.json");
  EXPECT_EQ(error.Describe(), "weights.h5: layer 'inner/dense' (Dense): bad");
}

TEST(ErrorTest, HostileNamesStayOnOneLine) {
  Error error = MakeError("bad");
  error.AtLayer("a\nb\x1b[2J", "C\rD");
  error.InFile("m.h5");
  EXPECT_EQ(error.Describe(), "m.h5: layer 'a\\nb\\x1b[2J' (C\\x0dD): bad");
}

TEST(ErrorTest, AllListsEveryErrorWithTheFile) {
  Error first = MakeError("Keras class {} is not supported by keras2torch yet", "Conv3DTranspose");
  first.AtLayer("c3t", "Conv3DTranspose");
  Error second = MakeError("Keras class {} is not supported by keras2torch yet", "ConvLSTM2D");
  second.AtLayer("lstm", "ConvLSTM2D");
  first.Add(std::move(second));
  first.InFile("m.keras");

  ASSERT_EQ(first.more().size(), 1u);
  const std::vector<Error> all = first.All();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].Describe(),
            "m.keras: layer 'c3t' (Conv3DTranspose): Keras class Conv3DTranspose is not "
            "supported by keras2torch yet");
  EXPECT_EQ(all[1].Describe(),
            "m.keras: layer 'lstm' (ConvLSTM2D): Keras class ConvLSTM2D is not supported by "
            "keras2torch yet");
  EXPECT_TRUE(all[0].more().empty());
}

TEST(ErrorTest, AllOfASingleError) {
  const std::vector<Error> all = MakeError("only").All();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].Describe(), "only");
}

Expected<int> Half(int value) {
  if (value % 2 != 0) return MakeError("{} is odd", value);
  return value / 2;
}

Expected<int> Quarter(int value) {
  K2T_ASSIGN_OR_RETURN(int half, Half(value));
  K2T_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckPositive(int value) {
  if (value <= 0) return MakeError("{} is not positive", value);
  return Status::Ok();
}

Status CheckBoth(int a, int b) {
  K2T_RETURN_IF_ERROR(CheckPositive(a));
  K2T_RETURN_IF_ERROR(CheckPositive(b));
  return Status::Ok();
}

TEST(ExpectedTest, ValuesAndErrorsPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  auto odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.error().message(), "3 is odd");
  EXPECT_EQ(Quarter(6).value_or(-1), -1);
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_EQ(CheckBoth(1, -2).error().message(), "-2 is not positive");
}

TEST(ExpectedTest, MoveOnlyValues) {
  Expected<std::unique_ptr<int>> holder(std::make_unique<int>(5));
  ASSERT_TRUE(holder.ok());
  std::unique_ptr<int> taken = std::move(holder).value();
  EXPECT_EQ(*taken, 5);
}

}  // namespace
}  // namespace k2t
