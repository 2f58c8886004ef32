//===- emit/report.h - report.json and report.md ----------------------------===//
//
// One entry per Keras layer: what it became, whether that is exact, an
// approximation or a skeleton, its parameter count and output shapes, and
// notes on every choice that was made. The JSON form is a contract other
// tools read; the Markdown form is for people.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <string>

#include "emit/python_emitter.h"
#include "passes/conversion.h"
#include "support/json.h"

namespace k2t {

Json BuildReport(const passes::Conversion& conversion, const EmittedModel& emitted,
                 const std::string& tool_version);
std::string ReportMarkdown(const Json& report);

// True when every layer converted (no skeletons).
bool ReportComplete(const Json& report);

}  // namespace k2t
