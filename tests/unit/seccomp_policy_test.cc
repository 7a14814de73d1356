#include "seccomp/policy.h"

#include "seccomp/baked_filter.h"
#include "support/cli.h"
#include "support/files.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace isol8 {
namespace {

namespace fs = std::filesystem;

const fs::path kProfilesDir = fs::path(::isol8::test::kSourceDir) / "profiles";

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh directory under the build's temp dir, removed at the end of the test.
class SeccompPolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("isol8-seccomp-policy-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name) << content;
    return dir_ / name;
  }
  fs::path dir_;
};

TEST_F(SeccompPolicy, EmbeddedProfileMatchesTheFile) {
  EXPECT_EQ(embedded_default_seccomp_profile(), slurp(kProfilesDir / "default.json"));
}

TEST_F(SeccompPolicy, StrictUsesTheProfilesDirectory) {
  auto program = load_seccomp_policy(SeccompMode::kStrict, "", kProfilesDir);
  ASSERT_TRUE(program) << program.error().message;
  ASSERT_TRUE(program->has_value());
  EXPECT_GT((*program)->size(), 0u);
  EXPECT_NE((*program)->fprog(), nullptr);
}

TEST_F(SeccompPolicy, StrictFallsBackToTheEmbeddedProfile) {
  // An installed binary without the source tree: no default.json in the profiles directory.
  auto from_file = load_seccomp_policy(SeccompMode::kStrict, "", kProfilesDir);
  auto embedded = load_seccomp_policy(SeccompMode::kStrict, "", dir_ / "missing");
  ASSERT_TRUE(embedded) << embedded.error().message;
  ASSERT_TRUE(from_file && embedded->has_value() && from_file->has_value());
  EXPECT_EQ((*embedded)->size(), (*from_file)->size());
  auto no_dir = load_seccomp_policy(SeccompMode::kStrict, "", "");
  ASSERT_TRUE(no_dir) << no_dir.error().message;
  EXPECT_TRUE(no_dir->has_value());
}

TEST_F(SeccompPolicy, BrokenDefaultProfileRefusesTheRun) {
  write("default.json", R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [)");
  auto program = load_seccomp_policy(SeccompMode::kStrict, "", dir_);
  ASSERT_FALSE(program);
  EXPECT_EQ(program.error().message, "Failed to load default seccomp profile: invalid JSON");
  auto text = load_seccomp_profile_text(SeccompMode::kStrict, "", dir_);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().message, "Failed to load default seccomp profile: invalid JSON");
}

TEST_F(SeccompPolicy, UnconfinedHasNoFilter) {
  auto program = load_seccomp_policy(SeccompMode::kUnconfined, "/ignored.json", kProfilesDir);
  ASSERT_TRUE(program) << program.error().message;
  EXPECT_FALSE(program->has_value());
  auto text = load_seccomp_profile_text(SeccompMode::kUnconfined, "", kProfilesDir);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_FALSE(text->has_value());
}

TEST_F(SeccompPolicy, CustomLoadsTheGivenFile) {
  const std::string json = R"({"defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})";
  const fs::path path = write("custom.json", json);
  auto program = load_seccomp_policy(SeccompMode::kCustom, path, kProfilesDir);
  ASSERT_TRUE(program) << program.error().message;
  ASSERT_TRUE(program->has_value());
  EXPECT_GT((*program)->size(), 0u);
  auto text = load_seccomp_profile_text(SeccompMode::kCustom, path, kProfilesDir);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(**text, json);
}

TEST_F(SeccompPolicy, StrictTextIsTheDefaultProfile) {
  auto text = load_seccomp_profile_text(SeccompMode::kStrict, "", kProfilesDir);
  ASSERT_TRUE(text) << text.error().message;
  ASSERT_TRUE(text->has_value());
  EXPECT_EQ(**text, slurp(kProfilesDir / "default.json"));
}

TEST_F(SeccompPolicy, MissingCustomProfileRefusesTheRun) {
  const fs::path path = dir_ / "nope.json";
  auto program = load_seccomp_policy(SeccompMode::kCustom, path, kProfilesDir);
  ASSERT_FALSE(program);
  EXPECT_EQ(program.error().message, "Failed to load custom seccomp profile at " + path.string() +
                                         ": cannot open " + path.string() +
                                         ": No such file or directory");
  EXPECT_EQ(program.error().code, ENOENT);
}

TEST_F(SeccompPolicy, InvalidCustomProfileRefusesTheRun) {
  const fs::path bad_json = write("bad.json", "not json");
  auto program = load_seccomp_policy(SeccompMode::kCustom, bad_json, kProfilesDir);
  ASSERT_FALSE(program);
  EXPECT_EQ(program.error().message,
            "Failed to load custom seccomp profile at " + bad_json.string() + ": invalid JSON");

  const fs::path bad_action = write("action.json", R"({"defaultAction": "SCMP_ACT_ERRNO",
      "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_MAYBE"}]})");
  program = load_seccomp_policy(SeccompMode::kCustom, bad_action, kProfilesDir);
  ASSERT_FALSE(program);
  EXPECT_EQ(program.error().message,
            "Failed to load custom seccomp profile at " + bad_action.string() +
                ": syscalls[0] (ptrace): unknown action \"SCMP_ACT_MAYBE\"");

  // Parses, but libseccomp refuses it (the same condition with two actions): a compile error is
  // reported the same way.
  const fs::path conflict = write("conflict.json", R"({"defaultAction": "SCMP_ACT_ERRNO",
      "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                   {"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]})");
  program = load_seccomp_policy(SeccompMode::kCustom, conflict, kProfilesDir);
  ASSERT_FALSE(program);
  EXPECT_EQ(program.error().message.rfind(
                "Failed to load custom seccomp profile at " + conflict.string() + ": ", 0),
            0u)
      << program.error().message;
}

TEST_F(SeccompPolicy, CustomWithoutAPathRefusesTheRun) {
  auto program = load_seccomp_policy(SeccompMode::kCustom, "", kProfilesDir);
  ASSERT_FALSE(program);
  EXPECT_EQ(program.error().message,
            "Failed to load custom seccomp profile: security.customProfilePath is not set");
}

}  // namespace
}  // namespace isol8

namespace isol8 {
namespace {

// The build-time BPF must be exactly what compiling the embedded profile gives at run time, or
// the strict mode would enforce something other than profiles/default.json.
TEST(SeccompBakedFilter, EqualsTheRunTimeCompilationOfTheEmbeddedProfile) {
  const auto baked = baked_default_filter();
  ASSERT_FALSE(baked.empty()) << "profiles/default.json has no kernel-dependent rules";
  auto profile = parse_seccomp_profile(embedded_default_seccomp_profile());
  ASSERT_TRUE(profile) << profile.error().message;
  auto compiled = compile_seccomp_profile(*profile);
  ASSERT_TRUE(compiled) << compiled.error().message;
  ASSERT_EQ(compiled->size(), baked.size());
  for (size_t i = 0; i < baked.size(); ++i) {
    const sock_filter& a = compiled->instructions()[i];
    const sock_filter& b = baked[i];
    ASSERT_TRUE(a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k) << "at " << i;
  }
}

TEST(SeccompBakedFilter, StrictModeUsesItOnlyForTheUnchangedProfile) {
  auto strict = load_seccomp_policy(SeccompMode::kStrict, {}, {});
  ASSERT_TRUE(strict && *strict);
  EXPECT_EQ((*strict)->size(), baked_default_filter().size());
  // An edited installed profile is compiled from its own text.
  const test::TempDir tmp("isol8-baked");
  ASSERT_FALSE(tmp.path().empty());
  const std::string dir = tmp.path();
  {
    std::ofstream f(dir + "/default.json");
    f << R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
          {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]})";
  }
  auto edited = load_seccomp_policy(SeccompMode::kStrict, {}, dir);
  ASSERT_TRUE(edited && *edited) << (edited ? "" : edited.error().message);
  EXPECT_LT((*edited)->size(), baked_default_filter().size());
}

}  // namespace
}  // namespace isol8
