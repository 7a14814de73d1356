#include "proxy/host_pattern.h"

#include <re2/re2.h>

namespace isol8::proxy {

Result<HostPattern> HostPattern::compile(std::string source) {
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);  // the caller reports the error, once
  auto regex = std::make_shared<const RE2>(source, options);
  if (!regex->ok()) return make_error(regex->error());
  return HostPattern(std::move(source), std::move(regex));
}

HostPattern::HostPattern(std::string source, std::shared_ptr<const re2::RE2> regex)
    : source_(std::move(source)), regex_(std::move(regex)) {}

bool HostPattern::found_in(std::string_view host) const {
  return RE2::PartialMatch(re2::StringPiece(host.data(), host.size()), *regex_);
}

}  // namespace isol8::proxy
