//===- readers/model_file.h - Open any supported Keras model file ----------===//
//
// The format is recognised from the bytes, never from the extension: users
// rename files, and ".keras" files that are really HDF5 are common.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <memory>
#include <string>

#include "readers/weight_source.h"
#include "readers/zip_archive.h"
#include "support/json.h"

namespace k2t {

enum class FileFormat {
  kLegacyH5,     // model.save("m.h5"): model_config attribute + model_weights
  kKerasZip,     // model.save("m.keras"): config.json + model.weights.h5 in a zip
  kJsonConfig,   // model.to_json(), weights (if any) from a separate file
  kTfjs,         // TensorFlow.js layers model: model.json + .bin weight shards
};

std::string FormatName(FileFormat format);

struct ReadOptions {
  std::string weights_path;  // --weights: a weights file for a JSON architecture
  ZipLimits zip;
  JsonLimits json;
  Limits limits;  // the caps on weights (tensor elements, dataset sizes)
};

struct ModelFile {
  std::string path;
  FileFormat format = FileFormat::kLegacyH5;
  Json model;                // {"class_name": ..., "config": ...}
  std::string keras_version;  // as recorded by the writer, "" if unknown
  std::string backend;        // as recorded by the writer, "" if unknown
  std::unique_ptr<WeightSource> weights;  // null when the file has no weights
};

Expected<ModelFile> ReadModelFile(const std::string& path, const ReadOptions& options);

}  // namespace k2t
