#include "proxy/host_filter.h"

#include <boost/asio/ip/address.hpp>

namespace isol8::proxy {
namespace {

Result<std::regex> compile_one(const std::string& pattern, const char* list) {
  try {
    return std::regex(pattern, std::regex::ECMAScript | std::regex::icase);
  } catch (const std::regex_error& e) {
    return make_error(std::string("invalid network ") + list + " pattern \"" + pattern +
                      "\": " + e.what());
  }
}

bool any_match(const auto& patterns, const std::string& host) {
  for (const auto& p : patterns) {
    if (std::regex_search(host, p.regex)) return true;
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
  for (const std::string& p : filter.whitelist) {
    auto re = compile_one(p, "allow");
    if (!re) return std::move(re).error();
    out.whitelist_.push_back({p, std::move(*re)});
  }
  for (const std::string& p : filter.blacklist) {
    auto re = compile_one(p, "deny");
    if (!re) return std::move(re).error();
    out.blacklist_.push_back({p, std::move(*re)});
  }
  return out;
}

bool HostFilter::allows(const std::string& host) const {
  if (any_match(blacklist_, host)) return false;
  return whitelist_.empty() || any_match(whitelist_, host);
}

bool HostFilter::names_address_literally(const std::string& host) const {
  boost::system::error_code ec;
  const auto wanted = boost::asio::ip::make_address(host, ec);
  if (ec) return false;
  for (const Pattern& p : whitelist_) {
    const auto named = boost::asio::ip::make_address(unescaped_literal(p.source), ec);
    if (!ec && named == wanted && std::regex_search(host, p.regex)) return true;
  }
  return false;
}

}  // namespace isol8::proxy
