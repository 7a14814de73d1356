// The removal of containers that killed runners left (backends/docker/reclaim.h) against a fake
// daemon: only the containers of provably dead owners of this boot and pid namespace go.
#include "backends/docker/reclaim.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "fake_docker_daemon.h"

namespace isol8::docker {
namespace {

using namespace isol8::test::fake_docker;
using nlohmann::json;

pid_t reaped_child() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

json container(const std::string& id, const std::string& state, json labels) {
  labels["isol8.managed"] = "true";
  return json{{"Id", id}, {"State", state}, {"Image", "isol8:python"}, {"Labels", labels}};
}

TEST(DockerReclaim, RemovesOnlyTheContainersOfDeadOwners) {
  auto self = current_owner();
  ASSERT_TRUE(self) << self.error().message;
  ProcessOwner dead = *self;
  dead.pid = reaped_child();
  ProcessOwner reused = *self;  // our own pid, but a process that started at another time
  reused.start_time += 1;
  ProcessOwner other_boot = dead;
  other_boot.boot_id = "00000000-0000-4000-8000-000000000000";
  ProcessOwner other_ns = dead;
  other_ns.pid_ns += 1;
  const json list = json::array({
      container("dead1", "running", {{"isol8.owner", format_owner(dead)}}),
      container("dead2", "exited", {{"isol8.owner", format_owner(reused)}}),
      container("live", "running", {{"isol8.owner", format_owner(*self)}}),
      container("boot", "exited", {{"isol8.owner", format_owner(other_boot)}}),
      container("ns", "exited", {{"isol8.owner", format_owner(other_ns)}}),
      container("malformed", "exited", {{"isol8.owner", "not-an-owner"}}),
      container("unlabelled", "exited", json::object()),
  });
  FakeDaemon d(4, [&](const Recorded& r, local::socket& s) {
    if (r.target == "/_ping") return send(s, ping("1.41"));
    if (r.method == "GET") return send(s, json_response(200, "OK", list.dump()));
    // The second removal finds the container gone already (another runner was first).
    if (r.target.find("dead2") != std::string::npos) {
      return send(s, json_response(404, "Not Found", R"({"message":"No such container: dead2"})"));
    }
    send(s, "HTTP/1.1 204 No Content\r\nApi-Version: 1.41\r\n\r\n");
  });
  DockerClient client(endpoint_of(d));
  auto removed = remove_dead_owners_containers(client, *self);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(*removed, 1u);
  d.join();
  std::vector<std::string> deletes;
  for (const auto& r : d.requests) {
    if (r.method == "DELETE") deletes.push_back(r.target);
  }
  EXPECT_EQ(deletes, (std::vector<std::string>{"/v1.41/containers/dead1?force=true&v=true",
                                               "/v1.41/containers/dead2?force=true&v=true"}));
  ASSERT_GE(d.requests.size(), 2u);
  EXPECT_TRUE(d.requests[1].target.starts_with("/v1.41/containers/json?all=true&filters="))
      << d.requests[1].target;
}

TEST(DockerReclaim, AListFailureIsAnErrorNotACrash) {
  auto self = current_owner();
  ASSERT_TRUE(self) << self.error().message;
  FakeDaemon d(2, [](const Recorded& r, local::socket& s) {
    if (r.target == "/_ping") return send(s, ping("1.41"));
    send(s, json_response(500, "Internal Server Error", R"({"message":"boom"})"));
  });
  DockerClient client(endpoint_of(d));
  auto removed = remove_dead_owners_containers(client, *self);
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().message, "Docker: boom");
}

}  // namespace
}  // namespace isol8::docker
