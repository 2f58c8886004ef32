//===- support/python_text.cc - The one sanitizer for generated Python ------===//
#include "support/python_text.h"

#include <fmt/format.h>

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
      "register_state_dict_post_hook",
  };
  return reserved.count(name) > 0;
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
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u >= 0x20 && u < 0x7F) {
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      // Bytes, not code points: the literal is ASCII and decodes to the same text.
      out += fmt::format("\\x{:02x}", u);
    }
  }
  out.push_back('"');
  // A str literal with \x escapes of UTF-8 bytes would be mojibake; mark it as
  // bytes decoded as UTF-8 when there are non-ASCII bytes.
  bool ascii = true;
  for (char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (!ascii) return "b" + out + ".decode(\"utf-8\", \"replace\")";
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
