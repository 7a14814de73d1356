#pragma once
// The sub-commands. Each registers its flags on the CLI11 app, and runs after parsing with the
// loaded configuration. They return the process exit code.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "isol8/config.h"
#include "isol8/executor.h"
#include "isol8/result.h"
#include "isol8/types.h"

namespace isol8::cli {

struct RunArgs {
  std::string file;
  std::optional<std::string> eval;
  std::optional<std::string> cmd;
  std::optional<std::string> runtime;
  std::optional<std::string> net;
  std::optional<std::string> backend;
  std::optional<std::string> image;
  // Numbers and sizes stay text until isol8/options.h's parsers check them against their ranges,
  // so that a refusal names the flag and quotes the value as given.
  std::optional<std::string> timeout_ms;
  std::optional<std::string> memory;
  std::optional<std::string> cpu;
  std::optional<std::string> pids_limit;
  std::optional<std::string> max_output;
  std::optional<std::string> sandbox_size;
  std::optional<std::string> tmp_size;
  std::optional<std::string> stdin_data;
  std::optional<std::string> workdir;
  std::optional<std::string> out;
  std::vector<std::string> secrets;
  std::vector<std::string> setup;  // each a command, or a file whose content is the command
  std::optional<std::string> files_dir;
  std::vector<std::string> allow;    // given: replaces network.whitelist
  std::vector<std::string> deny;     // given: replaces network.blacklist
  std::vector<std::string> install;  // runtime packages; without --net, the run goes filtered
  // Remote code: --url, or --github owner/repo/ref/path, or --gist id/file.ext.
  std::optional<std::string> url;
  std::optional<std::string> github;
  std::optional<std::string> gist;
  std::optional<std::string> hash;
  bool allow_insecure_code_url = false;
  bool log_network = false;
  bool persistent = false;  // one sandbox for this run's phases, removed after it (as upstream)
  bool persist = false;     // keep the sandbox after the run for inspection (docker backend)
  // A remote run: the server's URL, its key, and a server session to use (kept after the run).
  std::optional<std::string> host;
  std::optional<std::string> key;
  std::optional<std::string> session_id;
  bool no_stream = false;
  bool json = false;
  bool debug = false;
  // Upstream flags that later work brings; accepted by the parser so that using one gives a
  // clear "not supported yet" instead of "unknown option".
  std::vector<std::pair<std::string, bool>> unsupported;
};

CLI::App* add_run_command(CLI::App& app, RunArgs& args);
// Where a run's engine comes from. The isol8 binary, which starts for every run, makes only
// local native engines (make_native_run_engine) and links nothing else; it hands every other run
// (is_local_native_run false) and every other command to isol8-full, which makes them all
// (make_any_run_engine: a local engine of any backend, or a server's for --host).
using RunEngineMaker = Result<std::unique_ptr<Executor>> (*)(const RunArgs&, const Options&);
Result<std::unique_ptr<Executor>> make_native_run_engine(const RunArgs& args,
                                                         const Options& options);
Result<std::unique_ptr<Executor>> make_any_run_engine(const RunArgs& args, const Options& options);
// The run's options: the config's, with the flags over them. Built once, before either binary
// decides where the run goes.
Result<Options> build_run_options(const RunArgs& args, const LoadedConfig& config);
bool is_local_native_run(const RunArgs& args, const Result<Options>& options);
// `options` as build_run_options made them; an error in them is reported as the run's.
int run_command(const RunArgs& args, Result<Options> options, RunEngineMaker make_engine);
// A run that ends before a result: "[ERR] <message>" on stderr and, with --json, the error as
// {"error": "<message>"} on stdout (upstream's server error body), so that a script parsing the
// output never sees nothing. Returns 1.
int report_run_error(const RunArgs& args, const std::string& message);

struct ConfigArgs {
  bool json = false;
};

CLI::App* add_config_command(CLI::App& app, ConfigArgs& args);
int config_command(const ConfigArgs& args, const LoadedConfig& config);

struct DoctorArgs {
  bool json = false;
};

CLI::App* add_doctor_command(CLI::App& app, DoctorArgs& args);
// Checks for runs with the config's options; a config that does not load is reported, and the
// defaults checked instead.
int doctor_command(const DoctorArgs& args, const Result<LoadedConfig>& config);

struct SetupArgs {
  std::optional<std::string> backend;
  std::string store;
  std::vector<std::string> runtimes;
  bool force = false;
};

CLI::App* add_setup_command(CLI::App& app, SetupArgs& args);
int setup_command(const SetupArgs& args, const LoadedConfig& config);
// `isol8 setup --backend docker`: the store's roots imported as Docker images.
int docker_setup(const SetupArgs& args, const LoadedConfig& config);

struct CleanupArgs {
  bool force = false;
  bool images = false;
};

CLI::App* add_cleanup_command(CLI::App& app, CleanupArgs& args);
int cleanup_command(const CleanupArgs& args);

struct BuildArgs {
  std::optional<std::string> backend;  // docker: also import the root as a Docker image
  std::string base;
  std::string tag;
  std::vector<std::string> install;
  std::vector<std::string> setup;
  bool force = false;
};
CLI::App* add_build_command(CLI::App& app, BuildArgs& args);
int build_command(const BuildArgs& args, const LoadedConfig& config);

CLI::App* add_list_custom_command(CLI::App& app);
int list_custom_command(const LoadedConfig& config);

struct RootfsArgs {
  CLI::App* import_cmd = nullptr;
  CLI::App* list_cmd = nullptr;
  CLI::App* rm_cmd = nullptr;
  std::string tar;
  std::string image;  // a Docker image to import instead of a tar file
  std::string tag;
  std::string runtime;
  bool force = false;
};
CLI::App* add_rootfs_command(CLI::App& app, RootfsArgs& args);
int rootfs_command(const RootfsArgs& args, const LoadedConfig& config);

// Remote commands: `isol8 login`, `isol8 logout`, `isol8 session list|stop`.
struct RemoteArgs {
  CLI::App* login = nullptr;
  CLI::App* logout = nullptr;
  CLI::App* session_list = nullptr;
  CLI::App* session_stop = nullptr;
  std::string host;
  std::optional<std::string> key;
  std::optional<std::string> name;
  std::optional<std::string> ttl_ms;
  std::string session_id;
  bool json = false;
};
void add_remote_commands(CLI::App& app, RemoteArgs& args);
// Whether one of them was given; then `remote_command` runs it.
bool remote_command_parsed(const RemoteArgs& args);
int remote_command(const RemoteArgs& args);

// The key for `host`: --key, else ISOL8_API_KEY, else the stored credentials for that host
// (warning when they expired). "API key required. ..." when there is none.
Result<std::string> resolve_api_key(const std::optional<std::string>& flag,
                                    const std::string& canonical_host);
struct ServeArgs {
  std::optional<std::string> port;  // text until resolve_port checks it (upstream's message)
  std::optional<std::string> key;
  std::optional<std::string> auth_db;
  std::optional<std::string> bind;
  std::optional<std::string> node_id;
  std::optional<std::string> advertise_url;
  bool update = false;
  bool debug = false;
};
CLI::App* add_serve_command(CLI::App& app, ServeArgs& args);
int serve_command(const ServeArgs& args, const LoadedConfig& config);

// "[ERR] <message>" on stderr; returns 1.
int report_error(const std::string& message);

}  // namespace isol8::cli
