// The Engine API client against a fake daemon on a Unix socket that serves responses recorded
// from dockerd 20.10 (API 1.41). The fake parses requests with Beast too, and records them.

#include "backends/docker/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <filesystem>
#include <limits>
#include <functional>
#include <thread>

#include "backends/docker/demux.h"
#include "backends/docker/stream_pump.h"

namespace isol8::docker {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using local = asio::local::stream_protocol;

struct Recorded {
  std::string method;
  std::string target;
  std::string host;
  std::string body;
};

// Serves `count` connections; `respond` writes the raw response for a parsed request.
class FakeDaemon {
 public:
  using Responder = std::function<void(const Recorded&, local::socket&)>;
  FakeDaemon(int count, Responder respond)
      : path_(std::filesystem::temp_directory_path() /
              ("isol8-fake-docker-" + std::to_string(::getpid()) + "-" +
               std::to_string(counter_++) + ".sock")),
        acceptor_(io_, local::endpoint(path_.string())),
        thread_([this, count, respond] {
          for (int i = 0; i < count; ++i) {
            local::socket s(io_);
            boost::system::error_code ec;
            acceptor_.accept(s, ec);
            if (ec) return;
            boost::beast::flat_buffer buf;
            http::request_parser<http::string_body> parser;
            parser.body_limit(std::numeric_limits<std::uint64_t>::max());
            http::read(s, buf, parser, ec);
            if (ec) {
              ADD_FAILURE() << "fake daemon: " << ec.message();
              return;
            }
            Recorded r{std::string(parser.get().method_string()),
                       std::string(parser.get().target()),
                       std::string(parser.get()[http::field::host]), parser.get().body()};
            requests.push_back(r);
            // Bytes after the request (attach stdin) are left in buf: hand them over.
            leftover.assign(static_cast<const char*>(buf.data().data()), buf.data().size());
            respond(r, s);
          }
        }) {}
  ~FakeDaemon() {
    if (thread_.joinable()) thread_.join();
    std::filesystem::remove(path_);
  }
  std::string url() const { return "unix://" + path_.string(); }
  void join() { thread_.join(); }

  std::vector<Recorded> requests;
  std::string leftover;

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
  asio::io_context io_;
  local::acceptor acceptor_;
  std::thread thread_;
};

void send(local::socket& s, const std::string& raw) { asio::write(s, asio::buffer(raw)); }

// Recorded from dockerd 20.10.24 (headers trimmed to what matters).
const std::string kPing =
    "HTTP/1.1 200 OK\r\nApi-Version: {V}\r\nContent-Length: 2\r\nContent-Type: text/plain; "
    "charset=utf-8\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n\r\nOK";
std::string ping(const std::string& version) {
  std::string p = kPing;
  p.replace(p.find("{V}"), 3, version);
  return p;
}
std::string json_response(int status, const std::string& reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

Endpoint endpoint_of(const FakeDaemon& d) { return *parse_docker_host(d.url()); }

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
