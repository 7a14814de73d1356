// Privilege regain and information leaks: setuid binaries, file capabilities, TIOCSTI, the
// runner's environment and command line, secrets.

#include <sys/stat.h>

#include "security/security_fixture.h"

namespace isol8::test::security {
namespace {

class Privilege : public SecurityTest {};

// Host setuid-root binaries that the sandbox's read-only system directories expose.
std::vector<std::string> host_setuid_binaries() {
  std::vector<std::string> out;
  for (const char* p :
       {"/usr/bin/mount", "/usr/bin/su", "/usr/bin/passwd", "/usr/bin/chfn", "/usr/bin/newgrp",
        "/usr/bin/gpasswd", "/usr/bin/umount", "/usr/bin/sudo", "/usr/bin/newuidmap"}) {
    struct stat st;
    if (::stat(p, &st) == 0 && (st.st_mode & S_ISUID) && st.st_uid == 0) out.push_back(p);
  }
  return out;
}

// Runs each binary of SUID_BINARIES (space-separated) with --help and stdout/stderr on a full
// pipe, so that it blocks in its first write: its credentials are then read from
// /proc/<pid>/status. A setuid that took effect shows as an euid other than 100.
constexpr const char* kSetuidScript = R"PY(
import fcntl, os, time
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ
fl = fcntl.fcntl(w, fcntl.F_GETFL)
fcntl.fcntl(w, fcntl.F_SETFL, fl | os.O_NONBLOCK)
try:
    while True:
        os.write(w, b'x' * 4096)
except BlockingIOError:
    pass
fcntl.fcntl(w, fcntl.F_SETFL, fl)
for path in os.environ['SUID_BINARIES'].split():
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 1)
        os.dup2(w, 2)
        os.execv(path, [path, '--help'])
    f = {}
    for i in range(300):
        try:
            st = open('/proc/%d/status' % pid).read()
        except OSError:
            break
        f = dict((l.split(':', 1)[0], l.split(':', 1)[1].split()) for l in st.splitlines() if ':' in l)
        if f['Name'][0] == os.path.basename(path)[:15] and f['State'][0] in ('S', 'D'):
            break
        time.sleep(0.01)
    print('CREDS', path, 'uid=' + ','.join(f.get('Uid', [])), 'gid=' + ','.join(f.get('Gid', [])),
          'capeff=' + ''.join(f.get('CapEff', [])), 'capprm=' + ''.join(f.get('CapPrm', [])),
          'state=' + ''.join(f.get('State', [])[:1]), flush=True)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print('DONE')
)PY";

TEST_P(Privilege, SetuidBinariesGainNothing) {
  const auto binaries = host_setuid_binaries();
  if (binaries.empty()) GTEST_SKIP() << "no setuid-root binary on this host";
  std::string list;
  for (const auto& b : binaries) list += b + " ";
  ExecutionRequest req = python_request(kSetuidScript);
  req.env["SUID_BINARIES"] = list;
  auto r = execute(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_TRUE(contains(r->stdout_data, "DONE")) << describe(*r);
  for (const auto& b : binaries) {
    const auto creds = reported(r->stdout_data, "CREDS " + b);
    ASSERT_TRUE(creds) << b << " not reported\n" << describe(*r);
    EXPECT_TRUE(contains(*creds, "uid=100,100,100,100 ")) << b << ": " << *creds;
    EXPECT_TRUE(contains(*creds, "gid=101,101,101,101 ")) << b << ": " << *creds;
    EXPECT_TRUE(contains(*creds, "capeff=0000000000000000 ")) << b << ": " << *creds;
    EXPECT_TRUE(contains(*creds, "capprm=0000000000000000 ")) << b << ": " << *creds;
    // Blocked in its write: the creds were read while the binary ran, not after it failed.
    EXPECT_TRUE(contains(*creds, "state=S") || contains(*creds, "state=D")) << b << ": " << *creds;
  }
}

TEST_P(Privilege, SetuidCopiesAndSuGainNothing) {
  // A setuid copy made inside the sandbox belongs to the sandbox user, and /sandbox is nosuid;
  // su cannot authenticate (no PAM, no shadow) and would find no_new_privs anyway.
  auto r = execute(attack_script(
      "import shutil, subprocess\n"
      "shutil.copy('/usr/bin/id', '/sandbox/id')\n"
      "os.chmod('/sandbox/id', 0o6755)\n"
      "out = subprocess.run(['/sandbox/id', '-u'], capture_output=True, text=True).stdout.strip()\n"
      "print(('DENIED' if out == '100' else 'ALLOWED') + ' setuid_copy euid=' + out)\n"
      "attempt('chown_copy_root', lambda: os.chown('/sandbox/id', 0, 0))\n"
      "p = subprocess.run(['su', '-c', 'id -u', 'root'], input='\\n', capture_output=True,\n"
      "                   text=True)\n"
      "print(('DENIED' if p.returncode != 0 and p.stdout.strip() != '0' else 'ALLOWED') +\n"
      "      ' su rc=%d out=%r' % (p.returncode, p.stdout.strip()))\n"
      "if shutil.which('sudo'):\n"
      "    p = subprocess.run(['sudo', '-n', 'id', '-u'], capture_output=True, text=True)\n"
      "    print(('DENIED' if p.stdout.strip() != '0' else 'ALLOWED') + ' sudo rc=%d' % "
      "p.returncode)\n"
      "else:\n"
      "    print('DENIED sudo absent')\n"
      "print('euid', os.geteuid())\n"));
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"setuid_copy", "chown_copy_root", "su", "sudo"});
  EXPECT_EQ(reported(r->stdout_data, "euid"), "100");
}

TEST_P(Privilege, FileCapabilitiesCannotBeSetOrGained) {
  // A v2 security.capability xattr granting every capability, effective: setting it needs
  // CAP_SETFCAP; and whatever binary is executed, every capability set stays empty.
  auto r = execute(attack_script(
      "import shutil, subprocess\n"
      "shutil.copy('/usr/bin/python3', '/sandbox/py')\n"
      "os.chmod('/sandbox/py', 0o755)\n"
      "caps = struct.pack('<IIIII', 0x02000001, 0xffffffff, 0, 0x1ff, 0)\n"
      "attempt('setxattr_caps', lambda: os.setxattr('/sandbox/py', 'security.capability', caps))\n"
      "caps3 = struct.pack('<IIIIII', 0x03000001, 0xffffffff, 0, 0x1ff, 0, 0)\n"
      "attempt('setxattr_caps_v3', lambda: os.setxattr('/sandbox/py', 'security.capability', "
      "caps3))\n"
      "attempt('setcap_util', lambda: (lambda rc: (-1, 'rc=%d' % rc) if rc != 0 else rc)(\n"
      "    subprocess.call(['setcap', 'cap_sys_admin+ep', '/sandbox/py'],\n"
      "                    stderr=subprocess.DEVNULL)) if shutil.which('setcap') else (-1, "
      "'absent'))\n"
      "prog = \"print([l.split()[1] for l in open('/proc/self/status') if l.startswith('Cap')])\"\n"
      "for exe in (['/sandbox/py', '-c', prog], ['/usr/bin/python3', '-c', prog]):\n"
      "    print('caps', exe[0], subprocess.run(exe, capture_output=True, "
      "text=True).stdout.strip())\n"
      "print('caps bash', subprocess.run(['bash', '-c', 'grep ^Cap /proc/self/status | "
      "cut -f2 | tr \"\\\\n\" \" \"'], capture_output=True, text=True).stdout.strip())\n"
      "print('caps mount', subprocess.run(['sh', '-c', 'exec /usr/bin/mount --version "
      ">/dev/null;'],"
      " capture_output=True, text=True).returncode)\n"));
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"setxattr_caps", "setxattr_caps_v3", "setcap_util"});
  const std::string zeros =
      "['0000000000000000', '0000000000000000', '0000000000000000', '0000000000000000', "
      "'0000000000000000']";
  EXPECT_EQ(reported(r->stdout_data, "caps /sandbox/py"), zeros) << describe(*r);
  EXPECT_EQ(reported(r->stdout_data, "caps /usr/bin/python3"), zeros) << describe(*r);
  EXPECT_EQ(reported(r->stdout_data, "caps bash"),
            "0000000000000000 0000000000000000 0000000000000000 0000000000000000 "
            "0000000000000000")
      << describe(*r);
}

TEST_P(Privilege, TiocstiHasNoTerminalToInjectInto) {
  auto r = execute(attack_script(
      "import fcntl, termios\n"
      "for fd in (0, 1, 2):\n"
      "    attempt('tiocsti_fd%d' % fd, lambda fd=fd: fcntl.ioctl(fd, termios.TIOCSTI, b'x'))\n"
      "attempt('open_dev_tty', lambda: os.open('/dev/tty', os.O_RDWR))\n"
      "attempt('openpty', lambda: os.openpty())\n"
      "attempt('tiocsctty', lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 1))\n"
      "attempt('tioclinux', lambda: fcntl.ioctl(0, 0x541C, b'\\x0b'))\n"
      "print('isatty', [os.isatty(fd) for fd in (0, 1, 2)])\n"));
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"tiocsti_fd0", "tiocsti_fd1", "tiocsti_fd2", "open_dev_tty", "openpty",
                         "tiocsctty", "tioclinux"});
  EXPECT_EQ(reported(r->stdout_data, "isatty"), "[False, False, False]");
}

// The variables a sandbox starts with (README: clean environment) plus the request's.
constexpr const char* kEnvScript =
    "import os\n"
    "for k in sorted(os.environ): print('ENV', k)\n"
    "print('canary', os.environ.get('ISOL8_SEC_CANARY', 'absent'))\n";

TEST_P(Privilege, RunnerEnvironmentDoesNotLeakThroughTheLibrary) {
  ::setenv("ISOL8_SEC_CANARY", "library-canary-91c2", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "host-aws-secret-91c2", 1);
  auto r = execute(python_request(kEnvScript));
  ::unsetenv("ISOL8_SEC_CANARY");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_EQ(reported(r->stdout_data, "canary"), "absent");
  EXPECT_FALSE(contains(r->stdout_data, "AWS_SECRET_ACCESS_KEY"));
  EXPECT_FALSE(contains(r->stdout_data, "ENV SSH_AUTH_SOCK"));
  EXPECT_FALSE(contains(r->stdout_data, "ENV LD_PRELOAD"));
  EXPECT_FALSE(contains(r->stdout_data, "91c2"));
}

TEST_P(Privilege, RunnerEnvironmentDoesNotLeakThroughTheCli) {
  const CliRun r = [&] {
    std::vector<std::string> args = {"-e", kEnvScript};
    // cli_run() builds its options from cli(); set the canaries in its environment instead.
    ::setenv("ISOL8_SEC_CANARY", "cli-canary-5d1e", 1);
    ::setenv("LD_PRELOAD", "", 1);
    ::setenv("PYTHONSTARTUP", "/nonexistent/cli-canary-5d1e.py", 1);
    CliRun run = cli_run(args);
    ::unsetenv("ISOL8_SEC_CANARY");
    ::unsetenv("LD_PRELOAD");
    ::unsetenv("PYTHONSTARTUP");
    return run;
  }();
  EXPECT_EQ(r.exit_code, 0) << isol8::test::describe(r);
  EXPECT_EQ(reported(r.out, "canary"), "absent") << isol8::test::describe(r);
  EXPECT_FALSE(contains(r.out, "5d1e"));
  EXPECT_FALSE(contains(r.out, "ENV PYTHONSTARTUP"));
  EXPECT_FALSE(contains(r.out, "ENV LD_PRELOAD"));
}

TEST_P(Privilege, SecretsAreOnlyWhereTheyWereGiven) {
  // The secret reaches the program through its variable only; output is masked; other runs of
  // the same engine do not see it.
  Options o = opts();
  o.secrets["API_TOKEN"] = "tok-sec-suite-3141";
  auto engine = Engine::create(o);
  ASSERT_TRUE(engine) << engine.error().message;
  auto r =
      execute_on(**engine, python_request("import os\n"
                                          "print(os.environ['API_TOKEN'])\n"
                                          "import sys\n"
                                          "print(os.environ['API_TOKEN'], file=sys.stderr)\n"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->stdout_data, "***");
  EXPECT_EQ(r->stderr_data, "***");
  EXPECT_FALSE(contains(r->stdout_data + r->stderr_data, "tok-sec-suite-3141"));
  // Nothing of a run stays for the next one.
  auto next = execute_on(**engine, bash_request("grep -rl tok-sec-suite /sandbox /tmp /dev/shm "
                                                "2>/dev/null | wc -l"));
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->stdout_data, "0");
}

TEST_P(Privilege, InitDoesNotRevealTheRunnersCommandLine) {
  // The sandbox's init is a copy of the runner, and /proc/1/cmdline needs no ptrace access:
  // it must not show the runner's argv (a server's command line can carry credentials).
  const std::string runner_cmdline = slurp("/proc/self/cmdline");
  ASSERT_FALSE(runner_cmdline.empty());
  const std::string runner_argv0 = runner_cmdline.substr(0, runner_cmdline.find('\0'));
  auto r =
      execute(python_request("import os\n"
                             "for p in ('/proc/1/cmdline', '/proc/1/task/1/cmdline'):\n"
                             "    try:\n"
                             "        d = open(p, 'rb').read()\n"
                             "        print(p, d.replace(b'\\0', b' ').decode(errors='replace'))\n"
                             "    except OSError as e:\n"
                             "        print(p, 'unreadable', e.errno)\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_FALSE(contains(r->stdout_data, runner_argv0))
      << "the program can read the runner's command line from its init:\n"
      << describe(*r);
}

ISOL8_BACKEND_SUITE(Privilege);

}  // namespace
}  // namespace isol8::test::security
