#include "support/files.h"

#include <stdlib.h>

#include <cctype>
#include <cstdint>
#include <fstream>
#include <sstream>

namespace isol8::test {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool spit(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  return static_cast<bool>(out);
}

std::string slurp_trimmed(const std::string& path) { return rtrim(slurp(path)); }

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string rtrim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::string without_warnings(const std::string& err) {
  std::string out;
  size_t i = 0;
  while (i < err.size()) {
    size_t end = err.find('\n', i);
    end = end == std::string::npos ? err.size() : end + 1;
    if (err.compare(i, 7, "[WARN] ") != 0) out.append(err, i, end - i);
    i = end;
  }
  return out;
}

std::string garbage_bytes(size_t size, bool with_nul) {
  std::string out(size, '\0');
  uint32_t x = 2463534242u;  // xorshift32
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(with_nul ? (x & 0xFF) : (0x80 | (x & 0x7F)));
  }
  return out;
}

TempDir::TempDir(std::string_view prefix) {
  std::error_code ec;
  std::string tmpl =
      (std::filesystem::temp_directory_path(ec) / (std::string(prefix) + "-XXXXXX")).string();
  if (ec) tmpl = "/tmp/" + std::string(prefix) + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

}  // namespace isol8::test
