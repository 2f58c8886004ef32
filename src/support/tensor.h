//===- support/tensor.h - A dense host tensor for weight transforms --------===//
//
// Weights are read one tensor at a time, rearranged into PyTorch's layout and
// written out. The rearrangements are pure data movement (permute, reshape,
// slice, concatenate, flip), so they work on bytes and do not care about the
// element type; arithmetic is needed only in a few places and is float-only.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "support/error.h"

namespace k2t {

enum class DType { kF16, kBF16, kF32, kF64, kI8, kI16, kI32, kI64, kU8, kU16, kU32, kU64, kBool };

std::size_t DTypeSize(DType dtype);
// The safetensors name ("F32", "I64", ...).
std::string SafetensorsDTypeName(DType dtype);
// The PyTorch name ("float32", "int64", ...).
std::string TorchDTypeName(DType dtype);
bool IsFloating(DType dtype);

using Shape = std::vector<std::int64_t>;

// Number of elements, or an error if the product overflows or a size is negative.
Expected<std::int64_t> ElementCount(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape);  // zero-filled

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  std::int64_t rank() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t size() const;
  std::size_t byte_size() const { return data_.size(); }
  std::byte* data() { return data_.data(); }
  const std::byte* data() const { return data_.data(); }

  template <typename T>
  T* as() {
    return reinterpret_cast<T*>(data_.data());
  }
  template <typename T>
  const T* as() const {
    return reinterpret_cast<const T*>(data_.data());
  }

  // out.shape[i] = shape[perm[i]]
  Tensor Permute(const std::vector<int>& perm) const;
  // Same elements, row-major, new shape (element counts must agree).
  Tensor Reshape(Shape shape) const;
  // Elements [start, start + length) along axis.
  Tensor Slice(int axis, std::int64_t start, std::int64_t length) const;
  // Reverses the order of elements along each listed axis.
  Tensor Flip(const std::vector<int>& axes) const;
  // Converts floating point data to float32.
  Tensor ToFloat32() const;

  static Tensor Concat(const std::vector<Tensor>& parts, int axis);

 private:
  DType dtype_ = DType::kF32;
  Shape shape_;
  std::vector<std::byte> data_;
};

}  // namespace k2t
