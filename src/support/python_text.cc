//===- support/python_text.cc - The one sanitizer for generated Python ------===//
#include "support/python_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "support/strings.h"

namespace k2t {
namespace {

bool IsReserved(const std::string& name) {
  // Python keywords and soft keywords, the names generated code itself uses,
  // and nn.Module attributes that a submodule attribute would shadow.
  static const std::set<std::string> reserved = {
      "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
      "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
      "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
      "try", "while", "with", "yield", "match", "case", "type", "print", "self", "torch", "nn",
      "F", "math", "Path", "load_model", "load_file", "super", "object", "len", "range", "int",
      "float", "str", "list", "tuple", "dict", "set", "bool", "max", "min", "sum", "abs",
      "any", "all", "zip", "enumerate", "isinstance", "getattr", "setattr", "round", "pow",
      "map", "filter", "slice", "sorted", "reversed", "Ellipsis", "NotImplementedError",
      "forward", "training", "eval", "train", "state_dict", "load_state_dict", "parameters",
      "buffers", "children", "modules", "named_parameters", "named_buffers", "named_children",
      "named_modules", "apply", "cuda", "cpu", "to", "half", "double", "zero_grad",
      "register_buffer", "register_parameter", "register_module", "add_module", "get_submodule",
      "get_parameter", "get_buffer", "extra_repr", "share_memory", "requires_grad_",
      "dump_patches", "call_super_init", "compile", "ipu", "xpu", "mtia", "bfloat16",
      "to_empty", "get_extra_state", "set_extra_state", "register_forward_hook",
      "register_forward_pre_hook", "register_full_backward_hook", "register_backward_hook",
      "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
      "register_state_dict_pre_hook", "register_load_state_dict_pre_hook",
      "register_state_dict_post_hook", "set_submodule", "T_destination",
  };
  return reserved.count(name) > 0;
}

// The code point at text[i] and its length in bytes; U+FFFD for an invalid byte.
std::uint32_t DecodeUtf8(std::string_view text, std::size_t i, std::size_t* length) {
  const auto lead = static_cast<unsigned char>(text[i]);
  std::size_t n = 0;
  std::uint32_t code = 0;
  if ((lead & 0xE0) == 0xC0) {
    n = 2;
    code = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    n = 3;
    code = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    n = 4;
    code = lead & 0x07;
  }
  *length = 1;
  if (n == 0 || i + n > text.size()) return 0xFFFD;
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(text[i + k]);
    if ((c & 0xC0) != 0x80) return 0xFFFD;
    code = (code << 6) | (c & 0x3F);
  }
  // Overlong forms, surrogates and out-of-range values are not valid UTF-8.
  const std::uint32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < minimum[n] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0xFFFD;
  *length = n;
  return code;
}

std::uint32_t Fnv1a(std::string_view text) {
  std::uint32_t hash = 2166136261u;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619u;
  }
  return hash;
}

}  // namespace

std::string PythonIdentifier(std::string_view text, std::string_view fallback) {
  std::string out;
  bool last_underscore = false;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool word = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9');
    if (word) {
      out.push_back(c);
      last_underscore = false;
    } else if (!last_underscore && !out.empty()) {
      out.push_back('_');
      last_underscore = true;
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.empty()) out = std::string(fallback);
  if (out[0] >= '0' && out[0] <= '9') out = std::string(fallback) + "_" + out;
  if (out.size() > 60) out = out.substr(0, 51) + fmt::format("_{:08x}", Fnv1a(text));
  if (IsReserved(out)) out += "_";
  return out;
}

std::string UniqueIdentifier(const std::string& name, std::set<std::string>& taken) {
  std::string candidate = name;
  for (int k = 2; taken.count(candidate); ++k) candidate = name + "_" + std::to_string(k);
  taken.insert(candidate);
  return candidate;
}

std::string PythonString(std::string_view text) {
  // Always a plain ASCII str literal: printable ASCII as is, everything else
  // as an escape of its code point, invalid UTF-8 bytes as U+FFFD. Being a
  // single literal, it can be split and concatenated implicitly.
  std::string out = "\"";
  std::size_t i = 0;
  while (i < text.size()) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u == '"' || u == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(u));
      ++i;
    } else if (u >= 0x20 && u < 0x7F) {
      out.push_back(static_cast<char>(u));
      ++i;
    } else if (u == '\n') {
      out += "\\n";
      ++i;
    } else if (u == '\t') {
      out += "\\t";
      ++i;
    } else if (u < 0x80) {
      out += fmt::format("\\x{:02x}", u);
      ++i;
    } else {
      std::size_t length = 0;
      const std::uint32_t code = DecodeUtf8(text, i, &length);
      out += code <= 0xFFFF ? fmt::format("\\u{:04x}", code) : fmt::format("\\U{:08x}", code);
      i += length;
    }
  }
  out.push_back('"');
  return out;
}

std::string WrappedPythonString(std::string_view text, std::size_t indent, std::size_t width) {
  const std::string whole = PythonString(text);
  if (indent + whole.size() <= width) return whole;
  // Cut the text (not the literal) into pieces whose literals fit, at code
  // point boundaries, and let Python concatenate the adjacent literals.
  std::vector<std::string> pieces;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = start;
    std::string literal = "\"\"";
    while (end < text.size()) {
      std::size_t length = 1;
      if (static_cast<unsigned char>(text[end]) >= 0x80) DecodeUtf8(text, end, &length);
      const std::string next = PythonString(text.substr(start, end + length - start));
      if (indent + next.size() > width && end > start) break;
      literal = next;
      end += length;
    }
    // Prefer to break after a space, if one lies in the second half.
    const std::size_t space = text.rfind(' ', end - 1);
    if (end < text.size() && space != std::string_view::npos && space > start + (end - start) / 2) {
      end = space + 1;
      literal = PythonString(text.substr(start, end - start));
    }
    pieces.push_back(literal);
    start = end;
  }
  const std::string pad(indent, ' ');
  std::string out = pieces[0];
  for (std::size_t k = 1; k < pieces.size(); ++k) out += "\n" + pad + pieces[k];
  return out;
}

std::string DocstringText(std::string_view text, std::size_t indent, std::size_t width) {
  const std::size_t room = width > indent + 8 ? width - indent : 8;
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    // Break at the last space that keeps the escaped line within `room`.
    while (true) {
      std::string escaped = PythonString(line);
      escaped = escaped.substr(1, escaped.size() - 2);
      const std::size_t space = line.rfind(' ', std::min(line.size(), room));
      if (escaped.size() <= room || space == std::string_view::npos || space == 0) {
        lines.push_back(escaped);
        break;
      }
      std::string head = PythonString(line.substr(0, space));
      lines.push_back(head.substr(1, head.size() - 2));
      line = line.substr(space + 1);
    }
    start = end + 1;
  }
  const std::string pad(indent, ' ');
  std::string out;
  for (std::size_t k = 0; k < lines.size(); ++k) {
    if (k > 0) out += lines[k].empty() ? "\n" : "\n" + pad;
    out += lines[k];
  }
  return out;
}

std::string PythonFloat(double value) {
  if (std::isnan(value)) return "float(\"nan\")";
  if (std::isinf(value)) return value > 0 ? "float(\"inf\")" : "float(\"-inf\")";
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

std::string CommentText(std::string_view text, std::size_t max_length) {
  return PrintableText(text, max_length);
}

std::string PythonClassName(std::string_view text, std::string_view fallback) {
  std::string out;
  bool upper_next = true;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool alnum = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9');
    if (!alnum) {
      upper_next = true;
      continue;
    }
    out.push_back(upper_next && u >= 'a' && u <= 'z' ? static_cast<char>(u - 32) : c);
    upper_next = false;
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out = std::string(fallback) + out;
  if (out.size() > 60) out = out.substr(0, 51) + fmt::format("{:08x}", Fnv1a(text));
  if (IsReserved(out) || out == "Module" || out == "Tensor" || out == "Linear") out += "Model";
  return out;
}

}  // namespace k2t
