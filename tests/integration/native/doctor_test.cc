// `isol8 doctor` reports what runs will actually use: each runtime from the store's root or the
// host (with its version), and which filtered mode applies. This tier's store is empty
// (tests/CMakeLists.txt), so runtimes come from the host here; the rootfs tier checks the roots.

#include <unistd.h>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace isol8::test {
namespace {

class Doctor : public NativeTest {
 protected:
  nlohmann::json checks(const std::vector<std::string>& extra_config = {}) {
    CliOptions o = home_.options();
    if (!extra_config.empty()) spit(home_.dir().file("isol8.config.json"), extra_config[0]);
    auto r = run_cli_with({"doctor", "--json"}, o);
    EXPECT_FALSE(r.hung) << describe(r);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_array()) << describe(r);
    return j;
  }
  static std::string detail(const nlohmann::json& checks, const std::string& name) {
    for (const auto& c : checks) {
      if (c["check"] == name)
        return c["status"].get<std::string>() + " " + c["detail"].get<std::string>();
    }
    return "(no check " + name + ")";
  }
  IsolatedCli home_;
};

TEST_F(Doctor, RuntimesComeFromTheHostWhenTheStoreHasNoRoot) {
  const char* store = std::getenv("ISOL8_ROOTFS_STORE");
  ASSERT_NE(store, nullptr);
  const auto j = checks();
  // bash is on every host: the host's own, with its version, and why (no root in the store).
  const std::string bash = detail(j, "runtime bash");
  EXPECT_TRUE(bash.starts_with("OK the host's /usr/bin/bash 5.") ||
              bash.starts_with("OK the host's /bin/bash 5."))
      << bash;
  EXPECT_TRUE(contains(bash, std::string("(isol8:bash is not in the store ") + store + ")"))
      << bash;
  // A runtime missing on the host too is not available, with the way to get it.
  for (const char* rt : {"python", "node", "bun", "deno"}) {
    const std::string d = detail(j, std::string("runtime ") + rt);
    if (d.starts_with("OK the host's ")) continue;
    EXPECT_TRUE(
        d.starts_with(std::string("INFO not available: isol8:") + rt + " is not in the store"))
        << d;
    EXPECT_TRUE(contains(d, std::string("isol8 setup --runtime ") + rt)) << d;
  }
  // The old wording, which named the host while runs used the store, is gone.
  EXPECT_EQ(detail(j, "runtime python (host root)"), "(no check runtime python (host root))");
}

TEST_F(Doctor, SaysWhichFilteredModeApplies) {
  auto j = checks();
  const std::string mode = detail(j, "filtered network");
  if (::geteuid() == 0) {
    EXPECT_TRUE(mode.starts_with("OK veth: ")) << mode;
    EXPECT_TRUE(contains(mode, "(auto: root with CAP_NET_ADMIN)")) << mode;
  } else {
    EXPECT_TRUE(mode.starts_with("OK relay: ")) << mode;
  }
  j = checks({R"({"native": {"filteredMode": "relay"}})"});
  EXPECT_EQ(detail(j, "filtered network"),
            "OK relay: a loopback-only sandbox and isol8-relay to the proxy (native.filteredMode)");
}

TEST_F(Doctor, ABrokenConfigIsAFailureAndTheRestIsStillChecked) {
  const auto j = checks({R"({"defaults": {"timeoutMs": "soon"}})"});
  EXPECT_TRUE(detail(j, "config").starts_with("FAIL Invalid config in ")) << detail(j, "config");
  EXPECT_TRUE(detail(j, "kernel").starts_with("OK ")) << detail(j, "kernel");
}

}  // namespace
}  // namespace isol8::test
