#include "core/runtimes.h"

#include <gtest/gtest.h>

namespace isol8 {
namespace {

TEST(Runtimes, DetectsByExtension) {
  EXPECT_EQ(detect_runtime("a/b/script.py")->name, "python");
  EXPECT_EQ(detect_runtime("x.mjs")->name, "node");
  EXPECT_EQ(detect_runtime("x.cjs")->name, "node");
  EXPECT_EQ(detect_runtime("x.js")->name, "node");
  EXPECT_EQ(detect_runtime("x.ts")->name, "bun");
  EXPECT_EQ(detect_runtime("x.mts")->name, "deno");
  EXPECT_EQ(detect_runtime("x.sh")->name, "bash");
  EXPECT_EQ(detect_runtime("x.txt"), nullptr);
  EXPECT_EQ(detect_runtime("Makefile"), nullptr);
}

TEST(Runtimes, UnknownRuntimeMessageListsTheAvailableOnes) {
  auto rt = find_runtime("ruby");
  ASSERT_FALSE(rt);
  EXPECT_EQ(rt.error().message,
            "Unknown runtime: \"ruby\". Available: python, node, bun, deno, bash");
}

}  // namespace
}  // namespace isol8
