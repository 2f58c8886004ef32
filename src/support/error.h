//===- support/error.h - Errors a user can act on -------------------------===//
//
// Library code never throws and never prints. A fallible function returns
// `Expected<T>` (or `Status` when there is no value); the error carries the
// place it concerns (file, layer, class) so that the message reads
//
//   keras2torch: error: cnn.h5: layer 'conv2d_1' (Conv2D): what is wrong
//
// Context is attached where it becomes known, not retyped in every message.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <fmt/format.h>

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace k2t {

class Error {
 public:
  explicit Error(std::string message) : message_(std::move(message)) {}

  const std::string& message() const { return message_; }
  const std::string& file() const { return file_; }
  const std::string& layer() const { return layer_; }
  const std::string& layer_class() const { return class_; }

  // Attach context unless a more specific one is already there: the innermost
  // code that knows the layer wins over the caller that only knows the file.
  Error& InFile(const std::string& file) {
    if (file_.empty()) file_ = file;
    return *this;
  }
  Error& AtLayer(const std::string& name, const std::string& cls) {
    if (layer_.empty()) {
      layer_ = name;
      class_ = cls;
    }
    return *this;
  }

  // "FILE: layer 'NAME' (CLASS): message", the part after "keras2torch: error: ".
  std::string Describe() const;

  // Further errors found in the same pass, so that a user sees every problem
  // of one kind at once (all unsupported layers, for example).
  const std::vector<Error>& more() const { return more_; }
  void Add(Error other) { more_.push_back(std::move(other)); }
  // This error and the further ones, each with the file filled in.
  std::vector<Error> All() const;

 private:
  std::vector<Error> more_;
  std::string message_;
  std::string file_;
  std::string layer_;
  std::string class_;
};

template <typename... Args>
Error MakeError(fmt::format_string<Args...> format, Args&&... args) {
  return Error(fmt::format(format, std::forward<Args>(args)...));
}

// A value or an error. Deliberately small: what std::expected (C++23) offers,
// for the subset this project uses.
template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Expected(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(value()); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  Error& error() & {
    assert(!ok());
    return std::get<1>(state_);
  }
  const Error& error() const& {
    assert(!ok());
    return std::get<1>(state_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(state_));
  }
  T value_or(T fallback) const& { return ok() ? std::get<0>(state_) : std::move(fallback); }

 private:
  std::variant<T, Error> state_;
};

// Success or an error, for functions that produce nothing.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  Error& error() & { return *error_; }
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

}  // namespace k2t

// Early return on failure, for the common "call, check, continue" step.
#define K2T_CONCAT_INNER(a, b) a##b
#define K2T_CONCAT(a, b) K2T_CONCAT_INNER(a, b)

#define K2T_RETURN_IF_ERROR(expr)                                   \
  do {                                                              \
    auto k2t_status_ = (expr);                                      \
    if (!k2t_status_.ok()) return std::move(k2t_status_).error();   \
  } while (0)

#define K2T_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).error();   \
  lhs = std::move(tmp).value()

#define K2T_ASSIGN_OR_RETURN(lhs, expr) \
  K2T_ASSIGN_OR_RETURN_IMPL(K2T_CONCAT(k2t_expected_, __LINE__), lhs, expr)
