// Every `isol8 run` starts the CLI anew, and each shared library it needs costs the dynamic
// loader symbol lookups on every start (cmake/dependencies.cmake). What is not glibc is linked
// statically or loaded on first use (libnftables, libcurl, libpq): this keeps it that way.

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "support/test_support.h"

namespace isol8::test {
namespace {

TEST(BinaryDependencies, TheCliNeedsOnlyGlibcAtStart) {
  const std::string dynamic = sh_out(std::string("readelf -d '") + ISOL8_BINARY + "' 2>&1");
  ASSERT_TRUE(contains(dynamic, "(NEEDED)")) << dynamic;
  std::set<std::string> needed;
  std::istringstream lines(dynamic);
  for (std::string line; std::getline(lines, line);) {
    if (!contains(line, "(NEEDED)")) continue;
    const auto open = line.find('[');
    const auto close = line.find(']');
    if (open != std::string::npos && close > open)
      needed.insert(line.substr(open + 1, close - open - 1));
  }
  const std::set<std::string> glibc = {"libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2",
                                       "ld-linux-aarch64.so.1"};
  for (const auto& lib : needed) {
    EXPECT_TRUE(glibc.count(lib) == 1)
        << lib
        << " is loaded at every start of the CLI: link it statically or load it on first "
           "use (cmake/dependencies.cmake)";
  }
}

}  // namespace
}  // namespace isol8::test
