//===- readers/hdf5_weights.h - Weight datasets in HDF5 files ----------------===//
//
// What the weight sources over HDF5 files (one file, or the shards of a Keras 3
// sharded save) do alike: describe a dataset as a WeightRef, with its shape
// checked against the caps where it is first seen, and read it within them.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>

#include "readers/hdf5.h"
#include "readers/weight_source.h"

namespace k2t {

// A Keras 3 variable's dataset name: "0", "1", ... (a short decimal number).
bool IsVariableIndex(const std::string& name);

// The WeightRef of `dataset`, named `name`. A hostile shape is refused here,
// long before any shape arithmetic or allocation.
Expected<WeightRef> DescribeDataset(const h5::Dataset& dataset, const std::string& name,
                                    const Limits& limits);

// Reads `dataset` of a file of `file_bytes` bytes, within the caps.
Expected<Tensor> ReadDataset(const h5::Dataset& dataset, std::uint64_t file_bytes,
                             const Limits& limits);

}  // namespace k2t
