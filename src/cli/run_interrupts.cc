#include "cli/run_interrupts.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <cstdint>

namespace isol8::cli {
namespace {

void watch(int epoll_fd, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

// A pipe or socket can lose its reader; a file, a terminal or /dev/null cannot.
bool has_reader_to_lose(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

// No events asked for: epoll still reports EPOLLERR (a pipe's reader is gone) and EPOLLHUP (a
// socket's peer is gone), and nothing else of a writable fd.
void watch_for_lost_reader(int epoll_fd, int fd) {
  if (!has_reader_to_lose(fd)) return;
  epoll_event ev{};
  ev.events = 0;
  ev.data.fd = fd;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

bool lost_reader_of(int fd) {
  if (!has_reader_to_lose(fd)) return false;
  pollfd p{fd, 0, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

}  // namespace

RunInterrupts::RunInterrupts() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  signals_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  closed_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return;
  if (signals_) watch(epoll_.get(), signals_.get());
  if (closed_) watch(epoll_.get(), closed_.get());
  watch_for_lost_reader(epoll_.get(), STDOUT_FILENO);
  watch_for_lost_reader(epoll_.get(), STDERR_FILENO);
}

void RunInterrupts::note_output_closed() {
  if (closed_noted_) return;
  closed_noted_ = true;
  const uint64_t one = 1;
  if (closed_) (void)::write(closed_.get(), &one, sizeof one);
}

int RunInterrupts::received_signal() const {
  signalfd_siginfo info{};
  if (!signals_ || ::read(signals_.get(), &info, sizeof info) != sizeof info) return 0;
  return static_cast<int>(info.ssi_signo);
}

bool RunInterrupts::reader_lost() const {
  return lost_reader_of(STDOUT_FILENO) || lost_reader_of(STDERR_FILENO);
}

}  // namespace isol8::cli
