//===- tests/unit/h5_builder.h - Writing small HDF5 files for the tests ----===//
//
// The HDF5 C API, used directly as h5py uses it, so the tests control every
// detail Keras files vary in: fixed- or variable-length strings, empty lists
// stored as float64 arrays, names with '/' and ':', links.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <hdf5.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace k2t::testing {

class H5Builder {
 public:
  explicit H5Builder(const std::string& path) {
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(file_, 0) << path;
  }
  ~H5Builder() { Close(); }
  H5Builder(const H5Builder&) = delete;
  H5Builder& operator=(const H5Builder&) = delete;

  void Close() {
    if (file_ >= 0) H5Fclose(file_);
    file_ = -1;
  }

  hid_t file() const { return file_; }

  // Creates `path` and any missing groups above it.
  void Group(const std::string& path) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t group = H5Gcreate2(file_, path.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(group, 0) << path;
    H5Gclose(group);
    H5Pclose(lcpl);
  }

  // A float32 dataset; '/' in `path` creates the groups in between.
  void Floats(const std::string& path, const std::vector<hsize_t>& dims,
              const std::vector<float>& values) {
    Dataset(path, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, values.data());
  }

  void Dataset(const std::string& path, const std::vector<hsize_t>& dims, hid_t file_type,
               hid_t memory_type, const void* data, hid_t dcpl = H5P_DEFAULT) {
    hid_t space = dims.empty() ? H5Screate(H5S_SCALAR)
                               : H5Screate_simple(static_cast<int>(dims.size()), dims.data(),
                                                  nullptr);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t dataset = H5Dcreate2(file_, path.c_str(), file_type, space, lcpl, dcpl, H5P_DEFAULT);
    EXPECT_GE(dataset, 0) << path;
    if (data) {
      EXPECT_GE(H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    }
    H5Dclose(dataset);
    H5Pclose(lcpl);
    H5Sclose(space);
  }

  // Variable-length strings, as h5py 3 writes lists of bytes (ASCII) or str (UTF-8).
  void VarStrings(const std::string& object, const std::string& name,
                  const std::vector<std::string>& values, bool utf8 = false, bool scalar = false) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
    std::vector<const char*> pointers;
    for (const auto& v : values) pointers.push_back(v.c_str());
    const hsize_t count = values.size();
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nullptr);
    WriteAttribute(object, name, type, space, pointers.data());
    H5Sclose(space);
    H5Tclose(type);
  }

  // Fixed-length, NUL-padded strings, as a numpy 'S' array becomes.
  void FixedStrings(const std::string& object, const std::string& name,
                    const std::vector<std::string>& values, bool scalar = false) {
    std::size_t width = 1;
    for (const auto& v : values) width = std::max(width, v.size());
    std::vector<char> buffer(width * values.size(), '\0');
    for (std::size_t i = 0; i < values.size(); ++i) {
      std::memcpy(&buffer[i * width], values[i].data(), values[i].size());
    }
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, width);
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    const hsize_t count = values.size();
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nullptr);
    WriteAttribute(object, name, type, space, buffer.data());
    H5Sclose(space);
    H5Tclose(type);
  }

  // An empty list, the way h5py stores np.asarray([]): float64 of shape (0,).
  void EmptyFloatArray(const std::string& object, const std::string& name) {
    const hsize_t zero = 0;
    hid_t space = H5Screate_simple(1, &zero, nullptr);
    WriteAttribute(object, name, H5T_IEEE_F64LE, space, nullptr);
    H5Sclose(space);
  }

  void IntAttribute(const std::string& object, const std::string& name, int value) {
    hid_t space = H5Screate(H5S_SCALAR);
    WriteAttribute(object, name, H5T_STD_I32LE, space, &value, H5T_NATIVE_INT);
    H5Sclose(space);
  }

  void SoftLink(const std::string& target, const std::string& link) {
    EXPECT_GE(H5Lcreate_soft(target.c_str(), file_, link.c_str(), H5P_DEFAULT, H5P_DEFAULT), 0);
  }

  void ExternalLink(const std::string& file, const std::string& object, const std::string& link) {
    EXPECT_GE(H5Lcreate_external(file.c_str(), object.c_str(), file_, link.c_str(), H5P_DEFAULT,
                                 H5P_DEFAULT),
              0);
  }

  // Keras 3 layer group: `<path>/vars` holding datasets "0", "1", ...
  void V3Vars(const std::string& path, const std::vector<std::vector<hsize_t>>& shapes,
              const std::string& stored_name = "") {
    Group(path + "/vars");
    if (!stored_name.empty()) VarStrings(path + "/vars", "name", {stored_name}, true, true);
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      std::size_t count = 1;
      for (hsize_t d : shapes[i]) count *= d;
      Floats(path + "/vars/" + std::to_string(i), shapes[i], std::vector<float>(count, 1.0f));
    }
  }

 private:
  void WriteAttribute(const std::string& object, const std::string& name, hid_t type,
                      hid_t space, const void* data, hid_t memory_type = -1) {
    hid_t target = H5Oopen(file_, object.c_str(), H5P_DEFAULT);
    EXPECT_GE(target, 0) << object;
    hid_t attribute = H5Acreate2(target, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(attribute, 0) << name;
    if (data) {
      EXPECT_GE(H5Awrite(attribute, memory_type >= 0 ? memory_type : type, data), 0);
    }
    H5Aclose(attribute);
    H5Oclose(target);
  }

  hid_t file_ = -1;
};

}  // namespace k2t::testing
