#pragma once
// The address of an isol8 server as users give it (`--host http://host:3000`, upstream's form):
// http or https, a host name or address ([v6] in brackets), an optional port and path prefix.

#include <string>
#include <string_view>

#include "isol8/result.h"

namespace isol8 {

struct ServerUrl {
  bool tls = false;
  std::string host;       // without brackets
  std::string port;       // "80" / "443" when not given
  std::string base_path;  // "" or "/prefix" (no trailing '/')

  // The Host header: the name as given, with the port when it is not the scheme's default.
  std::string host_header() const;
  // The same server, as stored in the credentials file (scheme://host[:port][/prefix]).
  std::string canonical() const;
};

// One trailing '/' is dropped, as upstream does. Fails naming the text for anything else than
// http(s)://host[:port][/path] (user info, query and fragment are refused).
Result<ServerUrl> parse_server_url(std::string_view text);

}  // namespace isol8
