// relay_http (server/session_relay.h) between a blocking client, a front that relays the one
// request it reads, and a fake owner node, all on loopback.

#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "relay_loopback.h"
#include "server/session_relay.h"

namespace isol8::server::relay_test {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;

// The front: reads one request and relays it; closes the connection unless the relay kept it.
// Answering a "not reached" outcome is the caller's part, left out here: nothing is written.
asio::awaitable<void> front(tcp::acceptor& acceptor, std::string owner_url,
                            Handoff<RelayOutcome> done) {
  beast::tcp_stream stream(co_await acceptor.async_accept(use_awaitable));
  beast::flat_buffer buffer;
  Request request;
  co_await http::async_read(stream, buffer, request, use_awaitable);
  const RelayOutcome outcome =
      co_await relay_http(stream, request, owner_url, "node-front", RelayLimits{});
  done->set_value(outcome);
}

// An owner that records the request it gets and answers `status` with a JSON body.
asio::awaitable<void> answering_owner(tcp::acceptor& acceptor, int status, std::string body,
                                      Handoff<Request> got) {
  beast::tcp_stream stream(co_await acceptor.async_accept(use_awaitable));
  beast::flat_buffer buffer;
  Request request;
  co_await http::async_read(stream, buffer, request, use_awaitable);
  got->set_value(request);
  Response response{static_cast<http::status>(status), 11};
  response.set(http::field::content_type, "application/json");
  response.body() = std::move(body);
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  co_await http::async_write(stream, response, use_awaitable);
}

// Accepts the relay's connection, reads its request, and starts a chunked SSE reply with a first
// event; the caller goes on from there on `stream`.
asio::awaitable<void> start_sse_reply(tcp::acceptor& acceptor, beast::tcp_stream& stream) {
  co_await acceptor.async_accept(stream.socket(), use_awaitable);
  beast::flat_buffer buffer;
  Request request;
  co_await http::async_read(stream, buffer, request, use_awaitable);
  http::response<http::empty_body> header{http::status::ok, 11};
  header.set(http::field::content_type, "text/event-stream");
  header.chunked(true);
  http::response_serializer<http::empty_body> serializer{header};
  co_await http::async_write_header(stream, serializer, use_awaitable);
  const std::string first = "data: {\"type\":\"stdout\",\"data\":\"one\"}\n\n";
  co_await asio::async_write(stream, http::make_chunk(asio::buffer(first)), use_awaitable);
}

// An owner that streams two SSE events and sends the second only once `gate` opens.
asio::awaitable<void> streaming_owner(tcp::acceptor& acceptor, Gate& gate) {
  beast::tcp_stream stream(acceptor.get_executor());
  co_await start_sse_reply(acceptor, stream);
  co_await gate.passed();
  const std::string last = "data: {\"type\":\"exit\",\"data\":\"0\"}\n\n";
  co_await asio::async_write(stream, http::make_chunk(asio::buffer(last)), use_awaitable);
  co_await asio::async_write(stream, http::make_chunk_last(), use_awaitable);
}

// An owner that sends the start of an SSE stream and then breaks off, the body unfinished.
asio::awaitable<void> breaking_owner(tcp::acceptor& acceptor) {
  beast::tcp_stream stream(acceptor.get_executor());
  co_await start_sse_reply(acceptor, stream);
  stream.close();
}

// An owner that reads the request and then waits, as for a long run, until its connection ends;
// hands over that it has the request, then whether its connection did end.
asio::awaitable<void> waiting_owner(tcp::acceptor& acceptor, Handoff<bool> got_request,
                                    Handoff<bool> connection_ended) {
  beast::tcp_stream stream(co_await acceptor.async_accept(use_awaitable));
  beast::flat_buffer buffer;
  Request request;
  co_await http::async_read(stream, buffer, request, use_awaitable);
  got_request->set_value(true);
  boost::system::error_code ec;
  co_await stream.async_read_some(buffer.prepare(1), asio::redirect_error(use_awaitable, ec));
  connection_ended->set_value(ec == asio::error::eof || ec == asio::error::connection_reset);
}

http::response<http::string_body> read_response(tcp::socket& socket) {
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return response;
}

// Reads from `socket` into `seen` until it holds `text` (false when the connection ends first).
bool read_until_seen(tcp::socket& socket, std::string& seen, std::string_view text) {
  char piece[4096];
  while (seen.find(text) == std::string::npos) {
    boost::system::error_code ec;
    const size_t n = socket.read_some(asio::buffer(piece), ec);
    if (ec) return false;
    seen.append(piece, n);
  }
  return true;
}

using SessionRelayHttp = RelayLoopback;

TEST_F(SessionRelayHttp, PostReachesTheOwnerWithBodyAuthorizationAndTheRelayMark) {
  auto got = handoff<Request>();
  auto done = handoff<RelayOutcome>();
  spawn(answering_owner(owner_, 200, R"({"ok":true})", got));
  spawn(front(front_, owner_url(), done));

  tcp::socket client = connect_to_front();
  http::request<http::string_body> request{http::verb::post, "/sessions/s1/execute?x=1", 11};
  request.set(http::field::host, "front.example");
  request.set(http::field::authorization, "Bearer secret-key");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::accept, "application/json");
  request.set("X-Not-For-The-Owner", "1");
  request.body() = R"json({"request":{"code":"print(1)","runtime":"python"}})json";
  request.prepare_payload();
  http::write(client, request);
  const auto response = read_response(client);

  const auto owner_saw = take(got);
  ASSERT_TRUE(owner_saw) << "the owner got no request";
  EXPECT_EQ(owner_saw->method(), http::verb::post);
  EXPECT_EQ(owner_saw->target(), "/sessions/s1/execute?x=1");
  EXPECT_EQ(owner_saw->body(), request.body());
  EXPECT_EQ((*owner_saw)[http::field::authorization], "Bearer secret-key");
  EXPECT_EQ((*owner_saw)[http::field::content_type], "application/json");
  EXPECT_EQ((*owner_saw)[http::field::accept], "application/json");
  EXPECT_EQ((*owner_saw)[kRelayedByHeader], "node-front");
  EXPECT_EQ((*owner_saw)[http::field::host], owner_url().substr(7));  // the owner's, not ours
  EXPECT_EQ(owner_saw->count("X-Not-For-The-Owner"), 0u);

  EXPECT_EQ(response.result_int(), 200);
  EXPECT_EQ(response.body(), R"({"ok":true})");
  EXPECT_TRUE(response.keep_alive()) << "the owner's Connection: close is not the client's";
  const auto outcome = take(done);
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->reached());
  EXPECT_EQ(outcome->status, 200);
  EXPECT_TRUE(outcome->keep_alive);
}

TEST_F(SessionRelayHttp, AnSseStreamArrivesEventByEvent) {
  auto done = handoff<RelayOutcome>();
  spawn(streaming_owner(owner_, gate_));
  spawn(front(front_, owner_url(), done));

  tcp::socket client = connect_to_front();
  http::request<http::string_body> request{http::verb::post, "/execute/stream", 11};
  request.set(http::field::host, "front.example");
  request.set(http::field::authorization, "Bearer k");
  request.keep_alive(false);
  request.body() = "{}";
  request.prepare_payload();
  http::write(client, request);

  // The owner holds its last event until the client has the first: a relay that buffered the
  // body would never deliver it (and the read would hit the hang guard).
  std::string seen;
  ASSERT_TRUE(read_until_seen(client, seen, "\"one\"}\n\n")) << "got only: " << seen;
  EXPECT_EQ(seen.find("exit"), std::string::npos);
  EXPECT_NE(seen.find("text/event-stream"), std::string::npos) << seen;
  gate_.open();
  // The rest, to the end of the chunked body; the connection then closes (Connection: close).
  ASSERT_TRUE(read_until_seen(client, seen, "\r\n0\r\n\r\n")) << "got only: " << seen;
  EXPECT_NE(seen.find("data: {\"type\":\"exit\",\"data\":\"0\"}\n\n"), std::string::npos) << seen;
  char byte;
  boost::system::error_code ec;
  client.read_some(asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);

  const auto outcome = take(done);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->status, 200);
  EXPECT_FALSE(outcome->keep_alive);
}

TEST_F(SessionRelayHttp, AnOwnersRefusalPassesThroughUnchanged) {
  auto got = handoff<Request>();
  auto done = handoff<RelayOutcome>();
  spawn(answering_owner(owner_, 404, R"({"error":"Session not found: s9"})", got));
  spawn(front(front_, owner_url(), done));

  tcp::socket client = connect_to_front();
  http::request<http::string_body> request{http::verb::delete_, "/sessions/s9", 11};
  request.set(http::field::host, "front.example");
  request.set(http::field::authorization, "Bearer k");
  http::write(client, request);
  const auto response = read_response(client);

  EXPECT_EQ(response.result_int(), 404);
  EXPECT_EQ(response[http::field::content_type], "application/json");
  EXPECT_EQ(response.body(), R"({"error":"Session not found: s9"})");
  const auto owner_saw = take(got);
  ASSERT_TRUE(owner_saw);
  EXPECT_EQ(owner_saw->method(), http::verb::delete_);
  const auto outcome = take(done);
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->reached());
  EXPECT_EQ(outcome->status, 404);
}

TEST_F(SessionRelayHttp, AnOwnerThatBreaksOffMidBodyEndsTheClientsConnection) {
  auto done = handoff<RelayOutcome>();
  spawn(breaking_owner(owner_));
  spawn(front(front_, owner_url(), done));

  tcp::socket client = connect_to_front();
  http::request<http::string_body> request{http::verb::post, "/execute/stream", 11};
  request.set(http::field::host, "front.example");
  request.body() = "{}";
  request.prepare_payload();
  http::write(client, request);

  // The client asked to keep the connection; what it gets is the event, then the end of the
  // connection without the body's last chunk: the only way left to say the stream broke.
  std::string seen;
  boost::system::error_code ec;
  asio::read(client, asio::dynamic_buffer(seen), ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_NE(seen.find("\"one\"}\n\n"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("\r\n0\r\n\r\n"), std::string::npos) << seen;
  const auto outcome = take(done);
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->reached());
  EXPECT_EQ(outcome->status, 200);
  EXPECT_FALSE(outcome->keep_alive);
}

TEST_F(SessionRelayHttp, AClientThatHangsUpBeforeTheAnswerEndsTheOwnerConnection) {
  auto got_request = handoff<bool>();
  auto ended = handoff<bool>();
  auto done = handoff<RelayOutcome>();
  spawn(waiting_owner(owner_, got_request, ended));
  spawn(front(front_, owner_url(), done));

  tcp::socket client = connect_to_front();
  http::request<http::string_body> request{http::verb::post, "/sessions/s1/execute", 11};
  request.set(http::field::host, "front.example");
  request.body() = "{}";
  request.prepare_payload();
  http::write(client, request);
  ASSERT_TRUE(take(got_request)) << "the owner got no request";
  client.shutdown(tcp::socket::shutdown_both);
  client.close();

  // The owner's server stops a run whose client hung up: it must see its connection end.
  const auto owner_saw_end = take(ended);
  ASSERT_TRUE(owner_saw_end) << "the owner connection stayed open";
  EXPECT_TRUE(*owner_saw_end);
  // No answer came, so the relay says so; the caller's 503 then finds the client gone.
  const auto outcome = take(done);
  ASSERT_TRUE(outcome);
  EXPECT_FALSE(outcome->reached());
}

TEST_F(SessionRelayHttp, AnUnreachableOwnerIsReportedAndNothingIsWritten) {
  // A bound port nobody listens on: connecting is refused.
  tcp::socket reserved(client_ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string dead_owner =
      "http://127.0.0.1:" + std::to_string(reserved.local_endpoint().port());
  auto done = handoff<RelayOutcome>();
  spawn(front(front_, dead_owner, done));

  tcp::socket client = connect_to_front();
  http::request<http::string_body> request{http::verb::get, "/sessions/s1/files?path=/a", 11};
  request.set(http::field::host, "front.example");
  http::write(client, request);

  const auto outcome = take(done);
  ASSERT_TRUE(outcome);
  ASSERT_FALSE(outcome->reached());
  EXPECT_NE(outcome->not_reached->message.find(dead_owner), std::string::npos)
      << outcome->not_reached->message;
  // The front's connection ends (its coroutine is over) without a byte from the relay.
  std::string rest;
  boost::system::error_code ec;
  asio::read(client, asio::dynamic_buffer(rest), ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(rest, "");
}

}  // namespace
}  // namespace isol8::server::relay_test
