#pragma once
// A real isol8 server on a loopback port for the server tier, and the Beast clients that drive it
// (HTTP, SSE, WebSocket), plus curl.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "support/files.h"

namespace isol8::test {

inline constexpr const char* kMasterKey = "test-master-key-0123456789";

// Standard base64 with padding (the /file endpoints' content encoding).
std::string base64(const std::string& bytes);

// A loopback port nothing listens on right now.
int free_port();

// Polls `done` until it holds (true) or `limit` passes (false): for what the server does after
// its reply (pruning, a background process starting), never a timing assertion.
bool wait_until(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(10));

struct HttpReply {
  int status = 0;  // 0: no reply (connection failed or closed)
  std::string reason;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  nlohmann::json json() const;
};

// A directory the caller owns, for a server that must start where an earlier one ran (a restart
// after a crash finds what the dead server left).
struct ServerDir {
  std::string path;
};

// `isol8 serve` started in a temp directory of its own (cwd and HOME) with the given
// isol8.config.json content, on a free loopback port; stopped with SIGTERM by stop() or the
// destructor.
class TestServer {
 public:
  explicit TestServer(nlohmann::json config = nlohmann::json::object(),
                      std::vector<std::string> extra_args = {});
  // The same in `dir` (kept when the server is gone), writing the config there.
  TestServer(ServerDir dir, nlohmann::json config, std::vector<std::string> extra_args = {});
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  bool ready() const { return ready_; }
  int port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  const std::string& dir() const { return dir_; }
  // SIGTERM (unless kill() ended it), then the CLI's output once it has exited; a second call
  // returns the first one's.
  CliRun stop();
  // SIGKILL (a crash: no shutdown runs); returns once the server has died, unreaped: its pid
  // stays taken until stop(), so that no new process reuses the pid its leftovers are named by.
  // (Reclaim counts a zombie as dead: another runner may remove those leftovers meanwhile.)
  void kill();

 private:
  void start(const nlohmann::json& config, const std::vector<std::string>& extra_args);

  std::optional<TempDir> own_dir_;
  std::string dir_;
  int port_ = 0;
  std::optional<CliProcess> process_;
  bool ready_ = false;
  std::optional<CliRun> stopped_;
  bool killed_ = false;
};

// One HTTP/1.1 request; `key` empty sends no Authorization header.
HttpReply http_request(int port, const std::string& method, const std::string& target,
                       const std::string& body = "", const std::string& key = kMasterKey,
                       const std::map<std::string, std::string>& headers = {});
// POST JSON with the master key.
HttpReply post_json(int port, const std::string& target, const nlohmann::json& body,
                    const std::string& key = kMasterKey);
// Raw bytes on a connection, and everything read back until the server closes or 10 s pass.
std::string raw_exchange(int port, const std::string& bytes);

// The SSE events of POST /execute/stream (each `data: ` line parsed), with the reply's status.
struct SseReply {
  HttpReply http;
  std::vector<nlohmann::json> events;
};
SseReply sse_execute(int port, const nlohmann::json& body, const std::string& key = kMasterKey);

// A WebSocket conversation with /execute/ws: sends messages[0], then each further message once
// the server's next frame has arrived (a signal goes to a program that has started: its first
// output is that frame), and collects the text frames until the server closes.
struct WsReply {
  bool upgraded = false;
  std::string refused;  // why the handshake failed (Beast keeps no refusal's status: see below)
  std::vector<nlohmann::json> frames;
  int close_code = 0;
  std::string close_reason;
};
// A WebSocket upgrade request to /execute/ws read as a plain HTTP reply: a refusal's status and
// body. (Beast's client handshake reads the reply with no room for a body, so a refusal with a
// body comes back as body_limit and the status is lost.)
HttpReply ws_upgrade(int port, const std::string& key = kMasterKey);

WsReply ws_session(int port, const std::vector<std::string>& messages,
                   const std::string& key = kMasterKey);

// A conversation that answers what the server sends: `opening` is sent first, then after each
// text frame `after_frame(frame)` gives the messages to send next (often none), until the server
// closes. A client can so wait for the program's answer before it sends more.
using WsResponder = std::function<std::vector<std::string>(const nlohmann::json& frame)>;
WsReply ws_conversation(int port, const std::vector<std::string>& opening,
                        const WsResponder& after_frame, const std::string& key = kMasterKey);

}  // namespace isol8::test
