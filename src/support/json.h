//===- support/json.h - Parsing Keras's JSON, which is Python's JSON --------===//
//
// Python's json module writes NaN, Infinity and -Infinity as bare tokens, and
// Keras never turns that off, so configs may contain them. They are read here
// as floating-point numbers (NaN, +inf, -inf); the same words inside quotes
// stay strings. Nesting depth and size are bounded before parsing so a hostile
// file cannot exhaust the stack or memory.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "support/error.h"

namespace k2t {

using Json = nlohmann::json;

struct JsonLimits {
  std::size_t max_bytes = std::size_t{1} << 30;  // 1 GiB of text
  int max_depth = 512;
};

Expected<Json> ParseJson(std::string_view text, const JsonLimits& limits = {});

// The value as a double when it is a number (NaN and infinities included).
std::optional<double> NumberValue(const Json& value);

// Short one-line rendering of a config value for messages, with non-finite
// numbers written as Python writes them (NaN, Infinity, -Infinity).
std::string Abbreviate(const Json& value, std::size_t max_length = 80);

}  // namespace k2t

namespace k2t {

// The JSON value as a Python literal (None/True/False, escaped strings, lists,
// dicts with string keys); safe to paste into generated code.
std::string PythonLiteral(const Json& value);

// The same, laid out over several lines (one item per line, nested by four
// spaces) when it would not fit in `width` columns at `indent`.
std::string PythonLiteralBlock(const Json& value, std::size_t indent, std::size_t width = 100);

}  // namespace k2t
