//===- layers/pyexpr/translate.h - A decompiled Lambda as PyTorch code ------===//
//
// Evaluates a decompiled function's expression over symbolic values: the
// tensors the Lambda receives (with their Keras shapes), Python numbers,
// tuples and slices, and the names of the functions it calls. Each known
// function (keras.backend, tf, keras.ops, a few of numpy and math) is
// rewritten as PyTorch code with its output shape computed; numbers are
// folded. Anything else is refused with a message naming it: a translation
// is exact or it is not made.
//
// Tensors stay in Keras's axis order, so axis numbers and indices carry over
// unchanged. A function built only of element-wise operations on its input
// tensors (all of one shape) and scalars is marked `elementwise`: its code
// is then correct in any axis order and the layout planner may leave the
// input as it is.
//
// Global names are read by the usual conventions (K and backend for
// keras.backend, tf for tensorflow, np for numpy, ops for keras.ops); the
// translation lists the ones it relied on in its notes.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "layers/pyexpr/decompile.h"
#include "support/error.h"
#include "support/json.h"
#include "support/tensor.h"

namespace k2t::pyexpr {

struct TensorInput {
  std::string code;  // a Python expression holding the tensor (in Keras axis order)
  Shape shape;       // its Keras shape, batch included; -1 where unknown
};

// Which Keras ran the function, where a function's meaning changed.
struct KerasFlavor {
  int major = 2;
  // The TensorFlow 2 image resize (half-pixel centers), not TensorFlow 1's.
  bool tf2_resize = true;
};

struct LambdaCall {
  const Function* function = nullptr;
  std::vector<TensorInput> inputs;
  bool list_input = false;  // the Lambda was called on a list of tensors
  Json arguments = Json::object();  // the layer's `arguments`
  Json defaults;  // the function's __defaults__ (null or a list)
  Json closure;   // its closure cells' contents (null or a list), in freevars order
  KerasFlavor flavor;
};

struct LambdaOutput {
  std::string code;
  Shape shape;  // Keras shape
};

struct Translation {
  std::vector<LambdaOutput> outputs;
  bool elementwise = true;
  std::vector<std::string> notes;
  // Helpers emitted once before the model class, as Lowering::definitions.
  std::vector<std::pair<std::string, std::string>> definitions;
};

Expected<Translation> TranslateLambda(const LambdaCall& call);

// Whether calls of the function with this dotted name ("tf.math.reduce_mean")
// are translated (for some of their arguments).
bool IsTranslatedFunction(const std::string& path);

}  // namespace k2t::pyexpr
