//===- fuzz/fuzz_util.h - What the harnesses share --------------------------===//
//
// Caps small enough that one input cannot take seconds, and the rule for
// exceptions: the driver turns a std::exception into an "internal error"
// message (exit status 2), so the harnesses accept it too. Set
// K2T_FUZZ_EXCEPTIONS=abort to treat it as a finding instead.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>

#include "support/limits.h"

namespace k2t::fuzz {

inline Limits SmallLimits() {
  Limits limits;
  limits.json_bytes = 1 << 20;
  limits.json_depth = 64;
  limits.zip_member_bytes = 16 << 20;
  limits.layers = 2000;
  limits.nodes = 20000;
  limits.tensor_elements = 1 << 22;
  return limits;
}

template <typename Body>
void Guard(Body body) {
  try {
    body();
  } catch (const std::bad_alloc&) {
    throw;  // an allocation a cap should have refused: let libFuzzer report it
  } catch (const std::exception& e) {
    const char* mode = std::getenv("K2T_FUZZ_EXCEPTIONS");
    if (mode && std::strcmp(mode, "abort") == 0) {
      std::fprintf(stderr, "uncaught exception: %s\n", e.what());
      std::abort();
    }
  }
}

}  // namespace k2t::fuzz
