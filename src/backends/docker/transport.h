#pragma once
// HTTP/1.1 to the Docker daemon over a Unix or TCP stream socket: Boost.Beast writes requests and
// parses responses (nothing here parses HTTP by hand). One connection per request, which costs
// microseconds on a Unix socket and keeps every call independent (no shared connection state
// between threads). An upgraded (hijacked) connection is handed over as a plain fd: after the
// 101 response the daemon speaks the raw multiplexed stream, not HTTP.

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "backends/docker/endpoint.h"
#include "common/unique_fd.h"
#include "isol8/result.h"

namespace isol8::docker {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// A connection taken over after `Upgrade: tcp`: the socket (blocking, CLOEXEC) and the bytes the
// HTTP parser had already read past the response header.
struct HijackedStream {
  UniqueFd fd;
  std::string pending;
  int status = 0;
};

// Writes one chunk of a streamed request body.
using ChunkWriter = std::function<Result<void>(std::string_view)>;
// Produces a streamed request body by calling the writer (possibly many times).
using BodyProducer = std::function<Result<void>(const ChunkWriter&)>;

class Transport {
 public:
  explicit Transport(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}
  const Endpoint& endpoint() const { return endpoint_; }

  // Errors reaching the daemon carry the errno (ECONNREFUSED, ENOENT, ...) in Error::code and
  // kConnectFailed in the message prefix, so callers can tell "daemon down" from API errors.
  Result<HttpResponse> request(std::string_view method, const std::string& target,
                               const std::string& body = {},
                               std::string_view content_type = "application/json") const;

  // The request body is sent with chunked transfer encoding as `producer` writes it.
  Result<HttpResponse> request_streamed(std::string_view method, const std::string& target,
                                        std::string_view content_type,
                                        const BodyProducer& producer) const;

  // Sends the request with `Connection: Upgrade` / `Upgrade: tcp`. On 101 (or 200 from
  // daemons that do not upgrade) returns the stream; other statuses become errors carrying the
  // daemon's message.
  Result<HijackedStream> hijack(std::string_view method, const std::string& target,
                                const std::string& body) const;

 private:
  Endpoint endpoint_;
};

inline constexpr std::string_view kConnectFailed = "cannot connect to the Docker daemon";

// The daemon's error text: the "message" field of a JSON body, else the body itself.
std::string daemon_message(const HttpResponse& response);

}  // namespace isol8::docker
