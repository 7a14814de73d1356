#pragma once
// The runtimes, each defined in one place: how inline code runs, how a file runs, which
// extensions it owns, and where its interpreter lives.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isol8/result.h"

namespace isol8 {

struct Runtime {
  std::string_view name;
  std::string_view interpreter;               // looked up in kInterpreterDirs inside the root
  std::string_view host_interpreter;          // preferred absolute path in host-root mode, if any
  std::vector<std::string_view> inline_args;  // argv after the interpreter, then the code; empty:
                                              // inline code is not supported (always a file)
  std::vector<std::string_view> file_args;    // argv after the interpreter, then the file path
  std::string_view default_extension;
  std::vector<std::string_view> extensions;  // for detection by file name
};

// Directories searched for an interpreter, inside the sandbox's root.
inline constexpr std::string_view kInterpreterDirs[] = {"/usr/local/bin", "/usr/bin", "/bin"};

const std::vector<Runtime>& runtimes();
// "python, node, bun, deno, bash"
std::string runtime_names();

// `Unknown runtime: "x". Available: ...` when not found.
Result<const Runtime*> find_runtime(std::string_view name);

// By extension (text after the last dot): .py python, .js/.mjs/.cjs node, .ts bun, .mts deno,
// .sh bash. Nothing for anything else.
const Runtime* detect_runtime(std::string_view filename);

// The file's extension including the dot (".py"), or "" if the name has none.
std::string file_extension(std::string_view filename);

}  // namespace isol8
