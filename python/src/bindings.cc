//===- python/src/bindings.cc - The keras2torch._core extension module ------===//
//
// A thin layer over the public C++ API (keras2torch/keras2torch.h) for the
// Python package. The library never throws; here its errors become one Python
// exception, ConversionError, whose message is what the command-line tool
// prints, one "keras2torch: error: ..." line per error, and whose `errors`
// attribute lists those lines. The GIL is released while the library works, so
// other Python threads keep running during a long conversion.
//
//===----------------------------------------------------------------------===//
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "keras2torch/keras2torch.h"

namespace nb = nanobind;

namespace {

// Owned by the module (its attribute ConversionError); the module outlives
// every call into it, so a borrowed pointer is enough here.
PyObject* conversion_error = nullptr;

// The same lines the command-line tool writes to stderr.
std::vector<std::string> ErrorLines(const k2t::Error& error) {
  std::vector<std::string> lines;
  for (const k2t::Error& e : error.All()) lines.push_back("keras2torch: error: " + e.Describe());
  return lines;
}

// Sets ConversionError (message and `errors`) and unwinds to nanobind, which
// hands the pending Python error back to the caller. Needs the GIL.
[[noreturn]] void RaiseConversionError(const k2t::Error& error) {
  const std::vector<std::string> lines = ErrorLines(error);
  std::string message;
  for (const std::string& line : lines) message += (message.empty() ? "" : "\n") + line;
  nb::object exception = nb::handle(conversion_error)(message);
  exception.attr("errors") = nb::cast(lines);
  PyErr_SetObject(conversion_error, exception.ptr());
  throw nb::python_error();
}

k2t::ConvertOptions MakeOptions(const std::string& weights, const std::string& custom) {
  k2t::ConvertOptions options;
  options.weights_path = weights;
  options.custom_path = custom;
  return options;
}

std::tuple<bool, std::string, std::vector<std::string>> Convert(
    const std::string& model_path, const std::string& out_dir, const std::string& weights,
    const std::string& custom, const std::string& io_layout, bool force) {
  if (io_layout != "torch" && io_layout != "keras") {
    const std::string message = "io_layout must be 'torch' or 'keras', not '" + io_layout + "'";
    throw nb::value_error(message.c_str());
  }
  k2t::ConvertOptions options = MakeOptions(weights, custom);
  options.keras_io_layout = io_layout == "keras";
  options.force = force;

  // The arguments are copies owned by this frame, so Python may run meanwhile.
  std::optional<k2t::Expected<k2t::ConvertResult>> result;
  {
    nb::gil_scoped_release release;
    result.emplace(k2t::Convert(model_path, out_dir, options));
  }
  if (!result->ok()) RaiseConversionError(result->error());
  k2t::ConvertResult& value = result->value();
  return {value.complete, std::move(value.report_json), std::move(value.warnings)};
}

std::string Inspect(const std::string& model_path, const std::string& weights,
                    const std::string& custom) {
  std::optional<k2t::Expected<std::string>> summary;
  {
    nb::gil_scoped_release release;
    summary.emplace(k2t::Inspect(model_path, MakeOptions(weights, custom)));
  }
  if (!summary->ok()) RaiseConversionError(summary->error());
  return std::move(summary->value());
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "The keras2torch C++ core; use the functions of the keras2torch package instead.";
  m.attr("__version__") = k2t::kVersion;

  conversion_error = PyErr_NewExceptionWithDoc(
      "keras2torch.ConversionError",
      "A model could not be converted; `errors` lists every problem found, one line each.",
      PyExc_RuntimeError, nullptr);
  m.attr("ConversionError") = nb::steal(conversion_error);

  m.def("convert", &Convert, nb::arg("model_path"), nb::arg("out_dir"), nb::arg("weights") = "",
        nb::arg("custom") = "", nb::arg("io_layout") = "torch", nb::arg("force") = false,
        "Writes model.py, model.safetensors, report.json and report.md into out_dir.\n\n"
        "Returns (complete, report_json, warnings); raises ConversionError.");
  m.def("inspect", &Inspect, nb::arg("model_path"), nb::arg("weights") = "",
        nb::arg("custom") = "",
        "A summary of the model's layers and what each becomes; raises ConversionError.");
}
