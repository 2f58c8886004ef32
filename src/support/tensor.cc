//===- support/tensor.cc - Host tensor data movement ------------------------===//
#include "support/tensor.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>

#include "support/strings.h"

namespace k2t {
namespace {

// Row-major strides in elements.
std::vector<std::int64_t> Strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

std::int64_t Product(const Shape& shape, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < to; ++i) p *= shape[i];
  return p;
}

// Copies `in` permuted into `out` (already shaped), element by element as T.
// The innermost output axis runs in a tight loop; the outer axes advance an
// odometer. A 2-D transpose (every Dense kernel) is done in cache-sized tiles.
template <typename T>
void PermuteElements(const Tensor& in, const std::vector<int>& perm, Tensor& out) {
  const T* source = in.as<T>();
  T* target = out.as<T>();
  const Shape& out_shape = out.shape();
  const std::size_t rank = perm.size();
  if (out.size() == 0) return;
  if (rank == 2 && perm[0] == 1 && perm[1] == 0) {
    const std::int64_t rows = in.shape()[0];
    const std::int64_t cols = in.shape()[1];
    constexpr std::int64_t kTile = 64;
    for (std::int64_t r0 = 0; r0 < rows; r0 += kTile) {
      for (std::int64_t c0 = 0; c0 < cols; c0 += kTile) {
        const std::int64_t r1 = std::min(rows, r0 + kTile);
        const std::int64_t c1 = std::min(cols, c0 + kTile);
        for (std::int64_t r = r0; r < r1; ++r) {
          for (std::int64_t c = c0; c < c1; ++c) target[c * rows + r] = source[r * cols + c];
        }
      }
    }
    return;
  }
  const auto in_strides = Strides(in.shape());
  std::vector<std::int64_t> source_strides(rank);
  for (std::size_t i = 0; i < rank; ++i) source_strides[i] = in_strides[perm[i]];
  const std::int64_t inner = out_shape[rank - 1];
  const std::int64_t inner_stride = source_strides[rank - 1];
  const std::int64_t outer = out.size() / std::max<std::int64_t>(inner, 1);
  std::vector<std::int64_t> index(rank, 0);
  std::int64_t offset = 0;
  for (std::int64_t o = 0; o < outer; ++o) {
    T* row = target + o * inner;
    for (std::int64_t i = 0; i < inner; ++i) row[i] = source[offset + i * inner_stride];
    // Advance the odometer over the outer output axes.
    for (int axis = static_cast<int>(rank) - 2; axis >= 0; --axis) {
      ++index[axis];
      offset += source_strides[axis];
      if (index[axis] < out_shape[axis]) break;
      offset -= source_strides[axis] * out_shape[axis];
      index[axis] = 0;
    }
  }
}

float HalfToFloat(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1F;
  std::uint32_t mantissa = h & 0x3FF;
  std::uint32_t bits = 0;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa != 0) {
    // Subnormal half: normalise it for float32.
    exponent = 113;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3FF) << 13);
  } else {
    bits = sign;
  }
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

}  // namespace

std::size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kBool:
    case DType::kI8:
    case DType::kU8:
      return 1;
    case DType::kF16:
    case DType::kBF16:
    case DType::kI16:
    case DType::kU16:
      return 2;
    case DType::kF32:
    case DType::kI32:
    case DType::kU32:
      return 4;
    case DType::kF64:
    case DType::kI64:
    case DType::kU64:
      return 8;
  }
  return 4;
}

std::string SafetensorsDTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kF32: return "F32";
    case DType::kF64: return "F64";
    case DType::kI8: return "I8";
    case DType::kI16: return "I16";
    case DType::kI32: return "I32";
    case DType::kI64: return "I64";
    case DType::kU8: return "U8";
    case DType::kU16: return "U16";
    case DType::kU32: return "U32";
    case DType::kU64: return "U64";
    case DType::kBool: return "BOOL";
  }
  return "F32";
}

std::string TorchDTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF16: return "float16";
    case DType::kBF16: return "bfloat16";
    case DType::kF32: return "float32";
    case DType::kF64: return "float64";
    case DType::kI8: return "int8";
    case DType::kI16: return "int16";
    case DType::kI32: return "int32";
    case DType::kI64: return "int64";
    case DType::kU8: return "uint8";
    case DType::kU16: return "uint16";
    case DType::kU32: return "uint32";
    case DType::kU64: return "uint64";
    case DType::kBool: return "bool";
  }
  return "float32";
}

bool IsFloating(DType dtype) {
  return dtype == DType::kF16 || dtype == DType::kBF16 || dtype == DType::kF32 ||
         dtype == DType::kF64;
}

Expected<std::int64_t> ElementCount(const Shape& shape) {
  std::int64_t count = 1;
  for (std::int64_t dim : shape) {
    if (dim < 0) return MakeError("negative dimension {} in shape {}", dim, FormatList(shape));
    if (dim != 0 && count > std::numeric_limits<std::int64_t>::max() / dim) {
      return MakeError("shape {} has more elements than can be counted", FormatList(shape));
    }
    count *= dim;
  }
  return count;
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  data_.resize(static_cast<std::size_t>(Product(shape_, 0, shape_.size())) * DTypeSize(dtype_));
}

std::int64_t Tensor::size() const { return Product(shape_, 0, shape_.size()); }

Tensor Tensor::Permute(const std::vector<int>& perm) const {
  assert(perm.size() == shape_.size());
  Shape out_shape(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) out_shape[i] = shape_[perm[i]];
  Tensor out(dtype_, out_shape);
  switch (DTypeSize(dtype_)) {
    case 1: PermuteElements<std::uint8_t>(*this, perm, out); break;
    case 2: PermuteElements<std::uint16_t>(*this, perm, out); break;
    case 4: PermuteElements<std::uint32_t>(*this, perm, out); break;
    default: PermuteElements<std::uint64_t>(*this, perm, out); break;
  }
  return out;
}

Tensor Tensor::Reshape(Shape shape) const {
  Tensor out = *this;
  assert(Product(shape, 0, shape.size()) == size());
  out.shape_ = std::move(shape);
  return out;
}

Tensor Tensor::Slice(int axis, std::int64_t start, std::int64_t length) const {
  Shape out_shape = shape_;
  out_shape[axis] = length;
  Tensor out(dtype_, out_shape);
  const std::size_t element = DTypeSize(dtype_);
  const std::int64_t outer = Product(shape_, 0, axis);
  const std::int64_t inner = Product(shape_, axis + 1, shape_.size()) * element;
  for (std::int64_t o = 0; o < outer; ++o) {
    const std::byte* source = data_.data() + (o * shape_[axis] + start) * inner;
    std::memcpy(out.data_.data() + o * length * inner, source, length * inner);
  }
  return out;
}

Tensor Tensor::Flip(const std::vector<int>& axes) const {
  Tensor out = *this;
  const std::size_t element = DTypeSize(dtype_);
  for (int axis : axes) {
    const Tensor source = out;
    const std::int64_t outer = Product(shape_, 0, axis);
    const std::int64_t n = shape_[axis];
    const std::int64_t inner = Product(shape_, axis + 1, shape_.size()) * element;
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::int64_t i = 0; i < n; ++i) {
        std::memcpy(out.data_.data() + (o * n + i) * inner,
                    source.data_.data() + (o * n + (n - 1 - i)) * inner, inner);
      }
    }
  }
  return out;
}

Tensor Tensor::ToFloat32() const {
  if (dtype_ == DType::kF32) return *this;
  Tensor out(DType::kF32, shape_);
  float* target = out.as<float>();
  const std::int64_t n = size();
  for (std::int64_t i = 0; i < n; ++i) {
    switch (dtype_) {
      case DType::kF16:
        target[i] = HalfToFloat(as<std::uint16_t>()[i]);
        break;
      case DType::kBF16: {
        const std::uint32_t bits = static_cast<std::uint32_t>(as<std::uint16_t>()[i]) << 16;
        std::memcpy(&target[i], &bits, sizeof(float));
        break;
      }
      case DType::kF64:
        target[i] = static_cast<float>(as<double>()[i]);
        break;
      default:
        assert(false && "ToFloat32 on a non-float tensor");
    }
  }
  return out;
}

Tensor Tensor::Concat(const std::vector<Tensor>& parts, int axis) {
  assert(!parts.empty());
  Shape out_shape = parts[0].shape();
  out_shape[axis] = 0;
  for (const Tensor& part : parts) out_shape[axis] += part.shape()[axis];
  Tensor out(parts[0].dtype(), out_shape);
  const std::size_t element = DTypeSize(out.dtype());
  const std::int64_t outer = Product(out_shape, 0, axis);
  const std::int64_t inner = Product(out_shape, axis + 1, out_shape.size()) * element;
  std::int64_t written = 0;
  for (std::int64_t o = 0; o < outer; ++o) {
    for (const Tensor& part : parts) {
      const std::int64_t chunk = part.shape()[axis] * inner;
      std::memcpy(out.data_.data() + written, part.data() + o * chunk, chunk);
      written += chunk;
    }
  }
  return out;
}

}  // namespace k2t
