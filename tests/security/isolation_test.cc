// What sandboxes share with the host and with each other: System V and POSIX IPC, abstract
// sockets, /tmp and /dev/shm, processes. Two sandboxes running at the same time map to the same
// host uid, so only their namespaces keep them apart.

#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>

#include <future>

#include "security/security_fixture.h"

namespace isol8::test::security {
namespace {

class Isolation : public SecurityTest {};

TEST_P(Isolation, HostIpcObjectsAreInvisible) {
  const key_t key = static_cast<key_t>(0x15e10000 | (::getpid() & 0xffff));
  const int shm = ::shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0666);
  const int msg = ::msgget(key, IPC_CREAT | IPC_EXCL | 0666);
  ASSERT_GE(shm, 0) << std::strerror(errno);
  ASSERT_GE(msg, 0) << std::strerror(errno);
  ExecutionRequest req = attack_script(
      "key = int(os.environ['IPC_KEY'])\n"
      "attempt('shmget_host_key', lambda: sc(29, key, 4096, 0))\n"
      "attempt('msgget_host_key', lambda: sc(68, key, 0))\n"
      "attempt('shmat_host_id', lambda: sc(30, int(os.environ['SHM_ID']), 0, 0))\n"
      "def listed(path):\n"
      "    rows = open(path).read().splitlines()[1:]\n"
      "    return (-1, 'empty') if not rows else rows\n"
      "attempt('sysvipc_shm', lambda: listed('/proc/sysvipc/shm'))\n"
      "attempt('sysvipc_msg', lambda: listed('/proc/sysvipc/msg'))\n");
  req.env["IPC_KEY"] = std::to_string(key);
  req.env["SHM_ID"] = std::to_string(shm);
  auto r = execute(req);
  ::shmctl(shm, IPC_RMID, nullptr);
  ::msgctl(msg, IPC_RMID, nullptr);
  ASSERT_TRUE(r);
  expect_all_denied(
      *r, {"shmget_host_key", "msgget_host_key", "shmat_host_id", "sysvipc_shm", "sysvipc_msg"});
}

// Starts `request` on `engine` in the background; ready() waits for `marker` on its stdout.
class BackgroundRun {
 public:
  BackgroundRun(Engine& engine, ExecutionRequest request, std::string marker)
      : marker_(std::move(marker)) {
    ready_ = started_.get_future();
    run_ = std::async(std::launch::async, [this, &engine, request] {
      StreamCallback on_event = [this](const StreamEvent& e) {
        if (!signalled_ && e.type == StreamEvent::Type::kStdout && contains(e.data, marker_)) {
          signalled_ = true;
          started_.set_value();
        }
      };
      return engine.execute_stream(request, on_event);
    });
  }
  bool ready(std::chrono::milliseconds limit) {
    return ready_.wait_for(limit) == std::future_status::ready;
  }
  Result<ExecutionResult> result() { return run_.get(); }

 private:
  std::string marker_;
  bool signalled_ = false;
  std::promise<void> started_;
  std::future<void> ready_;
  std::future<Result<ExecutionResult>> run_;
};

bool enforces(const ExecutionResult& r, const std::string& limit) {
  return std::find(r.limits.enforced.begin(), r.limits.enforced.end(), limit) !=
         r.limits.enforced.end();
}

// The first sandbox leaves traces everywhere it can, then waits; the second one looks for them.
// Its child process carries the tag in its command line, so that the second sandbox looks for
// the peer's processes, not for a program name its own sandbox may run too (a pooled docker
// container idles in `sleep infinity`).
constexpr const char* kPeerScript = R"PY(
import os, socket, sys, time, ctypes
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind('\0isol8-sec-peer-' + os.environ['TAG'])
s.listen(4)
open('/tmp/peer-' + os.environ['TAG'], 'w').write('peer')
open('/dev/shm/peer-' + os.environ['TAG'], 'w').write('peer')
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget(int(os.environ['KEY']), 4096, 0o1666)
import subprocess
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)', 'isol8-peer-' + os.environ['TAG']])
print('ready', flush=True)
time.sleep(3)
)PY";

TEST_P(Isolation, ConcurrentSandboxesCannotReachEachOther) {
  const std::string tag = std::to_string(::getpid());
  const std::string key = std::to_string(0x15e20000 | (::getpid() & 0xffff));
  auto engine_a = Engine::create(opts());
  auto engine_b = Engine::create(opts());
  ASSERT_TRUE(engine_a && engine_b);
  ExecutionRequest peer = python_request(kPeerScript);
  peer.env["TAG"] = tag;
  peer.env["KEY"] = key;
  peer.timeout_ms = 10000;
  BackgroundRun a(**engine_a, peer, "ready");
  ASSERT_TRUE(a.ready(std::chrono::seconds(8))) << "the first sandbox did not start";
  ExecutionRequest probe = attack_script(
      "T = os.environ['TAG']\n"
      "def conn():\n"
      "    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
      "    c.connect('\\0isol8-sec-peer-' + T)\n"
      "    return 'connected'\n"
      "attempt('peer_abstract_socket', conn)\n"
      "attempt('peer_tmp_file', lambda: open('/tmp/peer-' + T).read())\n"
      "attempt('peer_shm_file', lambda: open('/dev/shm/peer-' + T).read())\n"
      "attempt('peer_sysv_shm', lambda: sc(29, int(os.environ['KEY']), 4096, 0))\n"
      "def peer_procs():\n"
      "    seen = []\n"
      "    for p in os.listdir('/proc'):\n"
      "        if p.isdigit():\n"
      "            try: seen.append(open('/proc/%s/cmdline' % p, 'rb').read())\n"
      "            except OSError: pass\n"
      "    hits = [c for c in seen if ('isol8-peer-' + T).encode() in c]\n"
      "    return (-1, 'none of %d' % len(seen)) if not hits else hits\n"
      "attempt('peer_processes', peer_procs)\n");
  probe.env["TAG"] = tag;
  probe.env["KEY"] = key;
  auto b = execute_on(**engine_b, probe);
  auto ra = a.result();
  ASSERT_TRUE(b) << b.error().message;
  expect_sane(*b);
  expect_all_denied(*b, {"peer_abstract_socket", "peer_tmp_file", "peer_shm_file", "peer_sysv_shm",
                         "peer_processes"});
  ASSERT_TRUE(ra) << ra.error().message;
  expect_sane(*ra);
  EXPECT_EQ(ra->status, RunStatus::kOk) << describe(*ra);
  // (Whether both runs kept their resource limits is ConcurrentEnginesEachKeepTheirLimits.)
}

TEST_P(Isolation, ConcurrentEnginesEachKeepTheirLimits) {
  ISOL8_REQUIRE_CGROUP_LIMITS();
  // Two engines of one process (a server with a pool of engines) running at the same time:
  // the second run's fork bomb must still meet its pids limit.
  auto engine_a = Engine::create(opts());
  ASSERT_TRUE(engine_a) << engine_a.error().message;
  Options limited = opts();
  limited.pids_limit = 16;
  limited.memory_limit_bytes = 128ull << 20;
  auto engine_b = Engine::create(limited);
  ASSERT_TRUE(engine_b) << engine_b.error().message;
  ExecutionRequest sleeper =
      python_request("import time\nprint('ready', flush=True)\ntime.sleep(2)\n");
  sleeper.timeout_ms = 10000;
  BackgroundRun a(**engine_a, sleeper, "ready");
  ASSERT_TRUE(a.ready(std::chrono::seconds(8))) << "the first sandbox did not start";
  auto b = execute_on(**engine_b, python_request("import errno, os, time\n"
                                                 "n, err = 0, None\n"
                                                 "for i in range(200):\n"
                                                 "    try:\n"
                                                 "        pid = os.fork()\n"
                                                 "    except OSError as e:\n"
                                                 "        err = errno.errorcode[e.errno]\n"
                                                 "        break\n"
                                                 "    if pid == 0:\n"
                                                 "        time.sleep(30)\n"
                                                 "        os._exit(0)\n"
                                                 "    n += 1\n"
                                                 "print('forked', n, err)\n"));
  auto ra = a.result();
  ASSERT_TRUE(b) << b.error().message;
  expect_sane(*b);
  for (const char* limit : {"memory", "pids", "cpu"}) {
    EXPECT_TRUE(enforces(*b, limit)) << limit << " not enforced on the second engine's run";
  }
  const auto forked = reported(b->stdout_data, "forked");
  ASSERT_TRUE(forked) << describe(*b);
  std::istringstream f(*forked);
  int n = 0;
  f >> n;
  EXPECT_LT(n, 16) << "the fork bomb went past the pids limit: " << *forked;
  ASSERT_TRUE(ra) << ra.error().message;
  expect_sane(*ra);
}

ISOL8_BACKEND_SUITE(Isolation);

}  // namespace
}  // namespace isol8::test::security
