#include "common/relay_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include <fmt/format.h>

namespace isol8 {

Result<std::filesystem::path> find_relay_binary() {
  std::vector<std::filesystem::path> candidates;
  if (const char* env = std::getenv("ISOL8_RELAY"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
  } else {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
      const auto dir = exe.parent_path();
      candidates.push_back(dir / "isol8-relay");
      candidates.push_back(dir.parent_path() / "relay" / "isol8-relay");
      candidates.push_back(dir.parent_path() / "libexec" / "isol8" / "isol8-relay");
    }
  }
  std::string searched;
  for (const auto& c : candidates) {
    struct stat st;
    if (::stat(c.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(c.c_str(), X_OK) == 0) {
      return c;
    }
    searched += (searched.empty() ? "" : ", ") + c.string();
  }
  return make_error(fmt::format(
      "Network mode \"filtered\" needs the isol8-relay binary, which was not found (searched: "
      "{}); install it next to isol8 or set ISOL8_RELAY to its path",
      searched.empty() ? "nothing: /proc/self/exe is unreadable" : searched));
}

}  // namespace isol8
