//===- layers/config_reader.cc - Typed access to a layer's config -----------===//
#include "layers/config_reader.h"

namespace k2t::layers {
namespace {

const Json& NullJson() {
  static const Json null;
  return null;
}

}  // namespace

bool ConfigReader::Has(const std::string& key) const {
  return config_.is_object() && config_.contains(key);
}

bool ConfigReader::IsNull(const std::string& key) const { return !Has(key) || Raw(key).is_null(); }

const Json& ConfigReader::Raw(const std::string& key) const {
  if (!Has(key)) return NullJson();
  return config_[key];
}

Expected<std::int64_t> ConfigReader::Int(const std::string& key) const {
  const Json& value = Raw(key);
  if (value.is_number_integer()) return value.get<std::int64_t>();
  // Keras sometimes stores integral floats ("units": 64.0) after arithmetic.
  if (value.is_number_float() && value.get<double>() == static_cast<double>(static_cast<std::int64_t>(value.get<double>()))) {
    return static_cast<std::int64_t>(value.get<double>());
  }
  if (!Has(key)) return MakeError("config has no '{}'", key);
  return MakeError("'{}' must be an integer, found {}", key, Abbreviate(value));
}

Expected<std::int64_t> ConfigReader::Int(const std::string& key, std::int64_t fallback) const {
  if (IsNull(key)) return fallback;
  return Int(key);
}

Expected<double> ConfigReader::Float(const std::string& key, double fallback) const {
  if (IsNull(key)) return fallback;
  const auto number = NumberValue(Raw(key));
  if (!number) return MakeError("'{}' must be a number, found {}", key, Abbreviate(Raw(key)));
  return *number;
}

Expected<std::optional<double>> ConfigReader::OptionalFloat(const std::string& key) const {
  if (IsNull(key)) return std::optional<double>();
  const auto number = NumberValue(Raw(key));
  if (!number) return MakeError("'{}' must be a number, found {}", key, Abbreviate(Raw(key)));
  return std::optional<double>(*number);
}

Expected<bool> ConfigReader::Bool(const std::string& key, bool fallback) const {
  if (IsNull(key)) return fallback;
  const Json& value = Raw(key);
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number_integer()) return value.get<std::int64_t>() != 0;
  return MakeError("'{}' must be true or false, found {}", key, Abbreviate(value));
}

Expected<std::string> ConfigReader::String(const std::string& key,
                                           const std::string& fallback) const {
  if (IsNull(key)) return fallback;
  const Json& value = Raw(key);
  if (value.is_string()) return value.get<std::string>();
  return MakeError("'{}' must be a string, found {}", key, Abbreviate(value));
}

Expected<std::vector<std::int64_t>> ConfigReader::IntTuple(
    const std::string& key, std::size_t count, std::optional<std::int64_t> fallback) const {
  if (IsNull(key)) {
    if (fallback) return std::vector<std::int64_t>(count, *fallback);
    return MakeError("config has no '{}'", key);
  }
  const Json& value = Raw(key);
  if (value.is_number_integer()) return std::vector<std::int64_t>(count, value.get<std::int64_t>());
  if (value.is_array() && value.size() == count) {
    std::vector<std::int64_t> out;
    for (const Json& item : value) {
      if (!item.is_number_integer()) break;
      out.push_back(item.get<std::int64_t>());
    }
    if (out.size() == count) return out;
  }
  return MakeError("'{}' must be an integer or {} integers, found {}", key, count,
                   Abbreviate(value));
}

Expected<std::vector<std::int64_t>> ConfigReader::IntList(const std::string& key) const {
  const Json& value = Raw(key);
  if (value.is_number_integer()) return std::vector<std::int64_t>{value.get<std::int64_t>()};
  if (!value.is_array()) return MakeError("'{}' must be a list of integers, found {}", key, Abbreviate(value));
  std::vector<std::int64_t> out;
  for (const Json& item : value) {
    if (!item.is_number_integer()) {
      return MakeError("'{}' must be a list of integers, found {}", key, Abbreviate(value));
    }
    out.push_back(item.get<std::int64_t>());
  }
  return out;
}

Expected<bool> ConfigReader::ChannelsLast() const {
  K2T_ASSIGN_OR_RETURN(std::string format, String("data_format", "channels_last"));
  if (format == "channels_last") return true;
  if (format == "channels_first") return false;
  return MakeError("'data_format' must be channels_last or channels_first, found '{}'", format);
}

}  // namespace k2t::layers
