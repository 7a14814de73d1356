#pragma once
// The CLI's writes to its own stdout and stderr during and after a run: the program's output,
// the result, the markers. SIGPIPE is ignored, so a reader that is gone shows as EPIPE: that is
// noted on the run's interrupts (which cancels the run) and nothing more goes to that fd.

#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/run_interrupts.h"

namespace isol8::cli {

class ConsoleOutput {
 public:
  explicit ConsoleOutput(RunInterrupts& interrupts) : interrupts_(interrupts) {}

  void out(std::string_view data) { write(kOut, data); }
  void err(std::string_view data) { write(kErr, data); }
  // `j` followed by a newline, serialised straight to stdout (no copy of the whole text);
  // invalid UTF-8 is replaced.
  void out_json(const nlohmann::json& j);

 private:
  enum Stream { kOut, kErr };
  void write(Stream stream, std::string_view data);

  RunInterrupts& interrupts_;
  bool closed_[2] = {false, false};
};

}  // namespace isol8::cli
