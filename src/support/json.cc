//===- support/json.cc - Parsing Keras's JSON -------------------------------===//
#include "support/json.h"

#include <cmath>
#include <limits>
#include <vector>

#include "support/limits.h"
#include "support/python_text.h"
#include "support/strings.h"

namespace k2t {
namespace {

bool MatchesAt(std::string_view text, std::size_t i, std::string_view token) {
  return text.substr(i, token.size()) == token;
}

// Python's bare tokens are rewritten as these strings before nlohmann parses
// the text, then turned into numbers by the parser callback. A leading NUL
// keeps them apart from the strings "NaN" or "Infinity" a config may hold; no
// Keras file has a string that starts with NUL.
constexpr std::string_view kNanMarker = "\\u0000NaN";
constexpr std::string_view kInfinityMarker = "\\u0000Infinity";
constexpr std::string_view kMinusInfinityMarker = "\\u0000-Infinity";

std::optional<double> MarkerValue(const std::string& text) {
  if (text.empty() || text[0] != '\0') return std::nullopt;
  const std::string_view rest = std::string_view(text).substr(1);
  if (rest == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (rest == "Infinity") return std::numeric_limits<double>::infinity();
  if (rest == "-Infinity") return -std::numeric_limits<double>::infinity();
  return std::nullopt;
}

// One-line JSON that never throws: invalid UTF-8 (possible in strings that
// did not come from the parser) is replaced rather than refused.
std::string SafeDump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Non-finite numbers written as Python writes them, for messages.
std::string PythonJsonDump(const Json& value) {
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (std::isnan(number)) return "NaN";
    if (std::isinf(number)) return number > 0 ? "Infinity" : "-Infinity";
    return SafeDump(value);
  }
  if (value.is_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (i > 0) out += ",";
      out += PythonJsonDump(value[i]);
    }
    return out + "]";
  }
  if (value.is_object()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, item] : value.items()) {
      if (!first) out += ",";
      first = false;
      out += SafeDump(Json(key)) + ":" + PythonJsonDump(item);
    }
    return out + "}";
  }
  return SafeDump(value);
}

}  // namespace

Expected<Json> ParseJson(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return MakeError("the JSON text is {} bytes, more than the limit of {} bytes {}", text.size(),
                     limits.max_bytes, RaiseWith(kJsonBytesFlag));
  }

  // One pass outside string literals: check nesting depth, mark Python's
  // non-standard number tokens.
  std::string cleaned;
  cleaned.reserve(text.size());
  std::vector<std::size_t> markers;  // where each marker starts in `cleaned`
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      cleaned.push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        cleaned.push_back(text[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '[' || c == '{') {
      if (++depth > limits.max_depth) {
        return MakeError("the JSON text nests deeper than the limit of {} levels {}",
                         limits.max_depth, RaiseWith(kJsonDepthFlag));
      }
    }
    if (c == ']' || c == '}') --depth;
    if (MatchesAt(text, i, "NaN")) {
      markers.push_back(cleaned.size());
      cleaned += fmt::format("\"{}\"", kNanMarker);
      i += 2;
    } else if (MatchesAt(text, i, "-Infinity")) {
      markers.push_back(cleaned.size());
      cleaned += fmt::format("\"{}\"", kMinusInfinityMarker);
      i += 8;
    } else if (MatchesAt(text, i, "Infinity")) {
      markers.push_back(cleaned.size());
      cleaned += fmt::format("\"{}\"", kInfinityMarker);
      i += 7;
    } else {
      cleaned.push_back(c);
    }
  }

  // The markers become numbers; as object keys they are not JSON at all.
  bool marker_key = false;
  const Json::parser_callback_t to_numbers = [&marker_key](int, Json::parse_event_t event,
                                                           Json& parsed) {
    if (!parsed.is_string()) return true;
    const auto number = MarkerValue(parsed.get_ref<const std::string&>());
    if (!number) return true;
    if (event == Json::parse_event_t::key) {
      marker_key = true;
    } else if (event == Json::parse_event_t::value) {
      parsed = *number;
    }
    return true;
  };
  Json parsed;
  try {
    parsed = Json::parse(cleaned, to_numbers);
  } catch (const Json::parse_error& e) {
    // The position in the text as given: each marker is 8 bytes longer than its token.
    std::size_t byte = e.byte;
    for (std::size_t start : markers) {
      if (start < e.byte) byte -= 8;
    }
    return MakeError("the JSON text is not valid JSON (error at byte {})", byte);
  } catch (const Json::exception&) {
    return MakeError("the JSON text is not valid JSON");
  }
  if (marker_key) return MakeError("the JSON text is not valid JSON (NaN or Infinity as a key)");
  return parsed;
}

std::optional<double> NumberValue(const Json& value) {
  if (value.is_number()) return value.get<double>();
  return std::nullopt;
}

std::string Abbreviate(const Json& value, std::size_t max_length) {
  return PrintableText(PythonJsonDump(value), max_length);
}

}  // namespace k2t

namespace k2t {

std::string PythonLiteral(const Json& value) {
  if (value.is_null()) return "None";
  if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
  if (value.is_number_integer()) return value.dump();
  if (value.is_number()) return PythonFloat(value.get<double>());
  if (value.is_string()) return PythonString(value.get<std::string>());
  std::string out;
  if (value.is_array()) {
    out = "[";
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (i > 0) out += ", ";
      out += PythonLiteral(value[i]);
    }
    return out + "]";
  }
  out = "{";
  bool first = true;
  for (const auto& [key, item] : value.items()) {
    if (!first) out += ", ";
    first = false;
    out += PythonString(key) + ": " + PythonLiteral(item);
  }
  return out + "}";
}

std::string PythonLiteralBlock(const Json& value, std::size_t indent, std::size_t width) {
  const std::string flat = PythonLiteral(value);
  if (indent + flat.size() + 1 <= width) return flat;
  const std::string pad(indent + 4, ' ');
  if (value.is_string()) return "(\n" + pad + WrappedPythonString(value.get<std::string>(), indent + 4, width) + "\n" + std::string(indent, ' ') + ")";
  if (!value.is_array() && !value.is_object()) return flat;
  std::string out = value.is_array() ? "[\n" : "{\n";
  if (value.is_array()) {
    for (const Json& item : value) out += pad + PythonLiteralBlock(item, indent + 4, width) + ",\n";
  } else {
    for (const auto& [key, item] : value.items()) {
      const std::string head = PythonString(key) + ": ";
      out += pad + head + PythonLiteralBlock(item, indent + 4, width) + ",\n";
    }
  }
  return out + std::string(indent, ' ') + (value.is_array() ? "]" : "}");
}

}  // namespace k2t
