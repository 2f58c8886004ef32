//===- layers/config_reader.h - Typed access to a layer's config -----------===//
//
// Every accessor names the key it failed on and shows the value it found, so
// that a converter's errors read "kernel_size must be 2 integers, found [3]".
//
//===----------------------------------------------------------------------===//
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "support/error.h"
#include "support/json.h"

namespace k2t::layers {

class ConfigReader {
 public:
  explicit ConfigReader(const Json& config) : config_(config) {}

  bool Has(const std::string& key) const;
  bool IsNull(const std::string& key) const;
  const Json& Raw(const std::string& key) const;

  Expected<std::int64_t> Int(const std::string& key) const;
  Expected<std::int64_t> Int(const std::string& key, std::int64_t fallback) const;
  Expected<double> Float(const std::string& key, double fallback) const;
  Expected<std::optional<double>> OptionalFloat(const std::string& key) const;
  Expected<bool> Bool(const std::string& key, bool fallback) const;
  Expected<std::string> String(const std::string& key, const std::string& fallback) const;
  // An int or a list of `count` ints ("kernel_size": 3 or [3, 3]).
  Expected<std::vector<std::int64_t>> IntTuple(const std::string& key, std::size_t count,
                                               std::optional<std::int64_t> fallback = {}) const;
  // A list of ints of any length.
  Expected<std::vector<std::int64_t>> IntList(const std::string& key) const;
  // "channels_last" (default) or "channels_first".
  Expected<bool> ChannelsLast() const;

 private:
  const Json& config_;
};

}  // namespace k2t::layers
