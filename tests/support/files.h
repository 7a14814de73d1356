#pragma once
// Files and text for tests: read and write whole files, a temporary directory removed at scope
// exit, and the small string checks every tier uses.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace isol8::test {

// The whole file, or "" when it cannot be read.
std::string slurp(const std::string& path);

// Replaces the file's contents with `data`; false when it cannot be written.
bool spit(const std::string& path, const std::string& data);

// The file without trailing whitespace (how a one-value file such as a cgroup's memory.max reads).
std::string slurp_trimmed(const std::string& path);

bool contains(std::string_view haystack, std::string_view needle);

// Removes trailing whitespace (the CLI and engine trim output the same way).
std::string rtrim(std::string s);

// The lines of `text`, without their newlines.
std::vector<std::string> lines_of(const std::string& text);

// The CLI's stderr without the runner's own "[WARN] ..." lines (e.g. about limits this host
// cannot enforce), so that tests can compare the program's stderr exactly.
std::string without_warnings(const std::string& err);

// `size` deterministic pseudo-random bytes (the same on every run): any byte value with
// `with_nul`, else only 0x80..0xFF (never valid UTF-8 text).
std::string garbage_bytes(size_t size, bool with_nul);

// A fresh directory <temp dir>/<prefix>-XXXXXX, removed with its contents at scope exit. The
// prefix names the test that made it (the native tier's leak check leaves "isol8-native-" out of
// what it counts in /tmp). path() is empty when the directory could not be made.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "isol8-native");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // <path>/<relative>, e.g. file("isol8.config.json") or file(".isol8/config.json").
  std::string file(const std::string& relative) const { return path_ + "/" + relative; }
  // The same as a std::filesystem::path: dir / "a" / "b".
  std::filesystem::path operator/(const std::filesystem::path& relative) const {
    return std::filesystem::path(path_) / relative;
  }

 private:
  std::string path_;
};

}  // namespace isol8::test
