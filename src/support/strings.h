//===- support/strings.h - Small string helpers -----------------------------===//
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace k2t {

// Text from a model file, made safe to show on one terminal line: control
// characters and invalid UTF-8 become escapes, and very long text is cut.
std::string PrintableText(std::string_view text, std::size_t max_length = 200);

bool StartsWith(std::string_view text, std::string_view prefix);
bool EndsWith(std::string_view text, std::string_view suffix);
std::vector<std::string> Split(std::string_view text, char separator);
std::string Join(const std::vector<std::string>& parts, std::string_view separator);

// A file name with no directory part ("a.bin", not "../a.bin", "/a.bin",
// "C:a.bin"): what a file from a stranger may name beside itself.
bool IsPlainFileName(std::string_view name);

// "(N, 32, 26, 26)": batch shown as N, unknown sizes as '?'.
std::string FormatShape(const std::vector<std::int64_t>& dims, bool first_is_batch = true);
// "[1, 2, 3]" for lists of integers in messages.
std::string FormatList(const std::vector<std::int64_t>& values);

// Keras's to_snake_case: "Conv2DTranspose" -> "conv2d_transpose", used to
// compute the container paths of a Keras 3 weights file.
std::string KerasSnakeCase(std::string_view class_name);

}  // namespace k2t
