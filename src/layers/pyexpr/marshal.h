//===- layers/pyexpr/marshal.h - Python's marshal format, read as data ------===//
//
// Keras saves the function of a Lambda layer as `marshal.dumps(f.__code__)`,
// CPython's own serialization of a code object. This reader turns those bytes
// into plain data and never runs anything. Every read is bounds-checked;
// nesting is limited; and every object counts once per reference to it, so
// that shared sub-objects (marshal's back-references) cannot make a later
// walk over the tree exponential.
//
// A code object's fields depend on the Python version that wrote it:
//
//   3.0-3.7   argcount kwonlyargcount nlocals stacksize flags code consts
//             names varnames freevars cellvars filename name firstlineno lnotab
//   3.8-3.10  the same with posonlyargcount after argcount
//   3.11+     argcount posonlyargcount kwonlyargcount stacksize flags code
//             consts names localsplusnames localspluskinds filename name
//             qualname firstlineno linetable exceptiontable
//
// The bytes do not say which; the reader tries each layout on the outermost
// code object, keeps the one whose fields all have the expected types and
// use up the input exactly, and reads nested code objects the same way.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/error.h"

namespace k2t::pyexpr {

enum class PyType : std::uint8_t {
  kNone,
  kBool,
  kEllipsis,
  kStopIteration,
  kInt,
  kBigInt,  // an int beyond 64 bits: only its sign and size are kept
  kFloat,
  kComplex,
  kBytes,
  kStr,
  kTuple,
  kList,
  kDict,
  kSet,
  kFrozenSet,
  kCode,
};

struct CodeObject;

struct PyObject {
  PyType type = PyType::kNone;
  bool boolean = false;
  std::int64_t integer = 0;
  double real = 0.0;
  double imag = 0.0;
  std::string text;  // bytes as stored; str as UTF-8 (invalid sequences kept as they are)
  // Tuple, list and set items; a dict's keys and values alternate.
  std::vector<std::shared_ptr<const PyObject>> items;
  std::shared_ptr<const CodeObject> code;
  // Objects in the tree below and including this one, a shared object
  // counted at each place it appears.
  std::size_t size = 1;
};
using PyRef = std::shared_ptr<const PyObject>;

enum class CodeLayout { kPy30To37, kPy38To310, kPy311Plus };

// Bits of CodeObject::flags that matter here.
inline constexpr std::uint32_t kCoVarargs = 0x04;
inline constexpr std::uint32_t kCoVarkeywords = 0x08;
inline constexpr std::uint32_t kCoGenerator = 0x20;
inline constexpr std::uint32_t kCoCoroutine = 0x80;
inline constexpr std::uint32_t kCoIterableCoroutine = 0x100;
inline constexpr std::uint32_t kCoAsyncGenerator = 0x200;

struct CodeObject {
  CodeLayout layout = CodeLayout::kPy311Plus;
  int argcount = 0;
  int posonlyargcount = 0;
  int kwonlyargcount = 0;
  int nlocals = 0;
  int stacksize = 0;
  std::uint32_t flags = 0;
  std::string code;  // the bytecode
  std::vector<PyRef> consts;
  std::vector<std::string> names;     // globals and attributes
  std::vector<std::string> varnames;  // parameters first, then other locals
  std::vector<std::string> freevars;  // closure variables, in __closure__ order
  std::vector<std::string> cellvars;
  // 3.11+: every fast slot (locals, cells, free variables) and its kind bits;
  // LOAD_FAST and LOAD_DEREF index this table there.
  std::vector<std::string> localsplusnames;
  std::string localspluskinds;
  std::string filename;
  std::string name;
  std::string qualname;  // 3.11+ only
  int firstlineno = 0;
};

struct MarshalLimits {
  std::size_t max_bytes = std::size_t{1} << 22;  // 4 MiB of marshalled data
  int max_depth = 100;                           // containers inside containers
  std::size_t max_objects = std::size_t{1} << 18;
};

// Reads one object that must span all of `bytes`.
Expected<PyRef> ReadMarshal(std::string_view bytes, const MarshalLimits& limits = {});

// Reads a code object (the form Keras stores), or says what was found instead.
Expected<std::shared_ptr<const CodeObject>> ReadCodeObject(std::string_view bytes,
                                                           const MarshalLimits& limits = {});

// A short Python-like rendering of a constant for disassembly listings:
// 255.0, 'name', (1, 2), <code object f>. Bounded by `max_length`.
std::string Repr(const PyObject& object, std::size_t max_length = 80);

// The decimal form of a Python float as repr() writes it (1e-07, 0.5, inf).
std::string FloatRepr(double value);

}  // namespace k2t::pyexpr
