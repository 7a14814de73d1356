// Escapes through the filesystem: executing from the noexec /tmp, writing to the read-only root,
// kernel knobs under /proc/sys and /sys, host secrets, device nodes, kernel memory, symlinks to
// host paths, /proc/<pid>/root, init's environment and memory, and the cgroup filesystem.

#include <sys/stat.h>

#include "security/security_fixture.h"

namespace isol8::test::security {
namespace {

class FilesystemEscape : public SecurityTest {
 protected:
  void expect_denied(const std::string& script, const std::vector<std::string>& names) {
    auto r = execute(attack_script(script));
    ASSERT_TRUE(r);
    expect_all_denied(*r, names);
  }
};

TEST_P(FilesystemEscape, ExecFromTmp) {
  auto r = execute(
      attack_script("import shutil, subprocess\n"
                    "shutil.copy('/bin/true', '/tmp/t')\n"
                    "os.chmod('/tmp/t', 0o755)\n"
                    "attempt('execv', lambda: os.execv('/tmp/t', ['/tmp/t']))\n"
                    "rc = subprocess.call(['bash', '-c', '/tmp/t'], stderr=subprocess.DEVNULL)\n"
                    "print(('DENIED' if rc == 126 else 'ALLOWED') + ' bash_exec rc=%d' % rc)\n"
                    "with open('/tmp/s.sh', 'w') as f: f.write('#!/bin/bash\\necho ran\\n')\n"
                    "os.chmod('/tmp/s.sh', 0o755)\n"
                    "attempt('exec_script', lambda: os.execv('/tmp/s.sh', ['/tmp/s.sh']))\n"
                    "attempt('execveat', lambda: sc(322, os.open('/tmp/t', os.O_RDONLY), b'', "
                    "ctypes.c_void_p(0), ctypes.c_void_p(0), 0x1000))\n"
                    "attempt('chmod_back_exec', lambda: (os.chmod('/tmp/t', 0o4755), "
                    "os.execv('/tmp/t', ['/tmp/t'])))\n"));
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"execv", "bash_exec", "exec_script", "execveat", "chmod_back_exec"});
}

TEST_P(FilesystemEscape, LoaderAndMmapTricksFromTmp) {
  // The dynamic loader maps the program itself, and an mmap with PROT_EXEC of a file on a
  // noexec mount is refused as well: noexec is not only an execve check.
  auto r = execute(attack_script(
      "import mmap, shutil, subprocess\n"
      "shutil.copy('/bin/true', '/tmp/t')\n"
      "rc = subprocess.call(['/lib64/ld-linux-x86-64.so.2', '/tmp/t'],\n"
      "                     stderr=subprocess.DEVNULL)\n"
      "print(('DENIED' if rc != 0 else 'ALLOWED') + ' ld_so rc=%d' % rc)\n"
      "def map_exec():\n"
      "    fd = os.open('/tmp/t', os.O_RDONLY)\n"
      "    return mmap.mmap(fd, 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC)\n"
      "attempt('mmap_prot_exec', map_exec)\n"
      "def mprotect_exec():\n"
      "    libc.mmap.restype = ctypes.c_void_p\n"
      "    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,\n"
      "                          ctypes.c_int, ctypes.c_long]\n"
      "    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]\n"
      "    fd = os.open('/tmp/t', os.O_RDONLY)\n"
      "    p = libc.mmap(None, 4096, 1, 2, fd, 0)\n"
      "    ctypes.set_errno(0)\n"
      "    r = libc.mprotect(p, 4096, 5)\n"
      "    return (r, ename(ctypes.get_errno())) if r == -1 else r\n"
      "attempt('mprotect_exec', mprotect_exec)\n"));
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"ld_so", "mmap_prot_exec", "mprotect_exec"});
}

TEST_P(FilesystemEscape, WritesToTheRootEtcAndUsr) {
  expect_denied(
      "def create(p):\n"
      "    return lambda: os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)\n"
      "for p in ('/x', '/etc/x', '/usr/x', '/usr/bin/x', '/bin/x', '/lib/x', '/sbin/x',\n"
      "          '/usr/lib/x', '/dev/x', '/proc/x', '/etc/ssl/certs/x'):\n"
      "    attempt('create' + p.replace('/', '_'), create(p))\n"
      "attempt('overwrite_passwd', lambda: os.open('/etc/passwd', os.O_WRONLY))\n"
      "attempt('overwrite_env', lambda: os.open('/usr/bin/env', os.O_WRONLY))\n"
      "attempt('truncate_libc', lambda: os.truncate('/lib/x86_64-linux-gnu/libc.so.6', 0))\n"
      "attempt('unlink_hosts', lambda: os.unlink('/etc/hosts'))\n"
      "attempt('rename_passwd', lambda: os.rename('/etc/passwd', '/etc/passwd.old'))\n"
      "attempt('mkdir_etc', lambda: os.mkdir('/etc/cron.d'))\n"
      "attempt('symlink_etc', lambda: os.symlink('/sandbox/x', '/etc/ld.so.preload'))\n"
      "attempt('chmod_passwd', lambda: os.chmod('/etc/passwd', 0o666))\n"
      "attempt('chown_sandbox_root', lambda: os.chown('/sandbox', 0, 0))\n"
      "attempt('utime_python', lambda: os.utime('/usr/bin/python3', (0, 0)))\n"
      "attempt('setxattr_usr', lambda: os.setxattr('/usr/bin/env', 'user.x', b'1'))\n"
      "attempt('link_passwd', lambda: os.link('/etc/passwd', '/sandbox/passwd'))\n",
      {"create_x",
       "create_etc_x",
       "create_usr_x",
       "create_usr_bin_x",
       "create_bin_x",
       "create_lib_x",
       "create_sbin_x",
       "create_usr_lib_x",
       "create_dev_x",
       "create_proc_x",
       "create_etc_ssl_certs_x",
       "overwrite_passwd",
       "overwrite_env",
       "truncate_libc",
       "unlink_hosts",
       "rename_passwd",
       "mkdir_etc",
       "symlink_etc",
       "chmod_passwd",
       "chown_sandbox_root",
       "utime_python",
       "setxattr_usr",
       "link_passwd"});
}

TEST_P(FilesystemEscape, WritesUnderProcSysAndSys) {
  expect_denied(
      "def w(p, data=b'1'):\n"
      "    def f():\n"
      "        fd = os.open(p, os.O_WRONLY)\n"
      "        return os.write(fd, data)\n"
      "    return f\n"
      "attempt('hostname', w('/proc/sys/kernel/hostname', b'pwned'))\n"
      "attempt('core_pattern', w('/proc/sys/kernel/core_pattern', b'|/sandbox/x'))\n"
      "attempt('modprobe', w('/proc/sys/kernel/modprobe', b'/sandbox/x'))\n"
      "attempt('drop_caches', w('/proc/sys/vm/drop_caches', b'3'))\n"
      "attempt('panic_on_oom', w('/proc/sys/vm/panic_on_oom', b'1'))\n"
      "attempt('ip_forward', w('/proc/sys/net/ipv4/ip_forward'))\n"
      "attempt('ping_group_range', w('/proc/sys/net/ipv4/ping_group_range', b'0 65535'))\n"
      "attempt('unpriv_userns', w('/proc/sys/user/max_user_namespaces', b'0'))\n"
      "attempt('binfmt_register', w('/proc/sys/fs/binfmt_misc/register', b':x:E::x::/x:'))\n"
      "attempt('uevent_helper', w('/sys/kernel/uevent_helper', b'/sandbox/x'))\n"
      "attempt('cgroup_release_agent', w('/sys/fs/cgroup/release_agent', b'/sandbox/x'))\n"
      "attempt('sys_power', w('/sys/power/state', b'mem'))\n"
      "attempt('mkdir_sys', lambda: os.mkdir('/sys'))\n"
      "attempt('oom_score_adj_unkillable', w('/proc/self/oom_score_adj', b'-1000'))\n"
      "attempt('init_oom_score_adj', w('/proc/1/oom_score_adj', b'1000'))\n"
      "attempt('init_comm', w('/proc/1/comm', b'pwned'))\n",
      {"hostname", "core_pattern", "modprobe", "drop_caches", "panic_on_oom", "ip_forward",
       "ping_group_range", "unpriv_userns", "binfmt_register", "uevent_helper",
       "cgroup_release_agent", "sys_power", "mkdir_sys", "oom_score_adj_unkillable",
       "init_oom_score_adj", "init_comm"});
}

TEST_P(FilesystemEscape, ProcAttrSysrqAndIdMaps) {
  expect_denied(
      "def w(p, data):\n"
      "    def f():\n"
      "        fd = os.open(p, os.O_WRONLY)\n"
      "        return os.write(fd, data)\n"
      "    return f\n"
      "attempt('attr_current', w('/proc/self/attr/current', b'unconfined'))\n"
      "attempt('attr_exec', w('/proc/self/attr/exec', b'unconfined'))\n"
      "attempt('thread_attr_current', w('/proc/thread-self/attr/current', b'unconfined'))\n"
      "attempt('init_attr_current', w('/proc/1/attr/current', b'unconfined'))\n"
      "attempt('sysrq_trigger', w('/proc/sysrq-trigger', b'c'))\n"
      "attempt('sysrq_sysctl', w('/proc/sys/kernel/sysrq', b'1'))\n"
      "attempt('uid_map', w('/proc/self/uid_map', b'0 0 4294967295'))\n"
      "attempt('gid_map', w('/proc/self/gid_map', b'0 0 4294967295'))\n"
      "attempt('setgroups', w('/proc/self/setgroups', b'allow'))\n"
      "attempt('init_uid_map', w('/proc/1/uid_map', b'0 0 1'))\n",
      {"attr_current", "attr_exec", "thread_attr_current", "init_attr_current", "sysrq_trigger",
       "sysrq_sysctl", "uid_map", "gid_map", "setgroups", "init_uid_map"});
}

// Length and FNV-1a 64 of `data` as "<length>:<16 hex digits>" (the attack script computes the
// same in Python): enough to tell two files apart, no cryptography needed.
std::string fnv_digest(const std::string& data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : data) h = (h ^ c) * 0x100000001b3ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::to_string(data.size()) + ":" + hex;
}

// Files the test writes on the host, at paths a sandbox could guess, with a content it could
// recognise: none may be reachable from inside. Only where this user can write (the run as root
// covers /root, /etc and /var/lib; an unprivileged run its home, /var/tmp and /dev/shm).
class HostMarkers {
 public:
  HostMarkers() {
    const std::string name = "isol8-sec-marker-" + std::to_string(::getpid());
    content_ = "HOST-MARKER-" + std::to_string(::getpid()) + "-" + std::to_string(::time(nullptr));
    std::vector<std::string> dirs = {"/root", "/home", "/etc", "/var/lib", "/var/tmp",
                                     "/run",  "/srv",  "/opt", "/mnt",     "/dev/shm"};
    if (const char* home = std::getenv("HOME"); home && *home) dirs.push_back(home);
    for (const std::string& dir : dirs) {
      const std::string path = dir + "/" + name;
      if (spit(path, content_)) {
        ::chmod(path.c_str(), 0644);
        paths_.push_back(path);
      }
    }
  }
  ~HostMarkers() {
    for (const auto& p : paths_) ::unlink(p.c_str());
  }
  HostMarkers(const HostMarkers&) = delete;
  HostMarkers& operator=(const HostMarkers&) = delete;
  const std::vector<std::string>& paths() const { return paths_; }
  const std::string& content() const { return content_; }
  std::string joined() const {
    std::string out;
    for (const auto& p : paths_) out += (out.empty() ? "" : ":") + p;
    return out;
  }

 private:
  std::string content_;
  std::vector<std::string> paths_;
};

TEST_P(FilesystemEscape, HostSecretsAreUnreadable) {
  // The property is "no host file is reachable", however the path is spelled. What the sandbox's
  // root itself holds is not the host's: with a runtime root (the native rootfs tier, and every
  // docker image) /var, /home and /var/lib/dpkg/status are the image's own files, readable as
  // they are in any container; in the native host mode they do not exist. So the case asserts
  // on host content (markers written on the host, the host's shadow, passwd, hostname and dpkg
  // database), the same way on every backend, and that the image's secrets stay closed to the
  // sandbox user.
  HostMarkers markers;
  ASSERT_FALSE(markers.paths().empty()) << "could not write a single host marker";
  const std::string host_shadow = slurp("/etc/shadow");
  ExecutionRequest req = attack_script(
      "def rd(p):\n"
      "    return lambda: os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read()[:64]\n"
      "for p in ('/etc/shadow', '/etc/gshadow', '/etc/sudoers', '/root/.bash_history',\n"
      "          '/root/.ssh/id_rsa', '/etc/ssh/ssh_host_ed25519_key', '/etc/ssl/private',\n"
      "          '/run/systemd', '/proc/1/root/etc/shadow',\n"
      "          '/proc/1/cwd/etc/shadow', '/sandbox/../etc/shadow',\n"
      "          '/proc/self/root/../../etc/shadow'):\n"
      "    attempt('read' + p.replace('/', '_'), rd(p))\n"
      "attempt('list_root', lambda: os.listdir('/root'))\n"
      "for i, p in enumerate(os.environ['MARKERS'].split(':')):\n"
      "    attempt('marker%d' % i, rd(p))\n"
      "    attempt('marker%d_via_proc_root' % i, rd('/proc/1/root' + p))\n"
      "def slurp(p):\n"
      "    try:\n"
      "        return open(p, 'rb').read()\n"
      "    except OSError:\n"
      "        return b''\n"
      "def fnv(b):\n"
      "    h = 0xcbf29ce484222325\n"
      "    for c in b:\n"
      "        h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff\n"
      "    return '%d:%016x' % (len(b), h)\n"
      "for p in ('/etc/passwd', '/var/lib/dpkg/status'):\n"
      "    print('fnv', p, fnv(slurp(p)))\n"
      "print('nodename', os.uname().nodename)\n"
      "print('uid100', [l for l in slurp('/etc/passwd').decode().splitlines() "
      "if l.split(':')[2:3] == ['100']])\n");
  req.env["MARKERS"] = markers.joined();
  auto r = execute(req);
  ASSERT_TRUE(r);
  std::vector<std::string> names = {"read_etc_shadow",
                                    "read_etc_gshadow",
                                    "read_etc_sudoers",
                                    "read_root_.bash_history",
                                    "read_root_.ssh_id_rsa",
                                    "read_etc_ssh_ssh_host_ed25519_key",
                                    "read_etc_ssl_private",
                                    "read_run_systemd",
                                    "read_proc_1_root_etc_shadow",
                                    "read_proc_1_cwd_etc_shadow",
                                    "read_sandbox_.._etc_shadow",
                                    "read_proc_self_root_.._.._etc_shadow",
                                    "list_root"};
  for (size_t i = 0; i < markers.paths().size(); ++i) {
    names.push_back("marker" + std::to_string(i));
    names.push_back("marker" + std::to_string(i) + "_via_proc_root");
  }
  expect_all_denied(*r, names);
  EXPECT_FALSE(contains(r->stdout_data, markers.content())) << describe(*r);
  // /etc/passwd and the dpkg database are the sandbox's own, never the host's (an absent file
  // hashes as empty, which neither host file is). /etc/hostname is not compared: a runtime
  // root's copy holds the name of the machine that built it, which may be this host; the
  // hostname the sandbox has is its UTS name.
  EXPECT_EQ(reported(r->stdout_data, "nodename"), "isol8") << describe(*r);
  for (const char* path : {"/etc/passwd", "/var/lib/dpkg/status"}) {
    const std::string host = slurp(path);
    if (host.empty()) continue;
    const auto sandbox = reported(r->stdout_data, std::string("fnv ") + path);
    ASSERT_TRUE(sandbox) << describe(*r);
    EXPECT_NE(*sandbox, fnv_digest(host)) << path << " is the host's\n" << describe(*r);
  }
  // uid 100 is the sandbox user there (on this host it may be someone else).
  EXPECT_TRUE(contains(reported(r->stdout_data, "uid100").value_or(""), "'sandbox:x:100:101:"))
      << describe(*r);
  if (host_shadow.size() > 20) {
    const std::string first_line = host_shadow.substr(0, host_shadow.find('\n'));
    EXPECT_FALSE(contains(r->stdout_data, first_line.substr(0, 20)));
  }
}

TEST_P(FilesystemEscape, DeviceNodes) {
  expect_denied(
      "def op(p, flags=os.O_RDONLY):\n"
      "    return lambda: os.open(p, flags)\n"
      "for d in ('mem', 'kmem', 'port', 'kmsg', 'sda', 'vda', 'nvme0n1', 'tty', 'tty0',\n"
      "          'console', 'ptmx', 'kvm', 'fuse', 'loop-control', 'loop0', 'autofs',\n"
      "          'cpu/0/msr', 'net/tun', 'snapshot', 'dri/card0', 'vhost-net', 'vsock',\n"
      "          'btrfs-control', 'mapper/control', 'rtc0', 'watchdog'):\n"
      "    attempt('open_' + d.replace('/', '_'), op('/dev/' + d))\n"
      "attempt('write_kmsg', op('/dev/kmsg', os.O_WRONLY))\n"
      "attempt('raw_block_via_sys', op('/sys/dev/block/254:0'))\n"
      "attempt('proc_self_fd_escape', op('/proc/self/fd/../../1/root/dev/vda'))\n",
      {"open_mem",           "open_kmem",         "open_port",          "open_kmsg",
       "open_sda",           "open_vda",          "open_nvme0n1",       "open_tty",
       "open_tty0",          "open_console",      "open_ptmx",          "open_kvm",
       "open_fuse",          "open_loop-control", "open_loop0",         "open_autofs",
       "open_cpu_0_msr",     "open_net_tun",      "open_snapshot",      "open_dri_card0",
       "open_vhost-net",     "open_vsock",        "open_btrfs-control", "open_mapper_control",
       "open_rtc0",          "open_watchdog",     "write_kmsg",         "raw_block_via_sys",
       "proc_self_fd_escape"});
}

TEST_P(FilesystemEscape, KernelMemoryAndLogs) {
  auto r = execute(attack_script(
      "def rd(p):\n"
      "    return lambda: open(p, 'rb').read(64)\n"
      "attempt('proc_kcore', rd('/proc/kcore'))\n"
      "attempt('proc_kmsg', rd('/proc/kmsg'))\n"
      "attempt('proc_1_mem', rd('/proc/1/mem'))\n"
      "attempt('proc_1_pagemap', rd('/proc/1/pagemap'))\n"
      "def pfn():\n"
      "    b = ctypes.create_string_buffer(4096 * 4)\n"
      "    b[0] = b'x'\n"
      "    with open('/proc/self/pagemap', 'rb') as f:\n"
      "        f.seek((ctypes.addressof(b) // 4096) * 8)\n"
      "        v = struct.unpack('Q', f.read(8))[0]\n"
      "    if v & ((1 << 55) - 1) == 0:\n"
      "        return (-1, 'zeroed present=%d' % (v >> 63))\n"
      "    return hex(v)\n"
      "attempt('proc_self_pagemap_pfns', pfn)\n"
      "syms = open('/proc/kallsyms').read().splitlines()[:2000] "
      "if os.path.exists('/proc/kallsyms') else []\n"
      "print('kallsyms_nonzero', sum(1 for l in syms if int(l.split()[0], 16) != 0))\n"));
  ASSERT_TRUE(r);
  expect_all_denied(
      *r, {"proc_kcore", "proc_kmsg", "proc_1_mem", "proc_1_pagemap", "proc_self_pagemap_pfns"});
  EXPECT_EQ(reported(r->stdout_data, "kallsyms_nonzero"), "0")
      << "kernel addresses are visible in /proc/kallsyms\n"
      << describe(*r);
}

TEST_P(FilesystemEscape, SymlinksInSandboxResolveInsideTheSandbox) {
  // Host files under the host's /tmp, named so that the sandbox knows their paths.
  TempDir host;
  ASSERT_FALSE(host.path().empty());
  ASSERT_TRUE(spit(host.file("secret"), "HOST-SECRET-CONTENT"));
  ::chmod(host.path().c_str(), 0755);
  ::chmod(host.file("secret").c_str(), 0644);
  const std::string written = host.file("written");
  ExecutionRequest req = attack_script(
      "H = os.environ['HOST_DIR']\n"
      "os.symlink(H + '/secret', '/sandbox/to_secret')\n"
      "os.symlink('/etc/shadow', '/sandbox/to_shadow')\n"
      "os.symlink('../../../../../../etc/passwd', '/sandbox/up_passwd')\n"
      "os.symlink('/', '/sandbox/rootlink')\n"
      "os.symlink(H + '/written', '/sandbox/to_written')\n"
      "attempt('read_host_secret', lambda: open('/sandbox/to_secret').read())\n"
      "attempt('read_shadow', lambda: open('/sandbox/to_shadow').read())\n"
      "attempt('read_via_rootlink', lambda: open('/sandbox/rootlink' + H + '/secret').read())\n"
      "def write_through():\n"
      "    try:\n"
      "        with open('/sandbox/to_written', 'w') as f: f.write('pwned')\n"
      "    except OSError as e:\n"
      "        return (-1, ename(e.errno))\n"
      "    return (-1, 'stayed-in-sandbox')\n"
      "attempt('write_through_symlink', write_through)\n"
      "print('up_passwd_uid100', [l for l in open('/sandbox/up_passwd').read().splitlines() "
      "if l.split(':')[2:3] == ['100']])\n"
      "print('rootlink_is_root', open('/sandbox/rootlink/etc/passwd').read() == "
      "open('/etc/passwd').read() and os.stat('/sandbox/rootlink').st_ino == "
      "os.stat('/').st_ino)\n");
  req.env["HOST_DIR"] = host.path();
  auto r = execute(req);
  ASSERT_TRUE(r);
  expect_all_denied(
      *r, {"read_host_secret", "read_shadow", "read_via_rootlink", "write_through_symlink"});
  EXPECT_FALSE(contains(r->stdout_data, "HOST-SECRET-CONTENT"));
  // The climb ends at the sandbox's own /etc/passwd (where uid 100 is the sandbox user; the
  // root line itself differs between the native generated /etc and an image's).
  EXPECT_TRUE(
      contains(reported(r->stdout_data, "up_passwd_uid100").value_or(""), "'sandbox:x:100:101:"))
      << describe(*r);
  EXPECT_EQ(reported(r->stdout_data, "rootlink_is_root"), "True") << describe(*r);
  struct stat st;
  EXPECT_NE(::lstat(written.c_str(), &st), 0)
      << "the sandbox wrote a file on the host: " << written;
  EXPECT_EQ(slurp(host.file("secret")), "HOST-SECRET-CONTENT");
}

TEST_P(FilesystemEscape, ProcRootAndCwdEscapes) {
  auto r = execute(attack_script(
      "attempt('list_init_root', lambda: os.listdir('/proc/1/root'))\n"
      "attempt('readlink_init_root', lambda: os.readlink('/proc/1/root'))\n"
      "attempt('readlink_init_exe', lambda: os.readlink('/proc/1/exe'))\n"
      "attempt('open_init_exe', lambda: os.open('/proc/1/exe', os.O_RDONLY))\n"
      "attempt('chdir_init_cwd', lambda: os.chdir('/proc/1/cwd'))\n"
      "attempt('list_init_map_files', lambda: os.listdir('/proc/1/map_files'))\n"
      "attempt('open_init_fd0', lambda: os.open('/proc/1/fd/0', os.O_RDONLY))\n"
      "attempt('chroot_self_root', lambda: sc(161, b'/proc/self/root'))\n"
      "def climb():\n"
      "    fd = os.open('/proc/self/root', os.O_RDONLY | os.O_DIRECTORY)\n"
      "    os.fchdir(fd)\n"
      "    for i in range(50): os.chdir('..')\n"
      "    return (-1, 'stayed') if os.stat('.').st_ino == os.stat('/').st_ino else os.getcwd()\n"
      "attempt('climb_from_self_root', climb)\n"
      "s = os.stat('/proc/self/root/..')\n"
      "print('self_root_is_root', (s.st_dev, s.st_ino) == (os.stat('/').st_dev, "
      "os.stat('/').st_ino))\n"
      "print('self_root_listing', sorted(os.listdir('/proc/self/root')) == "
      "sorted(os.listdir('/')))\n"
      "mounts = [l.split()[4] for l in open('/proc/self/mountinfo')]\n"
      "print('host_mounts_visible', [m for m in mounts if m.startswith(('/home', '/root', '/var', "
      "'/run', '/boot', '/work'))])\n"));
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"list_init_root", "readlink_init_root", "readlink_init_exe",
                         "open_init_exe", "chdir_init_cwd", "list_init_map_files", "open_init_fd0",
                         "chroot_self_root", "climb_from_self_root"});
  EXPECT_EQ(reported(r->stdout_data, "self_root_is_root"), "True");
  EXPECT_EQ(reported(r->stdout_data, "self_root_listing"), "True");
  EXPECT_EQ(reported(r->stdout_data, "host_mounts_visible"), "[]");
}

TEST_P(FilesystemEscape, Pid1RootCwdAndEnvironAreUnreadable) {
  // The same on both backends: natively pid 1 is the sandbox's non-dumpable init; in a docker
  // container it is docker-init, which in a one-shot container (every CLI run) ran as the
  // sandbox user and left these readable (the container's own root, its cwd, and its
  // environment with the run's secrets). A pooled container's pid 1 idles as nobody. Both kinds
  // are tried: the engine's default pool and none.
  for (const PoolSize pool : {Options{}.pool_size, PoolSize{0, 0}}) {
    SCOPED_TRACE("pool " + std::to_string(pool.clean) + "," + std::to_string(pool.dirty));
    Options o = opts();
    o.pool_size = pool;
    o.secrets["SEC_PID1_TOKEN"] = "sk-pid1-secret-5151";
    auto r = execute(
        attack_script("attempt('pid1_root_list', lambda: os.listdir('/proc/1/root'))\n"
                      "attempt('pid1_root_stat', lambda: os.stat('/proc/1/root/.'))\n"
                      "attempt('pid1_root_readlink', lambda: os.readlink('/proc/1/root'))\n"
                      "attempt('pid1_root_open', lambda: os.open('/proc/1/root', os.O_RDONLY))\n"
                      "attempt('pid1_cwd_list', lambda: os.listdir('/proc/1/cwd'))\n"
                      "attempt('pid1_cwd_readlink', lambda: os.readlink('/proc/1/cwd'))\n"
                      "attempt('pid1_environ', lambda: open('/proc/1/environ', 'rb').read())\n"
                      "attempt('pid1_task_environ',\n"
                      "        lambda: open('/proc/1/task/1/environ', 'rb').read())\n"
                      "status = open('/proc/1/status').read().splitlines()\n"
                      "print('pid1_uid', [l.split()[1] for l in status if l.startswith('Uid:')])\n"
                      "print('self_uid', os.getuid())\n"),
        o);
    ASSERT_TRUE(r);
    expect_all_denied(*r,
                      {"pid1_root_list", "pid1_root_stat", "pid1_root_readlink", "pid1_root_open",
                       "pid1_cwd_list", "pid1_cwd_readlink", "pid1_environ", "pid1_task_environ"});
    EXPECT_FALSE(contains(r->stdout_data, "sk-pid1-secret-5151")) << describe(*r);
    EXPECT_TRUE(reported(r->stdout_data, "pid1_uid").has_value()) << describe(*r);
  }
}

TEST_P(FilesystemEscape, InitEnvironmentAndMemoryAreUnreadable) {
  // Sandbox init is a copy of the runner: its environment and memory hold the runner's.
  ::setenv("ISOL8_SEC_RUNNER_CANARY", "runner-canary-7f3a", 1);
  Options o = opts();
  o.secrets["SEC_TOKEN"] = "sk-security-suite-4242";
  auto r = execute(
      attack_script("def rd(p, n=65536):\n"
                    "    return lambda: open(p, 'rb').read(n)\n"
                    "attempt('init_environ', rd('/proc/1/environ'))\n"
                    "attempt('init_mem', rd('/proc/1/mem', 64))\n"
                    "attempt('init_maps', rd('/proc/1/maps'))\n"
                    "attempt('init_smaps', rd('/proc/1/smaps'))\n"
                    "attempt('init_auxv', rd('/proc/1/auxv'))\n"
                    "attempt('init_stack', rd('/proc/1/stack'))\n"
                    "attempt('init_syscall', rd('/proc/1/syscall'))\n"
                    "attempt('init_io', rd('/proc/1/io'))\n"
                    "attempt('init_task_environ', rd('/proc/1/task/1/environ'))\n"
                    "attempt('init_fd', lambda: os.listdir('/proc/1/fd'))\n"
                    "attempt('init_pidfd_getfd', lambda: sc(438, os.pidfd_open(1), 3, 0))\n"
                    "import glob\n"
                    "leaks = []\n"
                    "for p in glob.glob('/proc/[0-9]*/environ'):\n"
                    "    try:\n"
                    "        if b'runner-canary-7f3a' in open(p, 'rb').read(): leaks.append(p)\n"
                    "    except OSError:\n"
                    "        pass\n"
                    "print('canary_in', leaks)\n"),
      o);
  ::unsetenv("ISOL8_SEC_RUNNER_CANARY");
  ASSERT_TRUE(r);
  expect_all_denied(
      *r, {"init_environ", "init_mem", "init_maps", "init_smaps", "init_auxv", "init_stack",
           "init_syscall", "init_io", "init_task_environ", "init_fd", "init_pidfd_getfd"});
  EXPECT_EQ(reported(r->stdout_data, "canary_in"), "[]") << describe(*r);
  EXPECT_FALSE(contains(r->stdout_data, "sk-security-suite-4242"));
}

TEST_P(FilesystemEscape, CgroupFilesystemIsOutOfReach) {
  // The classic release_agent escape needs a writable cgroup v1 mount: mounting one (in the
  // sandbox or in a new user namespace) and reaching the host's are all refused.
  auto r = execute(attack_script(
      "os.makedirs('/sandbox/cg', exist_ok=True)\n"
      "attempt('mount_cgroup_v1', lambda: sc(165, b'cgroup', b'/sandbox/cg', b'cgroup', 0, "
      "b'memory'))\n"
      "attempt('mount_cgroup2', lambda: sc(165, b'cgroup2', b'/sandbox/cg', b'cgroup2', 0, 0))\n"
      "attempt('unshare_then_mount', lambda: sc(272, 0x10000000 | 0x20000 | 0x2000000))\n"
      "attempt('host_cgroup_procs', lambda: os.open('/sys/fs/cgroup/pids/cgroup.procs', "
      "os.O_WRONLY))\n"
      "attempt('proc_cgroups_mount', lambda: os.open('/proc/1/root/sys/fs/cgroup', os.O_RDONLY))\n"
      "print('own_cgroup', sorted(set(l.strip().split(':', 2)[2] for l in "
      "open('/proc/self/cgroup'))))\n"));
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"mount_cgroup_v1", "mount_cgroup2", "unshare_then_mount",
                         "host_cgroup_procs", "proc_cgroups_mount"});
  // The cgroup namespace shows the sandbox's cgroup as the root: no host path is revealed.
  EXPECT_EQ(reported(r->stdout_data, "own_cgroup"), "['/']") << describe(*r);
}

TEST_P(FilesystemEscape, NoHostDescriptorsAreInherited) {
  auto r =
      execute(python_request("import os, stat\n"
                             "fds = []\n"
                             "for fd in range(0, 4096):\n"
                             "    try:\n"
                             "        st = os.fstat(fd)\n"
                             "    except OSError:\n"
                             "        continue\n"
                             "    fds.append((fd, stat.S_IFMT(st.st_mode)))\n"
                             "print('fds', [fd for fd, _ in fds])\n"
                             "print('fifo_only', all(m == stat.S_IFIFO for _, m in fds))\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, RunStatus::kOk) << describe(*r);
  EXPECT_EQ(reported(r->stdout_data, "fds"), "[0, 1, 2]") << describe(*r);
  EXPECT_EQ(reported(r->stdout_data, "fifo_only"), "True") << describe(*r);
}

ISOL8_BACKEND_SUITE(FilesystemEscape);

}  // namespace
}  // namespace isol8::test::security
