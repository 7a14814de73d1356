#pragma once
// Reads a local directory into the request's `files` map (the CLI's --files), as upstream does:
// every regular file, by its path relative to the directory, under /sandbox, with its permission
// bits (as a tar copy keeps them: an executable script stays executable; setuid, setgid and
// sticky bits are dropped).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "isol8/result.h"

namespace isol8 {

// Directory names never copied (upstream's list): version control, dependencies, caches.
inline constexpr const char* kSkippedDirectories[] = {".git",  "node_modules", "__pycache__",
                                                      ".venv", "venv",         ".tox"};

struct CollectedFiles {
  std::map<std::string, std::string> files;  // "/sandbox/<relative path>" -> content
  std::map<std::string, uint32_t> modes;     // the same keys -> permission bits (<= 0777)
  // Symlinks that were not followed because they lead out of the directory (or nowhere).
  std::vector<std::string> skipped_links;
};

// Errors: `--files path is not a directory` (upstream's message), unreadable files, or more than
// `max_total_bytes` in all.
Result<CollectedFiles> collect_files(const std::string& dir, uint64_t max_total_bytes);

}  // namespace isol8
