//===- support/json.cc - Parsing Keras's JSON -------------------------------===//
#include "support/json.h"

#include <cmath>
#include <limits>

#include "support/python_text.h"
#include "support/strings.h"

namespace k2t {
namespace {

bool MatchesAt(std::string_view text, std::size_t i, std::string_view token) {
  return text.substr(i, token.size()) == token;
}

}  // namespace

Expected<Json> ParseJson(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return MakeError("the JSON text is {} bytes, more than the limit of {} bytes", text.size(),
                     limits.max_bytes);
  }

  // One pass outside string literals: check nesting depth, quote Python's
  // non-standard number tokens.
  std::string cleaned;
  cleaned.reserve(text.size());
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
        return MakeError("the JSON text nests deeper than the limit of {} levels",
                         limits.max_depth);
      }
    }
    if (c == ']' || c == '}') --depth;
    if (MatchesAt(text, i, "NaN")) {
      cleaned += "\"NaN\"";
      i += 2;
    } else if (MatchesAt(text, i, "-Infinity")) {
      cleaned += "\"-Infinity\"";
      i += 8;
    } else if (MatchesAt(text, i, "Infinity")) {
      cleaned += "\"Infinity\"";
      i += 7;
    } else {
      cleaned.push_back(c);
    }
  }

  Json parsed = Json::parse(cleaned, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return MakeError("the JSON text is not valid JSON");
  return parsed;
}

std::optional<double> NumberValue(const Json& value) {
  if (value.is_number()) return value.get<double>();
  if (!value.is_string()) return std::nullopt;
  const auto& text = value.get_ref<const std::string&>();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
  return std::nullopt;
}

std::string Abbreviate(const Json& value, std::size_t max_length) {
  return PrintableText(value.dump(), max_length);
}

}  // namespace k2t

namespace k2t {

std::string PythonLiteral(const Json& value) {
  if (value.is_null()) return "None";
  if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
  if (value.is_number_integer()) return value.dump();
  if (value.is_number()) return PythonFloat(value.get<double>());
  if (value.is_string()) {
    // Python's own non-finite tokens were read as these strings.
    const auto number = NumberValue(value);
    if (number) return PythonFloat(*number);
    return PythonString(value.get<std::string>());
  }
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
