// System calls that widen the kernel surface or change privileges: each attempt must fail (an
// error, or death by seccomp), the script must run to its end, and the runner must report a
// normal result. Raw syscalls go through ctypes (x86_64 numbers); the i386 and x32 ABIs need
// a small static C program.

#include "security/security_fixture.h"

namespace isol8::test::security {
namespace {

class KernelSurface : public SecurityTest {
 protected:
  // Runs an attack script and checks that every named attempt was denied.
  void expect_denied(const std::string& script, const std::vector<std::string>& names) {
    auto r = execute(attack_script(script));
    ASSERT_TRUE(r);
    expect_all_denied(*r, names);
  }
};

TEST_P(KernelSurface, Mount) {
  expect_denied(
      "os.makedirs('/sandbox/m', exist_ok=True)\n"
      "attempt('mount_tmpfs', lambda: sc(165, b'none', b'/sandbox/m', b'tmpfs', 0, 0))\n"
      "attempt('mount_proc', lambda: sc(165, b'proc', b'/sandbox/m', b'proc', 0, 0))\n"
      "attempt('bind_root', lambda: sc(165, b'/', b'/sandbox/m', 0, 0x1000 | 0x4000, 0))\n"
      "attempt('remount_root_rw', lambda: sc(165, 0, b'/', 0, 32 | 0x1000, 0))\n"
      "attempt('umount_proc', lambda: sc(166, b'/proc', 2))\n"
      "attempt('fsopen', lambda: sc(430, b'tmpfs', 0))\n"
      "attempt('open_tree', lambda: sc(428, -100, b'/usr', 1))\n"
      "attempt('move_mount', lambda: sc(429, -100, b'/tmp', -100, b'/sandbox/m', 0))\n"
      "attempt('mount_setattr', lambda: sc(442, -100, b'/', 0, buf(32), 32))\n"
      "attempt('pivot_root', lambda: sc(155, b'/sandbox', b'/sandbox/m'))\n"
      "import subprocess\n"
      "rc = subprocess.call(['mount', '-t', 'tmpfs', 'none', '/sandbox/m'],\n"
      "                     stderr=subprocess.DEVNULL)\n"
      "print(('DENIED' if rc != 0 else 'ALLOWED') + ' mount_util rc=%d' % rc)\n",
      {"mount_tmpfs", "mount_proc", "bind_root", "remount_root_rw", "umount_proc", "fsopen",
       "open_tree", "move_mount", "mount_setattr", "pivot_root", "mount_util"});
}

TEST_P(KernelSurface, Unshare) {
  expect_denied(
      "flags = {'user': 0x10000000, 'mnt': 0x20000, 'net': 0x40000000, 'pid': 0x20000000,\n"
      "         'uts': 0x4000000, 'ipc': 0x8000000, 'cgroup': 0x2000000, 'time': 0x80,\n"
      "         'user_mnt': 0x10020000}\n"
      "for name, f in flags.items():\n"
      "    attempt('unshare_' + name, lambda f=f: sc(272, f))\n"
      "import subprocess\n"
      "rc = subprocess.call(['unshare', '-Ur', 'true'], stderr=subprocess.DEVNULL)\n"
      "print(('DENIED' if rc != 0 else 'ALLOWED') + ' unshare_util rc=%d' % rc)\n",
      {"unshare_user", "unshare_mnt", "unshare_net", "unshare_pid", "unshare_uts", "unshare_ipc",
       "unshare_cgroup", "unshare_time", "unshare_user_mnt", "unshare_util"});
}

TEST_P(KernelSurface, Setns) {
  // Joining its own namespaces would be harmless, but setns is the door to others': it is
  // refused outright. Init's namespace files cannot even be opened.
  expect_denied(
      "for ns in ('user', 'mnt', 'net', 'pid', 'cgroup'):\n"
      "    fd = os.open('/proc/self/ns/' + ns, os.O_RDONLY)\n"
      "    attempt('setns_self_' + ns, lambda fd=fd: sc(308, fd, 0))\n"
      "attempt('open_init_mnt_ns', lambda: os.open('/proc/1/ns/mnt', os.O_RDONLY))\n"
      "attempt('open_init_user_ns', lambda: os.open('/proc/1/ns/user', os.O_RDONLY))\n"
      "pidfd = os.pidfd_open(os.getpid())\n"
      "attempt('setns_pidfd', lambda: sc(308, pidfd, 0x10000000))\n",
      {"setns_self_user", "setns_self_mnt", "setns_self_net", "setns_self_pid", "setns_self_cgroup",
       "open_init_mnt_ns", "open_init_user_ns", "setns_pidfd"});
}

TEST_P(KernelSurface, Ptrace) {
  expect_denied(
      "attempt('traceme', lambda: sc(101, 0, 0, 0, 0))\n"
      "attempt('attach_init', lambda: sc(101, 16, 1, 0, 0))\n"
      "attempt('seize_init', lambda: sc(101, 0x4206, 1, 0, 0))\n"
      "attempt('peek_init', lambda: sc(101, 1, 1, 0x400000, 0))\n",
      {"traceme", "attach_init", "seize_init", "peek_init"});
}

TEST_P(KernelSurface, PtraceOfASiblingInsideTheSandbox) {
  expect_denied(
      "sib = os.fork()\n"
      "if sib == 0:\n"
      "    time.sleep(30)\n"
      "    os._exit(0)\n"
      "time.sleep(0.05)\n"
      "attempt('attach', lambda: sc(101, 16, sib, 0, 0))\n"
      "attempt('seize', lambda: sc(101, 0x4206, sib, 0, 0))\n"
      "local = buf(64)\n"
      "iov = struct.pack('QQ', ctypes.addressof(local), 64)\n"
      "riov = struct.pack('QQ', 0x400000, 64)\n"
      "attempt('process_vm_readv', lambda: sc(310, sib, iov, 1, riov, 1, 0))\n"
      "attempt('process_vm_writev', lambda: sc(311, sib, iov, 1, riov, 1, 0))\n"
      "pfd = os.pidfd_open(sib)\n"
      "attempt('pidfd_getfd', lambda: sc(438, pfd, 0, 0))\n"
      "attempt('kcmp', lambda: sc(312, os.getpid(), sib, 0, 0, 0))\n"
      "os.kill(sib, signal.SIGKILL)\n"
      "os.waitpid(sib, 0)\n",
      {"attach", "seize", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp"});
}

TEST_P(KernelSurface, Keyctl) {
  expect_denied(
      "KEY_SPEC_SESSION, KEY_SPEC_USER = -3, -4\n"
      "attempt('add_key', lambda: sc(248, b'user', b'isol8', b'secret', 6, KEY_SPEC_SESSION))\n"
      "attempt('request_key', lambda: sc(249, b'user', b'isol8', 0, KEY_SPEC_SESSION))\n"
      "attempt('keyctl_get_user_keyring', lambda: sc(250, 0, KEY_SPEC_USER, 1))\n"
      "attempt('keyctl_search', lambda: sc(250, 10, KEY_SPEC_USER, b'user', b'x', 0))\n",
      {"add_key", "request_key", "keyctl_get_user_keyring", "keyctl_search"});
}

TEST_P(KernelSurface, KeyctlThroughTheSessionKeyring) {
  // The session keyring is where a runner's keys would be shared with its children.
  auto r = execute(attack_script(
      "attempt('get_session_keyring', lambda: sc(250, 0, -3, 0))\n"
      "attempt('join_session_keyring', lambda: sc(250, 1, 0))\n"
      "attempt('join_named_keyring', lambda: sc(250, 1, b'_ses'))\n"
      "d = buf(256)\n"
      "attempt('describe_session_keyring', lambda: sc(250, 6, -3, d, 256))\n"
      "attempt('read_session_keyring', lambda: sc(250, 11, -3, d, 256))\n"
      "attempt('link_to_session', lambda: sc(250, 8, -4, -3))\n"
      "keys = open('/proc/keys').read().strip() if os.path.exists('/proc/keys') else ''\n"
      "print('proc_keys_lines', len(keys.splitlines()) if keys else 0)\n"));
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"get_session_keyring", "join_session_keyring", "join_named_keyring",
                         "describe_session_keyring", "read_session_keyring", "link_to_session"});
  EXPECT_EQ(reported(r->stdout_data, "proc_keys_lines"), "0") << "keys are visible in /proc/keys\n"
                                                              << describe(*r);
}

TEST_P(KernelSurface, Bpf) {
  expect_denied(
      "attr = buf(128)\n"
      "struct.pack_into('IIII', attr, 0, 2, 4, 8, 16)\n"
      "attempt('map_create', lambda: sc(321, 0, attr, 128))\n"
      "insns = struct.pack('<BBhiBBhi', 0xb7, 0, 0, 0, 0x95, 0, 0, 0)\n"
      "ib = ctypes.create_string_buffer(insns)\n"
      "lic = ctypes.create_string_buffer(b'GPL')\n"
      "pattr = buf(128)\n"
      "struct.pack_into('IIQQ', pattr, 0, 1, 2, ctypes.addressof(ib), ctypes.addressof(lic))\n"
      "attempt('prog_load_socket_filter', lambda: sc(321, 5, pattr, 128))\n"
      "attempt('prog_get_next_id', lambda: sc(321, 11, buf(128), 128))\n"
      "attempt('map_get_next_id', lambda: sc(321, 12, buf(128), 128))\n",
      {"map_create", "prog_load_socket_filter", "prog_get_next_id", "map_get_next_id"});
}

TEST_P(KernelSurface, IoUring) {
  expect_denied(
      "params = buf(120)\n"
      "attempt('io_uring_setup', lambda: sc(425, 8, params))\n"
      "attempt('io_uring_enter', lambda: sc(426, 0, 1, 1, 0, 0, 0))\n"
      "attempt('io_uring_register', lambda: sc(427, 0, 0, 0, 0))\n",
      {"io_uring_setup", "io_uring_enter", "io_uring_register"});
}

TEST_P(KernelSurface, PerfEventOpen) {
  expect_denied(
      "attr = buf(128)\n"
      "struct.pack_into('IIQ', attr, 0, 1, 128, 0)\n"
      "attempt('sw_cpu_clock_self', lambda: sc(298, attr, 0, -1, -1, 0))\n"
      "hw = buf(128)\n"
      "struct.pack_into('IIQ', hw, 0, 0, 128, 0)\n"
      "attempt('hw_cycles_all_cpus', lambda: sc(298, hw, -1, 0, -1, 0))\n"
      "tp = buf(128)\n"
      "struct.pack_into('IIQ', tp, 0, 2, 128, 1)\n"
      "attempt('tracepoint', lambda: sc(298, tp, -1, 0, -1, 0))\n",
      {"sw_cpu_clock_self", "hw_cycles_all_cpus", "tracepoint"});
}

TEST_P(KernelSurface, Userfaultfd) {
  expect_denied(
      "attempt('userfaultfd', lambda: sc(323, 0))\n"
      "attempt('userfaultfd_user_only', lambda: sc(323, 1))\n"
      "attempt('dev_userfaultfd', lambda: os.open('/dev/userfaultfd', os.O_RDWR))\n",
      {"userfaultfd", "userfaultfd_user_only", "dev_userfaultfd"});
}

TEST_P(KernelSurface, VsockSockets) {
  expect_denied(
      "attempt('vsock_stream', lambda: sc(41, 40, 1, 0))\n"
      "attempt('vsock_dgram', lambda: sc(41, 40, 2, 0))\n"
      "attempt('vsock_seqpacket', lambda: sc(41, 40, 5, 0))\n"
      "attempt('vsock_python', lambda: socket.socket(40, socket.SOCK_STREAM))\n",
      {"vsock_stream", "vsock_dgram", "vsock_seqpacket", "vsock_python"});
}

TEST_P(KernelSurface, RawAndPacketSockets) {
  expect_denied(
      "attempt('packet_raw', lambda: sc(41, 17, 3, 0x300))\n"
      "attempt('packet_dgram', lambda: sc(41, 17, 2, 0x300))\n"
      "attempt('inet_raw_icmp', lambda: sc(41, 2, 3, 1))\n"
      "attempt('inet_raw_tcp', lambda: sc(41, 2, 3, 6))\n"
      "attempt('inet_raw_ipproto_raw', lambda: sc(41, 2, 3, 255))\n"
      "attempt('inet6_raw', lambda: sc(41, 10, 3, 58))\n"
      "attempt('netlink_audit', lambda: sc(41, 16, 3, 9))\n"
      "attempt('netlink_uevent', lambda: sc(41, 16, 3, 15))\n"
      "attempt('netlink_netfilter', lambda: sc(41, 16, 3, 12))\n"
      "attempt('netlink_sock_diag', lambda: sc(41, 16, 3, 4))\n"
      "attempt('bluetooth', lambda: sc(41, 31, 3, 0))\n"
      "attempt('alg', lambda: sc(41, 38, 5, 0))\n"
      "attempt('key', lambda: sc(41, 15, 3, 2))\n",
      {"packet_raw", "packet_dgram", "inet_raw_icmp", "inet_raw_tcp", "inet_raw_ipproto_raw",
       "inet6_raw", "netlink_audit", "netlink_uevent", "netlink_netfilter", "netlink_sock_diag",
       "bluetooth", "alg", "key"});
}

TEST_P(KernelSurface, CloneWithNamespaceFlags) {
  // A successful raw clone would return 0 in a child running this Python; attempt()'s child
  // reports and exits in both.
  expect_denied(
      "SIGCHLD = 17\n"
      "for name, f in (('newuser', 0x10000000), ('newns', 0x20000), ('newnet', 0x40000000),\n"
      "                ('newpid', 0x20000000), ('newuser_newns', 0x10020000)):\n"
      "    attempt('clone_' + name, lambda f=f: sc(56, f | SIGCHLD, 0, 0, 0, 0))\n"
      "args = buf(88)\n"
      "struct.pack_into('QQQQQ', args, 0, 0x10000000, 0, 0, 0, SIGCHLD)\n"
      "attempt('clone3_newuser', lambda: sc(435, args, 88))\n"
      "attempt('vfork_newuser', lambda: sc(56, 0x10000000 | 0x4000 | SIGCHLD, 0, 0, 0, 0))\n",
      {"clone_newuser", "clone_newns", "clone_newnet", "clone_newpid", "clone_newuser_newns",
       "clone3_newuser", "vfork_newuser"});
}

TEST_P(KernelSurface, Chroot) {
  expect_denied(
      "attempt('chroot_sandbox', lambda: sc(161, b'/sandbox'))\n"
      "attempt('chroot_tmp', lambda: sc(161, b'/tmp'))\n"
      "attempt('chroot_python', lambda: os.chroot('/'))\n"
      "import subprocess\n"
      "rc = subprocess.call(['/usr/sbin/chroot', '/', 'true'], stderr=subprocess.DEVNULL)\n"
      "print(('DENIED' if rc != 0 else 'ALLOWED') + ' chroot_util rc=%d' % rc)\n",
      {"chroot_sandbox", "chroot_tmp", "chroot_python", "chroot_util"});
}

TEST_P(KernelSurface, SetuidZeroAndFriends) {
  auto r = execute(attack_script(
      "attempt('setuid0', lambda: sc(105, 0))\n"
      "attempt('setgid0', lambda: sc(106, 0))\n"
      "attempt('setreuid0', lambda: sc(113, 0, 0))\n"
      "attempt('setresuid0', lambda: sc(117, 0, 0, 0))\n"
      "attempt('setresgid0', lambda: sc(119, 0, 0, 0))\n"
      "attempt('setuid_host_root_id', lambda: sc(105, 65534))\n"
      "attempt('setgroups0', lambda: sc(116, 1, struct.pack('I', 0)))\n"
      "hdr = struct.pack('II', 0x20080522, 0)\n"
      "full = struct.pack('IIIIII', 0xffffffff, 0xffffffff, 0xffffffff, 0x1ff, 0x1ff, 0x1ff)\n"
      "attempt('capset_all', lambda: sc(126, hdr, full))\n"
      "attempt('ambient_raise', lambda: sc(157, 47, 2, 21, 0, 0))\n"
      "attempt('clear_no_new_privs', lambda: sc(157, 38, 0, 0, 0, 0))\n"
      "attempt('securebits_clear', lambda: sc(157, 28, 0, 0, 0, 0))\n"
      "print('ids', os.getresuid(), os.getresgid(), os.getgroups())\n"
      "st = open('/proc/self/status').read()\n"
      "print('nnp', [l.split()[1] for l in st.splitlines() if l.startswith('NoNewPrivs')][0])\n"));
  ASSERT_TRUE(r);
  expect_all_denied(
      *r, {"setuid0", "setgid0", "setreuid0", "setresuid0", "setresgid0", "setuid_host_root_id",
           "setgroups0", "capset_all", "ambient_raise", "clear_no_new_privs", "securebits_clear"});
  EXPECT_EQ(reported(r->stdout_data, "ids"), "(100, 100, 100) (101, 101, 101) [101]")
      << describe(*r);
  EXPECT_EQ(reported(r->stdout_data, "nnp"), "1") << describe(*r);
}

TEST_P(KernelSurface, PersonalityFlags) {
  auto r =
      execute(attack_script("attempt('read_implies_exec', lambda: sc(135, 0x0400000))\n"
                            "attempt('addr_no_randomize', lambda: sc(135, 0x0040000))\n"
                            "attempt('mmap_page_zero', lambda: sc(135, 0x0100000))\n"
                            "attempt('addr_compat_layout', lambda: sc(135, 0x0200000))\n"
                            "attempt('per_svr4', lambda: sc(135, 0x04100001))\n"
                            "print('persona', hex(sc(135, 0xffffffff)[0]))\n"));
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"read_implies_exec", "addr_no_randomize", "mmap_page_zero",
                         "addr_compat_layout", "per_svr4"});
  EXPECT_EQ(reported(r->stdout_data, "persona"), "0x0") << describe(*r);
}

TEST_P(KernelSurface, Mknod) {
  expect_denied(
      "def mk(path, mode, dev):\n"
      "    return lambda: sc(133, path, mode, dev)\n"
      "attempt('mem_in_sandbox', mk(b'/sandbox/mem', 0o20666, (1 << 8) | 1))\n"
      "attempt('kmsg_in_sandbox', mk(b'/sandbox/kmsg', 0o20666, (1 << 8) | 11))\n"
      "attempt('sda_in_tmp', mk(b'/tmp/sda', 0o60666, (8 << 8) | 0))\n"
      "attempt('vda_in_sandbox', mk(b'/sandbox/vda', 0o60666, (254 << 8) | 0))\n"
      "attempt('in_dev', mk(b'/dev/mem', 0o20666, (1 << 8) | 1))\n"
      "attempt('mknodat', lambda: sc(259, -100, b'/sandbox/port', 0o20666, (1 << 8) | 4))\n"
      "import subprocess\n"
      "rc = subprocess.call(['mknod', '/sandbox/m2', 'c', '1', '1'], stderr=subprocess.DEVNULL)\n"
      "print(('DENIED' if rc != 0 else 'ALLOWED') + ' mknod_util rc=%d' % rc)\n",
      {"mem_in_sandbox", "kmsg_in_sandbox", "sda_in_tmp", "vda_in_sandbox", "in_dev", "mknodat",
       "mknod_util"});
}

TEST_P(KernelSurface, KernelAdministrationSyscalls) {
  expect_denied(
      "attempt('reboot', lambda: sc(169, 0xfee1dead, 672274793, 0x4321fedc, 0))\n"
      "attempt('kexec_load', lambda: sc(246, 0, 0, 0, 0))\n"
      "attempt('kexec_file_load', lambda: sc(320, -1, -1, 0, 0, 0))\n"
      "attempt('init_module', lambda: sc(175, buf(16), 16, b''))\n"
      "attempt('finit_module', lambda: sc(313, 0, b'', 0))\n"
      "attempt('delete_module', lambda: sc(176, b'ext4', 0))\n"
      "attempt('swapon', lambda: sc(167, b'/sandbox/swap', 0))\n"
      "attempt('swapoff', lambda: sc(168, b'/sandbox/swap'))\n"
      "attempt('acct', lambda: sc(163, b'/sandbox/acct'))\n"
      "attempt('syslog_read_all', lambda: sc(103, 3, buf(4096), 4096))\n"
      "attempt('syslog_clear', lambda: sc(103, 5, 0, 0))\n"
      "tv = struct.pack('qq', 0, 0)\n"
      "attempt('settimeofday', lambda: sc(164, tv, 0))\n"
      "attempt('clock_settime', lambda: sc(227, 0, tv))\n"
      "attempt('adjtimex', lambda: sc(159, buf(256)))\n"
      "attempt('sethostname', lambda: sc(170, b'pwned', 5))\n"
      "attempt('setdomainname', lambda: sc(171, b'pwned', 5))\n"
      "attempt('iopl', lambda: sc(172, 3))\n"
      "attempt('ioperm', lambda: sc(173, 0x80, 1, 1))\n"
      "attempt('quotactl', lambda: sc(179, 0x800002, b'/', 0, 0))\n"
      "attempt('lookup_dcookie', lambda: sc(212, 0, buf(64), 64))\n"
      "attempt('fanotify_init', lambda: sc(300, 0, 0))\n"
      "attempt('vhangup', lambda: sc(153))\n"
      "attempt('uselib', lambda: sc(134, b'/usr/lib/x86_64-linux-gnu/libc.so.6'))\n"
      "attempt('modify_ldt', lambda: sc(154, 1, buf(16), 16))\n",
      {"reboot",        "kexec_load",   "kexec_file_load", "init_module", "finit_module",
       "delete_module", "swapon",       "swapoff",         "acct",        "syslog_read_all",
       "syslog_clear",  "settimeofday", "clock_settime",   "adjtimex",    "sethostname",
       "setdomainname", "iopl",         "ioperm",          "quotactl",    "lookup_dcookie",
       "fanotify_init", "vhangup",      "uselib",          "modify_ldt"});
}

TEST_P(KernelSurface, OpenByHandleAtShocker) {
  // The "shocker" container escape: open_by_handle_at with a guessed handle of the host's
  // root inode reaches files outside the mount namespace.
  expect_denied(
      "handle = buf(8 + 8)\n"
      "struct.pack_into('IiQ', handle, 0, 8, 1, 2)\n"
      "attempt('open_by_handle_at', lambda: sc(304, 0, handle, 0))\n"
      "h2 = buf(128)\n"
      "struct.pack_into('I', h2, 0, 120)\n"
      "mnt = buf(4)\n"
      "attempt('name_to_handle_at', lambda: sc(303, -100, b'/usr', h2, mnt, 0))\n",
      {"open_by_handle_at", "name_to_handle_at"});
}

// ---- other ABIs

constexpr const char* kAbiProgram = R"C(
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long i386_call(long nr, long a, long b, long c) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
  return r;
}

struct call { const char* name; long nr, a, b, c; int x32; };

int main(int argc, char** argv) {
  const int want_x32 = argc > 1 && strcmp(argv[1], "x32") == 0;
  const struct call calls[] = {
      {"i386_getpid", 20, 0, 0, 0, 0},
      {"i386_getuid", 24, 0, 0, 0, 0},
      {"i386_setuid0", 23, 0, 0, 0, 0},
      {"i386_unshare_newuser", 310, 0x10000000, 0, 0, 0},
      {"i386_mount", 21, 0, 0, 0, 0},
      {"i386_ptrace_traceme", 26, 0, 0, 0, 0},
      {"i386_chroot", 61, (long)"/sandbox", 0, 0, 0},
      {"x32_getpid", 0x40000000 | 39, 0, 0, 0, 1},
      {"x32_setuid0", 0x40000000 | 105, 0, 0, 0, 1},
      {"x32_unshare_newuser", 0x40000000 | 272, 0x10000000, 0, 0, 1},
      {"x32_keyctl", 0x40000000 | 250, 0, -3, 0, 1},
  };
  for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; ++i) {
    if (calls[i].x32 != want_x32) continue;
    fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
      long r;
      if (calls[i].x32) {
        errno = 0;
        r = syscall(calls[i].nr, calls[i].a, calls[i].b, calls[i].c);
        if (r == -1) r = -errno;
      } else {
        r = i386_call(calls[i].nr, calls[i].a, calls[i].b, calls[i].c);
      }
      /* getpid answers with our pid and getuid with 100 when the call went through. */
      if (r < 0 && r > -4096) {
        printf("DENIED %s %ld\n", calls[i].name, -r);
      } else {
        printf("ALLOWED %s returned %ld (pid %d uid %d)\n", calls[i].name, r, getpid(), getuid());
      }
      fflush(stdout);
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) printf("KILLED %s %d\n", calls[i].name, WTERMSIG(st));
  }
  printf("DONE\n");
  return 0;
}
)C";

TEST_P(KernelSurface, Int80I386Syscalls) {
  const std::string binary = c_program("abi", kAbiProgram);
  ASSERT_FALSE(binary.empty());
  auto r = execute(binary_request(binary, "i386"));
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"i386_getpid", "i386_getuid", "i386_setuid0", "i386_unshare_newuser",
                         "i386_mount", "i386_ptrace_traceme", "i386_chroot"});
}

TEST_P(KernelSurface, X32Syscalls) {
  const std::string binary = c_program("abi", kAbiProgram);
  ASSERT_FALSE(binary.empty());
  auto r = execute(binary_request(binary, "x32"));
  ASSERT_TRUE(r);
  expect_all_denied(*r, {"x32_getpid", "x32_setuid0", "x32_unshare_newuser", "x32_keyctl"});
}

ISOL8_BACKEND_SUITE(KernelSurface);

}  // namespace
}  // namespace isol8::test::security
