//===- readers/weight_source.h - Lazy access to the tensors of a model -----===//
//
// Keras stores weights in two layouts (keras-formats.md §2 and §4.4):
//
//   legacy  one group per layer, listed in order by `layer_names`, each with a
//           `weight_names` list of dataset paths (Keras 1/2, tf.keras, Keras 3 .h5)
//   v3      `<path>/vars/0, 1, ...` where <path> follows Python attribute names
//           (Keras 3 .keras and .weights.h5, tf.keras .keras)
//   keras0  `layer_0`, `layer_1`, ... with `param_0`, ... (Keras 0.x
//           save_weights), presented as the legacy layout with those names
//
// A WeightSource lists what is there (names, shapes, dtypes: header reads only)
// and reads one tensor at a time, so that conversion memory stays near the
// largest tensor. Matching these to layers is the weight binder's job.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  std::size_t part = 0;      // which of the source's files holds it (a sharded save's shard)
  Shape shape;
  DType dtype = DType::kF32;
  // Set when the tensor is computed from others (an old layout read as a
  // Keras 2 one, legacy_weights.h) instead of read from dataset_path.
  std::shared_ptr<const DerivedWeight> derived;
};

// The tensors of one model, whatever stores them: an HDF5 file (on disk, in
// memory, or mapped from inside a .keras zip), the shards of a Keras 3
// sharded save, or the binary files of a TensorFlow.js model.
class WeightSource {
 public:
  virtual ~WeightSource() = default;

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
  // A Keras 0.x file: its layers, all of them, by position only (LayerNames
  // gives "layer_0", ...), in Keras 1 layouts, by an unrecorded backend.
  bool keras0() const { return keras0_; }

  // Legacy layout.
  virtual Expected<std::vector<std::string>> LayerNames() const = 0;
  virtual Expected<std::vector<WeightRef>> LayerWeights(const std::string& layer_name) const = 0;

  // v3 layout: `path` such as "layers/dense" (no leading slash, "" for the root).
  virtual bool HasGroup(const std::string& path) const = 0;
  virtual Expected<std::vector<WeightRef>> Vars(const std::string& path) const = 0;
  virtual Expected<std::vector<std::string>> Children(const std::string& path) const = 0;
  // The layer name stored on `<path>/vars` by Keras 3.6 and later.
  virtual std::optional<std::string> VarsName(const std::string& path) const = 0;

  // The tensor `ref` names, computed from its parts when it is derived.
  Expected<Tensor> Read(const WeightRef& ref) const;

 protected:
  // Reads a tensor that the source itself stores (ref.derived is null).
  virtual Expected<Tensor> ReadStored(const WeightRef& ref) const = 0;

  WeightLayout layout_ = WeightLayout::kLegacy;
  std::string keras_version_;
  std::string backend_;
  bool keras0_ = false;
};

}  // namespace k2t
