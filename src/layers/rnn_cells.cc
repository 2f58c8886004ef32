//===- layers/rnn_cells.cc - RNN around built-in cells, StackedRNNCells -----===//
//
// RNN(LSTMCell(...)) computes what LSTM(...) with the same arguments computes,
// and likewise for GRUCell and SimpleRNNCell; the layer is converted by the
// LSTM / GRU / SimpleRNN converter on a nested graph, from the cell's config
// merged with the RNN's own flags (return_sequences, go_backwards, ...).
//
// RNN(StackedRNNCells([c1, c2, ...])) runs the cells one after the other at
// every step. Since cell k at step t depends only on cell k-1's output at t
// and on its own state, this equals a stack of recurrent layers: every layer
// but the last returns its whole sequence. At a masked step every cell keeps
// its state, as every layer of the stack does when it gets the same mask. With
// go_backwards only the first layer reverses time; the others read its output,
// already in reversed order, forwards, with the mask reversed to match.
//
// Weights: a single cell's variables are under `cell/` in Keras 3 files;
// stacked cells' under `cell/cells/<snake_case class>[_k]`; legacy files list
// them in cell order in the RNN's own group.
//
//===----------------------------------------------------------------------===//
#include <fmt/format.h>

#include <map>
#include <memory>

#include "layers/nested.h"
#include "layers/registry.h"
#include "support/strings.h"

namespace k2t::layers {
namespace {

// The recurrent layer computing what a cell computes inside an RNN.
Expected<std::string> LayerForCell(const std::string& cell_class) {
  if (cell_class == "LSTMCell") return std::string("LSTM");
  if (cell_class == "GRUCell") return std::string("GRU");
  if (cell_class == "SimpleRNNCell") return std::string("SimpleRNN");
  return MakeError("RNN around a {} cell is not supported (LSTMCell, GRUCell, SimpleRNNCell "
                   "and StackedRNNCells of them are)",
                   PrintableText(cell_class));
}

int StateCount(const std::string& layer_class) { return layer_class == "LSTM" ? 2 : 1; }

struct Cell {
  std::string layer_class;  // "LSTM", "GRU", "SimpleRNN"
  Json config;              // the cell's config with the RNN's flags
  std::string owner;        // where its variables are in a Keras 3 file
};

// The RNN's flags that the recurrent layers read from their own config.
const char* const kRnnFlags[] = {"return_sequences", "return_state", "go_backwards", "stateful",
                                 "unroll", "zero_output_for_mask", "time_major"};

Expected<std::vector<Cell>> ReadCells(const Json& config) {
  K2T_ASSIGN_OR_RETURN(auto cell, NestedLayerConfig(config, "cell"));
  std::vector<std::pair<std::string, Json>> found;  // (class, config)
  std::vector<std::string> owners;
  if (cell.first == "StackedRNNCells") {
    const Json& list = cell.second->value("cells", Json());
    if (!list.is_array() || list.empty()) {
      return MakeError("StackedRNNCells has no list of cells, found {}", Abbreviate(list));
    }
    std::map<std::string, int> counters;
    for (const Json& item : list) {
      if (!item.is_object() || !item.value("class_name", Json()).is_string()) {
        return MakeError("a stacked cell has no class_name: {}", Abbreviate(item));
      }
      const std::string cls = item["class_name"].get<std::string>();
      // Keras 3 names each cell's group by class, counting repeats: lstm_cell, lstm_cell_1.
      const std::string snake = KerasSnakeCase(cls);
      const int k = counters[snake]++;
      owners.push_back("cell/cells/" + (k == 0 ? snake : snake + "_" + std::to_string(k)));
      found.emplace_back(cls, item.value("config", Json::object()));
    }
  } else {
    found.emplace_back(cell.first, *cell.second);
    owners.push_back("cell");
  }

  std::vector<Cell> cells;
  for (std::size_t k = 0; k < found.size(); ++k) {
    Cell c;
    K2T_ASSIGN_OR_RETURN(c.layer_class, LayerForCell(found[k].first));
    c.config = found[k].second.is_object() ? found[k].second : Json::object();
    for (const char* flag : kRnnFlags) {
      if (config.contains(flag)) c.config[flag] = config[flag];
    }
    c.owner = owners[k];
    cells.push_back(std::move(c));
  }
  // Every layer of the stack but the last returns its sequence; only the
  // first reverses time.
  for (std::size_t k = 0; k + 1 < cells.size(); ++k) cells[k].config["return_sequences"] = true;
  for (std::size_t k = 1; k < cells.size(); ++k) cells[k].config["go_backwards"] = false;
  return cells;
}

// The recurrent layers of one RNN call on a nested graph. A single cell's
// node mirrors the RNN call (same inputs and tensor arguments, same order);
// stacked cells are chained.
struct Stack {
  std::unique_ptr<NestedGraph> graph;
  std::vector<Cell> cells;
  std::vector<int> nodes;
  std::vector<std::vector<WeightSpec>> specs;  // per cell, owners set
  std::vector<std::vector<WeightRef>> weights;  // per cell, when the RNN's are bound
  bool stacked() const { return cells.size() > 1; }
  CallContext Context(std::size_t k) const {
    return graph->Context(nodes[k], weights.empty() ? nullptr : &weights[k]);
  }
  const Converter& converter(std::size_t k) const { return graph->converter(nodes[k]); }
};

// The initial states of a call: positional inputs after the sequence (Keras
// 2 style), then `initial_state` tensor arguments.
std::vector<int> OuterStates(const CallContext& call) {
  std::vector<int> states(call.node.inputs.begin() + 1, call.node.inputs.end());
  for (const auto& [key, value] : call.node.tensor_kwargs) {
    if (key == "initial_state") states.push_back(value);
  }
  return states;
}

int OuterMask(const CallContext& call) {
  for (const auto& [key, value] : call.node.tensor_kwargs) {
    if (key == "mask") return value;
  }
  return -1;
}

Expected<Stack> BuildStack(const CallContext& call) {
  Stack s;
  K2T_ASSIGN_OR_RETURN(s.cells, ReadCells(call.layer.config()));
  s.graph = std::make_unique<NestedGraph>(call.keras);
  NestedGraph& g = *s.graph;
  auto copy = [&](int outer) {
    const ir::Value& v = call.graph.value(outer);
    return g.AddValue(v.shape, v.layout, v.dtype);
  };

  if (!s.stacked()) {
    std::vector<int> inputs;
    for (int input : call.node.inputs) inputs.push_back(copy(input));
    std::vector<std::pair<std::string, int>> kwargs;
    for (const auto& [key, value] : call.node.tensor_kwargs) kwargs.emplace_back(key, copy(value));
    K2T_ASSIGN_OR_RETURN(int node, g.AddCall(s.cells[0].layer_class, s.cells[0].config,
                                             call.layer.name, inputs, kwargs));
    s.nodes.push_back(node);
  } else {
    const std::vector<int> outer_states = OuterStates(call);
    std::size_t wanted = 0;
    for (const Cell& c : s.cells) wanted += static_cast<std::size_t>(StateCount(c.layer_class));
    if (!outer_states.empty() && outer_states.size() != wanted) {
      return MakeError("the stacked cells have {} states but the call passes {} initial states",
                       wanted, outer_states.size());
    }
    const int outer_mask = OuterMask(call);
    const bool backwards = s.cells[0].config.value("go_backwards", false) == true;
    int x = copy(call.node.inputs[0]);
    const int mask = outer_mask < 0 ? -1 : copy(outer_mask);
    // Layers after the first see the time axis reversed, and so the mask.
    const int later_mask = mask < 0 || !backwards ? mask : g.AddValue(g.value(mask).shape, {},
                                                                      DType::kBool);
    std::size_t next_state = 0;
    for (std::size_t k = 0; k < s.cells.size(); ++k) {
      std::vector<std::pair<std::string, int>> kwargs;
      const int count = StateCount(s.cells[k].layer_class);
      for (int i = 0; i < count && !outer_states.empty(); ++i) {
        kwargs.emplace_back("initial_state", copy(outer_states[next_state++]));
      }
      if (mask >= 0) kwargs.emplace_back("mask", k == 0 ? mask : later_mask);
      K2T_ASSIGN_OR_RETURN(int node,
                           g.AddCall(s.cells[k].layer_class, s.cells[k].config,
                                     fmt::format("{}_{}", call.layer.name, k), {x}, kwargs));
      s.nodes.push_back(node);
      x = g.node(node).outputs[0];
    }
  }

  // Each cell's variables, and its share of the RNN's bound weights.
  std::size_t offset = 0;
  for (std::size_t k = 0; k < s.cells.size(); ++k) {
    K2T_ASSIGN_OR_RETURN(std::vector<WeightSpec> specs,
                         s.converter(k).Weights(s.graph->Context(s.nodes[k])));
    for (WeightSpec& spec : specs) spec.owner = s.cells[k].owner;
    if (call.weights && offset + specs.size() <= call.weights->size()) {
      s.weights.emplace_back(call.weights->begin() + static_cast<long>(offset),
                             call.weights->begin() + static_cast<long>(offset + specs.size()));
    }
    offset += specs.size();
    s.specs.push_back(std::move(specs));
  }
  if (s.weights.size() != s.cells.size()) s.weights.clear();
  return s;
}

// A Lowering's parameters renamed under `prefix` and moved past `offset`
// Keras weights.
void AppendLowering(Lowering& into, Lowering part, const std::string& prefix, int offset) {
  for (Param& p : part.params) {
    p.key = prefix + p.key;
    for (int& source : p.sources) source += offset;
    into.params.push_back(std::move(p));
  }
  for (auto& note : part.notes) into.notes.push_back(std::move(note));
  for (auto& definition : part.definitions) {
    bool known = false;
    for (const auto& existing : into.definitions) known = known || existing.first == definition.first;
    if (!known) into.definitions.push_back(std::move(definition));
  }
  into.imports.insert(part.imports.begin(), part.imports.end());
  if (part.fidelity != Fidelity::kExact) into.fidelity = part.fidelity;
}

class RnnCellsConverter : public Converter {
 public:
  std::set<std::string> KnownKeys() const override {
    return {"cell", "return_sequences", "return_state", "go_backwards", "stateful",
            "unroll", "zero_output_for_mask", "time_major"};
  }

  Expected<std::vector<Shape>> InferShapes(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Stack s, BuildStack(call));
    std::vector<Shape> out;
    const ir::Node& last = s.graph->node(s.nodes.back());
    out.push_back(s.graph->value(last.outputs[0]).shape);
    // return_state: the states of every cell, in cell order.
    for (int node : s.nodes) {
      const ir::Node& n = s.graph->node(node);
      for (std::size_t t = 1; t < n.outputs.size(); ++t) out.push_back(s.graph->value(n.outputs[t]).shape);
    }
    return out;
  }

  Expected<std::vector<WeightSpec>> Weights(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Stack s, BuildStack(call));
    std::vector<WeightSpec> all;
    for (const auto& specs : s.specs) all.insert(all.end(), specs.begin(), specs.end());
    return all;
  }

  Expected<Lowering> Lower(const CallContext& call) const override {
    K2T_ASSIGN_OR_RETURN(Stack s, BuildStack(call));
    if (!s.stacked()) return s.converter(0).Lower(s.Context(0));
    Lowering lowering;
    std::vector<std::string> modules;
    int offset = 0;
    for (std::size_t k = 0; k < s.cells.size(); ++k) {
      K2T_ASSIGN_OR_RETURN(Lowering part, s.converter(k).Lower(s.Context(k)));
      modules.push_back(part.module);
      AppendLowering(lowering, std::move(part), fmt::format("{}.", k), offset);
      offset += static_cast<int>(s.specs[k].size());
    }
    lowering.module = "nn.ModuleList([\n            " + Join(modules, ",\n            ") +
                      ",\n        ])";
    lowering.summary = fmt::format("{} stacked recurrent cells", s.cells.size());
    lowering.comments.push_back(
        "Keras StackedRNNCells: the cells run as a stack of layers (the same recurrence).");
    return lowering;
  }

  bool UsesStatements(const CallContext& call) const override {
    auto s = BuildStack(call);
    if (!s.ok()) return false;
    return s->stacked() || s->converter(0).UsesStatements(s->Context(0));
  }

  Expected<std::string> EmitCall(const CallContext& call, const EmitContext& emit) const override {
    K2T_ASSIGN_OR_RETURN(Stack s, BuildStack(call));
    if (s.stacked()) return MakeError("internal error: stacked cells emit statements");
    return s.converter(0).EmitCall(s.Context(0), emit);
  }

  Expected<std::vector<std::string>> EmitStatements(
      const CallContext& call, const EmitContext& emit,
      const std::vector<std::string>& targets) const override {
    K2T_ASSIGN_OR_RETURN(Stack s, BuildStack(call));
    if (!s.stacked()) return s.converter(0).EmitStatements(s.Context(0), emit, targets);

    // The outer call's initial states and mask, as expressions.
    std::vector<std::string> states(emit.inputs.begin() + 1, emit.inputs.end());
    std::string mask;
    for (const auto& [key, value] : emit.tensor_kwargs) {
      if (key == "initial_state") states.push_back(value);
      if (key == "mask") mask = value;
    }
    std::vector<std::string> lines;
    const bool backwards = s.cells[0].config.value("go_backwards", false) == true;
    std::string later_mask = mask;
    if (!mask.empty() && backwards) {
      later_mask = emit.temporary(targets[0] + "_mask_reversed");
      lines.push_back(fmt::format("{} = {}.flip(1)", later_mask, mask));
    }

    std::string x = emit.inputs[0];
    std::size_t next_state = 0;
    std::size_t next_target = 1;
    for (std::size_t k = 0; k < s.cells.size(); ++k) {
      const CallContext context = s.Context(k);
      EmitContext cell = emit;
      cell.attr = fmt::format("{}[{}]", emit.attr, k);
      cell.inputs = {x};
      cell.tensor_kwargs.clear();
      for (int i = 0; i < StateCount(s.cells[k].layer_class) && !states.empty(); ++i) {
        cell.tensor_kwargs.emplace_back("initial_state", states[next_state++]);
      }
      if (!mask.empty()) cell.tensor_kwargs.emplace_back("mask", k == 0 ? mask : later_mask);
      const bool last = k + 1 == s.cells.size();
      const std::string output = last ? targets[0] : emit.temporary(fmt::format("{}_{}", targets[0], k));
      if (!s.converter(k).UsesStatements(context)) {
        K2T_ASSIGN_OR_RETURN(std::string expr, s.converter(k).EmitCall(context, cell));
        lines.push_back(output + " = " + expr);
      } else {
        // The cell's final states are the RNN's next outputs.
        std::vector<std::string> cell_targets = {output};
        const std::size_t outputs = s.graph->node(s.nodes[k]).outputs.size();
        for (std::size_t t = 1; t < outputs; ++t) {
          cell_targets.push_back(next_target < targets.size() ? targets[next_target++]
                                                              : emit.temporary("unused_state"));
        }
        K2T_ASSIGN_OR_RETURN(auto cell_lines, s.converter(k).EmitStatements(context, cell, cell_targets));
        lines.insert(lines.end(), cell_lines.begin(), cell_lines.end());
      }
      x = output;
    }
    return lines;
  }
};

}  // namespace

void RegisterRnnCellLayers(Registry& registry) {
  registry.Add("RNN", std::make_shared<RnnCellsConverter>());
}

}  // namespace k2t::layers
