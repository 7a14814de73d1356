#include "proxy/host_filter.h"

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>

namespace isol8::proxy {
namespace {

Result<std::vector<HostPattern>> compile_all(const std::vector<std::string>& patterns,
                                             std::string_view label) {
  std::vector<HostPattern> out;
  out.reserve(patterns.size());
  for (const std::string& p : patterns) {
    auto compiled = HostPattern::compile(p);
    if (!compiled) {
      return make_error(fmt::format("Invalid {} pattern \"{}\": {}. {}", label, p,
                                    compiled.error().message, kHostPatternSyntaxHint));
    }
    out.push_back(std::move(*compiled));
  }
  return out;
}

bool any_match(const std::vector<HostPattern>& patterns, const std::string& host) {
  for (const HostPattern& p : patterns) {
    if (p.found_in(host)) return true;
  }
  return false;
}

// The address a pattern spells out, once an optional ^...$ and the backslash escapes are removed.
std::string unescaped_literal(std::string_view pattern) {
  if (!pattern.empty() && pattern.front() == '^') pattern.remove_prefix(1);
  if (!pattern.empty() && pattern.back() == '$' &&
      !(pattern.size() >= 2 && pattern[pattern.size() - 2] == '\\')) {
    pattern.remove_suffix(1);
  }
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) ++i;
    out.push_back(pattern[i]);
  }
  if (out.size() >= 2 && out.front() == '[' && out.back() == ']')
    out = out.substr(1, out.size() - 2);
  return out;
}

}  // namespace

Result<HostFilter> HostFilter::compile(const NetworkFilter& filter) {
  HostFilter out;
  auto whitelist = compile_all(filter.whitelist, "network allow");
  if (!whitelist) return std::move(whitelist).error();
  auto blacklist = compile_all(filter.blacklist, "network deny");
  if (!blacklist) return std::move(blacklist).error();
  out.whitelist_ = std::move(*whitelist);
  out.blacklist_ = std::move(*blacklist);
  return out;
}

Result<void> HostFilter::check(const std::vector<std::string>& patterns, std::string_view label) {
  auto compiled = compile_all(patterns, label);
  if (!compiled) return std::move(compiled).error();
  return ok();
}

bool HostFilter::allows(const std::string& host) const {
  if (any_match(blacklist_, host)) return false;
  return whitelist_.empty() || any_match(whitelist_, host);
}

bool HostFilter::names_address_literally(const std::string& host) const {
  boost::system::error_code ec;
  const auto wanted = boost::asio::ip::make_address(host, ec);
  if (ec) return false;
  for (const HostPattern& p : whitelist_) {
    const auto named = boost::asio::ip::make_address(unescaped_literal(p.source()), ec);
    if (!ec && named == wanted && p.found_in(host)) return true;
  }
  return false;
}

}  // namespace isol8::proxy
