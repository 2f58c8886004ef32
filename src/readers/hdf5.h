//===- readers/hdf5.h - A small RAII layer over HDF5's C library ----------===//
//
// Keras files are written by many h5py versions, so everything here is lenient
// in what it accepts: strings fixed or variable length, scalar or 1-D, empty
// lists stored as empty float arrays, lists split over numbered attributes.
// Object paths are always given as strings and resolved by HDF5 itself,
// because Keras weight names contain '/' and ':' (see keras-formats.md §1).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/error.h"
#include "support/tensor.h"

namespace k2t::h5 {

// Owns one HDF5 identifier and closes it with the matching H5*close.
class Id {
 public:
  Id() = default;
  Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Id(Id&& other) noexcept { *this = std::move(other); }
  Id& operator=(Id&& other) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id();

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// What one dataset read may allocate.
struct ReadLimits {
  std::uint64_t file_bytes = 0;  // the size of the file holding the dataset
  std::uint64_t ratio = 1;       // the dataset may hold up to ratio * file_bytes
  std::int64_t max_elements = std::int64_t{1} << 32;
};

// Checks a declared shape before anything is allocated for it: the element
// count must not overflow and must stay within `max_elements`.
Status CheckElementCount(const std::string& what, const Shape& shape,
                         std::int64_t max_elements);

class Dataset {
 public:
  Dataset(Id id, std::string path) : id_(std::move(id)), path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  Expected<Shape> ReadShape() const;
  Expected<DType> ReadDType() const;
  // Reads the whole dataset, after checking what its header declares against
  // `limits`, so that a corrupt or hostile header allocates nothing.
  Expected<Tensor> Read(const ReadLimits& limits) const;
  Expected<std::string> ReadStringAttribute(const std::string& name) const;
  bool HasAttribute(const std::string& name) const;

 private:
  Id id_;
  std::string path_;
};

class Group {
 public:
  Group(Id id, std::string path) : id_(std::move(id)), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  bool HasAttribute(const std::string& name) const;
  Expected<std::string> ReadStringAttribute(const std::string& name) const;
  // A list of strings, joined from `name0`, `name1`, ... when Keras split it.
  Expected<std::vector<std::string>> ReadStringListAttribute(const std::string& name) const;
  // One integer (a scalar or one-element attribute of any integer type).
  Expected<std::int64_t> ReadIntAttribute(const std::string& name) const;

  // True when `relative` names a group or dataset below this group, through
  // hard links only (the only kind Keras writes and this reader follows).
  bool Has(const std::string& relative) const;
  // True when `relative` names anything, also through soft or external links.
  bool HasLink(const std::string& relative) const;
  bool HasGroup(const std::string& relative) const;
  bool HasDataset(const std::string& relative) const;
  Expected<Group> OpenGroup(const std::string& relative) const;
  Expected<Dataset> OpenDataset(const std::string& relative) const;
  // Names of the direct children, sorted as strings.
  Expected<std::vector<std::string>> ChildNames() const;

 private:
  Id id_;
  std::string path_;
};

class File {
 public:
  static Expected<File> Open(const std::string& path);
  // Opens an HDF5 file held in memory; `data` must outlive the File.
  static Expected<File> OpenImage(const void* data, std::size_t size);

  Expected<Group> Root() const;
  std::uint64_t size() const { return size_; }

 private:
  File(Id id, std::uint64_t size) : id_(std::move(id)), size_(size) {}
  Id id_;
  std::uint64_t size_ = 0;
};

// Silences HDF5's own error printing; errors are reported through Expected.
void SilenceLibraryErrors();

}  // namespace k2t::h5
