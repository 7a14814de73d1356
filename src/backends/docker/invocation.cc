#include "backends/docker/invocation.h"

#include <archive.h>
#include <archive_entry.h>

#include <charconv>
#include <ctime>
#include <memory>

#include <fmt/format.h>

#include "backends/docker/container_spec.h"

namespace isol8::docker {

// $1 = tar length, $2 = 1 when there is a setup phase: the commands /tmp/.isol8-cmd-NNN (each
// NUL-separated KEY=VALUE entries then the argv, run through `env --`, never a shell line), then
// /tmp/.isol8-setup.sh when it exists; the marker line carries the exit code and the index of
// the step that ended the phase. $3 = marker, $4 = workdir,
// $5 = 1 to kill every other uid-100 process once the program has ended (pooled containers:
// the exec's output streams only close when nothing holds them any more). The program is still
// exec'd, so that it is the exec's own process and its exit status is the run's: a watcher in
// the background (tail --pid polls without forking) does the killing. The program runs as the
// same uid and can kill the watcher (kill -1); it cannot make the run report another status,
// and leftovers then only keep the streams open until dockerd closes them, 2 s after the
// program's exit (and the clean before reuse kills them). Before, the program was a child of
// the bootstrap shell, and its kill -1 killed that shell: the run reported 137 while the program
// went on.
// $6 = 1 to start the filtered network's relay first and wait until it listens (its "ready"
// line), so that the setup script and the program find the proxy port open.
// $7 = the backstop in seconds (0: none): a runner that is killed itself can no longer kill the
// run at its time limit, so a watcher does, later than any live runner would (backstop_seconds).
// It kills $$, which is this shell until the exec below and the program after it (an exec keeps
// the pid), so the program stays the container's own process and its exit status the run's, as
// without the watcher; a `timeout` in between would not do (the program's kill(-1) would kill
// that parent and end the run with 137). The watcher holds no output stream open. The program can
// kill it (same uid): then only the next runner's reclaim (reclaim.h) ends a run whose runner died.
const char* const kBootstrap = R"SH(n=$1; setup=$2; marker=$3; wd=$4; reap=$5; relay=$6; limit=$7
shift 7
if [ "$limit" -gt 0 ]; then
  (sleep "$limit"; kill -9 $$) </dev/null >/dev/null 2>&1 &
fi
if [ "$relay" = 1 ]; then
  exec 3< <(exec /.isol8/relay 8118 /.isol8/proxy.sock </dev/null)
  IFS= read -r ready <&3; exec 3<&-
  [ "$ready" = ready ] ||
    { echo "isol8: the filtered network's relay did not start" >&2; exit 126; }
fi
if [ "$n" -gt 0 ]; then
  head -c "$n" | tar -x -C / -m --no-same-owner --same-permissions ||
    { echo "isol8: could not unpack the files into the sandbox" >&2; exit 126; }
fi
mkdir -p -- "$wd" || exit 126
if [ "$setup" = 1 ]; then
  rc=0; step=0
  for f in /tmp/.isol8-cmd-*; do
    [ -e "$f" ] || break
    mapfile -d '' -t cmd < "$f"
    (cd -- "$wd" && exec /usr/bin/env -- "${cmd[@]}") </dev/null
    rc=$?
    [ "$rc" -eq 0 ] || break
    step=$((step + 1))
  done
  if [ "$rc" -eq 0 ] && [ -e /tmp/.isol8-setup.sh ]; then
    (cd -- "$wd" && exec bash /tmp/.isol8-setup.sh) </dev/null
    rc=$?
  fi
  rm -f /tmp/.isol8-setup.sh /tmp/.isol8-cmd-*
  printf '\n%s:%d:%d\n' "$marker" "$rc" "$step"
  printf '\n%s:%d:%d\n' "$marker" "$rc" "$step" >&2
  [ "$rc" -eq 0 ] || exit "$rc"
fi
cd -- "$wd" || exit 126
if [ "$reap" = 1 ]; then
  (tail --pid=$$ -s 0.02 -f /dev/null; kill -9 -1) </dev/null >/dev/null 2>&1 &
fi
exec "$@")SH";

namespace {

constexpr std::string_view kSetupPath = "/tmp/.isol8-setup.sh";

Result<void> check_path(const std::string& path) {
  auto bad = [&](std::string_view why) {
    return make_error(fmt::format("Invalid file path \"{}\": {}", path, why));
  };
  if (!path.starts_with("/sandbox/") && !path.starts_with("/tmp/")) {
    return bad("files must be inside /sandbox or /tmp");
  }
  size_t i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    const std::string_view part(path.data() + i, j - i);
    if (part.empty() || part == "." || part == "..") return bad("not a normalised path");
    i = j + 1;
  }
  if (path.find('\0') != std::string::npos) return bad("contains a NUL byte");
  return ok();
}

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t append_to_string(archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

}  // namespace

Result<std::string> make_tar(const std::vector<CodeFile>& files) {
  std::string out;
  std::unique_ptr<archive, ArchiveDeleter> a(archive_write_new());
  if (!a) return make_error("libarchive: out of memory");
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);  // no padding to 10 KiB
  if (archive_write_open(a.get(), &out, nullptr, append_to_string, nullptr) != ARCHIVE_OK) {
    return make_error(fmt::format("libarchive: {}", archive_error_string(a.get())));
  }
  const time_t now = ::time(nullptr);
  for (const auto& file : files) {
    std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), file.path.c_str() + 1);
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), file.mode & 0777u);
    archive_entry_set_uid(e.get(), 100);
    archive_entry_set_gid(e.get(), 101);
    archive_entry_set_mtime(e.get(), now, 0);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(file.content.size()));
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
        (!file.content.empty() &&
         archive_write_data(a.get(), file.content.data(), file.content.size()) < 0)) {
      return make_error(fmt::format("libarchive: {}", archive_error_string(a.get())));
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return make_error(fmt::format("libarchive: {}", archive_error_string(a.get())));
  }
  return out;
}

std::chrono::milliseconds setup_phase_limit(const RunSpec& spec) {
  std::chrono::milliseconds total{0};
  for (const SetupCommand& c : spec.setup_commands) {
    total += c.timeout.count() > 0 ? c.timeout : spec.timeout;
  }
  if (!spec.setup_script.empty()) total += spec.timeout;
  return total;
}

int64_t backstop_seconds(const RunSpec& spec) {
  if (spec.timeout.count() <= 0) return 0;
  // The setup script and the program each have the time limit (the runner starts the program's
  // when the setup's marker arrives).
  auto phases = spec.timeout + setup_phase_limit(spec);
  const auto limit = std::chrono::ceil<std::chrono::seconds>(phases + kBackstopGrace);
  return limit.count();
}

Result<Invocation> plan_invocation(const RunSpec& spec, const std::string& marker, bool pooled,
                                   bool with_backstop) {
  Invocation inv;
  std::vector<CodeFile> files;
  if (spec.code_file) files.push_back(*spec.code_file);
  for (const auto& f : spec.files) {
    ISOL8_TRY(check_path(f.path));
    files.push_back(f);
  }
  if (spec.code_file) ISOL8_TRY(check_path(spec.code_file->path));
  inv.has_setup = has_setup_phase(spec);
  for (size_t i = 0; i < spec.setup_commands.size(); ++i) {
    const SetupCommand& c = spec.setup_commands[i];
    std::string record;
    for (const auto& field : c.env) record += field + '\0';
    // The tool by name, found on the image's PATH by env (as the program is: image_argv).
    for (const auto& field : image_argv(c.argv)) record += field + '\0';
    files.push_back(CodeFile{fmt::format("/tmp/.isol8-cmd-{:03}", i), std::move(record), 0600});
  }
  if (!spec.setup_script.empty()) {
    files.push_back(CodeFile{std::string(kSetupPath), spec.setup_script});
  }
  if (inv.has_setup) inv.marker = marker;
  const auto argv = image_argv(spec.argv);
  const bool relay = spec.network == NetworkMode::kFiltered;
  const int64_t backstop = with_backstop ? backstop_seconds(spec) : 0;
  if (files.empty() && spec.workdir == "/sandbox" && !pooled && !relay && backstop == 0) {
    inv.cmd = argv;
    inv.stdin_payload = spec.stdin_data;
    return inv;
  }
  std::string tar;
  if (!files.empty()) {
    auto built = make_tar(files);
    if (!built) return std::move(built).error();
    tar = std::move(*built);
  }
  inv.cmd = {"/bin/bash",
             "-c",
             kBootstrap,
             "isol8-bootstrap",
             std::to_string(tar.size()),
             inv.has_setup ? "1" : "0",
             inv.has_setup ? marker : "-",
             spec.workdir,
             pooled ? "1" : "0",
             relay ? "1" : "0",
             std::to_string(backstop)};
  inv.cmd.insert(inv.cmd.end(), argv.begin(), argv.end());
  inv.stdin_payload = std::move(tar);
  inv.stdin_payload += spec.stdin_data;
  return inv;
}

SetupMarkerScanner::SetupMarkerScanner(std::string marker)
    : prefix_(marker.empty() ? std::string() : "\n" + marker + ":") {}

SetupMarkerScanner::Piece SetupMarkerScanner::feed(std::string_view data) {
  Piece piece;
  if (seen_ || prefix_.empty()) {
    (seen_ ? piece.after : piece.before).append(data);
    return piece;
  }
  held_.append(data);
  const auto at = held_.find(prefix_);
  if (at != std::string::npos) {
    const auto digits = at + prefix_.size();
    const auto end = held_.find('\n', digits);
    if (end != std::string::npos) {
      int code = 0;
      const auto parsed = std::from_chars(held_.data() + digits, held_.data() + end, code);
      if (parsed.ptr < held_.data() + end && *parsed.ptr == ':') {
        size_t step = 0;
        std::from_chars(parsed.ptr + 1, held_.data() + end, step);
        piece.step = step;
      }
      piece.before = held_.substr(0, at);
      piece.exit = code;
      piece.after = held_.substr(end + 1);
      held_.clear();
      seen_ = true;
      return piece;
    }
    if (held_.size() - digits > 24) {  // not a marker after all: no newline after the digits
      piece.before = held_.substr(0, at + 1);
      held_.erase(0, at + 1);
    }
    return piece;
  }
  // Keep only a tail that could still grow into the prefix: from the last newline that is
  // close enough to the end.
  const size_t window = prefix_.size();
  const size_t from = held_.size() > window ? held_.size() - window : 0;
  const auto nl = held_.find('\n', from);
  const size_t keep_from = nl == std::string::npos ? held_.size() : nl;
  piece.before = held_.substr(0, keep_from);
  held_.erase(0, keep_from);
  return piece;
}

std::string SetupMarkerScanner::finish() { return std::exchange(held_, {}); }

}  // namespace isol8::docker
