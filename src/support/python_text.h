//===- support/python_text.h - The one sanitizer for generated Python ------===//
//
// Everything read from a model file that reaches generated code goes through
// here: identifiers become valid, non-keyword, non-clashing Python names;
// strings become escaped ASCII literals; comments lose their line breaks.
// Generated code therefore stays valid and inert whatever a file contains.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace k2t {

// A valid Python identifier derived from `text`: letters, digits and '_'
// only, not starting with a digit or '_', not a keyword or builtin we use,
// at most 60 characters (longer names keep a hash of the rest).
std::string PythonIdentifier(std::string_view text, std::string_view fallback = "layer");

// Makes `name` unique within `taken` by appending _2, _3, ...; records it.
std::string UniqueIdentifier(const std::string& name, std::set<std::string>& taken);

// A double-quoted ASCII Python str literal of `text` (UTF-8), every other
// character escaped.
std::string PythonString(std::string_view text);

// The same, split into adjacent literals so that no line is longer than
// `width` when the continuation lines are indented by `indent`.
std::string WrappedPythonString(std::string_view text, std::size_t indent,
                                std::size_t width = 100);

// Text for the inside of a """docstring""": every line escaped as in
// PythonString (so quotes, backslashes and other characters cannot end or
// change it), lines longer than `width` broken at spaces, and every line after
// the first indented by `indent` spaces.
std::string DocstringText(std::string_view text, std::size_t indent, std::size_t width = 100);

// A Python float literal that round-trips (inf and nan as float('inf') etc.).
std::string PythonFloat(double value);

// Text for a "# ..." comment: one line, printable, bounded.
std::string CommentText(std::string_view text, std::size_t max_length = 120);

// A class name: CamelCase identifier, never clashing with torch names we use.
std::string PythonClassName(std::string_view text, std::string_view fallback = "Model");

}  // namespace k2t
