// The Engine API client against a fake daemon on a Unix socket that serves responses recorded
// from dockerd 20.10 (API 1.41). The fake parses requests with Beast too, and records them.

#include "backends/docker/client.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "backends/docker/demux.h"
#include "backends/docker/stream_pump.h"
#include "common/unique_fd.h"
#include "fake_docker_daemon.h"

namespace isol8::docker {
namespace {

using namespace isol8::test::fake_docker;

TEST(DockerClient, NegotiatesAndPrefixesEveryPath) {
  FakeDaemon d(2, [](const Recorded& r, local::socket& s) {
    if (r.target == "/_ping") return send(s, ping("1.43"));
    send(s, json_response(200, "OK", R"({"Version":"20.10.24+dfsg1","ApiVersion":"1.41"})"));
  });
  DockerClient c(endpoint_of(d));
  auto v = c.version();
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ((*v)["Version"], "20.10.24+dfsg1");
  d.join();
  ASSERT_EQ(d.requests.size(), 2u);
  EXPECT_EQ(d.requests[1].target, "/v1.41/version");
  for (const auto& r : d.requests) EXPECT_FALSE(r.host.empty()) << r.target;
}

TEST(DockerClient, OlderDaemonVersionIsUsed) {
  FakeDaemon d(1, [](const Recorded&, local::socket& s) { send(s, ping("1.40")); });
  DockerClient c(endpoint_of(d));
  auto v = c.api_version();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, "1.40");
}

TEST(DockerClient, DaemonErrorsPassThrough) {
  FakeDaemon d(3, [](const Recorded& r, local::socket& s) {
    if (r.target == "/_ping") return send(s, ping("1.41"));
    if (r.method == "POST") {
      return send(s, json_response(404, "Not Found", R"({"message":"No such image: isol8:nope"})"));
    }
    send(s, json_response(404, "Not Found",
                          R"({"message":"no such image: isol8:nope: No such image: isol8:nope"})"));
  });
  DockerClient c(endpoint_of(d));
  auto created = c.create_container(nlohmann::json{{"Image", "isol8:nope"}});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, 404);
  EXPECT_EQ(created.error().message, "Docker: No such image: isol8:nope");
  auto inspected = c.inspect_image("isol8:nope");
  ASSERT_TRUE(inspected);
  EXPECT_FALSE(inspected->has_value());
  d.join();
  EXPECT_EQ(d.requests[1].target, "/v1.41/containers/create");
  EXPECT_EQ(d.requests[1].body, R"({"Image":"isol8:nope"})");
  EXPECT_EQ(d.requests[2].target, "/v1.41/images/isol8%3Anope/json");
}

// Recorded from dockerd 20.10.24: GET /containers/json?all=true with a label filter.
const std::string kContainerList =
    R"([{"Id":"d38dbdb13baef7f1b9ca7be851e9fd53c4f3d7872da9b5b6d42955f6e2b55477",)"
    R"("Names":["/serene_lalande"],"Image":"isol8:bash","ImageID":"sha256:d7279d9be5e6c707a8fe)"
    R"(b2f4a6d1c865ef808cfea18c778efb1b94e50cadc1eb","Command":"sleep 1","Created":1795746737,)"
    R"("Ports":[],"Labels":{"isol8.backend":"docker","isol8.managed":"true","isol8.owner":)"
    R"("b/1/2/3","isol8.runtime":"bash","org.isol8.runtime":"bash","org.isol8.source":)"
    R"("/var/lib/isol8/rootfs/isol8:bash"},"State":"created","Status":"Created","HostConfig":)"
    R"({"NetworkMode":"none"},"NetworkSettings":{"Networks":{"none":{"IPAMConfig":null,"Links":)"
    R"(null,"Aliases":null,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"",)"
    R"("IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,)"
    R"("MacAddress":"","DriverOpts":null}}},"Mounts":[]}])";

TEST(DockerClient, ListContainersSendsTheFilterAndAll) {
  FakeDaemon d(2, [](const Recorded& r, local::socket& s) {
    if (r.target == "/_ping") return send(s, ping("1.41"));
    send(s, json_response(200, "OK", kContainerList));
  });
  DockerClient c(endpoint_of(d));
  auto listed = c.list_containers(
      nlohmann::json{{"label", nlohmann::json::array({"isol8.managed=true", "isol8.owner"})}},
      true);
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0]["Labels"]["isol8.owner"], "b/1/2/3");
  EXPECT_EQ((*listed)[0]["State"], "created");
  d.join();
  ASSERT_EQ(d.requests.size(), 2u);
  EXPECT_EQ(d.requests[1].method, "GET");
  // filters={"label":["isol8.managed=true","isol8.owner"]}, percent-encoded.
  EXPECT_EQ(d.requests[1].target,
            "/v1.41/containers/json?all=true&filters=%7B%22label%22%3A%5B%22isol8.managed%3Dtrue"
            "%22%2C%22isol8.owner%22%5D%7D");
}

TEST(DockerClient, HijackedAttachIsBidirectional) {
  std::string stdin_seen;
  FakeDaemon* self = nullptr;
  FakeDaemon d(2, [&](const Recorded& r, local::socket& s) {
    if (r.target == "/_ping") return send(s, ping("1.41"));
    send(s,
         "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
         "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    // Read the client's stdin until it half-closes, then answer with frames and close.
    stdin_seen = self->leftover;
    char buf[4096];
    boost::system::error_code ec;
    for (;;) {
      const size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      stdin_seen.append(buf, n);
    }
    const std::string out(
        "\x01\0\0\0\0\0\0\x03"
        "out",
        11);
    const std::string err(
        "\x02\0\0\0\0\0\0\x03"
        "err",
        11);
    send(s, out + err);
  });
  self = &d;
  DockerClient c(endpoint_of(d));
  auto stream = c.attach_container("abc", true);
  ASSERT_TRUE(stream) << stream.error().message;
  std::string out, err;
  FrameDemuxer demux([&](FrameStream f, std::string_view p) {
    (f == FrameStream::kStdout ? out : err).append(p);
  });
  auto pumped = pump_stream(*stream, "payload-bytes",
                            std::chrono::steady_clock::now() + std::chrono::seconds(10), -1, demux);
  ASSERT_TRUE(pumped) << pumped.error().message;
  EXPECT_FALSE(pumped->timed_out);
  d.join();
  EXPECT_EQ(stdin_seen, "payload-bytes");
  EXPECT_EQ(out, "out");
  EXPECT_EQ(err, "err");
  EXPECT_EQ(d.requests[1].target,
            "/v1.41/containers/abc/attach?stream=1&stdout=1&stderr=1&stdin=1");
}

TEST(DockerClient, PumpWritesThePayloadThenTheLiveSourceUntilItsEof) {
  // The daemon sees the payload, then what the source yields, and the half-close only after the
  // source's EOF: the source is written and closed while the pump runs.
  std::string stdin_seen;
  FakeDaemon* self = nullptr;
  int source[2];
  ASSERT_EQ(::pipe2(source, O_CLOEXEC), 0);
  UniqueFd source_read(source[0]), source_write(source[1]);
  FakeDaemon d(2, [&](const Recorded& r, local::socket& s) {
    if (r.target == "/_ping") return send(s, ping("1.41"));
    send(s,
         "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
         "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    stdin_seen = self->leftover;
    char buf[4096];
    boost::system::error_code ec;
    bool wrote_more = false;
    for (;;) {
      const size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      stdin_seen.append(buf, n);
      if (!wrote_more && stdin_seen == "payload|") {
        wrote_more = true;
        ASSERT_EQ(::write(source_write.get(), "live", 4), 4);
        source_write.reset();  // its EOF
      }
    }
    send(s, std::string("\x01\0\0\0\0\0\0\x02ok", 10));
  });
  self = &d;
  DockerClient c(endpoint_of(d));
  auto stream = c.attach_container("abc", true);
  ASSERT_TRUE(stream) << stream.error().message;
  std::string out;
  FrameDemuxer demux([&](FrameStream, std::string_view p) { out.append(p); });
  auto pumped =
      pump_stream(*stream, "payload|", std::chrono::steady_clock::now() + std::chrono::seconds(10),
                  -1, demux, source_read.get());
  ASSERT_TRUE(pumped) << pumped.error().message;
  EXPECT_FALSE(pumped->timed_out);
  d.join();
  EXPECT_EQ(stdin_seen, "payload|live");
  EXPECT_EQ(out, "ok");
}

TEST(DockerClient, ImportStreamsAChunkedBody) {
  FakeDaemon d(2, [](const Recorded& r, local::socket& s) {
    if (r.target == "/_ping") return send(s, ping("1.41"));
    const std::string body =
        "{\"status\":\"sha256:50f3f14c7674910561ee30e14875194ad3238c2ba78d0d76fba8f0659025bb41\"}"
        "\r\n";
    send(s, json_response(200, "OK", body));
  });
  DockerClient c(endpoint_of(d));
  auto id = c.import_image("isol8", "python", {"LABEL org.isol8.runtime=python"},
                           [](const ChunkWriter& w) -> Result<void> {
                             ISOL8_TRY(w("first chunk,"));
                             ISOL8_TRY(w(std::string(100000, 'x')));
                             return w("last");
                           });
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, "sha256:50f3f14c7674910561ee30e14875194ad3238c2ba78d0d76fba8f0659025bb41");
  d.join();
  EXPECT_EQ(d.requests[1].body, "first chunk," + std::string(100000, 'x') + "last");
  EXPECT_EQ(d.requests[1].target,
            "/v1.41/images/create?fromSrc=-&repo=isol8&tag=python&changes=LABEL%20org.isol8."
            "runtime%3Dpython");
}

TEST(DockerClient, ImportErrorInsideA200Stream) {
  FakeDaemon d(2, [](const Recorded& r, local::socket& s) {
    if (r.target == "/_ping") return send(s, ping("1.41"));
    send(s,
         json_response(200, "OK",
                       "{\"errorDetail\":{\"message\":\"unexpected EOF\"},\"error\":\"unexpected "
                       "EOF\"}\r\n"));
  });
  DockerClient c(endpoint_of(d));
  auto id = c.import_image("isol8", "x", {}, [](const ChunkWriter& w) { return w("junk"); });
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().message, "Docker image import failed: unexpected EOF");
}

TEST(DockerClient, UnreachableDaemonIsNamed) {
  DockerClient c(*parse_docker_host("unix:///nonexistent/isol8-test.sock"));
  auto r = c.ping();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().message.starts_with(
      "Docker is not running or not reachable at /nonexistent/isol8-test.sock"))
      << r.error().message;
  EXPECT_TRUE(is_unreachable(r.error()));
}

}  // namespace
}  // namespace isol8::docker
