//===- tests/unit/pyexpr_test_util.h - Helpers for the pyexpr tests --------===//
//
// Marshal bytes assembled by hand, and the fixtures of pyexpr_fixtures.h
// decoded and looked up by Python version and name.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "layers/lambda.h"
#include "layers/pyexpr/bytecode.h"
#include "layers/pyexpr/decompile.h"
#include "layers/pyexpr/marshal.h"
#include "pyexpr_fixtures.h"

namespace k2t::pyexpr::testing {

inline std::string I32(std::int32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((static_cast<std::uint32_t>(v) >> (8 * i)) & 0xFF);
  return out;
}

inline std::string F64(double v) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((bits >> (8 * i)) & 0xFF);
  return out;
}

// 'z' short ASCII string.
inline std::string ShortStr(std::string_view text) {
  return std::string("z") + static_cast<char>(text.size()) + std::string(text);
}

// A ')' small tuple of already-encoded items.
inline std::string SmallTuple(std::initializer_list<std::string> items) {
  std::string out = ")";
  out.push_back(static_cast<char>(items.size()));
  for (const std::string& item : items) out += item;
  return out;
}

inline std::string Bytes(std::string_view bytes) {
  return "s" + I32(static_cast<std::int32_t>(bytes.size())) + std::string(bytes);
}

// A 3.8-3.10 layout code object around `code` (wordcode), with one
// parameter `x` and the given constants and names.
inline std::string Code38(std::string_view code, const std::string& consts,
                          const std::string& names, int argcount = 1) {
  std::string out = "c";
  out += I32(argcount) + I32(0) + I32(0) + I32(1) + I32(4) + I32(0x43);
  out += Bytes(code) + consts + names;
  out += SmallTuple({ShortStr("x")});  // varnames
  out += SmallTuple({}) + SmallTuple({});  // freevars, cellvars
  out += ShortStr("<test>") + ShortStr("<lambda>") + I32(1) + Bytes("");
  return out;
}

// A 3.0-3.7 layout code object (5 leading ints).
inline std::string Code35(std::string_view code, const std::string& consts,
                          const std::string& names) {
  std::string out = "c";
  out += I32(1) + I32(0) + I32(1) + I32(4) + I32(0x43);
  out += Bytes(code) + consts + names;
  out += SmallTuple({ShortStr("x")}) + SmallTuple({}) + SmallTuple({});
  out += ShortStr("<test>") + ShortStr("<lambda>") + I32(1) + Bytes("");
  return out;
}

// The bytes of a base64 fixture (decoded as Keras decodes a Lambda's code).
inline std::string Unbase64(const char* text) {
  auto bytes = layers::LambdaCodeBytes(Json(std::string(text)));
  EXPECT_TRUE(bytes.ok());
  return bytes.ok() ? *bytes : std::string();
}

inline const fixtures::Compiled* FindCompiled(std::string_view python, std::string_view name) {
  for (const auto& f : fixtures::kCompiled) {
    if (python == f.python && name == f.name) return &f;
  }
  return nullptr;
}

inline const fixtures::FromCorpus* FindCorpus(std::string_view file_prefix) {
  for (const auto& f : fixtures::kCorpus) {
    if (std::string_view(f.file).substr(0, file_prefix.size()) == file_prefix) return &f;
  }
  return nullptr;
}

struct Decoded {
  std::shared_ptr<const CodeObject> code;
  Disassembly disassembly;
};

// Reads and disassembles a fixture, failing the test on error.
inline Decoded Decode(const char* base64) {
  Decoded out;
  auto code = ReadCodeObject(Unbase64(base64));
  EXPECT_TRUE(code.ok()) << (code.ok() ? "" : code.error().message());
  if (!code.ok()) return out;
  out.code = *code;
  auto dis = Disassemble(**code);
  EXPECT_TRUE(dis.ok()) << (dis.ok() ? "" : dis.error().message());
  if (dis.ok()) out.disassembly = *dis;
  return out;
}

// The Python versions the fixtures were compiled with.
inline std::vector<std::string> FixtureVersions() {
  std::vector<std::string> versions;
  for (const auto& f : fixtures::kCompiled) {
    if (versions.empty() || versions.back() != f.python) versions.push_back(f.python);
  }
  return versions;
}

}  // namespace k2t::pyexpr::testing
