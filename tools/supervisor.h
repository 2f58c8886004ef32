//===- tools/supervisor.h - Run a conversion in a supervised child process ---===//
//
// libhdf5 1.10 can loop, allocate without bound or fault on damaged files
// (docs/fuzzing.md), and nothing checked before it can tell. So the command
// does its work in a child process: the child's data segment is capped with
// setrlimit, the parent ends it when the time limit passes, and whatever way
// the child ends, the parent reports it in one error line and removes the
// staging directory the child was writing.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace k2t::tool {

struct Supervision {
  std::string model;       // the file being read, for messages
  std::string output_dir;  // the conversion's target ("" for inspect): its staging is cleaned
  std::int64_t seconds = 0;     // wall-clock limit for the child
  std::int64_t memory_mib = 0;  // cap on the child's data segment
};

// Runs `work` in a child process and returns its exit status, or 2 (with an
// error line on stderr) when it is stopped or dies, or 130 when interrupted.
// If no child can be started, runs `work` in this process instead.
int RunSupervised(const Supervision& supervision, const std::function<int()>& work);

}  // namespace k2t::tool
