// The session relay (server/session_relay.h) in front of the real `isol8 serve` as the owner: an
// in-process front relays every request it reads (a WebSocket after its first message) to the
// server, and the tier's clients talk to the front as they would to a node. What this adds to the
// unit tests' fake owner: the real server's SSE framing, its WebSocket close and live stdin, and
// its refusals all come through the relay as the server sent them. Native backend, root.

#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "server/awaitable.h"
#include "server/session_relay.h"
#include "server_client.h"

namespace isol8::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using nlohmann::json;
using server::with;

// One client connection of the front: its first request relayed (the caller's 503 or error event
// for an owner not reached is left out: the owner here is up).
asio::awaitable<void> relay_connection(tcp::socket socket, std::string owner) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  server::Request request;
  boost::system::error_code ec;
  co_await http::async_read(stream, buffer, request, with(ec));
  if (ec) co_return;
  if (!beast::websocket::is_upgrade(request)) {
    co_await server::relay_http(stream, request, owner, "front", server::RelayLimits{});
    co_return;
  }
  server::WebSocket ws(std::move(stream));
  co_await ws.async_accept(request, with(ec));
  if (!ec) co_await ws.async_read(buffer, with(ec));
  if (ec) co_return;
  const std::string first = beast::buffers_to_string(buffer.data());
  co_await server::relay_websocket(ws, std::string(request[http::field::authorization]), first,
                                   owner, "front", server::RelayLimits{});
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::string owner) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(with(ec));
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), relay_connection(std::move(socket), owner),
                   asio::detached);
  }
}

class SessionRelayServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) GTEST_SKIP() << "the server tier runs the native backend as root";
    owner_ = new TestServer();
  }
  static void TearDownTestSuite() {
    delete owner_;
    owner_ = nullptr;
  }
  void SetUp() override {
    if (owner_ == nullptr) GTEST_SKIP() << "not root";
    ASSERT_TRUE(owner_->ready()) << "the server did not answer /health";
    asio::co_spawn(ioc_, accept_loop(front_, "http://127.0.0.1:" + std::to_string(owner_->port())),
                   asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    if (!thread_.joinable()) return;
    work_.reset();
    ioc_.stop();
    thread_.join();
  }
  int front_port() const { return front_.local_endpoint().port(); }

  static TestServer* owner_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  tcp::acceptor front_{ioc_, {asio::ip::make_address("127.0.0.1"), 0}};
  std::thread thread_;
};
TestServer* SessionRelayServerTest::owner_ = nullptr;

json bash(const std::string& cmd) { return {{"runtime", "bash"}, {"code", cmd}}; }

TEST_F(SessionRelayServerTest, TheOwnersSseEventsComeThrough) {
  auto sse = sse_execute(front_port(), {{"request", bash("echo one; echo two >&2; exit 3")}});
  EXPECT_EQ(sse.http.status, 200);
  EXPECT_EQ(sse.http.headers["content-type"], "text/event-stream");
  ASSERT_EQ(sse.events.size(), 3u) << sse.http.body;
  EXPECT_EQ(sse.events[0], (json{{"type", "stdout"}, {"data", "one\n"}, {"phase", "code"}}));
  EXPECT_EQ(sse.events[1], (json{{"type", "stderr"}, {"data", "two\n"}, {"phase", "code"}}));
  EXPECT_EQ(sse.events[2], (json{{"type", "exit"}, {"data", "3"}, {"phase", "code"}}));
}

TEST_F(SessionRelayServerTest, TheOwnersRefusalsComeThroughAsTheyAre) {
  const auto unknown = http_request(front_port(), "DELETE", "/sessions/no-such-session");
  const auto direct = http_request(owner_->port(), "DELETE", "/sessions/no-such-session");
  EXPECT_EQ(unknown.status, direct.status);
  EXPECT_EQ(unknown.body, direct.body);
  const auto no_key = http_request(front_port(), "GET", "/sessions", "", "");
  EXPECT_EQ(no_key.status, 401);
  EXPECT_EQ(no_key.body, R"({"error":"Missing Authorization header"})");
}

TEST_F(SessionRelayServerTest, AWebSocketRunWithLiveStdinComesThroughWithItsClose) {
  // The stdin line goes only once the program has asked for it: it reached the program through
  // the relay after the first message.
  const std::string execute = json{{"type", "execute"},
                                   {"stdinStream", true},
                                   {"request", bash("echo ready; read line; echo \"got=$line\"")}}
                                  .dump();
  const std::string line = json{{"type", "stdin"}, {"data", "hello\n"}}.dump();
  bool sent = false;
  auto ws = ws_conversation(front_port(), {execute}, [&](const json& frame) {
    std::vector<std::string> next;
    if (!sent && frame.value("data", "") == "ready\n") {
      sent = true;
      next.push_back(line);
    }
    return next;
  });
  ASSERT_TRUE(ws.upgraded) << ws.refused;
  std::string out;
  for (const auto& f : ws.frames) {
    if (f.value("type", "") == "stdout") out += f.value("data", "");
  }
  EXPECT_EQ(out, "ready\ngot=hello\n");
  ASSERT_FALSE(ws.frames.empty());
  EXPECT_EQ(ws.frames.back(), (json{{"type", "exit"}, {"data", "0"}, {"phase", "code"}}));
  EXPECT_EQ(ws.close_code, 1000);
  EXPECT_EQ(ws.close_reason, "Execution complete");
}

}  // namespace
}  // namespace isol8::test
