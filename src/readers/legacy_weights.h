//===- readers/legacy_weights.h - Old weight layouts read as Keras 2 ones ---===//
//
// Keras 1 stored some layers' weights differently from Keras 2 (LSTM as 12
// arrays in i, c, f, o order, GRU as 9, 'th' convolution kernels as
// (filters, in, rows, cols), Conv1D kernels 4-D), Theano computed true
// convolutions, so its kernels are flipped relative to every other backend,
// and CuDNNLSTM/CuDNNGRU (Keras 2.0.9+, tf.keras 1.x) kept cuDNN's own gate
// layout. Keras 2 converted these when loading (tf-keras
// saving/legacy/hdf5_format.py preprocess_weights_for_loading and
// _convert_rnn_weights; Keras 2.2.4 engine/saving.py for the Theano flip).
// Here the same conversions produce *derived* weight references: the
// converters see Keras 2 names, shapes and order, and the tensors are
// assembled only when they are written.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>
#include <vector>

#include "readers/weight_source.h"
#include "support/json.h"

namespace k2t {

// How a derived weight is computed: its parts concatenated along their last
// axis (or added, when `sum`), then each step in turn.
struct DerivedWeight {
  struct Step {
    enum Kind { kPermute, kReshape, kFlip, kSlice } kind = kPermute;
    std::vector<int> axes;  // kPermute: the permutation; kFlip: the axes reversed
    Shape shape;            // kReshape
    int axis = 0;           // kSlice: [start, start + length) along axis
    std::int64_t start = 0;
    std::int64_t length = 0;
  };
  std::vector<WeightRef> parts;
  bool sum = false;
  std::vector<Step> steps;
};

Expected<Tensor> ReadDerived(const WeightSource& source, const WeightRef& ref);

struct LegacyWeightsContext {
  bool keras1 = false;  // the weights were written by Keras 1
  bool theano = false;  // ... by a Theano backend (kernels flipped)
  bool unknown_backend = false;  // ... by a backend the file does not record (Keras 0.x)
};

// The weights of one layer (Keras class and canonical config) as Keras 2
// would hold them after loading the file. Unchanged when nothing applies.
// cuDNN weights are recognised by their bias size, as tf-keras does: LSTM
// (8 * units,) and GRU (6 * units,), for a model that names them LSTM/GRU.
Expected<std::vector<WeightRef>> PreprocessLegacyWeights(const std::string& class_name,
                                                         const Json& config,
                                                         const LegacyWeightsContext& context,
                                                         std::vector<WeightRef> weights);

// True when Keras 1 weight names look written by Theano: TensorFlow names its
// variables "name:0", Theano keeps the bare name Keras gave.
bool LooksTheanoNamed(const std::vector<WeightRef>& weights);

}  // namespace k2t
