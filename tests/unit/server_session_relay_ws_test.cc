// relay_websocket (server/session_relay.h) between a blocking WebSocket client, a front that
// accepts it, reads the first message and relays, and a fake owner node, all on loopback.

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "relay_loopback.h"
#include "server/awaitable.h"
#include "server/session_relay.h"

namespace isol8::server::relay_test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::use_awaitable;
using boost::system::error_code;

// What the owner saw of the relayed WebSocket.
struct OwnerView {
  std::string authorization;
  std::string relayed_by;
  std::string target;
  std::vector<std::string> messages;  // "text:..." or "binary:..."
  websocket::close_reason close;      // the close the relay sent, when the relay ended it
};

// Accepts the relay's WebSocket on `acceptor`, noting the upgrade request's headers.
asio::awaitable<WebSocket> accept_owner_side(tcp::acceptor& acceptor, OwnerView& view) {
  beast::tcp_stream stream(co_await acceptor.async_accept(use_awaitable));
  beast::flat_buffer buffer;
  Request upgrade;
  co_await http::async_read(stream, buffer, upgrade, use_awaitable);
  view.authorization = std::string(upgrade[http::field::authorization]);
  view.relayed_by = std::string(upgrade[kRelayedByHeader]);
  view.target = std::string(upgrade.target());
  WebSocket ws(std::move(stream));
  co_await ws.async_accept(upgrade, use_awaitable);
  co_return ws;
}

std::string message_of(const WebSocket& ws, const beast::flat_buffer& buffer) {
  return (ws.got_text() ? "text:" : "binary:") + beast::buffers_to_string(buffer.data());
}

// An owner that answers each of three messages (execute, stdin, binary) and then closes with an
// application close code, as a run that ends.
asio::awaitable<void> conversing_owner(tcp::acceptor& acceptor, Handoff<OwnerView> done) {
  OwnerView view;
  WebSocket ws = co_await accept_owner_side(acceptor, view);
  beast::flat_buffer buffer;
  for (int i = 0; i < 3; ++i) {
    co_await ws.async_read(buffer, use_awaitable);
    view.messages.push_back(message_of(ws, buffer));
    ws.text(ws.got_text());
    const std::string answer =
        ws.got_text() ? "echo " + beast::buffers_to_string(buffer.data()) : std::string("\x01\x02");
    buffer.consume(buffer.size());
    co_await ws.async_write(asio::buffer(answer), use_awaitable);
  }
  co_await ws.async_close(
      websocket::close_reason(static_cast<websocket::close_code>(4001), "Run over"), use_awaitable);
  done->set_value(view);
}

// An owner that starts "running" and then waits for the relay to close its side.
asio::awaitable<void> running_owner(tcp::acceptor& acceptor, Handoff<OwnerView> done) {
  OwnerView view;
  WebSocket ws = co_await accept_owner_side(acceptor, view);
  beast::flat_buffer buffer;
  co_await ws.async_read(buffer, use_awaitable);
  view.messages.push_back(message_of(ws, buffer));
  buffer.consume(buffer.size());
  co_await ws.async_write(asio::buffer(std::string("running")), use_awaitable);
  error_code ec;
  co_await ws.async_read(buffer, with(ec));
  if (ec == websocket::error::closed) view.close = ws.reason();
  done->set_value(view);
}

// An owner that refuses the upgrade as the server refuses a bad key: 403 with a JSON body.
asio::awaitable<void> refusing_owner(tcp::acceptor& acceptor) {
  beast::tcp_stream stream(co_await acceptor.async_accept(use_awaitable));
  beast::flat_buffer buffer;
  Request upgrade;
  co_await http::async_read(stream, buffer, upgrade, use_awaitable);
  Response refusal{http::status::forbidden, 11};
  refusal.set(http::field::content_type, "application/json");
  refusal.body() = R"({"error":"Invalid API key"})";
  refusal.prepare_payload();
  co_await http::async_write(stream, refusal, use_awaitable);
}

// The front: accepts the client's WebSocket, reads its first message and relays.
asio::awaitable<void> front(tcp::acceptor& acceptor, std::string owner_url,
                            Handoff<RelayOutcome> done) {
  beast::tcp_stream stream(co_await acceptor.async_accept(use_awaitable));
  beast::flat_buffer buffer;
  Request upgrade;
  co_await http::async_read(stream, buffer, upgrade, use_awaitable);
  WebSocket ws(std::move(stream));
  co_await ws.async_accept(upgrade, use_awaitable);
  co_await ws.async_read(buffer, use_awaitable);
  const std::string first = beast::buffers_to_string(buffer.data());
  const RelayOutcome outcome =
      co_await relay_websocket(ws, std::string(upgrade[http::field::authorization]), first,
                               owner_url, "node-front", RelayLimits{});
  done->set_value(outcome);
}

class SessionRelayWs : public RelayLoopback {
 protected:
  // The client's WebSocket to the front, its first (execute) message sent.
  websocket::stream<tcp::socket> open_client() {
    websocket::stream<tcp::socket> ws(connect_to_front());
    ws.set_option(websocket::stream_base::decorator([](websocket::request_type& upgrade) {
      upgrade.set(http::field::authorization, "Bearer secret-key");
    }));
    ws.handshake("127.0.0.1", "/execute/ws");
    ws.text(true);
    ws.write(asio::buffer(std::string(kExecute)));
    return ws;
  }
  static std::string read_text(websocket::stream<tcp::socket>& ws, bool* text = nullptr) {
    beast::flat_buffer buffer;
    ws.read(buffer);
    if (text) *text = ws.got_text();
    return beast::buffers_to_string(buffer.data());
  }
  static constexpr const char* kExecute =
      R"({"type":"execute","sessionId":"s1","request":{"code":"cat","runtime":"python"}})";
};

TEST_F(SessionRelayWs, MessagesGoBothWaysAndTheOwnersCloseReachesTheClient) {
  auto owner_done = handoff<OwnerView>();
  auto done = handoff<RelayOutcome>();
  spawn(conversing_owner(owner_, owner_done));
  spawn(front(front_, owner_url(), done));

  auto ws = open_client();
  EXPECT_EQ(read_text(ws), std::string("echo ") + kExecute);
  const std::string stdin_message = R"({"type":"stdin","data":"hello\n"})";
  ws.write(asio::buffer(stdin_message));
  EXPECT_EQ(read_text(ws), "echo " + stdin_message);
  ws.binary(true);
  ws.write(asio::buffer(std::string("\x7f\x00", 2)));
  bool text = true;
  EXPECT_EQ(read_text(ws, &text), "\x01\x02");
  EXPECT_FALSE(text) << "a binary message stays binary";

  beast::flat_buffer buffer;
  error_code ec;
  ws.read(buffer, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(ws.reason().code, 4001);
  EXPECT_EQ(ws.reason().reason, "Run over");

  const auto view = take(owner_done);
  ASSERT_TRUE(view) << "the owner did not finish";
  EXPECT_EQ(view->authorization, "Bearer secret-key");
  EXPECT_EQ(view->relayed_by, "node-front");
  EXPECT_EQ(view->target, "/execute/ws");
  const std::vector<std::string> expected{std::string("text:") + kExecute, "text:" + stdin_message,
                                          std::string("binary:\x7f\x00", 9)};
  EXPECT_EQ(view->messages, expected);
  const auto outcome = take(done);
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->reached());
  EXPECT_EQ(outcome->status, 4001);
}

TEST_F(SessionRelayWs, AClientThatClosesClosesTheOwnerSide) {
  auto owner_done = handoff<OwnerView>();
  auto done = handoff<RelayOutcome>();
  spawn(running_owner(owner_, owner_done));
  spawn(front(front_, owner_url(), done));

  auto ws = open_client();
  EXPECT_EQ(read_text(ws), "running");
  ws.close(websocket::close_reason(websocket::close_code::normal, "Bye"));

  const auto view = take(owner_done);
  ASSERT_TRUE(view) << "the owner side stayed open";
  EXPECT_EQ(view->close.code, websocket::close_code::normal);
  EXPECT_EQ(view->close.reason, "Bye");
  const auto outcome = take(done);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->status, websocket::close_code::normal);
}

TEST_F(SessionRelayWs, AClientThatVanishesClosesTheOwnerSide) {
  auto owner_done = handoff<OwnerView>();
  auto done = handoff<RelayOutcome>();
  spawn(running_owner(owner_, owner_done));
  spawn(front(front_, owner_url(), done));

  auto ws = open_client();
  EXPECT_EQ(read_text(ws), "running");
  ws.next_layer().close();  // no close frame: the connection just ends

  const auto view = take(owner_done);
  ASSERT_TRUE(view) << "the owner side stayed open";
  EXPECT_EQ(view->close.code, websocket::close_code::going_away);
  const auto outcome = take(done);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->status, 0);
}

TEST_F(SessionRelayWs, AnOwnerThatRefusesTheUpgradeIsReportedWithItsStatus) {
  auto done = handoff<RelayOutcome>();
  spawn(refusing_owner(owner_));
  spawn(front(front_, owner_url(), done));

  auto ws = open_client();
  const auto outcome = take(done);
  ASSERT_TRUE(outcome);
  ASSERT_FALSE(outcome->reached());
  EXPECT_NE(outcome->not_reached->message.find("HTTP 403"), std::string::npos)
      << outcome->not_reached->message;
}

TEST_F(SessionRelayWs, AnUnreachableOwnerIsReported) {
  tcp::socket reserved(client_ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string dead_owner =
      "http://127.0.0.1:" + std::to_string(reserved.local_endpoint().port());
  auto done = handoff<RelayOutcome>();
  spawn(front(front_, dead_owner, done));

  auto ws = open_client();
  const auto outcome = take(done);
  ASSERT_TRUE(outcome);
  ASSERT_FALSE(outcome->reached());
  EXPECT_NE(outcome->not_reached->message.find(dead_owner), std::string::npos)
      << outcome->not_reached->message;
}

}  // namespace
}  // namespace isol8::server::relay_test
