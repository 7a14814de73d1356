// The create request of the docker backend against golden files (tests/unit/golden). Regenerate
// them after an intended change with ISOL8_UPDATE_GOLDEN=1 and review the diff.
#include "backends/docker/container_spec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "backends/docker/invocation.h"
#include "support/cli.h"

namespace isol8::docker {
namespace {

using nlohmann::json;

const std::string kGoldenDir = std::string(::isol8::test::kSourceDir) + "/tests/unit/golden/";
const std::string kProfile = R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]})";
// A fixed owner (common/process_owner.h): <boot id>/<pid ns inode>/<pid>/<start time>.
const std::string kOwner = "6f1c2d4e-0000-4000-8000-1234567890ab/4026531836/4242/987654";

RunSpec base_spec() {
  RunSpec spec;
  spec.argv = {"/usr/bin/python3", "-c", "print(1)"};
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/sandbox", "SECRET=s3cr3t"};
  spec.image = "isol8:python";
  spec.runtime = "python";
  spec.limits.memory_bytes = 512ull << 20;
  spec.limits.cpus = 1.5;
  spec.limits.pids = 64;
  spec.sandbox_size_bytes = 512ull << 20;
  spec.tmp_size_bytes = 256ull << 20;
  return spec;
}

void expect_golden(const std::string& name, const json& actual) {
  const std::string path = kGoldenDir + name;
  if (const char* update = std::getenv("ISOL8_UPDATE_GOLDEN"); update && *update == '1') {
    std::ofstream(path) << actual.dump(2) << "\n";
  }
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing golden file " << path;
  std::stringstream text;
  text << in.rdbuf();
  const json expected = json::parse(text.str());
  EXPECT_EQ(actual, expected) << "actual:\n" << actual.dump(2);
}

TEST(DockerContainerSpec, HardenedOneShotGolden) {
  CreateParams p;
  p.cmd = image_argv(base_spec().argv);
  p.runtime = "python";
  p.owner = kOwner;
  p.seccomp_profile = kProfile;
  auto config = make_create_request(base_spec(), p);
  ASSERT_TRUE(config) << config.error().message;
  expect_golden("docker_create_none.json", *config);
}

TEST(DockerContainerSpec, HostNetworkWithStdinUnconfinedGolden) {
  RunSpec spec = base_spec();
  spec.network = NetworkMode::kHost;
  CreateParams p;
  p.cmd = image_argv(spec.argv);
  p.runtime = "python";
  p.owner = kOwner;
  p.open_stdin = true;
  auto config = make_create_request(spec, p);
  ASSERT_TRUE(config) << config.error().message;
  expect_golden("docker_create_host_unconfined.json", *config);
}

TEST(DockerContainerSpec, PooledGolden) {
  CreateParams p;
  p.cmd = {"sleep", "infinity"};
  p.runtime = "python";
  p.owner = kOwner;
  p.seccomp_profile = kProfile;
  p.pooled = true;
  auto config = make_create_request(base_spec(), p);
  ASSERT_TRUE(config) << config.error().message;
  expect_golden("docker_create_pooled.json", *config);
}

TEST(DockerContainerSpec, SecuritySettings) {
  CreateParams p;
  p.cmd = {"python3"};
  p.seccomp_profile = kProfile;
  auto c = *make_create_request(base_spec(), p);
  const json& h = c["HostConfig"];
  EXPECT_TRUE(h["ReadonlyRootfs"].get<bool>());
  EXPECT_EQ(h["CapDrop"], json::array({"ALL"}));
  EXPECT_EQ(h["SecurityOpt"][0], "no-new-privileges");
  EXPECT_EQ(h["SecurityOpt"][1], "seccomp=" + kProfile);
  EXPECT_EQ(h["Memory"], h["MemorySwap"]);
  EXPECT_EQ(h["NanoCpus"].get<int64_t>(), 1500000000);
  EXPECT_EQ(h["Tmpfs"]["/tmp"], "rw,noexec,nosuid,nodev,size=268435456");
  EXPECT_EQ(h["Tmpfs"]["/sandbox"], "rw,exec,nosuid,nodev,size=536870912,uid=100,gid=101");
  // pid 1 (docker-init) as root with only what it takes to become the sandbox user; the run's
  // processes start as setpriv dropping to 100:101 and to no capability at all.
  EXPECT_EQ(c["User"], "0:0");
  EXPECT_TRUE(h["Init"].get<bool>());
  EXPECT_EQ(h["CapAdd"], json::array({"SETUID", "SETGID", "SETPCAP"}));
  EXPECT_EQ(c["Cmd"], json::array({"setpriv", "--reuid=100", "--regid=101", "--clear-groups",
                                   "--bounding-set=-all", "--inh-caps=-all", "--", "python3"}));
  EXPECT_EQ(c["Labels"]["isol8.managed"], "true");
  EXPECT_EQ(c["Labels"]["isol8.backend"], "docker");
  // No owner known (CreateParams::owner empty): no owner label, so no runner ever reclaims it.
  EXPECT_FALSE(c["Labels"].contains(kOwnerLabel));
}

TEST(DockerContainerSpec, FilteredGolden) {
  RunSpec spec = base_spec();
  spec.network = NetworkMode::kFiltered;
  CreateParams p;
  p.cmd = image_argv(spec.argv);
  p.runtime = "python";
  p.owner = kOwner;
  p.seccomp_profile = kProfile;
  p.filtered = FilteredMounts{"/tmp/isol8-proxy-abc/proxy.sock", "/opt/isol8/isol8-relay"};
  auto config = make_create_request(spec, p);
  ASSERT_TRUE(config) << config.error().message;
  expect_golden("docker_create_filtered.json", *config);
}

TEST(DockerContainerSpec, FilteredHasOnlyLoopbackNoCapabilityAndTheMounts) {
  RunSpec spec = base_spec();
  spec.network = NetworkMode::kFiltered;
  CreateParams p;
  p.filtered = FilteredMounts{"/run/p.sock", "/usr/libexec/isol8/isol8-relay"};
  auto c = *make_create_request(spec, p);
  const json& h = c["HostConfig"];
  EXPECT_EQ(h["NetworkMode"], "none");
  EXPECT_EQ(h["CapDrop"], json::array({"ALL"}));
  EXPECT_EQ(h["CapAdd"], json::array({"SETUID", "SETGID", "SETPCAP"}));  // pid 1's, no NET_ADMIN
  EXPECT_EQ(h["Binds"], json::array({"/run/p.sock:/.isol8/proxy.sock:ro",
                                     "/usr/libexec/isol8/isol8-relay:/.isol8/relay:ro"}));
  const auto env = c["Env"].get<std::vector<std::string>>();
  for (const char* want : {"HTTP_PROXY=http://127.0.0.1:8118", "HTTPS_PROXY=http://127.0.0.1:8118",
                           "http_proxy=http://127.0.0.1:8118", "https_proxy=http://127.0.0.1:8118",
                           "NO_PROXY=localhost,127.0.0.1"}) {
    EXPECT_NE(std::find(env.begin(), env.end(), want), env.end()) << want;
  }
}

TEST(DockerContainerSpec, FilteredWithoutMountsOrPooledIsAnError) {
  RunSpec spec = base_spec();
  spec.network = NetworkMode::kFiltered;
  EXPECT_FALSE(make_create_request(spec, CreateParams{}));
  CreateParams pooled;
  pooled.pooled = true;
  pooled.filtered = FilteredMounts{"/s", "/r"};
  EXPECT_FALSE(make_create_request(spec, pooled));
}

TEST(DockerContainerSpec, PooledIdlesAsNobodyWithoutCapabilities) {
  CreateParams p;
  p.cmd = {"sleep", "infinity"};
  p.pooled = true;
  auto c = *make_create_request(base_spec(), p);
  EXPECT_EQ(c["User"], "65534:65534");
  EXPECT_EQ(c["Cmd"], json::array({"sleep", "infinity"}));
  EXPECT_FALSE(c["HostConfig"].contains("CapAdd"));
}

// A persistent session's container idles like a pooled one (no root process, no capability),
// may be filtered (its proxy lives as long as the session) and is labelled as a session.
TEST(DockerContainerSpec, SessionIdlesAsNobodyAndMayBeFiltered) {
  RunSpec spec = base_spec();
  spec.network = NetworkMode::kFiltered;
  CreateParams p;
  p.cmd = {"sleep", "infinity"};
  p.session = true;
  p.runtime = "python";
  p.owner = kOwner;
  p.filtered = FilteredMounts{"/run/p.sock", "/usr/libexec/isol8/isol8-relay"};
  auto made = make_create_request(spec, p);
  ASSERT_TRUE(made) << made.error().message;
  const json& c = *made;
  EXPECT_EQ(c["User"], "65534:65534");
  EXPECT_EQ(c["Cmd"], json::array({"sleep", "infinity"}));
  EXPECT_FALSE(c["HostConfig"].contains("CapAdd"));
  EXPECT_EQ(c["HostConfig"]["CapDrop"], json::array({"ALL"}));
  EXPECT_EQ(c["HostConfig"]["NetworkMode"], "none");
  EXPECT_EQ(c["HostConfig"]["Binds"].size(), 2u);
  EXPECT_EQ(c["Labels"]["isol8.session"], "true");
  EXPECT_EQ(c["Labels"]["isol8.managed"], "true");
  EXPECT_EQ(c["Labels"]["isol8.runtime"], "python");
  EXPECT_EQ(c["Labels"][kOwnerLabel], kOwner);
  EXPECT_FALSE(c["Labels"].contains("isol8.pool"));
}

TEST(DockerContainerSpec, ExecRequestRunsAsTheSandboxUser) {
  const json e = make_exec_request(base_spec(), {"bash", "-c", "true"});
  EXPECT_EQ(e["User"], "100:101");
  EXPECT_TRUE(e["AttachStdin"].get<bool>());
  EXPECT_EQ(e["Env"], json(base_spec().env));
}

TEST(DockerContainerSpec, ImageArgvUsesThePathLookup) {
  EXPECT_EQ(image_argv({"/usr/bin/python3", "-c", "x"}),
            (std::vector<std::string>{"python3", "-c", "x"}));
  EXPECT_EQ(image_argv({"/usr/local/bin/node"}), (std::vector<std::string>{"node"}));
  EXPECT_EQ(image_argv({"/opt/x/bin/tool"}), (std::vector<std::string>{"/opt/x/bin/tool"}));
}

}  // namespace
}  // namespace isol8::docker
