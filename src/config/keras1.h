//===- config/keras1.h - Keras 1 layer configs in Keras 2 form --------------===//
//
// Keras 1 (1.0.8-1.2.2) named the same layers and arguments differently:
// Convolution2D(nb_filter, nb_row, nb_col, border_mode, subsample,
// dim_ordering), Dense(output_dim), Dropout(p), LSTM(inner_activation), and a
// Merge layer with a `mode`. Keras 2 read them through its legacy interface
// converters (keras 2.2.4 keras/legacy/interfaces.py); this does the same
// renaming once, at normalisation, so that converters only know Keras 2 keys.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>

#include "config/model_spec.h"
#include "support/error.h"

namespace k2t::config {

struct Keras1Layer {
  std::string class_name;  // the Keras 2 class ("Conv2D", "Add", ...)
  Json config;             // Keras 2 keys
};

// Rewrites one Keras 1 layer. `class_name` is the class as written
// ("Convolution2D", "Merge"); wrappers have their inner layer rewritten too.
// Layers with nothing to rename come back unchanged.
Expected<Keras1Layer> Keras1ToKeras2(const std::string& class_name, const Json& config,
                                     const KerasInfo& keras);

// True when a model config without a recorded version uses Keras 1 names
// (Convolution2D's nb_filter, Dense's output_dim, a Merge layer, ...).
bool UsesKeras1Dialect(const Json& model);

}  // namespace k2t::config
