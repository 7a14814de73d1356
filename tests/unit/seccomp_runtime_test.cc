// Real runtimes under the default profile (fork, no_new_privs, load the filter, execve), the way
// the sandbox's program runs: proves the allow-list is complete enough for them. Each script
// exercises threads, child processes, sockets, files and timers, and prints "ok".

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "seccomp/compiler.h"
#include "seccomp/policy.h"
#include "seccomp/profile.h"

namespace isol8 {
namespace {

struct RunResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};

RunResult run_under_default_profile(std::vector<std::string> args) {
  auto profile = parse_seccomp_profile(embedded_default_seccomp_profile());
  if (!profile) return {-1, profile.error().message};
  auto program = compile_seccomp_profile(*profile);
  if (!program) return {-1, program.error().message};

  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  char path_env[] = "PATH=/usr/local/bin:/usr/bin:/bin";
  char home_env[] = "HOME=/tmp";
  char lang_env[] = "LANG=C.UTF-8";
  char* envp[] = {path_env, home_env, lang_env, nullptr};

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {-1, "pipe2 failed"};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::alarm(120);  // survives execve: a runtime stuck on a denied call dies of SIGALRM
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(90);
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program->fprog(), 0, 0) != 0) _exit(91);
    ::execve(argv[0], argv.data(), envp);
    _exit(127);
  }
  ::close(fds[1]);
  RunResult out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.output.append(buf, n);
  ::close(fds[0]);
  ::waitpid(pid, &out.status, 0);
  return out;
}

void expect_ok(const RunResult& r) {
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)
      << "status " << r.status << " (signal " << (WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0)
      << ")\n"
      << r.output;
  EXPECT_NE(r.output.find("ok\n"), std::string::npos) << r.output;
}

// The runtime binary: $<env_var> when set, else the first candidate that exists, else "".
std::string find_runtime(const char* env_var, std::vector<std::string> candidates) {
  if (const char* path = std::getenv(env_var); path != nullptr && *path != '\0') return path;
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    for (auto& c : candidates) {
      if (c.rfind("~/", 0) == 0) c = std::string(home) + c.substr(1);
    }
  }
  for (const auto& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

TEST(SeccompRuntimes, Python) {
  const char* python = "/usr/bin/python3";
  if (::access(python, X_OK) != 0) GTEST_SKIP() << python << " is not installed";
  expect_ok(run_under_default_profile({python, "-c", R"py(
import json, multiprocessing, os, socket, subprocess, tempfile, threading, time
box = []
t = threading.Thread(target=lambda: box.append(1)); t.start(); t.join(); assert box == [1]
assert subprocess.run(['/bin/echo', 'hi'], capture_output=True).stdout == b'hi\n'
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, 'f')
    with open(p, 'w') as f: f.write('x')
    os.chmod(p, 0o600); os.rename(p, p + '2'); assert os.stat(p + '2').st_size == 1
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.bind(('127.0.0.1', 0)); s.listen()
c = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.sendall(b'x')
assert a.recv(1) == b'x'; a.close(); c.close(); s.close()
u1, u2 = socket.socketpair(); u1.send(b'y'); assert u2.recv(1) == b'y'
socket.if_nameindex(); socket.getaddrinfo('localhost', 80)
os.cpu_count(); time.sleep(0.01); json.dumps({'a': os.urandom(4).hex()})
with multiprocessing.Pool(2) as pool: assert pool.map(abs, [-1, -2]) == [1, 2]
print('ok')
)py"}));
}

TEST(SeccompRuntimes, Node) {
  const char* node = "/usr/bin/node";
  if (::access(node, X_OK) != 0) GTEST_SKIP() << node << " is not installed";
  expect_ok(run_under_default_profile({node, "-e", R"js(
const fs = require('fs'), cp = require('child_process'), net = require('net');
const os = require('os'), crypto = require('crypto'), dns = require('dns');
const { Worker } = require('worker_threads');
fs.readdirSync('/'); cp.execFileSync('/bin/true'); os.networkInterfaces(); crypto.randomBytes(16);
(async () => {
  await fs.promises.readFile('/etc/hostname');  // the libuv thread pool
  await dns.promises.lookup('localhost');
  await new Promise((resolve, reject) => {
    const w = new Worker('require("worker_threads").parentPort.postMessage(42)', { eval: true });
    w.on('message', (m) => (m === 42 ? w.terminate().then(resolve) : reject(new Error('worker'))));
    w.on('error', reject);
  });
  await new Promise((resolve, reject) => {
    const server = net.createServer((s) => s.end('hi'));
    server.listen(0, '127.0.0.1', () => {
      const c = net.connect(server.address().port, '127.0.0.1');
      c.on('data', () => { c.destroy(); server.close(resolve); });
      c.on('error', reject);
    });
  });
  await new Promise((resolve) => setTimeout(resolve, 10));
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });
)js"}));
}

TEST(SeccompRuntimes, BashAndCoreutils) {
  const char* bash = "/bin/bash";
  if (::access(bash, X_OK) != 0) GTEST_SKIP() << bash << " is not installed";
  expect_ok(run_under_default_profile({bash, "-c", R"sh(
set -euo pipefail
x=$(echo hello | tr a-z A-Z); [ "$x" = HELLO ]
d=$(mktemp -d); echo data > "$d/f"; cp "$d/f" "$d/g"; ln -s g "$d/l"; chmod 600 "$d/g"
[ "$(sort "$d/l" | wc -l)" = 1 ]; ls -la "$d" > /dev/null; stat "$d/g" > /dev/null
touch -d @0 "$d/f"; mv "$d/f" "$d/h"; rm -r "$d"
sleep 0.01 & wait
cat /proc/self/status > /dev/null; date > /dev/null; id > /dev/null; uname -a > /dev/null
head -c 16 /dev/urandom | od > /dev/null; seq 1 1000 | sha256sum > /dev/null
echo ok
)sh"}));
}

TEST(SeccompRuntimes, Bun) {
  const std::string bun =
      find_runtime("ISOL8_TEST_BUN", {"/usr/local/bin/bun", "/usr/bin/bun", "~/.bun/bin/bun"});
  if (bun.empty()) GTEST_SKIP() << "bun is not installed (set ISOL8_TEST_BUN to its path)";
  expect_ok(run_under_default_profile({bun, "-e", R"js(
const fs = require('fs'), cp = require('child_process');
(async () => {
  fs.readdirSync('/');
  if (cp.spawnSync('/bin/true').status !== 0) throw new Error('child_process');
  if (Bun.spawnSync(['/bin/echo', 'hi']).stdout.toString() !== 'hi\n') throw new Error('spawn');
  const file = `/tmp/isol8-bun-${process.pid}`;
  await Bun.write(file, 'x');
  if ((await Bun.file(file).text()) !== 'x') throw new Error('file');
  fs.unlinkSync(file);
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('hi') });
  const res = await fetch(`http://127.0.0.1:${server.port}/`);
  if ((await res.text()) !== 'hi') throw new Error('http');
  server.stop(true);
  await new Promise((resolve, reject) => {
    const url = URL.createObjectURL(new Blob(['postMessage(42)']));
    const w = new Worker(url);
    w.onmessage = (e) => { w.terminate(); e.data === 42 ? resolve() : reject(new Error('worker')); };
    w.onerror = reject;
  });
  await Bun.sleep(10);
  console.log('ok');
})().catch((e) => { console.error(e); process.exit(1); });
)js"}));
}

TEST(SeccompRuntimes, Deno) {
  const std::string deno =
      find_runtime("ISOL8_TEST_DENO", {"/usr/local/bin/deno", "/usr/bin/deno", "~/.deno/bin/deno"});
  if (deno.empty()) GTEST_SKIP() << "deno is not installed (set ISOL8_TEST_DENO to its path)";
  expect_ok(run_under_default_profile({deno, "eval", R"js(
const dir = await Deno.makeTempDir();
await Deno.writeTextFile(`${dir}/f`, 'x');
if ((await Deno.readTextFile(`${dir}/f`)) !== 'x') throw new Error('file');
await Deno.remove(dir, { recursive: true });
const out = await new Deno.Command('/bin/echo', { args: ['hi'] }).output();
if (new TextDecoder().decode(out.stdout) !== 'hi\n') throw new Error('command');
const ac = new AbortController();
const server = Deno.serve({ port: 0, hostname: '127.0.0.1', signal: ac.signal, onListen() {} },
                          () => new Response('hi'));
const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
if ((await res.text()) !== 'hi') throw new Error('http');
ac.abort();
await server.finished;
await new Promise((resolve, reject) => {
  const url = URL.createObjectURL(new Blob(['postMessage(42)'], { type: 'text/javascript' }));
  const w = new Worker(url, { type: 'module' });
  w.onmessage = (e) => { w.terminate(); e.data === 42 ? resolve() : reject(new Error('worker')); };
  w.onerror = reject;
});
await new Promise((resolve) => setTimeout(resolve, 10));
console.log('ok');
)js"}));
}

}  // namespace
}  // namespace isol8
