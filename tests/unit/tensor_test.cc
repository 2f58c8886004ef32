#include "support/tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace k2t {
namespace {

// A float32 tensor holding 0, 1, 2, ... in row-major order.
Tensor Iota(Shape shape) {
  Tensor t(DType::kF32, std::move(shape));
  std::iota(t.as<float>(), t.as<float>() + t.size(), 0.0f);
  return t;
}

std::vector<float> Values(const Tensor& t) {
  return std::vector<float>(t.as<float>(), t.as<float>() + t.size());
}

Tensor Half(std::vector<std::uint16_t> bits, DType dtype = DType::kF16) {
  Tensor t(dtype, {static_cast<std::int64_t>(bits.size())});
  std::memcpy(t.data(), bits.data(), bits.size() * 2);
  return t;
}

TEST(TensorTest, ZeroFilledWithByteSize) {
  Tensor t(DType::kF64, {2, 3});
  EXPECT_EQ(t.size(), 6);
  EXPECT_EQ(t.byte_size(), 48u);
  EXPECT_EQ(t.rank(), 2);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.as<double>()[i], 0.0);
}

TEST(TensorTest, PermuteTransposesAMatrix) {
  // (2, 3) -> (3, 2): out[j][i] = in[i][j].
  const Tensor out = Iota({2, 3}).Permute({1, 0});
  EXPECT_EQ(out.shape(), (Shape{3, 2}));
  EXPECT_EQ(Values(out), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(TensorTest, PermuteHwioToOihw) {
  // A Keras conv kernel (H, W, I, O) = (2, 2, 1, 3) -> PyTorch (O, I, H, W).
  const Tensor kernel = Iota({2, 2, 1, 3});
  const Tensor out = kernel.Permute({3, 2, 0, 1});
  EXPECT_EQ(out.shape(), (Shape{3, 1, 2, 2}));
  // out[o][0][h][w] = kernel[h][w][0][o] = h*6 + w*3 + o.
  for (int o = 0; o < 3; ++o) {
    for (int h = 0; h < 2; ++h) {
      for (int w = 0; w < 2; ++w) {
        EXPECT_EQ(out.as<float>()[o * 4 + h * 2 + w], static_cast<float>(h * 6 + w * 3 + o));
      }
    }
  }
}

TEST(TensorTest, PermuteWorksOnBytesOfAnyType) {
  Tensor t(DType::kI64, {2, 2});
  const std::int64_t values[] = {1, 2, 3, std::numeric_limits<std::int64_t>::max()};
  std::memcpy(t.data(), values, sizeof(values));
  const Tensor out = t.Permute({1, 0});
  EXPECT_EQ(out.dtype(), DType::kI64);
  EXPECT_EQ(out.as<std::int64_t>()[0], 1);
  EXPECT_EQ(out.as<std::int64_t>()[1], 3);
  EXPECT_EQ(out.as<std::int64_t>()[2], 2);
  EXPECT_EQ(out.as<std::int64_t>()[3], std::numeric_limits<std::int64_t>::max());
}

TEST(TensorTest, PermuteIdentityAndScalarLike) {
  EXPECT_EQ(Values(Iota({2, 3, 4}).Permute({0, 1, 2})), Values(Iota({2, 3, 4})));
  const Tensor empty = Iota({0, 3}).Permute({1, 0});
  EXPECT_EQ(empty.shape(), (Shape{3, 0}));
  EXPECT_EQ(empty.size(), 0);
}

TEST(TensorTest, ReshapeKeepsRowMajorOrder) {
  const Tensor out = Iota({2, 6}).Reshape({3, 2, 2});
  EXPECT_EQ(out.shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(Values(out), Values(Iota({12})));
}

TEST(TensorTest, SliceAlongEachAxis) {
  const Tensor t = Iota({2, 4});
  const Tensor columns = t.Slice(1, 1, 2);
  EXPECT_EQ(columns.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values(columns), (std::vector<float>{1, 2, 5, 6}));
  const Tensor rows = t.Slice(0, 1, 1);
  EXPECT_EQ(rows.shape(), (Shape{1, 4}));
  EXPECT_EQ(Values(rows), (std::vector<float>{4, 5, 6, 7}));
  // An LSTM-style gate split: the third quarter of a (3, 8) kernel's columns.
  const Tensor gate = Iota({3, 8}).Slice(1, 4, 2);
  EXPECT_EQ(Values(gate), (std::vector<float>{4, 5, 12, 13, 20, 21}));
}

TEST(TensorTest, FlipReversesListedAxes) {
  const Tensor t = Iota({2, 3});
  EXPECT_EQ(Values(t.Flip({1})), (std::vector<float>{2, 1, 0, 5, 4, 3}));
  EXPECT_EQ(Values(t.Flip({0})), (std::vector<float>{3, 4, 5, 0, 1, 2}));
  EXPECT_EQ(Values(t.Flip({0, 1})), (std::vector<float>{5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(Values(t.Flip({})), Values(t));
}

TEST(TensorTest, FlipSpatialAxesOfAConvKernel) {
  // Theano kernels: reverse every axis except the last two (H, W of HWIO).
  const Tensor kernel = Iota({2, 2, 1, 1});
  EXPECT_EQ(Values(kernel.Flip({0, 1})), (std::vector<float>{3, 2, 1, 0}));
}

TEST(TensorTest, ConcatAlongFirstAndLastAxis) {
  const Tensor a = Iota({2, 2});
  Tensor b(DType::kF32, {2, 1});
  b.as<float>()[0] = 10;
  b.as<float>()[1] = 11;
  const Tensor wide = Tensor::Concat({a, b}, 1);
  EXPECT_EQ(wide.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values(wide), (std::vector<float>{0, 1, 10, 2, 3, 11}));

  const Tensor tall = Tensor::Concat({a, a}, 0);
  EXPECT_EQ(tall.shape(), (Shape{4, 2}));
  EXPECT_EQ(Values(tall), (std::vector<float>{0, 1, 2, 3, 0, 1, 2, 3}));
}

TEST(TensorTest, ConcatUndoesSlice) {
  const Tensor t = Iota({3, 8});
  std::vector<Tensor> parts;
  for (int g = 0; g < 4; ++g) parts.push_back(t.Slice(1, g * 2, 2));
  EXPECT_EQ(Values(Tensor::Concat(parts, 1)), Values(t));
}

TEST(TensorTest, Float16Normals) {
  // 1.0, -2.0, 65504 (largest half), 0.5, 2^-14 (smallest normal).
  const Tensor out = Half({0x3C00, 0xC000, 0x7BFF, 0x3800, 0x0400}).ToFloat32();
  EXPECT_EQ(out.dtype(), DType::kF32);
  EXPECT_EQ(Values(out), (std::vector<float>{1.0f, -2.0f, 65504.0f, 0.5f, std::ldexp(1.0f, -14)}));
}

TEST(TensorTest, Float16Subnormals) {
  // 0x0001 = 2^-24, 0x03FF = 1023 * 2^-24, 0x8200 = -2^-15, 0x0200 = 2^-15.
  const Tensor out = Half({0x0001, 0x03FF, 0x8200, 0x0200}).ToFloat32();
  EXPECT_EQ(out.as<float>()[0], std::ldexp(1.0f, -24));
  EXPECT_EQ(out.as<float>()[1], 1023.0f * std::ldexp(1.0f, -24));
  EXPECT_EQ(out.as<float>()[2], -std::ldexp(1.0f, -15));
  EXPECT_EQ(out.as<float>()[3], std::ldexp(1.0f, -15));
}

TEST(TensorTest, Float16ZerosInfinitiesAndNan) {
  const Tensor out = Half({0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00}).ToFloat32();
  EXPECT_EQ(out.as<float>()[0], 0.0f);
  EXPECT_FALSE(std::signbit(out.as<float>()[0]));
  EXPECT_EQ(out.as<float>()[1], 0.0f);
  EXPECT_TRUE(std::signbit(out.as<float>()[1]));
  EXPECT_EQ(out.as<float>()[2], std::numeric_limits<float>::infinity());
  EXPECT_EQ(out.as<float>()[3], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(out.as<float>()[4]));
}

TEST(TensorTest, BFloat16IsTheHighHalfOfFloat32) {
  // 1.0, -3.0, 0x0001 (a float32 subnormal, 2^-133), +inf, NaN.
  const Tensor out = Half({0x3F80, 0xC040, 0x0001, 0x7F80, 0x7FC0}, DType::kBF16).ToFloat32();
  EXPECT_EQ(out.as<float>()[0], 1.0f);
  EXPECT_EQ(out.as<float>()[1], -3.0f);
  EXPECT_EQ(out.as<float>()[2], std::ldexp(1.0f, -133));
  EXPECT_EQ(out.as<float>()[3], std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(out.as<float>()[4]));
}

TEST(TensorTest, Float64ToFloat32) {
  Tensor t(DType::kF64, {3});
  t.as<double>()[0] = 0.1;
  t.as<double>()[1] = -1e300;  // out of float range
  t.as<double>()[2] = 3.0;
  const Tensor out = t.ToFloat32();
  EXPECT_EQ(out.as<float>()[0], 0.1f);
  EXPECT_EQ(out.as<float>()[1], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(out.as<float>()[2], 3.0f);
}

TEST(TensorTest, Float32ToFloat32IsACopy) {
  const Tensor t = Iota({4});
  EXPECT_EQ(Values(t.ToFloat32()), Values(t));
}

TEST(TensorTest, DTypeNames) {
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kBool), 1u);
  EXPECT_EQ(DTypeSize(DType::kU64), 8u);
  EXPECT_EQ(SafetensorsDTypeName(DType::kBF16), "BF16");
  EXPECT_EQ(SafetensorsDTypeName(DType::kBool), "BOOL");
  EXPECT_EQ(TorchDTypeName(DType::kF16), "float16");
  EXPECT_EQ(TorchDTypeName(DType::kU8), "uint8");
  EXPECT_TRUE(IsFloating(DType::kBF16));
  EXPECT_FALSE(IsFloating(DType::kI32));
}

TEST(ElementCountTest, CountsAndZeros) {
  EXPECT_EQ(*ElementCount({}), 1);
  EXPECT_EQ(*ElementCount({2, 3, 4}), 24);
  EXPECT_EQ(*ElementCount({0, std::numeric_limits<std::int64_t>::max()}), 0);
  EXPECT_EQ(*ElementCount({std::numeric_limits<std::int64_t>::max(), 0}), 0);
  EXPECT_EQ(*ElementCount({std::numeric_limits<std::int64_t>::max()}),
            std::numeric_limits<std::int64_t>::max());
}

TEST(ElementCountTest, OverflowIsAnError) {
  const std::int64_t big = std::int64_t{1} << 32;
  auto count = ElementCount({big, big});
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.error().message(),
            "shape [4294967296, 4294967296] has more elements than can be counted");
  EXPECT_TRUE(ElementCount({big, big / 2 - 1}).ok());
}

TEST(ElementCountTest, NegativeDimensionIsAnError) {
  auto count = ElementCount({2, -1});
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.error().message(), "negative dimension -1 in shape [2, -1]");
}

}  // namespace
}  // namespace k2t
