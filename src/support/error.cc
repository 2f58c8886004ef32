//===- support/error.cc - Error formatting ----------------------------------===//
#include "support/error.h"

#include "support/strings.h"

namespace k2t {

std::string Error::Describe() const {
  std::string out;
  if (!file_.empty()) out += file_ + ": ";
  if (!layer_.empty()) {
    out += fmt::format("layer '{}'", PrintableText(layer_));
    if (!class_.empty()) out += fmt::format(" ({})", PrintableText(class_));
    out += ": ";
  }
  return out + message_;
}

std::vector<Error> Error::All() const {
  Error first = *this;
  first.more_.clear();
  std::vector<Error> all = {first};
  for (Error other : more_) {
    other.InFile(file_);
    all.push_back(std::move(other));
  }
  return all;
}

}  // namespace k2t
