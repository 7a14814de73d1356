#include "core/remote_code_source.h"

#include <algorithm>
#include <cctype>

#include "core/runtimes.h"
#include "fetch/remote_code.h"

namespace isol8 {
namespace {

bool blank(const std::optional<std::string>& text) {
  return !text || std::all_of(text->begin(), text->end(),
                              [](unsigned char c) { return std::isspace(c) != 0; });
}

}  // namespace

std::optional<std::string> runtime_from_url_path(std::string_view url) {
  const size_t scheme_end = url.find("://");
  std::string_view rest = scheme_end == std::string_view::npos ? url : url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  const size_t path_start = rest.find('/');
  if (path_start == std::string_view::npos) return std::nullopt;
  const std::string_view path = rest.substr(path_start);
  const std::string_view name = path.substr(path.rfind('/') + 1);
  const Runtime* runtime = detect_runtime(name);
  if (runtime == nullptr) return std::nullopt;
  return std::string(runtime->name);
}

Result<ExecutionRequest> with_remote_code(const ExecutionRequest& request,
                                          const RemoteCodePolicy& policy) {
  if (!blank(request.code) || !blank(request.cmd)) {
    return make_error(
        "ExecutionRequest.code, ExecutionRequest.codeUrl, and ExecutionRequest.cmd are mutually "
        "exclusive — provide exactly one.");
  }
  auto fetched = fetch::fetch_remote_code(
      {*request.code_url, request.code_hash.value_or(""), request.allow_insecure_code_url}, policy);
  if (!fetched) return std::move(fetched).error();
  ExecutionRequest out = request;
  out.code = std::move(fetched->code);
  out.code_url.reset();
  if (out.runtime.empty()) {
    if (auto runtime = runtime_from_url_path(*request.code_url)) out.runtime = *runtime;
  }
  return out;
}

}  // namespace isol8
