//===- layers/lambda.h - Lambda layers, translated from their bytecode ------===//
//
// A Lambda layer's converter is made per layer, from its config: the function
// it holds is read, decompiled and translated once (see lambda.cc), and what
// does not translate becomes a skeleton that shows the function disassembled.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <memory>

#include "layers/converter.h"
#include "layers/pyexpr/translate.h"
#include "support/error.h"
#include "support/json.h"

namespace k2t::layers {

std::shared_ptr<const Converter> MakeLambdaConverter(const Json& config);

// The marshalled bytes of a Lambda's code text, read as Keras's func_load
// reads it: base64 when the text is ASCII and decodes as Python decodes it,
// otherwise the text's raw_unicode_escape encoding (Keras 1's form).
Expected<std::string> LambdaCodeBytes(const Json& code);

// Which Keras ran a translated function, where a function's meaning changed.
pyexpr::KerasFlavor TranslationFlavor(const config::KerasInfo& keras);

// Checks a translated output shape against one Keras recorded (`what` names
// it); sizes the translation left unknown are taken from Keras's.
Status AgreeShapes(Shape& shape, const Shape& keras, const char* what);

// The plan of translated code that is element-wise: it runs in whatever axis
// order its first input has, which the other inputs share when they have its rank.
LayoutPlan ElementwisePlan(const CallContext& call, const std::vector<ir::Layout>& current);

}  // namespace k2t::layers
