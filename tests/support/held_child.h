#pragma once
// A forked child that waits for go() before running `body`, so that the parent can move it into
// a cgroup first (what the native spawn does on v1 before it sends "go"). Killed and reaped by
// the destructor unless wait() reaped it. Header-only.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace isol8::test {

class HeldChild {
 public:
  explicit HeldChild(const std::function<int()>& body) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[1]);
      char c;
      if (::read(fds[0], &c, 1) != 1) ::_exit(100);
      ::_exit(body());
    }
    ::close(fds[0]);
    go_ = fds[1];
  }
  ~HeldChild() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (go_ >= 0) ::close(go_);
  }
  pid_t pid() const { return pid_; }
  void go() {
    char c = 'g';
    ASSERT_EQ(::write(go_, &c, 1), 1);
  }
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  bool reaped_ = false;
};

}  // namespace isol8::test
