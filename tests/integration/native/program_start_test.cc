// How a one-shot run's init starts the program: while init is the sandbox's only process it
// starts it the way posix_spawn does (spawn_program: the child shares init's memory, which is a
// copy of the runner's, until its execve). These cases hold that path to what a fork gave: an
// exec failure still names the step and the program, and init's memory stays out of the
// program's reach from its first instruction on.

#include "backends/native/native_backend.h"
#include "support/test_support.h"

namespace isol8::test {
namespace {

class ProgramStart : public LeakCheckedTest {
 protected:
  // A backend as the CLI's one-shot engine makes it: no warm pool, so every run takes the
  // one-shot path.
  Result<std::unique_ptr<Backend>> one_shot_backend() const {
    NativeBackendConfig config;
    config.id_map_base = options().native.id_map_base;
    return make_native_backend(config);
  }
};

TEST_F(ProgramStart, AnExecFailureNamesTheStepAndTheProgram) {
  auto backend = one_shot_backend();
  ASSERT_TRUE(backend) << backend.error().message;
  RunSpec spec = python_spec("pass", NetworkMode::kNone);
  spec.argv = {"/nonexistent/program", "-c", "pass"};
  const BackendRun r = run_spec(**backend, spec);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(contains(r.error, "sandbox setup failed while executing the program")) << r.error;
  EXPECT_TRUE(contains(r.error, "(/nonexistent/program)")) << r.error;
  // The backend goes on serving runs after a failed start.
  const BackendRun next = run_spec(**backend, python_spec("print('next')", NetworkMode::kNone));
  ASSERT_TRUE(next.ok) << next.error;
  EXPECT_EQ(rtrim(next.out), "next");
}

TEST_F(ProgramStart, TheProgramCannotReachItsInitsMemory) {
  auto backend = one_shot_backend();
  ASSERT_TRUE(backend) << backend.error().message;
  const BackendRun r = run_spec(
      **backend, python_spec("import ctypes, os\n"
                             "for p in ('/proc/1/mem', '/proc/1/environ', '/proc/1/maps'):\n"
                             "    try:\n"
                             "        open(p, 'rb').read(16)\n"
                             "        print(p, 'read')\n"
                             "    except OSError:\n"
                             "        print(p, 'denied')\n"
                             "libc = ctypes.CDLL(None, use_errno=True)\n"
                             "print('ptrace attach', libc.ptrace(16, 1, 0, 0))\n",
                             NetworkMode::kNone));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* file : {"/proc/1/mem", "/proc/1/environ", "/proc/1/maps"}) {
    EXPECT_TRUE(contains(r.out, std::string(file) + " denied")) << r.out;
  }
  EXPECT_TRUE(contains(r.out, "ptrace attach -1")) << r.out;
}

TEST_F(ProgramStart, ExitStatusOutputAndStdinAreThePrograms) {
  auto backend = one_shot_backend();
  ASSERT_TRUE(backend) << backend.error().message;
  RunSpec spec = python_spec(
      "import sys\nprint(sys.stdin.read().upper())\nprint('e', file=sys.stderr)\nsys.exit(7)",
      NetworkMode::kNone);
  spec.stdin_data = "abc";
  const BackendRun r = run_spec(**backend, spec);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(rtrim(r.out), "ABC");
  EXPECT_EQ(rtrim(r.err), "e");
}

}  // namespace
}  // namespace isol8::test
