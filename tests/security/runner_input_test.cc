// Hostile input to the runner itself: huge argv/env/stdin/code, and NUL bytes where C strings
// would cut them. The runner must answer with a clean error or a correct run, never crash, hang
// or leave anything behind.

#include "security/security_fixture.h"

namespace isol8::test::security {
namespace {

using nlohmann::json;
using namespace std::string_literals;

class RunnerInput : public SecurityTest {};

TEST_P(RunnerInput, HugeEnvironmentValueIsACleanErrorOrARun) {
  // One 4 MiB variable is past what execve accepts (a string may be at most 128 KiB).
  ExecutionRequest req = bash_request("echo ${#BIG}");
  req.env["BIG"] = std::string(4u << 20, 'e');
  auto r = execute_raw(req);
  if (r) {
    expect_sane(*r);
    EXPECT_TRUE(r->status == RunStatus::kOk || r->status == RunStatus::kError) << describe(*r);
  } else {
    EXPECT_FALSE(r.error().message.empty());
  }
  // The engine-level failure, if any, left nothing behind (TearDown) and a normal run works.
  auto ok = execute(bash_request("echo fine"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->stdout_data, "fine");
}

TEST_P(RunnerInput, ManyEnvironmentVariables) {
  ExecutionRequest req = python_request(
      "import os\nprint(len([k for k in os.environ "
      "if k.startswith('V_')]))\n");
  for (int i = 0; i < 5000; ++i) req.env["V_" + std::to_string(i)] = std::string(400, 'v');
  auto r = execute_raw(req);
  if (r) {
    expect_sane(*r);
    // About 2 MB of environment: it fits under the usual 8 MiB stack limit, or execve says
    // E2BIG, which the runner reports as a failed run.
    if (r->status == RunStatus::kOk) {
      EXPECT_EQ(r->stdout_data, "5000");
    }
  } else {
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST_P(RunnerInput, HugeArgvInsideTheSandbox) {
  auto r =
      execute(python_request("import errno, os\n"
                             "try:\n"
                             "    os.execv('/bin/true', ['true'] + ['a' * 100000] * 200)\n"
                             "except OSError as e:\n"
                             "    print(errno.errorcode[e.errno])\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_EQ(r->stdout_data, "E2BIG");
}

TEST_P(RunnerInput, HugeCodeAndStdin) {
  // 4 MiB of Python (a file, not an argument) and 16 MiB of stdin.
  std::string code = "import sys\nx = 0\n";
  while (code.size() < (4u << 20)) code += "x += 1  # padding padding padding padding padding\n";
  code += "data = sys.stdin.buffer.read()\nprint(x > 0, len(data), data.count(b'\\0'))\n";
  ExecutionRequest req = python_request(code);
  req.stdin_data = std::string(16u << 20, '\0');
  auto r = execute(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_EQ(r->stdout_data, "True 16777216 16777216");
}

TEST_P(RunnerInput, NulBytesAreRejectedOrCarriedIntact) {
  auto engine = Engine::create(opts());
  ASSERT_TRUE(engine) << engine.error().message;
  // In a command, an environment variable name or value, a secret or the workdir: a clean
  // error (a C string would silently cut them).
  ExecutionRequest cmd = bash_request("echo a\0; rm -rf /sandbox"s);
  auto r1 = execute_on(**engine, cmd);
  EXPECT_FALSE(r1) << "a command with a NUL byte ran";

  ExecutionRequest env = bash_request("echo $X");
  env.env["X"] = "safe\0LD_PRELOAD=/sandbox/x.so"s;
  auto r2 = execute_on(**engine, env);
  EXPECT_FALSE(r2) << "an environment value with a NUL byte was passed";

  ExecutionRequest env_name = bash_request("env");
  env_name.env["A\0B"s] = "1";
  auto r3 = execute_on(**engine, env_name);
  EXPECT_FALSE(r3) << "an environment name with a NUL byte was passed";

  ExecutionRequest wd = bash_request("pwd");
  wd.workdir = "/sandbox/a\0/../../etc"s;
  auto r4 = execute_on(**engine, wd);
  EXPECT_FALSE(r4) << "a workdir with a NUL byte was used";

  Options with_secret = opts();
  with_secret.secrets["S"] = "x\0y"s;
  auto r5 = execute_raw(bash_request("true"), with_secret);
  EXPECT_FALSE(r5) << "a secret with a NUL byte was passed";

  // Code with NUL bytes goes through a file, written whole (what Python makes of a NUL is
  // Python's business: 3.11 stops reading there, 3.12 rejects the file).
  auto r6 =
      execute_on(**engine, python_request("import sys\n"
                                          "print(open(sys.argv[0], 'rb').read().count(b'\\0'))\n"
                                          "# \0 after the NUL\n"s));
  ASSERT_TRUE(r6) << r6.error().message;
  expect_sane(*r6);
  if (r6->exit_code == 0) {
    EXPECT_EQ(r6->stdout_data, "1") << describe(*r6);
  } else {
    EXPECT_TRUE(contains(r6->stderr_data, "null bytes")) << describe(*r6);
  }

  // Stdin and output carry NUL bytes intact.
  ExecutionRequest echo = python_request(
      "import sys\n"
      "d = sys.stdin.buffer.read()\n"
      "sys.stdout.buffer.write(d[::-1])\n");
  echo.stdin_data = "a\0b\0c"s;
  auto r7 = execute_on(**engine, echo);
  ASSERT_TRUE(r7) << r7.error().message;
  EXPECT_EQ(r7->stdout_data, "c\0b\0a"s);

  // The engine is still fine.
  auto last = execute_on(**engine, bash_request("echo ok"));
  ASSERT_TRUE(last) << last.error().message;
  EXPECT_EQ(last->stdout_data, "ok");
}

TEST_P(RunnerInput, NulBytesThroughTheCli) {
  const CliRun r = cli_run({"--json", "--cmd", "printf 'a\\0b'; printf '\\0\\0' >&2"});
  EXPECT_EQ(r.exit_code, 0) << isol8::test::describe(r);
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["stdout"].get<std::string>(), "a\0b"s);
}

TEST_P(RunnerInput, WorkdirCannotEscapeSandbox) {
  for (const char* dir :
       {"/sandbox/../etc", "../../etc", "/proc/1/root", "/tmp", "/sandbox/../../../../"}) {
    ExecutionRequest req = bash_request("pwd");
    req.workdir = dir;
    auto r = execute_raw(req);
    if (r) {
      expect_sane(*r);
      EXPECT_TRUE(r->stdout_data.starts_with("/sandbox")) << dir << ": " << describe(*r);
    } else {
      EXPECT_TRUE(contains(r.error().message, "Working directory must be inside /sandbox"))
          << dir << ": " << r.error().message;
    }
  }
  // A symlink planted in /sandbox cannot redirect a later run's workdir: nothing persists.
  auto engine = Engine::create(opts());
  ASSERT_TRUE(engine) << engine.error().message;
  auto plant = execute_on(**engine, bash_request("ln -s /etc /sandbox/w && echo planted"));
  ASSERT_TRUE(plant) << plant.error().message;
  ExecutionRequest follow = bash_request("pwd -P; ls /etc/hostname >/dev/null 2>&1; echo $?");
  follow.workdir = "/sandbox/w";
  auto r = execute_on(**engine, follow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->stdout_data.starts_with("/sandbox/w")) << describe(*r);
}

ISOL8_BACKEND_SUITE(RunnerInput);

}  // namespace
}  // namespace isol8::test::security
