//===- layers/pyexpr/marshal.cc - Python's marshal format, read as data -----===//
//
// Written from the format as Python documents and writes it: one type byte
// (bit 0x80 asks the reader to remember the object for later back-references)
// followed by a type-specific payload in little-endian order.
//
//===----------------------------------------------------------------------===//
#include "layers/pyexpr/marshal.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>

#include "support/strings.h"

namespace k2t::pyexpr {
namespace {

constexpr std::uint8_t kFlagRef = 0x80;

// Type codes of the marshal format.
constexpr char kNull = '0';
constexpr char kNoneCode = 'N';
constexpr char kFalse = 'F';
constexpr char kTrue = 'T';
constexpr char kStopIter = 'S';
constexpr char kEllipsisCode = '.';
constexpr char kInt32 = 'i';
constexpr char kInt64 = 'I';
constexpr char kLong = 'l';
constexpr char kFloatText = 'f';
constexpr char kFloatBinary = 'g';
constexpr char kComplexText = 'x';
constexpr char kComplexBinary = 'y';
constexpr char kString = 's';
constexpr char kInterned = 't';
constexpr char kRef = 'r';
constexpr char kTupleCode = '(';
constexpr char kSmallTuple = ')';
constexpr char kListCode = '[';
constexpr char kDictCode = '{';
constexpr char kCodeCode = 'c';
constexpr char kUnicode = 'u';
constexpr char kSetCode = '<';
constexpr char kFrozenSetCode = '>';
constexpr char kAscii = 'a';
constexpr char kAsciiInterned = 'A';
constexpr char kShortAscii = 'z';
constexpr char kShortAsciiInterned = 'Z';
constexpr char kStringRef = 'R';  // Python 2 only

// Appends `code` as UTF-8.
void AppendUtf8(std::uint32_t code, std::string& out) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// Marshal's "ASCII" strings are decoded as Latin-1 by Python.
std::string Latin1ToUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) AppendUtf8(static_cast<unsigned char>(c), out);
  return out;
}

std::size_t AddSizes(std::size_t a, std::size_t b) {
  return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

const char* LayoutName(CodeLayout layout) {
  switch (layout) {
    case CodeLayout::kPy30To37:
      return "3.0-3.7";
    case CodeLayout::kPy38To310:
      return "3.8-3.10";
    case CodeLayout::kPy311Plus:
      return "3.11+";
  }
  return "?";
}

class Reader {
 public:
  Reader(std::string_view data, const MarshalLimits& limits) : data_(data), limits_(limits) {}

  Expected<PyRef> ReadTop() {
    K2T_ASSIGN_OR_RETURN(PyRef object, ReadObject(0));
    if (pos_ != data_.size()) {
      return MakeError("{} byte(s) follow the marshalled object at offset {}",
                       data_.size() - pos_, pos_);
    }
    return object;
  }

 private:
  struct State {
    std::size_t pos;
    std::size_t refs;
  };

  Expected<std::uint8_t> Byte() {
    if (pos_ >= data_.size()) return MakeError("the data ends at offset {}", pos_);
    return static_cast<std::uint8_t>(data_[pos_++]);
  }

  Expected<std::string_view> Take(std::size_t n, const char* what) {
    if (n > data_.size() - pos_) {
      return MakeError("{} of {} byte(s) at offset {} runs past the end of the data ({} bytes)",
                       what, n, pos_, data_.size());
    }
    const std::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }

  Expected<std::int32_t> Int32() {
    K2T_ASSIGN_OR_RETURN(std::string_view raw, Take(4, "an integer"));
    std::uint32_t value = 0;
    for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<std::uint8_t>(raw[i]);
    return static_cast<std::int32_t>(value);
  }

  // A length or count: non-negative, and no more than the bytes left could
  // hold at `min_bytes` each, so that nothing is reserved on a lie.
  Expected<std::size_t> Count(const char* what, std::size_t min_bytes) {
    const std::size_t at = pos_;
    K2T_ASSIGN_OR_RETURN(std::int32_t n, Int32());
    if (n < 0) return MakeError("{} has a negative length {} at offset {}", what, n, at);
    const std::size_t count = static_cast<std::size_t>(n);
    if (count > (data_.size() - pos_) / min_bytes) {
      return MakeError("{} of length {} at offset {} is longer than the data left", what, count,
                       at);
    }
    return count;
  }

  Expected<double> Double() {
    K2T_ASSIGN_OR_RETURN(std::string_view raw, Take(8, "a float"));
    std::uint64_t bits = 0;
    for (int i = 7; i >= 0; --i) bits = (bits << 8) | static_cast<std::uint8_t>(raw[i]);
    double value = 0.0;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }

  Expected<double> FloatText() {
    K2T_ASSIGN_OR_RETURN(std::uint8_t n, Byte());
    K2T_ASSIGN_OR_RETURN(std::string_view text, Take(n, "a float's text"));
    const std::string copy(text);
    if (copy == "inf" || copy == "+inf") return HUGE_VAL;
    if (copy == "-inf") return -HUGE_VAL;
    if (copy == "nan" || copy == "-nan" || copy == "+nan") return std::nan("");
    double value = 0.0;
    const auto result = std::from_chars(copy.data(), copy.data() + copy.size(), value);
    if (result.ec != std::errc() || result.ptr != copy.data() + copy.size()) {
      return MakeError("float text '{}' is not a number", PrintableText(copy, 40));
    }
    return value;
  }

  PyRef Make(PyObject object) { return std::make_shared<const PyObject>(std::move(object)); }

  // Remembers `object` at `slot` (reserved earlier) or at the end.
  void Remember(std::optional<std::size_t> slot, const PyRef& object) {
    if (slot) refs_[*slot] = object;
  }

  std::optional<std::size_t> Reserve(bool flag) {
    if (!flag) return std::nullopt;
    refs_.push_back(nullptr);
    return refs_.size() - 1;
  }

  Status CheckSize(std::size_t size) {
    if (size > limits_.max_objects) {
      return MakeError("the data holds more than {} objects (counting shared ones each time)",
                       limits_.max_objects);
    }
    return Status::Ok();
  }

  Expected<PyRef> ReadObject(int depth) {
    if (depth > limits_.max_depth) {
      return MakeError("objects are nested more than {} deep at offset {}", limits_.max_depth,
                       pos_);
    }
    const std::size_t at = pos_;
    K2T_ASSIGN_OR_RETURN(std::uint8_t code, Byte());
    const bool flag = (code & kFlagRef) != 0;
    const char type = static_cast<char>(code & ~kFlagRef);
    PyObject object;
    switch (type) {
      case kNoneCode:
        return Make(PyObject{});
      case kFalse:
      case kTrue:
        object.type = PyType::kBool;
        object.boolean = type == kTrue;
        return Make(std::move(object));
      case kEllipsisCode:
        object.type = PyType::kEllipsis;
        return Make(std::move(object));
      case kStopIter:
        object.type = PyType::kStopIteration;
        return Make(std::move(object));
      case kRef:
        return ReadRef(at);
      case kTupleCode:
      case kSmallTuple:
      case kListCode:
      case kSetCode:
      case kFrozenSetCode:
        return ReadSequence(type, flag, depth);
      case kDictCode:
        return ReadDict(flag, depth);
      case kCodeCode:
        return ReadCode(flag, depth);
      default:
        break;
    }
    K2T_ASSIGN_OR_RETURN(object, ReadScalar(type, at));
    PyRef ref = Make(std::move(object));
    if (flag) refs_.push_back(ref);
    return ref;
  }

  // Numbers and strings: objects without children.
  Expected<PyObject> ReadScalar(char type, std::size_t at) {
    PyObject object;
    switch (type) {
      case kInt32: {
        object.type = PyType::kInt;
        K2T_ASSIGN_OR_RETURN(std::int32_t v, Int32());
        object.integer = v;
        return object;
      }
      case kInt64: {
        object.type = PyType::kInt;
        K2T_ASSIGN_OR_RETURN(std::int32_t low, Int32());
        K2T_ASSIGN_OR_RETURN(std::int32_t high, Int32());
        object.integer = static_cast<std::int64_t>(
            (static_cast<std::uint64_t>(static_cast<std::uint32_t>(high)) << 32) |
            static_cast<std::uint32_t>(low));
        return object;
      }
      case kLong:
        return ReadLong(at);
      case kFloatBinary: {
        object.type = PyType::kFloat;
        K2T_ASSIGN_OR_RETURN(object.real, Double());
        return object;
      }
      case kFloatText: {
        object.type = PyType::kFloat;
        K2T_ASSIGN_OR_RETURN(object.real, FloatText());
        return object;
      }
      case kComplexBinary: {
        object.type = PyType::kComplex;
        K2T_ASSIGN_OR_RETURN(object.real, Double());
        K2T_ASSIGN_OR_RETURN(object.imag, Double());
        return object;
      }
      case kComplexText: {
        object.type = PyType::kComplex;
        K2T_ASSIGN_OR_RETURN(object.real, FloatText());
        K2T_ASSIGN_OR_RETURN(object.imag, FloatText());
        return object;
      }
      case kString: {
        object.type = PyType::kBytes;
        K2T_ASSIGN_OR_RETURN(std::size_t n, Count("a bytes object", 1));
        K2T_ASSIGN_OR_RETURN(std::string_view raw, Take(n, "a bytes object"));
        object.text = std::string(raw);
        return object;
      }
      case kUnicode:
      case kInterned: {
        object.type = PyType::kStr;
        K2T_ASSIGN_OR_RETURN(std::size_t n, Count("a string", 1));
        K2T_ASSIGN_OR_RETURN(std::string_view raw, Take(n, "a string"));
        object.text = std::string(raw);
        return object;
      }
      case kAscii:
      case kAsciiInterned: {
        object.type = PyType::kStr;
        K2T_ASSIGN_OR_RETURN(std::size_t n, Count("a string", 1));
        K2T_ASSIGN_OR_RETURN(std::string_view raw, Take(n, "a string"));
        object.text = Latin1ToUtf8(raw);
        return object;
      }
      case kShortAscii:
      case kShortAsciiInterned: {
        object.type = PyType::kStr;
        K2T_ASSIGN_OR_RETURN(std::uint8_t n, Byte());
        K2T_ASSIGN_OR_RETURN(std::string_view raw, Take(n, "a string"));
        object.text = Latin1ToUtf8(raw);
        return object;
      }
      case kNull:
        return MakeError("a null object at offset {} outside a dict", at);
      case kStringRef:
        return MakeError("a Python 2 string reference at offset {}", at);
      default:
        return MakeError("unknown marshal type code 0x{:02x} at offset {}",
                         static_cast<unsigned>(static_cast<unsigned char>(type)), at);
    }
  }

  // An int of 15-bit digits, least significant first; the count's sign is the sign.
  Expected<PyObject> ReadLong(std::size_t at) {
    K2T_ASSIGN_OR_RETURN(std::int32_t n, Int32());
    if (n == INT32_MIN) return MakeError("an int at offset {} has an invalid size", at);
    const std::size_t digits = static_cast<std::size_t>(n < 0 ? -n : n);
    if (digits > (data_.size() - pos_) / 2) {
      return MakeError("an int of {} digits at offset {} is longer than the data left", digits,
                       at);
    }
    PyObject object;
    object.type = PyType::kInt;
    std::uint64_t magnitude = 0;
    bool fits = true;
    for (std::size_t i = 0; i < digits; ++i) {
      K2T_ASSIGN_OR_RETURN(std::string_view raw, Take(2, "an int digit"));
      const unsigned digit =
          static_cast<std::uint8_t>(raw[0]) | (static_cast<unsigned>(static_cast<std::uint8_t>(raw[1])) << 8);
      if (digit >= 0x8000) return MakeError("an int digit at offset {} is out of range", pos_ - 2);
      const unsigned shift = static_cast<unsigned>(15 * i);
      if (digit != 0 && (shift >= 63 || (static_cast<std::uint64_t>(digit) >> (63 - shift)) != 0)) {
        fits = false;
      }
      if (fits && digit != 0) magnitude |= static_cast<std::uint64_t>(digit) << shift;
    }
    if (!fits) {
      object.type = PyType::kBigInt;
      object.integer = n < 0 ? -1 : 1;
      return object;
    }
    object.integer = n < 0 ? -static_cast<std::int64_t>(magnitude)
                           : static_cast<std::int64_t>(magnitude);
    return object;
  }

  Expected<PyRef> ReadRef(std::size_t at) {
    K2T_ASSIGN_OR_RETURN(std::int32_t index, Int32());
    if (index < 0 || static_cast<std::size_t>(index) >= refs_.size()) {
      return MakeError("back-reference {} at offset {} names no earlier object ({} known)", index,
                       at, refs_.size());
    }
    const PyRef& target = refs_[static_cast<std::size_t>(index)];
    if (!target) {
      return MakeError("back-reference {} at offset {} names an object still being read", index,
                       at);
    }
    return target;
  }

  Expected<PyRef> ReadSequence(char type, bool flag, int depth) {
    PyObject object;
    std::size_t n = 0;
    if (type == kSmallTuple) {
      K2T_ASSIGN_OR_RETURN(std::uint8_t small, Byte());
      n = small;
    } else {
      K2T_ASSIGN_OR_RETURN(n, Count("a container", 1));
    }
    object.type = type == kListCode       ? PyType::kList
                  : type == kSetCode      ? PyType::kSet
                  : type == kFrozenSetCode ? PyType::kFrozenSet
                                           : PyType::kTuple;
    const auto slot = Reserve(flag);
    object.items.reserve(std::min<std::size_t>(n, data_.size() - pos_));
    for (std::size_t i = 0; i < n; ++i) {
      K2T_ASSIGN_OR_RETURN(PyRef item, ReadObject(depth + 1));
      object.size = AddSizes(object.size, item->size);
      K2T_RETURN_IF_ERROR(CheckSize(object.size));
      object.items.push_back(std::move(item));
    }
    PyRef ref = Make(std::move(object));
    Remember(slot, ref);
    return ref;
  }

  Expected<PyRef> ReadDict(bool flag, int depth) {
    PyObject object;
    object.type = PyType::kDict;
    const auto slot = Reserve(flag);
    while (true) {
      if (pos_ < data_.size() && data_[pos_] == kNull) {
        ++pos_;
        break;
      }
      for (int half = 0; half < 2; ++half) {
        K2T_ASSIGN_OR_RETURN(PyRef item, ReadObject(depth + 1));
        object.size = AddSizes(object.size, item->size);
        K2T_RETURN_IF_ERROR(CheckSize(object.size));
        object.items.push_back(std::move(item));
      }
    }
    PyRef ref = Make(std::move(object));
    Remember(slot, ref);
    return ref;
  }

  Expected<PyRef> ReadCode(bool flag, int depth) {
    const auto slot = Reserve(flag);
    if (layout_) return FinishCode(slot, depth, *layout_);

    // The outermost code object: try each layout from the same position.
    const State start{pos_, refs_.size()};
    std::optional<Error> best;
    std::size_t best_reach = 0;
    for (CodeLayout layout :
         {CodeLayout::kPy311Plus, CodeLayout::kPy38To310, CodeLayout::kPy30To37}) {
      pos_ = start.pos;
      refs_.resize(start.refs);
      reach_ = pos_;
      layout_ = layout;
      auto code = FinishCode(slot, depth, layout);
      // A layout must also account for every byte after the outermost object.
      if (code.ok() && depth == 0 && pos_ != data_.size()) {
        code = MakeError("{} byte(s) follow the code object", data_.size() - pos_);
      }
      if (code.ok()) return code;
      reach_ = std::max(reach_, pos_);
      if (!best || reach_ > best_reach) {
        best = MakeError("not a code object of Python 3.0-3.13 (read as Python {}: {})",
                         LayoutName(layout), code.error().message());
        best_reach = reach_;
      }
      layout_.reset();
    }
    return std::move(*best);
  }

  Expected<std::string> ReadStr(int depth, const char* what) {
    K2T_ASSIGN_OR_RETURN(PyRef object, ReadObject(depth + 1));
    if (object->type != PyType::kStr) return MakeError("the code object's {} is not a str", what);
    return object->text;
  }

  Expected<std::string> ReadBytes(int depth, const char* what) {
    K2T_ASSIGN_OR_RETURN(PyRef object, ReadObject(depth + 1));
    if (object->type != PyType::kBytes) {
      return MakeError("the code object's {} is not a bytes object", what);
    }
    return object->text;
  }

  Expected<std::vector<std::string>> ReadNames(int depth, const char* what) {
    K2T_ASSIGN_OR_RETURN(PyRef object, ReadObject(depth + 1));
    if (object->type != PyType::kTuple) return MakeError("the code object's {} is not a tuple", what);
    std::vector<std::string> names;
    for (const PyRef& item : object->items) {
      if (item->type != PyType::kStr) {
        return MakeError("the code object's {} holds something other than names", what);
      }
      names.push_back(item->text);
    }
    return names;
  }

  Expected<int> Small(const char* what) {
    K2T_ASSIGN_OR_RETURN(std::int32_t v, Int32());
    if (v < 0 || v > 0xFFFF) return MakeError("the code object's {} is {}", what, v);
    return static_cast<int>(v);
  }

  Expected<PyRef> FinishCode(std::optional<std::size_t> slot, int depth, CodeLayout layout) {
    CodeObject code;
    code.layout = layout;
    K2T_ASSIGN_OR_RETURN(code.argcount, Small("argument count"));
    if (layout != CodeLayout::kPy30To37) {
      K2T_ASSIGN_OR_RETURN(code.posonlyargcount, Small("positional-only argument count"));
    }
    K2T_ASSIGN_OR_RETURN(code.kwonlyargcount, Small("keyword-only argument count"));
    if (layout != CodeLayout::kPy311Plus) {
      K2T_ASSIGN_OR_RETURN(code.nlocals, Small("local count"));
    }
    K2T_ASSIGN_OR_RETURN(code.stacksize, Small("stack size"));
    K2T_ASSIGN_OR_RETURN(std::int32_t flags, Int32());
    code.flags = static_cast<std::uint32_t>(flags);
    K2T_ASSIGN_OR_RETURN(code.code, ReadBytes(depth, "bytecode"));

    std::size_t size = 1;
    K2T_ASSIGN_OR_RETURN(PyRef consts, ReadObject(depth + 1));
    if (consts->type != PyType::kTuple) return MakeError("the code object's consts is not a tuple");
    code.consts = consts->items;
    size = AddSizes(size, consts->size);
    K2T_ASSIGN_OR_RETURN(code.names, ReadNames(depth, "names"));

    if (layout == CodeLayout::kPy311Plus) {
      K2T_ASSIGN_OR_RETURN(code.localsplusnames, ReadNames(depth, "local names"));
      K2T_ASSIGN_OR_RETURN(code.localspluskinds, ReadBytes(depth, "local kinds"));
      if (code.localspluskinds.size() != code.localsplusnames.size()) {
        return MakeError("the code object has {} local names but {} local kinds",
                         code.localsplusnames.size(), code.localspluskinds.size());
      }
      SplitLocalsPlus(code);
    } else {
      K2T_ASSIGN_OR_RETURN(code.varnames, ReadNames(depth, "variable names"));
      K2T_ASSIGN_OR_RETURN(code.freevars, ReadNames(depth, "free variables"));
      K2T_ASSIGN_OR_RETURN(code.cellvars, ReadNames(depth, "cell variables"));
    }
    K2T_ASSIGN_OR_RETURN(code.filename, ReadStr(depth, "file name"));
    K2T_ASSIGN_OR_RETURN(code.name, ReadStr(depth, "name"));
    if (layout == CodeLayout::kPy311Plus) {
      K2T_ASSIGN_OR_RETURN(code.qualname, ReadStr(depth, "qualified name"));
    }
    K2T_ASSIGN_OR_RETURN(std::int32_t line, Int32());
    code.firstlineno = line;
    K2T_RETURN_IF_ERROR(ReadBytes(depth, "line table"));
    if (layout == CodeLayout::kPy311Plus) {
      K2T_RETURN_IF_ERROR(ReadBytes(depth, "exception table"));
    }

    // Parameters are the first variable names; a layout that leaves too few
    // names for them is the wrong layout.
    const std::size_t params = static_cast<std::size_t>(code.argcount + code.kwonlyargcount) +
                               ((code.flags & kCoVarargs) ? 1 : 0) +
                               ((code.flags & kCoVarkeywords) ? 1 : 0);
    if (params > code.varnames.size() || code.posonlyargcount > code.argcount) {
      return MakeError("the code object declares {} parameter(s) but names {} variable(s)", params,
                       code.varnames.size());
    }
    if (layout != CodeLayout::kPy311Plus &&
        code.nlocals != static_cast<int>(code.varnames.size())) {
      return MakeError("the code object counts {} local(s) but names {}", code.nlocals,
                       code.varnames.size());
    }

    PyObject object;
    object.type = PyType::kCode;
    object.size = size;
    object.code = std::make_shared<const CodeObject>(std::move(code));
    K2T_RETURN_IF_ERROR(CheckSize(object.size));
    PyRef ref = Make(std::move(object));
    Remember(slot, ref);
    return ref;
  }

  // 3.11+ keeps locals, cells and free variables in one table with kind bits.
  static void SplitLocalsPlus(CodeObject& code) {
    constexpr unsigned kLocal = 0x20;
    constexpr unsigned kCell = 0x40;
    constexpr unsigned kFree = 0x80;
    for (std::size_t i = 0; i < code.localsplusnames.size(); ++i) {
      const auto kind = static_cast<unsigned char>(code.localspluskinds[i]);
      if (kind & kLocal) code.varnames.push_back(code.localsplusnames[i]);
      if (kind & kCell) code.cellvars.push_back(code.localsplusnames[i]);
      if (kind & kFree) code.freevars.push_back(code.localsplusnames[i]);
    }
    code.nlocals = static_cast<int>(code.varnames.size());
  }

  std::string_view data_;
  const MarshalLimits& limits_;
  std::size_t pos_ = 0;
  std::size_t reach_ = 0;
  std::vector<PyRef> refs_;
  std::optional<CodeLayout> layout_;
};

void AppendRepr(const PyObject& object, std::string& out, std::size_t max_length);

void AppendItems(const PyObject& object, const char* open, const char* close, std::string& out,
                 std::size_t max_length) {
  out += open;
  for (std::size_t i = 0; i < object.items.size() && out.size() < max_length; ++i) {
    if (i > 0) out += object.type == PyType::kDict && i % 2 == 1 ? ": " : ", ";
    AppendRepr(*object.items[i], out, max_length);
  }
  if (object.type == PyType::kTuple && object.items.size() == 1) out += ",";
  out += close;
}

std::string QuotedText(std::string_view text, char quote_prefix) {
  std::string out;
  if (quote_prefix) out.push_back(quote_prefix);
  out.push_back('\'');
  out += PrintableText(text, 60);
  out.push_back('\'');
  return out;
}

void AppendRepr(const PyObject& object, std::string& out, std::size_t max_length) {
  if (out.size() >= max_length) return;
  switch (object.type) {
    case PyType::kNone:
      out += "None";
      return;
    case PyType::kBool:
      out += object.boolean ? "True" : "False";
      return;
    case PyType::kEllipsis:
      out += "Ellipsis";
      return;
    case PyType::kStopIteration:
      out += "StopIteration";
      return;
    case PyType::kInt:
      out += std::to_string(object.integer);
      return;
    case PyType::kBigInt:
      out += object.integer < 0 ? "-<big int>" : "<big int>";
      return;
    case PyType::kFloat:
      out += FloatRepr(object.real);
      return;
    case PyType::kComplex:
      out += fmt::format("({}+{}j)", FloatRepr(object.real), FloatRepr(object.imag));
      return;
    case PyType::kBytes:
      out += QuotedText(object.text, 'b');
      return;
    case PyType::kStr:
      out += QuotedText(object.text, 0);
      return;
    case PyType::kTuple:
      AppendItems(object, "(", ")", out, max_length);
      return;
    case PyType::kList:
      AppendItems(object, "[", "]", out, max_length);
      return;
    case PyType::kDict:
      AppendItems(object, "{", "}", out, max_length);
      return;
    case PyType::kSet:
      AppendItems(object, "{", "}", out, max_length);
      return;
    case PyType::kFrozenSet:
      AppendItems(object, "frozenset({", "})", out, max_length);
      return;
    case PyType::kCode:
      out += "<code object " + PrintableText(object.code->name, 40) + ">";
      return;
  }
}

}  // namespace

Expected<PyRef> ReadMarshal(std::string_view bytes, const MarshalLimits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return MakeError("the marshalled data is {} bytes, more than the {} accepted", bytes.size(),
                     limits.max_bytes);
  }
  if (bytes.empty()) return MakeError("the marshalled data is empty");
  Reader reader(bytes, limits);
  return reader.ReadTop();
}

Expected<std::shared_ptr<const CodeObject>> ReadCodeObject(std::string_view bytes,
                                                           const MarshalLimits& limits) {
  K2T_ASSIGN_OR_RETURN(PyRef object, ReadMarshal(bytes, limits));
  if (object->type != PyType::kCode) {
    return MakeError("the marshalled object is {}, not a code object", Repr(*object, 40));
  }
  return object->code;
}

std::string Repr(const PyObject& object, std::size_t max_length) {
  std::string out;
  AppendRepr(object, out, max_length);
  if (out.size() > max_length) out = out.substr(0, max_length) + "...";
  return out;
}

std::string FloatRepr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // The shortest text that reads back as the same double, as Python's repr.
  std::array<char, 64> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  std::string text(buffer.data(), result.ptr);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

}  // namespace k2t::pyexpr
