//===- readers/sharded_weights.h - Keras 3 weights saved in shards --------===//
//
// model.save_weights("x.weights.json", max_shard_size=...) writes a JSON index
// and HDF5 shards beside it (x_00000.weights.h5, ...). Each shard holds part
// of the v3 tree; the index's weight_map sends each variables group
// ("/layers/dense/vars") to the shard or shards holding its datasets. Keras
// never splits one tensor, but it does split a group: when a shard fills up
// between two variables of a layer, vars/0 and vars/1 land in different
// shards and the group is listed with both.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <memory>
#include <string>

#include "readers/weight_source.h"
#include "support/json.h"

namespace k2t {

// Weights in the shards that the index at `index_path` (already parsed into
// `index`) lists; shards are looked for in the index's directory only.
Expected<std::unique_ptr<WeightSource>> OpenShardedWeights(const std::string& index_path,
                                                           const Json& index,
                                                           const Limits& limits = {});

}  // namespace k2t
