//===- readers/hdf5.cc - RAII layer over HDF5's C library -------------------===//
#include "readers/hdf5.h"

#include <H5LTpublic.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "support/limits.h"
#include "support/strings.h"

namespace k2t::h5 {
namespace {

std::string JoinPath(const std::string& base, const std::string& relative) {
  if (base.empty() || base == "/") return "/" + relative;
  return base + "/" + relative;
}

// What a path below a group leads to. H5Lexists must be asked one path
// component at a time; the first link that is not a hard link decides.
struct LinkLookup {
  enum Kind { kMissing, kHard, kSoft, kExternal } kind = kMissing;
  std::string link;  // the path of the first non-hard link, relative
};

LinkLookup LookUpLink(hid_t location, const std::string& relative) {
  LinkLookup lookup;
  std::string prefix;
  for (const std::string& part : Split(relative, '/')) {
    if (part.empty()) continue;
    prefix += prefix.empty() ? part : "/" + part;
    if (H5Lexists(location, prefix.c_str(), H5P_DEFAULT) <= 0) return lookup;
    H5L_info_t info;
    if (H5Lget_info(location, prefix.c_str(), &info, H5P_DEFAULT) < 0) return lookup;
    // Soft and external links could point anywhere, even into other files;
    // Keras never writes them.
    if (info.type != H5L_TYPE_HARD) {
      lookup.kind = info.type == H5L_TYPE_SOFT ? LinkLookup::kSoft : LinkLookup::kExternal;
      lookup.link = prefix;
      return lookup;
    }
  }
  if (!prefix.empty()) lookup.kind = LinkLookup::kHard;
  return lookup;
}

bool LinkExists(hid_t location, const std::string& relative) {
  return LookUpLink(location, relative).kind == LinkLookup::kHard;
}

H5O_type_t ObjectType(hid_t location, const std::string& relative) {
  if (!LinkExists(location, relative)) return H5O_TYPE_UNKNOWN;
  H5O_info_t info;
  if (H5Oget_info_by_name(location, relative.c_str(), &info, H5P_DEFAULT) < 0) {
    return H5O_TYPE_UNKNOWN;
  }
  return info.type;
}

// Why `relative` cannot be opened as a `what` ("group", "dataset").
Error NotFound(hid_t location, const std::string& base, const std::string& relative,
               const char* what) {
  const LinkLookup lookup = LookUpLink(location, relative);
  if (lookup.kind == LinkLookup::kSoft || lookup.kind == LinkLookup::kExternal) {
    return MakeError("{} '{}' is reached through {} link '{}', which keras2torch does not follow",
                     what, PrintableText(JoinPath(base, relative)),
                     lookup.kind == LinkLookup::kSoft ? "a soft" : "an external",
                     PrintableText(JoinPath(base, lookup.link)));
  }
  if (lookup.kind == LinkLookup::kHard) {
    return MakeError("'{}' is not a {}", PrintableText(JoinPath(base, relative)), what);
  }
  return MakeError("{} '{}' not found", what, PrintableText(JoinPath(base, relative)));
}

// Keras writes every dataset's data inside the file; external raw files and
// virtual datasets would make a model file read other files on this machine.
Status CheckStorage(hid_t dataset, const std::string& path) {
  Id plist(H5Dget_create_plist(dataset), H5Pclose);
  if (!plist.valid()) return MakeError("cannot read the storage of dataset '{}'", path);
  if (H5Pget_layout(plist.get()) == H5D_VIRTUAL) {
    return MakeError("dataset '{}' is a virtual dataset made of other datasets, which "
                     "keras2torch does not read",
                     PrintableText(path));
  }
  if (H5Pget_external_count(plist.get()) > 0) {
    return MakeError("dataset '{}' keeps its data in an external file, which keras2torch does "
                     "not read",
                     PrintableText(path));
  }
  return Status::Ok();
}

std::string TrimPadding(const char* data, std::size_t size) {
  std::size_t end = 0;
  while (end < size && data[end] != '\0') ++end;
  return std::string(data, end);
}

// Reads a string or list of strings from an attribute, whatever its encoding.
Expected<std::vector<std::string>> ReadStrings(hid_t attribute, const std::string& what) {
  Id type(H5Aget_type(attribute), H5Tclose);
  Id space(H5Aget_space(attribute), H5Sclose);
  if (!type.valid() || !space.valid()) return MakeError("cannot read attribute '{}'", what);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) return MakeError("attribute '{}' has an unreadable size", what);
  std::vector<std::string> out;
  if (count == 0) return out;  // an empty list, whatever its declared type
  // Every string takes at least one stored byte, so a damaged header that
  // declares more strings than the attribute stores is refused before the
  // buffers for them are allocated.
  const hsize_t stored = H5Aget_storage_size(attribute);
  if (static_cast<hsize_t>(count) > stored) {
    return MakeError("attribute '{}' is damaged: it declares {} strings in {} bytes", what, count,
                     stored);
  }

  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class != H5T_STRING) {
    return MakeError("attribute '{}' holds numbers where text was expected", what);
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    Id memory_type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory_type.get(), H5T_VARIABLE);
    H5Tset_cset(memory_type.get(), H5Tget_cset(type.get()));
    std::vector<char*> pointers(static_cast<std::size_t>(count), nullptr);
    if (H5Aread(attribute, memory_type.get(), pointers.data()) < 0) {
      return MakeError("cannot read the text of attribute '{}'", what);
    }
    for (char* p : pointers) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(memory_type.get(), space.get(), H5P_DEFAULT, pointers.data());
    return out;
  }
  const std::size_t width = H5Tget_size(type.get());
  if (width == 0) return MakeError("attribute '{}' has zero-width text", what);
  if (width > stored / static_cast<hsize_t>(count)) {
    return MakeError("attribute '{}' is damaged: it declares {} strings of {} bytes in {} bytes",
                     what, count, width, stored);
  }
  std::vector<char> buffer(width * static_cast<std::size_t>(count));
  if (H5Aread(attribute, type.get(), buffer.data()) < 0) {
    return MakeError("cannot read the text of attribute '{}'", what);
  }
  for (hssize_t i = 0; i < count; ++i) out.push_back(TrimPadding(&buffer[i * width], width));
  return out;
}

Expected<std::vector<std::string>> ReadAttributeStrings(hid_t object, const std::string& name) {
  Id attribute(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attribute.valid()) return MakeError("cannot open attribute '{}'", name);
  return ReadStrings(attribute.get(), name);
}

Expected<std::string> ReadOneString(hid_t object, const std::string& name) {
  K2T_ASSIGN_OR_RETURN(auto strings, ReadAttributeStrings(object, name));
  if (strings.size() != 1) {
    return MakeError("attribute '{}' holds {} strings where one was expected", name,
                     strings.size());
  }
  return strings[0];
}

std::string TypeClassName(H5T_class_t type_class) {
  switch (type_class) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: return fmt::format("type class {}", static_cast<int>(type_class));
  }
}

Expected<DType> DTypeOf(hid_t type, hid_t dataset) {
  const H5T_class_t type_class = H5Tget_class(type);
  const std::size_t size = H5Tget_size(type);
  if (type_class == H5T_FLOAT) {
    if (size == 2) return DType::kF16;
    if (size == 4) return DType::kF32;
    if (size == 8) return DType::kF64;
  }
  if (type_class == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (size == 1) return is_signed ? DType::kI8 : DType::kU8;
    if (size == 2) return is_signed ? DType::kI16 : DType::kU16;
    if (size == 4) return is_signed ? DType::kI32 : DType::kU32;
    if (size == 8) return is_signed ? DType::kI64 : DType::kU64;
  }
  // h5py stores numpy booleans as an 8-bit enum.
  if (type_class == H5T_ENUM && size == 1) return DType::kBool;
  // Keras 3 marks bfloat16 data with a dtype attribute on a 2-byte opaque type.
  if (size == 2 && H5Aexists(dataset, "dtype") > 0) {
    auto marker = ReadOneString(dataset, "dtype");
    if (marker.ok() && *marker == "bfloat16") return DType::kBF16;
  }
  return MakeError("unsupported element type (HDF5 {}, {} bytes)", TypeClassName(type_class),
                   size);
}

// Memory type to read a dataset of `dtype` in native little-endian order.
Id MemoryType(DType dtype, hid_t file_type) {
  switch (dtype) {
    case DType::kF32: return Id(H5Tcopy(H5T_NATIVE_FLOAT), H5Tclose);
    case DType::kF64: return Id(H5Tcopy(H5T_NATIVE_DOUBLE), H5Tclose);
    case DType::kI8: return Id(H5Tcopy(H5T_NATIVE_INT8), H5Tclose);
    case DType::kU8: return Id(H5Tcopy(H5T_NATIVE_UINT8), H5Tclose);
    case DType::kI16: return Id(H5Tcopy(H5T_NATIVE_INT16), H5Tclose);
    case DType::kU16: return Id(H5Tcopy(H5T_NATIVE_UINT16), H5Tclose);
    case DType::kI32: return Id(H5Tcopy(H5T_NATIVE_INT32), H5Tclose);
    case DType::kU32: return Id(H5Tcopy(H5T_NATIVE_UINT32), H5Tclose);
    case DType::kI64: return Id(H5Tcopy(H5T_NATIVE_INT64), H5Tclose);
    case DType::kU64: return Id(H5Tcopy(H5T_NATIVE_UINT64), H5Tclose);
    default: {
      // Half floats, bfloat16 and booleans are read as stored, little-endian.
      Id copy(H5Tcopy(file_type), H5Tclose);
      if (H5Tget_class(file_type) != H5T_OPAQUE && H5Tget_class(file_type) != H5T_ENUM) {
        H5Tset_order(copy.get(), H5T_ORDER_LE);
      }
      return copy;
    }
  }
}

constexpr char kSignature[] = "\x89HDF\r\n\x1a\n";

bool HasSignature(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  in.read(head, sizeof(head));
  return in.gcount() == 8 && std::memcmp(head, kSignature, 8) == 0;
}

// HDF5 checks the end-of-file address its superblock records against the
// real size; that check is the usual reason a damaged file does not open.
// Its messages are collected as the failing call returns: later calls (the
// image opener makes some) would clear the error stack.
herr_t CollectDescription(unsigned, const H5E_error2_t* error, void* data) {
  if (error && error->desc) static_cast<std::vector<std::string>*>(data)->push_back(error->desc);
  return 0;
}

herr_t CollectStack(hid_t stack, void* data) {
  H5Ewalk2(stack, H5E_WALK_DOWNWARD, CollectDescription, data);
  return 0;
}

// Runs `open` with HDF5's error messages collected instead of printed.
template <typename Open>
hid_t OpenCollecting(Open open, std::vector<std::string>& descriptions) {
  H5Eset_auto2(H5E_DEFAULT, CollectStack, &descriptions);
  const hid_t id = open();
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  return id;
}

Error OpenFailure(const std::vector<std::string>& descriptions) {
  for (const std::string& text : descriptions) {
    unsigned long long eof = 0;
    unsigned long long stored = 0;
    const auto at = text.find("truncated file: eof = ");
    const auto stored_at = text.find("stored_eof = ");
    if (at == std::string::npos || stored_at == std::string::npos) continue;
    eof = std::strtoull(text.c_str() + at + 22, nullptr, 10);
    stored = std::strtoull(text.c_str() + stored_at + 13, nullptr, 10);
    return MakeError("the HDF5 file is truncated: it has {} bytes, its header records {}", eof,
                     stored);
  }
  for (const std::string& text : descriptions) {
    if (text.find("unable to read superblock") != std::string::npos) {
      return MakeError("the HDF5 file is truncated or damaged: its superblock cannot be read");
    }
  }
  return MakeError("the HDF5 file is damaged and cannot be opened");
}

}  // namespace

Id& Id::operator=(Id&& other) noexcept {
  if (this != &other) {
    if (valid() && close_) close_(id_);
    id_ = other.id_;
    close_ = other.close_;
    other.id_ = -1;
  }
  return *this;
}

Id::~Id() {
  if (valid() && close_) close_(id_);
}

void SilenceLibraryErrors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Expected<File> File::Open(const std::string& path) {
  SilenceLibraryErrors();
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    if (!HasSignature(path)) return MakeError("not an HDF5 file");
    return MakeError("the HDF5 file is truncated or damaged: its superblock cannot be read");
  }
  std::vector<std::string> descriptions;
  Id id(OpenCollecting([&] { return H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT); },
                       descriptions),
        H5Fclose);
  if (!id.valid()) return OpenFailure(descriptions);
  hsize_t size = 0;
  H5Fget_filesize(id.get(), &size);
  return File(std::move(id), size);
}

Expected<File> File::OpenImage(const void* data, std::size_t size) {
  SilenceLibraryErrors();
  const unsigned flags = H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE;
  // H5LT takes a non-const pointer but does not write without H5LT_FILE_IMAGE_OPEN_RW.
  std::vector<std::string> descriptions;
  Id id(OpenCollecting(
            [&] { return H5LTopen_file_image(const_cast<void*>(data), size, flags); },
            descriptions),
        H5Fclose);
  if (!id.valid()) {
    if (size < 8 || std::memcmp(data, kSignature, 8) != 0) return MakeError("not an HDF5 file");
    return OpenFailure(descriptions);
  }
  return File(std::move(id), size);
}

Expected<Group> File::Root() const {
  Id id(H5Gopen2(id_.get(), "/", H5P_DEFAULT), H5Gclose);
  if (!id.valid()) return MakeError("cannot open the root group of the HDF5 file");
  return Group(std::move(id), "/");
}

bool Group::HasAttribute(const std::string& name) const {
  return H5Aexists(id_.get(), name.c_str()) > 0;
}

Expected<std::string> Group::ReadStringAttribute(const std::string& name) const {
  return ReadOneString(id_.get(), name);
}

Expected<std::vector<std::string>> Group::ReadStringListAttribute(const std::string& name) const {
  if (HasAttribute(name)) return ReadAttributeStrings(id_.get(), name);
  // Keras splits lists longer than 64 KiB into name0, name1, ... (keras-formats.md §2.5).
  std::vector<std::string> out;
  for (int chunk = 0; HasAttribute(name + std::to_string(chunk)); ++chunk) {
    K2T_ASSIGN_OR_RETURN(auto part, ReadAttributeStrings(id_.get(), name + std::to_string(chunk)));
    out.insert(out.end(), part.begin(), part.end());
  }
  if (out.empty() && !HasAttribute(name + "0")) {
    return MakeError("attribute '{}' is missing from group '{}'", name, path_);
  }
  return out;
}

Expected<std::int64_t> Group::ReadIntAttribute(const std::string& name) const {
  Id attribute(H5Aopen(id_.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attribute.valid()) return MakeError("cannot open attribute '{}'", name);
  Id type(H5Aget_type(attribute.get()), H5Tclose);
  Id space(H5Aget_space(attribute.get()), H5Sclose);
  if (!type.valid() || !space.valid()) return MakeError("cannot read attribute '{}'", name);
  if (H5Tget_class(type.get()) != H5T_INTEGER ||
      H5Sget_simple_extent_npoints(space.get()) != 1) {
    return MakeError("attribute '{}' of group '{}' is not one integer", name, path_);
  }
  // HDF5 converts any stored integer width and byte order to the memory type.
  std::int64_t value = 0;
  if (H5Aread(attribute.get(), H5T_NATIVE_INT64, &value) < 0) {
    return MakeError("cannot read attribute '{}' of group '{}'", name, path_);
  }
  return value;
}

bool Group::Has(const std::string& relative) const { return LinkExists(id_.get(), relative); }

bool Group::HasLink(const std::string& relative) const {
  return LookUpLink(id_.get(), relative).kind != LinkLookup::kMissing;
}

bool Group::HasGroup(const std::string& relative) const {
  return ObjectType(id_.get(), relative) == H5O_TYPE_GROUP;
}

bool Group::HasDataset(const std::string& relative) const {
  return ObjectType(id_.get(), relative) == H5O_TYPE_DATASET;
}

Expected<Group> Group::OpenGroup(const std::string& relative) const {
  if (!HasGroup(relative)) return NotFound(id_.get(), path_, relative, "group");
  const std::string path = JoinPath(path_, relative);
  Id id(H5Gopen2(id_.get(), relative.c_str(), H5P_DEFAULT), H5Gclose);
  if (!id.valid()) return MakeError("cannot open group '{}'", PrintableText(path));
  return Group(std::move(id), path);
}

Expected<Dataset> Group::OpenDataset(const std::string& relative) const {
  if (!HasDataset(relative)) return NotFound(id_.get(), path_, relative, "dataset");
  const std::string path = JoinPath(path_, relative);
  Id id(H5Dopen2(id_.get(), relative.c_str(), H5P_DEFAULT), H5Dclose);
  if (!id.valid()) return MakeError("cannot open dataset '{}'", PrintableText(path));
  K2T_RETURN_IF_ERROR(CheckStorage(id.get(), path));
  return Dataset(std::move(id), path);
}

Expected<std::vector<std::string>> Group::ChildNames() const {
  H5G_info_t info;
  if (H5Gget_info(id_.get(), &info) < 0) return MakeError("cannot list group '{}'", path_);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length = H5Lget_name_by_idx(id_.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i,
                                              nullptr, 0, H5P_DEFAULT);
    if (length < 0) return MakeError("cannot list group '{}'", path_);
    std::string name(static_cast<std::size_t>(length), '\0');
    H5Lget_name_by_idx(id_.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(),
                       name.size() + 1, H5P_DEFAULT);
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

Expected<Shape> Dataset::ReadShape() const {
  Id space(H5Dget_space(id_.get()), H5Sclose);
  if (!space.valid()) return MakeError("cannot read the shape of dataset '{}'", path_);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) return MakeError("cannot read the shape of dataset '{}'", path_);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Shape shape;
  for (hsize_t d : dims) shape.push_back(static_cast<std::int64_t>(d));
  return shape;
}

Expected<DType> Dataset::ReadDType() const {
  Id type(H5Dget_type(id_.get()), H5Tclose);
  if (!type.valid()) return MakeError("cannot read the type of dataset '{}'", path_);
  auto dtype = DTypeOf(type.get(), id_.get());
  if (!dtype.ok()) return MakeError("dataset '{}': {}", path_, dtype.error().message());
  return dtype;
}

Status CheckElementCount(const std::string& what, const Shape& shape,
                         std::int64_t max_elements) {
  auto count = ElementCount(shape);
  if (!count.ok()) {
    return MakeError("{} has shape {}, whose element count overflows", what, FormatList(shape));
  }
  if (*count > max_elements) {
    return MakeError("{} has {} elements, more than the limit of {} {}", what, *count,
                     max_elements, RaiseWith(kTensorElementsFlag));
  }
  return Status::Ok();
}

Expected<Tensor> Dataset::Read(const ReadLimits& limits) const {
  K2T_ASSIGN_OR_RETURN(Shape shape, ReadShape());
  K2T_ASSIGN_OR_RETURN(DType dtype, ReadDType());
  const std::string what = fmt::format("dataset '{}'", PrintableText(path_));
  K2T_RETURN_IF_ERROR(CheckElementCount(what, shape, limits.max_elements));
  const auto count = static_cast<std::uint64_t>(ElementCount(shape).value());
  // Both factors are below 2^63 and 2^4, and the element cap keeps the
  // product far from overflow unless the cap itself is raised near 2^60.
  const std::uint64_t bytes = count * DTypeSize(dtype);
  if (count > 0 && bytes / count != DTypeSize(dtype)) {
    return MakeError("{} is too large to read", what);
  }
  // Keras writes contiguous, uncompressed data, so no tensor is larger than its file.
  const std::uint64_t max_bytes =
      limits.ratio > 0 && limits.file_bytes > UINT64_MAX / limits.ratio
          ? UINT64_MAX
          : limits.file_bytes * limits.ratio;
  if (bytes > max_bytes) {
    if (limits.ratio == 1) {
      return MakeError("{} declares {} bytes, more than the file can hold ({} bytes) {}", what,
                       bytes, limits.file_bytes, RaiseWith(kDatasetRatioFlag));
    }
    return MakeError("{} declares {} bytes, more than {} times the size of its file ({} bytes) {}",
                     what, bytes, limits.ratio, limits.file_bytes, RaiseWith(kDatasetRatioFlag));
  }
  Tensor tensor(dtype, shape);
  if (count == 0) return tensor;
  Id file_type(H5Dget_type(id_.get()), H5Tclose);
  Id memory_type = MemoryType(dtype, file_type.get());
  if (H5Dread(id_.get(), memory_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.data()) < 0) {
    return MakeError("cannot read dataset '{}'; the file may be truncated", path_);
  }
  return tensor;
}

Expected<std::string> Dataset::ReadStringAttribute(const std::string& name) const {
  return ReadOneString(id_.get(), name);
}

bool Dataset::HasAttribute(const std::string& name) const {
  return H5Aexists(id_.get(), name.c_str()) > 0;
}

}  // namespace k2t::h5
