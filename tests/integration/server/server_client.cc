#include "server_client.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

#include <functional>
#include <thread>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace isol8::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;

tcp::endpoint local(int port) {
  return tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
}

}  // namespace

int free_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

std::string base64(const std::string& s) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(s[i]) << 16) |
                       (static_cast<unsigned char>(s[i + 1]) << 8) |
                       static_cast<unsigned char>(s[i + 2]);
    out += {k[n >> 18 & 63], k[n >> 12 & 63], k[n >> 6 & 63], k[n & 63]};
  }
  if (i < s.size()) {
    unsigned n = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) n |= static_cast<unsigned char>(s[i + 1]) << 8;
    out += {k[n >> 18 & 63], k[n >> 12 & 63], i + 1 < s.size() ? k[n >> 6 & 63] : '=', '='};
  }
  return out;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

nlohmann::json HttpReply::json() const { return nlohmann::json::parse(body, nullptr, false); }

TestServer::TestServer(nlohmann::json config, std::vector<std::string> extra_args)
    : own_dir_(std::in_place, "isol8-server"), dir_(own_dir_->path()) {
  start(config, extra_args);
}

TestServer::TestServer(ServerDir dir, nlohmann::json config, std::vector<std::string> extra_args)
    : dir_(std::move(dir.path)) {
  start(config, extra_args);
}

void TestServer::start(const nlohmann::json& config, const std::vector<std::string>& extra_args) {
  spit(dir_ + "/isol8.config.json", config.dump());
  port_ = free_port();
  std::vector<std::string> args = {"serve",  "--port",   std::to_string(port_), "--key", kMasterKey,
                                   "--bind", "127.0.0.1"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  CliOptions opts;
  opts.cwd = dir_;
  opts.env["HOME"] = dir_;
  opts.env["ISOL8_API_KEY"] = std::nullopt;
  opts.hang_limit = std::chrono::minutes(10);
  process_.emplace(args, opts);
  for (int i = 0; i < 200 && !ready_; ++i) {
    ready_ = http_request(port_, "GET", "/health", "", "").status == 200;
    if (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

TestServer::~TestServer() { stop(); }

CliRun TestServer::stop() {
  if (!stopped_) {
    if (!killed_) process_->signal(SIGTERM);
    stopped_ = process_->wait();
  }
  return *stopped_;
}

void TestServer::kill() {
  killed_ = true;
  process_->signal(SIGKILL);
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(process_->pid()), &info, WEXITED | WNOWAIT) != 0 &&
         errno == EINTR) {
  }
}

HttpReply http_request(int port, const std::string& method, const std::string& target,
                       const std::string& body, const std::string& key,
                       const std::map<std::string, std::string>& headers) {
  HttpReply reply;
  try {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::minutes(2));
    stream.connect(local(port));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    if (!key.empty()) req.set(http::field::authorization, "Bearer " + key);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 30);
    http::read(stream, buffer, parser);
    const auto& res = parser.get();
    reply.status = res.result_int();
    reply.reason = std::string(res.reason());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers[name] = std::string(f.value());
    }
    reply.body = res.body();
  } catch (const std::exception&) {
  }
  return reply;
}

HttpReply post_json(int port, const std::string& target, const nlohmann::json& body,
                    const std::string& key) {
  return http_request(port, "POST", target, body.dump(), key);
}

std::string raw_exchange(int port, const std::string& bytes) {
  std::string out;
  try {
    asio::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect(local(port));
    asio::write(socket, asio::buffer(bytes));
    boost::system::error_code ec;
    char buf[4096];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      const size_t n = socket.read_some(asio::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
  } catch (const std::exception&) {
  }
  return out;
}

SseReply sse_execute(int port, const nlohmann::json& body, const std::string& key) {
  SseReply reply;
  reply.http = http_request(port, "POST", "/execute/stream", body.dump(), key);
  if (reply.http.status != 200) return reply;
  for (const auto& line : lines_of(reply.http.body)) {
    if (line.rfind("data: ", 0) == 0) {
      reply.events.push_back(nlohmann::json::parse(line.substr(6), nullptr, false));
    }
  }
  return reply;
}

HttpReply ws_upgrade(int port, const std::string& key) {
  return http_request(port, "GET", "/execute/ws", "", key,
                      {{"Connection", "Upgrade"},
                       {"Upgrade", "websocket"},
                       {"Sec-WebSocket-Version", "13"},
                       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}});
}

namespace {

// A WebSocket conversation with /execute/ws: `opening` is sent, then every text frame is kept, and
// `after_frame` may answer it, until the server closes.
WsReply ws_converse(int port, const std::string& key, const std::vector<std::string>& opening,
                    const WsResponder& after_frame) {
  WsReply reply;
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws(ioc);
  try {
    beast::get_lowest_layer(ws).connect(local(port));
    beast::get_lowest_layer(ws).expires_after(std::chrono::minutes(2));
    ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
      if (!key.empty()) req.set(http::field::authorization, "Bearer " + key);
    }));
    websocket::response_type res;
    boost::system::error_code ec;
    ws.handshake(res, "127.0.0.1", "/execute/ws", ec);
    if (ec) {
      reply.refused = ec.message();
      return reply;
    }
    reply.upgraded = true;
    ws.text(true);
    for (const std::string& m : opening) ws.write(asio::buffer(m));
    for (;;) {
      beast::flat_buffer buffer;
      ws.read(buffer, ec);
      if (ec) break;
      reply.frames.push_back(
          nlohmann::json::parse(beast::buffers_to_string(buffer.data()), nullptr, false));
      if (after_frame) {
        for (const std::string& m : after_frame(reply.frames.back())) ws.write(asio::buffer(m));
      }
    }
    reply.close_code = ws.reason().code;
    reply.close_reason = std::string(ws.reason().reason.c_str());
  } catch (const std::exception&) {
  }
  return reply;
}

}  // namespace

WsReply ws_session(int port, const std::vector<std::string>& messages, const std::string& key) {
  if (messages.empty()) return ws_converse(port, key, {}, {});
  size_t next = 1;
  return ws_converse(port, key, {messages[0]}, [&](const nlohmann::json&) {
    std::vector<std::string> out;
    if (next < messages.size()) out.push_back(messages[next++]);
    return out;
  });
}

WsReply ws_conversation(int port, const std::vector<std::string>& opening,
                        const WsResponder& after_frame, const std::string& key) {
  return ws_converse(port, key, opening, after_frame);
}

}  // namespace isol8::test
