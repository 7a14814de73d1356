#pragma once
// HTTP/1.1, server-sent events and WebSocket to an isol8 server, over TCP or TLS (certificate and
// host name verified against the system's CAs, or SSL_CERT_FILE), with Boost.Beast. One connection
// per call. Every wait has a time limit, every body a size limit, so a dead or hostile server
// gives an error, never a hang or an unbounded allocation.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/server_url.h"
#include "isol8/result.h"

namespace isol8::client {

struct HttpReply {
  int status = 0;
  std::string reason;  // the status line's reason phrase
  std::string body;
};

struct CallLimits {
  std::chrono::milliseconds connect{10'000};
  // How long the server may stay silent (between bytes of the reply).
  std::chrono::milliseconds idle{60'000};
  size_t max_body = 256u << 20;
};

// What arrives on a stream: each SSE `data:` line's text, or each WebSocket message. Returning
// false ends the stream.
using MessageHandler = std::function<bool(std::string_view)>;

class ServerConnection {
 public:
  ServerConnection(ServerUrl url, std::string api_key)
      : url_(std::move(url)), api_key_(std::move(api_key)) {}

  const ServerUrl& url() const { return url_; }

  // method: GET, POST, DELETE. `target` is the path (and query) under the URL's base path.
  // When `cancel_fd` becomes readable the connection is closed (a server then ends what it was
  // doing for us) and the call returns Error{ECANCELED}.
  Result<HttpReply> request(std::string_view method, const std::string& target,
                            const std::string& body, const CallLimits& limits,
                            int cancel_fd = -1) const;

  // POST with a JSON body, then reads a text/event-stream reply, handing on each `data: ` line.
  // A non-2xx status is returned as the reply (with its body) without reading events. When
  // `cancel_fd` becomes readable the connection is closed and the call returns
  // Error{ECANCELED}.
  Result<HttpReply> post_event_stream(const std::string& target, const std::string& body,
                                      const MessageHandler& on_data, int cancel_fd,
                                      const CallLimits& limits) const;

  // Opens a WebSocket (the key on the upgrade request), sends `first_message`, then hands on
  // every text message until the server closes. When `cancel_fd` becomes readable,
  // `on_cancel()`'s message is sent once (the server then ends the execution). A refused upgrade
  // is an error whose code is the HTTP status.
  Result<void> websocket(const std::string& target, const std::string& first_message,
                         const MessageHandler& on_message, int cancel_fd,
                         const std::function<std::string()>& on_cancel,
                         const CallLimits& limits) const;

 private:
  ServerUrl url_;
  std::string api_key_;
};

}  // namespace isol8::client
