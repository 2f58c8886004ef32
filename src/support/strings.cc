//===- support/strings.cc - Small string helpers ----------------------------===//
#include "support/strings.h"

#include <fmt/format.h>

#include <cctype>

namespace k2t {
namespace {

// Length of the UTF-8 sequence starting at text[i], or 0 if it is invalid.
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  std::size_t length = 0;
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) length = 2;
  if ((lead & 0xF0) == 0xE0) length = 3;
  if ((lead & 0xF8) == 0xF0) length = 4;
  if (length == 0 || i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 0;
  }
  return length;
}

}  // namespace

std::string PrintableText(std::string_view text, std::size_t max_length) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size() && out.size() < max_length) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t length = Utf8SequenceLength(text, i);
    if (length > 1) {
      out.append(text.substr(i, length));
      i += length;
      continue;
    }
    if (length == 1 && c >= 0x20 && c != 0x7F) {
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
    ++i;
  }
  if (i < text.size()) out += "...";
  return out;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

bool IsPlainFileName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\\:\0", 4)) == std::string_view::npos;
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

std::string FormatShape(const std::vector<std::int64_t>& dims, bool first_is_batch) {
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i == 0 && first_is_batch) {
      parts.emplace_back("N");
    } else if (dims[i] < 0) {
      parts.emplace_back("?");
    } else {
      parts.push_back(std::to_string(dims[i]));
    }
  }
  if (parts.size() == 1) return "(" + parts[0] + ",)";
  return "(" + Join(parts, ", ") + ")";
}

std::string FormatList(const std::vector<std::int64_t>& values) {
  std::vector<std::string> parts;
  for (auto v : values) parts.push_back(std::to_string(v));
  return "[" + Join(parts, ", ") + "]";
}

std::string KerasSnakeCase(std::string_view class_name) {
  // Keras applies two regular expressions: "(.)([A-Z][a-z]+)" -> "\1_\2", then
  // "([a-z])([A-Z])" -> "\1_\2", then lowercases. Both are reproduced here.
  std::string first;
  const std::size_t n = class_name.size();
  for (std::size_t i = 0; i < n; ++i) {
    const char c = class_name[i];
    const bool starts_word =
        i > 0 && std::isupper(static_cast<unsigned char>(c)) && i + 1 < n &&
        std::islower(static_cast<unsigned char>(class_name[i + 1]));
    if (starts_word) first.push_back('_');
    first.push_back(c);
  }
  std::string second;
  for (std::size_t i = 0; i < first.size(); ++i) {
    const char c = first[i];
    if (i > 0 && std::isupper(static_cast<unsigned char>(c)) &&
        std::islower(static_cast<unsigned char>(first[i - 1]))) {
      second.push_back('_');
    }
    second.push_back(c);
  }
  for (char& c : second) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return second;
}

}  // namespace k2t
