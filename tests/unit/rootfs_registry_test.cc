#include "rootfs/registry.h"

#include <stdlib.h>

#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace isol8::rootfs {
namespace {

// Sets or removes an environment variable for one test, restoring it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Registry, PipConnectionFailureNamesTheIndexAndTheVariable) {
  ScopedEnv index("PIP_INDEX_URL", nullptr);
  const std::string out =
      "Collecting requests\n"
      "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) "
      "after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection."
      "HTTPSConnection object at 0x7f>: Failed to establish a new connection: [Errno -2] Name or "
      "service not known')': /simple/requests/\n"
      "ERROR: Could not find a version that satisfies the requirement requests (from versions: "
      "none)\n";
  auto m = unreachable_registry_message("python", out);
  ASSERT_TRUE(m);
  EXPECT_TRUE(
      m->starts_with("the package registry https://pypi.org/simple could not be reached "
                     "(WARNING: Retrying"))
      << *m;
  EXPECT_NE(m->find("Name or service not known"), std::string::npos) << *m;
  EXPECT_NE(m->find("PIP_INDEX_URL=<url>"), std::string::npos) << *m;
}

TEST(Registry, NpmFailureNamesTheConfiguredRegistry) {
  ScopedEnv lower("npm_config_registry", "http://127.0.0.1:4873/");
  const std::string out =
      "npm error code ECONNREFUSED\n"
      "npm error syscall connect\n"
      "npm error FetchError: request to http://127.0.0.1:4873/x failed, reason: connect "
      "ECONNREFUSED 127.0.0.1:4873\n";
  auto m = unreachable_registry_message("node", out);
  ASSERT_TRUE(m);
  // The last line that names the failure is quoted.
  EXPECT_TRUE(
      m->starts_with("the package registry http://127.0.0.1:4873/ could not be reached "
                     "(npm error FetchError: request to"))
      << *m;
  EXPECT_NE(m->find("npm_config_registry=<url>"), std::string::npos) << *m;
}

TEST(Registry, ANotFoundPackageIsNotAConnectionFailure) {
  EXPECT_FALSE(unreachable_registry_message(
      "node", "npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/x\n"));
  EXPECT_FALSE(unreachable_registry_message(
      "python",
      "ERROR: Could not find a version that satisfies the requirement x (from versions: "
      "1.0)\n"));
}

TEST(Registry, DefaultsWhenNothingIsConfigured) {
  ScopedEnv index("PIP_INDEX_URL", nullptr);
  ScopedEnv lower("npm_config_registry", nullptr);
  ScopedEnv upper("NPM_CONFIG_REGISTRY", nullptr);
  EXPECT_EQ(registry_url("python"), "https://pypi.org/simple");
  EXPECT_EQ(registry_url("node"), "https://registry.npmjs.org/");
  EXPECT_EQ(registry_url("deno"), "https://registry.npmjs.org/");
}

TEST(Registry, PreludePassesOnlyTheMirrorVariables) {
  const std::string p = registry_env_prelude();
  for (const char* v : {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST",
                        "npm_config_registry", "NPM_CONFIG_REGISTRY"}) {
    EXPECT_NE(p.find(v), std::string::npos) << v;
  }
  EXPECT_NE(p.find("_isol8_registry_env+=(\"$_isol8_var=${!_isol8_var}\")"), std::string::npos)
      << p;
}

}  // namespace
}  // namespace isol8::rootfs
