#pragma once
// The request, options, result and stream-event model of the public library. Field names mirror
// upstream isol8's ExecutionRequest / Isol8Options / ExecutionResult / StreamEvent (camelCase
// there, snake_case here); the JSON codec (isol8/json.h) uses upstream's names on the wire.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace isol8 {

// Every option with a fixed set of values is an enum; the text forms ("none", "docker", ...) are
// parsed once, where the text comes in (isol8/options.h).
enum class NetworkMode { kNone, kHost, kFiltered };
enum class BackendKind { kNative, kDocker };
// upstream security.seccomp: the default profile, none, or security.customProfilePath.
enum class SeccompMode { kStrict, kUnconfined, kCustom };
// How a filtered native sandbox reaches the proxy. kVeth: a veth pair, an nftables table and the
// proxy on the host end (needs CAP_NET_ADMIN on the host; the fastest). kRelay: a loopback-only
// sandbox whose isol8-relay carries connections to the proxy's Unix socket (needs no privilege).
// kAuto: veth when the runner has CAP_NET_ADMIN as root, else (or when a veth cannot be made)
// the relay.
enum class FilteredMode { kAuto, kVeth, kRelay };
// upstream poolStrategy: kFast cleans used containers in the background, kSecure replaces them.
enum class PoolStrategy { kFast, kSecure };
// upstream mode: kEphemeral runs every execution in a fresh sandbox; kPersistent keeps one sandbox
// (files, packages, background processes) for all of an engine's executions until stop().
enum class EngineMode { kEphemeral, kPersistent };

// What one execution asks for. Exactly one of `code`, `code_url` and `cmd` must be set (and not
// blank).
struct ExecutionRequest {
  std::string runtime;              // python, node, bun, deno, bash
  std::optional<std::string> code;  // source to run
  // Code fetched by the runner (never by the sandbox) before the run, under
  // Options::remote_code (docs/remote-code.md): an https URL, or http with
  // allow_insecure_code_url; code_hash is the expected SHA-256 of the body (hex, any case).
  std::optional<std::string> code_url;
  std::optional<std::string> code_hash;
  bool allow_insecure_code_url = false;
  std::optional<std::string> cmd;          // a shell command, run as `bash -c <cmd>`
  std::optional<std::string> stdin_data;   // bytes piped to the program's stdin
  std::map<std::string, std::string> env;  // extra environment for this run
  std::optional<int64_t> timeout_ms;       // overrides Options::timeout_ms
  std::string file_extension;              // e.g. ".cjs"; set when the code came from a file
  std::optional<std::string> workdir;      // absolute under /sandbox, or relative to it
  // A bash script run inside the sandbox before the code (after the image's own setup script);
  // a non-zero exit ends the run with "Setup script failed (exit code N): <stderr>".
  std::string setup_script;
  // Files written into the sandbox before the code runs: absolute path under /sandbox -> bytes.
  std::map<std::string, std::string> files;
  // Permission bits of files in `files` (same keys, e.g. 0755 for a script run as ./run.sh); a
  // file not named here gets 0644. Only the read/write/execute bits of user, group and other are
  // applied: setuid, setgid and sticky bits are dropped.
  std::map<std::string, uint32_t> file_modes;
  std::vector<std::string> install_packages;  // runtime packages (upstream installPackages)
  // Files read back after the run into ExecutionResult::files (upstream outputPaths): absolute, or
  // relative to /sandbox; a missing or unreadable file is skipped; each is capped at the output
  // limit. Non-streaming executions only, as upstream.
  std::vector<std::string> output_paths;
  // Free-form caller data (upstream metadata); the audit log takes its "userId".
  std::map<std::string, std::string> metadata;
};

// Settings of the native backend that upstream (Docker only) has no equivalent for.
struct NativeOptions {
  std::string root_dir;  // a runtime root filesystem; empty = the host's read-only system dirs
  uint32_t id_map_base = 1000000;  // sandbox uid 100 maps to id_map_base + 100 on the host
  std::string hostname = "isol8";
  // --net filtered: the private IPv4 range sandbox veths take their /30s from.
  std::string network_pool = "10.231.0.0/16";
  // --net filtered: a veth when root, else the relay; or one of them.
  FilteredMode filtered_mode = FilteredMode::kAuto;
  // Reused cgroups for one-run sandboxes on cgroup v1, at most this many at once (0: a cgroup
  // is made and removed for every run). The CLI's one-shot runs use them: there, a cgroup's
  // creation and removal are a tenth of the run.
  uint32_t cgroup_slots = 0;
  // Network namespaces of `--net none` runs made ahead, one run for the next, at most this many
  // at once (as root; 0: each run makes its own). The CLI's one-shot runs use them: there, the
  // namespace is a tenth of the run.
  uint32_t netns_slots = 0;
};

// upstream's security option: the seccomp mode and, for "custom", the profile to load.
struct SecurityOptions {
  SeccompMode seccomp = SeccompMode::kStrict;
  std::string custom_profile_path;
};

// Host-name filter of the "filtered" network mode: ECMAScript regexes, case-insensitive; a
// blacklist match always blocks; an empty whitelist allows every host not blacklisted.
struct NetworkFilter {
  std::vector<std::string> whitelist;
  std::vector<std::string> blacklist;
};

// Warm container pool of the Docker backend (upstream poolSize {clean, dirty}).
struct PoolSize {
  int clean = 1;
  int dirty = 1;
};

// upstream remoteCode: whether and from where ExecutionRequest::code_url may be fetched. Host
// patterns are RE2 regexes matched case-insensitively against the URL's host (an IPv6 literal in
// brackets); an empty allow list allows every host the block list does not name. Whatever the
// lists say, an address that reaches the host itself or a private network is refused.
struct RemoteCodePolicy {
  bool enabled = false;
  std::vector<std::string> allowed_schemes = {"https"};
  std::vector<std::string> allowed_hosts;
  std::vector<std::string> blocked_hosts;
  int64_t max_code_size = 10 * 1024 * 1024;  // bytes
  int64_t fetch_timeout_ms = 30000;          // the whole fetch, redirects included
  bool require_hash = false;
  int max_redirects = 5;
};

// upstream audit: a JSONL record per execution (docs/audit.md).
struct AuditOptions {
  bool enabled = false;
  std::string destination = "filesystem";  // filesystem (or file) | stdout
  std::string log_dir;                     // empty: $ISOL8_AUDIT_DIR, else ./.isol8_audit
  std::string post_log_script;             // run with the log file's path after each record
  bool track_resources = true;             // the record carries resourceUsage
  int64_t retention_days = 90;             // older *.log / *.jsonl files in log_dir are deleted
  bool include_code = false;               // the record carries the code (secrets masked)
  bool include_output = false;  // the record carries stdout/stderr (as the result has them)
};

// Engine-wide settings (upstream Isol8Options). Sizes are bytes; upstream's size strings ("512m")
// are parsed at the edge (isol8/options.h states every range, checked again before each run).
struct Options {
  BackendKind backend = BackendKind::kNative;
  EngineMode mode = EngineMode::kEphemeral;
  // Leave the sandbox of an ephemeral run in place after it ends, for inspection (upstream
  // persist); the CLI says how to reach and remove it.
  bool persist = false;
  // How long a persisted native sandbox stays once its runner is gone (then it ends by itself;
  // `isol8 cleanup` or killing its init ends it sooner). A docker container stays until removed.
  std::chrono::seconds persist_lifetime{3600};
  NetworkMode network = NetworkMode::kNone;
  double cpu_limit = 1.0;                      // cores
  uint64_t memory_limit_bytes = 512ull << 20;  // upstream memoryLimit "512m"
  int64_t pids_limit = 64;
  int64_t max_output_size = 1024 * 1024;       // per stream, bytes
  std::map<std::string, std::string> secrets;  // env vars whose values are masked as ***
  int64_t timeout_ms = 30000;
  uint64_t sandbox_size_bytes = 512ull << 20;  // the /sandbox tmpfs, upstream sandboxSize
  uint64_t tmp_size_bytes = 256ull << 20;      // the /tmp tmpfs, upstream tmpSize
  std::string image;                           // optional root/image override
  NetworkFilter network_filter;
  bool log_network = false;  // collect ExecutionResult::network_logs (filtered mode)
  PoolStrategy pool_strategy = PoolStrategy::kFast;
  PoolSize pool_size;
  std::string rootfs_store;  // where runtime roots live; empty = the default for this user
  bool debug = false;
  SecurityOptions security;
  RemoteCodePolicy remote_code;
  AuditOptions audit;
  NativeOptions native;
};

enum class RunStatus { kOk, kError, kTimeout, kOom, kKilled };

// What a run consumed (isolate's meta file is the model).
struct ResourceUsage {
  int64_t wall_ms = 0;
  int64_t cpu_user_ms = 0;
  int64_t cpu_system_ms = 0;
  uint64_t peak_memory_bytes = 0;  // of the cgroup when one was used, else the largest process
  // False when the backend measured only wall time (the docker backend: a container's cgroup is
  // gone by the time its exit is known); the CPU and memory figures are then unknown, not zero.
  bool cpu_and_memory_measured = true;
};

// The result's record of which resource limits the backend really applied.
struct LimitReport {
  std::vector<std::string> enforced;      // e.g. "memory", "pids", "cpu"
  std::vector<std::string> not_enforced;  // the rest, with the run still going ahead
};

// One request seen by the filtering proxy (upstream NetworkLogEntry, plus port and bytes).
struct NetworkLogEntry {
  std::string timestamp;  // ISO 8601, UTC
  std::string method;     // CONNECT, GET, ...
  std::string host;
  int port = 0;
  std::optional<std::string> path;  // null for CONNECT
  std::string action;               // ALLOW | BLOCK
  int64_t duration_ms = 0;
  uint64_t bytes = 0;  // bytes relayed in both directions
};

struct ExecutionResult {
  std::string stdout_data;  // masked, trimmed at the end, possibly truncated
  std::string stderr_data;
  int exit_code = 0;
  int64_t duration_ms = 0;
  bool truncated = false;
  std::string execution_id;  // UUID v4
  std::string runtime;
  std::string timestamp;  // ISO 8601, UTC, at completion
  RunStatus status = RunStatus::kOk;
  int term_signal = 0;  // the signal that ended the program, 0 if it exited
  bool oom_killed = false;
  bool pids_limit_hit = false;  // a fork was refused at the pids limit (native backend)
  ResourceUsage resource_usage;
  LimitReport limits;
  std::vector<NetworkLogEntry> network_logs;  // filtered mode with log_network only
  std::map<std::string, std::string> files;   // output_paths read back: path -> base64
  // The sandbox that ran it (upstream containerId): a persistent engine's session, or a sandbox
  // kept by `persist`; empty otherwise.
  std::string container_id;
};

struct StreamEvent {
  enum class Type { kStdout, kStderr, kExit, kError };
  Type type = Type::kStdout;
  std::string data;
  std::string phase = "code";  // "setup" or "code"
};

// The message of the error event sent when the time limit ends a run.
inline constexpr const char* kTimedOutEvent = "EXECUTION TIMED OUT";
inline constexpr const char* kTimedOutMarker = "--- EXECUTION TIMED OUT ---";
// The message of the error event sent when the time limit ends the setup phase.
inline constexpr const char* kSetupTimedOutEvent = "SETUP SCRIPT TIMED OUT";

const char* to_string(NetworkMode mode);
const char* to_string(BackendKind kind);
const char* to_string(SeccompMode mode);
const char* to_string(FilteredMode mode);
const char* to_string(PoolStrategy strategy);
const char* to_string(EngineMode mode);
const char* to_string(RunStatus status);
const char* to_string(StreamEvent::Type type);

}  // namespace isol8
