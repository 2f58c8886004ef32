//===- readers/weight_source.h - Lazy access to the tensors of a model -----===//
//
// Keras stores weights in two layouts (keras-formats.md §2 and §4.4):
//
//   legacy  one group per layer, listed in order by `layer_names`, each with a
//           `weight_names` list of dataset paths (Keras 1/2, tf.keras, Keras 3 .h5)
//   v3      `<path>/vars/0, 1, ...` where <path> follows Python attribute names
//           (Keras 3 .keras and .weights.h5, tf.keras .keras)
//
// A WeightSource lists what is there (names, shapes, dtypes: header reads only)
// and reads one tensor at a time, so that conversion memory stays near the
// largest tensor. Matching these to layers is the weight binder's job.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "readers/hdf5.h"
#include "readers/mapped_file.h"
#include "support/error.h"
#include "support/limits.h"
#include "support/tensor.h"

namespace k2t {

enum class WeightLayout { kLegacy, kV3 };

struct DerivedWeight;

struct WeightRef {
  std::string name;          // as the file names it ("dense/kernel:0", or "0" in v3)
  std::string dataset_path;  // absolute HDF5 path of the dataset
  Shape shape;
  DType dtype = DType::kF32;
  // Set when the tensor is computed from others (an old layout read as a
  // Keras 2 one, legacy_weights.h) instead of read from dataset_path.
  std::shared_ptr<const DerivedWeight> derived;
};

class WeightSource {
 public:
  // Opens weights in an HDF5 file on disk.
  static Expected<std::unique_ptr<WeightSource>> OpenFile(const std::string& path,
                                                          const Limits& limits = {});
  // Opens weights in an HDF5 image held in memory (a .keras member); takes ownership.
  static Expected<std::unique_ptr<WeightSource>> OpenImage(std::vector<char> image,
                                                           const Limits& limits = {});
  // Opens weights stored uncompressed at `range` of a mapped file (a .keras
  // member read in place); pages are released after each tensor.
  static Expected<std::unique_ptr<WeightSource>> OpenMapped(std::shared_ptr<MappedFile> file,
                                                            ByteRange range,
                                                            const Limits& limits = {});

  WeightLayout layout() const { return layout_; }
  const std::string& keras_version() const { return keras_version_; }
  const std::string& backend() const { return backend_; }

  // Legacy layout.
  Expected<std::vector<std::string>> LayerNames() const;
  Expected<std::vector<WeightRef>> LayerWeights(const std::string& layer_name) const;

  // v3 layout: `path` such as "layers/dense" (no leading slash, "" for the root).
  bool HasGroup(const std::string& path) const;
  Expected<std::vector<WeightRef>> Vars(const std::string& path) const;
  Expected<std::vector<std::string>> Children(const std::string& path) const;
  // The layer name stored on `<path>/vars` by Keras 3.6 and later.
  std::optional<std::string> VarsName(const std::string& path) const;

  Expected<Tensor> Read(const WeightRef& ref) const;

 private:
  WeightSource(h5::File file, std::vector<char> image, const Limits& limits);
  Status Inspect();
  Expected<WeightRef> Describe(const h5::Group& group, const std::string& relative,
                               const std::string& name) const;

  std::vector<char> image_;  // declared before file_: the file may point into it
  std::shared_ptr<MappedFile> mapped_;  // likewise
  h5::File file_;
  WeightLayout layout_ = WeightLayout::kLegacy;
  std::string weights_root_ = "/";  // "/model_weights" inside a full-model file
  std::string keras_version_;
  std::string backend_;
  Limits limits_;
};

}  // namespace k2t
