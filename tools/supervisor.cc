//===- tools/supervisor.cc - Run a conversion in a supervised child process --===//
#include "supervisor.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "support/limits.h"

namespace k2t::tool {
namespace {

namespace fs = std::filesystem;

constexpr int kError = 2;
constexpr int kInterrupted = 130;

volatile sig_atomic_t running_child = 0;
volatile sig_atomic_t interrupted_by = 0;

// Ctrl-C reaches the child by itself (same process group); a SIGTERM sent to
// this process alone is passed on. Either way the parent outlives the child
// and removes what it was writing.
extern "C" void ForwardSignal(int signal) {
  interrupted_by = signal;
  if (running_child > 0) kill(running_child, signal);
}

constexpr bool kAddressSanitizer =
#if defined(__SANITIZE_ADDRESS__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

// The data segment (heap and writable private mappings) is what a damaged
// size field inflates; the model file, mapped read-only, does not count.
// AddressSanitizer reserves terabytes of shadow memory up front and cannot run
// under such a limit.
void LimitMemory(std::int64_t memory_mib) {
  if (kAddressSanitizer || memory_mib <= 0) return;
  rlimit limit{};
  limit.rlim_cur = static_cast<rlim_t>(memory_mib) << 20;
  limit.rlim_max = limit.rlim_cur;
  setrlimit(RLIMIT_DATA, &limit);
}

// Convert's staging directories are ".NAME.k2t-PID-XXXXXXXX" beside the
// target (driver/convert.cc); those of the child's pid are removed.
void RemoveStaging(const std::string& output_dir, pid_t child) {
  if (output_dir.empty()) return;
  const fs::path target(output_dir);
  const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  const std::string prefix = fmt::format(".{}.k2t-{}-", target.filename().string(), child);
  std::error_code code;
  for (const auto& entry : fs::directory_iterator(parent, code)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
  }
}

std::string SignalName(int signal) {
  switch (signal) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGXCPU: return "SIGXCPU";
    default: return fmt::format("signal {}", signal);
  }
}

int Fail(const Supervision& supervision, const std::string& what) {
  fmt::print(stderr, "keras2torch: error: {}: {}\n", supervision.model, what);
  return kError;
}

// Why the child ended, in one line the user can act on.
int ReportDeath(const Supervision& supervision, int signal) {
  switch (signal) {
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGABRT:
      return Fail(supervision,
                  fmt::format("reading the file crashed the conversion process ({}); the file is "
                              "damaged or hostile (a fault in libhdf5 on damaged files is the "
                              "known cause)",
                              SignalName(signal)));
    case SIGKILL:
      return Fail(supervision,
                  "the conversion process was killed (SIGKILL), most likely because the system "
                  "ran out of memory; set --max-memory-mib below the free memory to have the "
                  "conversion stop with an error instead");
    default:
      return Fail(supervision,
                  fmt::format("the conversion process ended with {}", SignalName(signal)));
  }
}

}  // namespace

int RunSupervised(const Supervision& supervision, const std::function<int()>& work) {
  // Whatever is buffered would otherwise be printed twice, by both processes.
  std::fflush(nullptr);
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child < 0) {
    return Fail(supervision, fmt::format("cannot start the conversion process: {}",
                                         std::strerror(errno)));
  }
  if (child == 0) {
    // Should the parent die, nobody would end a child stuck in libhdf5.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) std::_Exit(kError);
    LimitMemory(supervision.memory_mib);
    const int status = work();
    std::fflush(nullptr);
    std::_Exit(status);
  }

  running_child = child;
  struct sigaction forward = {};
  forward.sa_handler = ForwardSignal;
  sigemptyset(&forward.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal, &forward, nullptr);

  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(supervision.seconds);
  bool timed_out = false;
  int status = 0;
  while (true) {
    const pid_t done = waitpid(child, &status, WNOHANG);
    if (done == child) break;
    if (done < 0 && errno != EINTR) {
      return Fail(supervision, fmt::format("lost the conversion process: {}",
                                           std::strerror(errno)));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      // libhdf5 cannot be interrupted; only ending the process stops it.
      kill(child, SIGKILL);
      while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  running_child = 0;

  if (WIFEXITED(status) && !timed_out) return WEXITSTATUS(status);
  RemoveStaging(supervision.output_dir, child);
  if (timed_out) {
    return Fail(supervision,
                fmt::format("the run took longer than the limit of {} seconds {}; the file may "
                            "be damaged",
                            supervision.seconds, RaiseWith(kSecondsFlag)));
  }
  const int signal = WTERMSIG(status);
  if (interrupted_by != 0) {
    fmt::print(stderr, "keras2torch: error: {}: interrupted ({}); nothing was written\n",
               supervision.model, SignalName(interrupted_by));
    return kInterrupted;
  }
  return ReportDeath(supervision, signal);
}

}  // namespace k2t::tool
