#pragma once
// What a sandboxed program's stdin gets, in order: the request's stdin data, then, when the
// caller gave a live source (RunControl::stdin_fd), what that fd yields until its EOF. The
// backends' poll loops drive it without ever blocking: while bytes are pending they wait for the
// program's stdin to take them (and say how many it took); while none are, they wait for the
// source to be readable and refill(). When done(), they close the program's stdin: its EOF.
//
// At most one read of the source (64 KiB) is held at a time, and the source is read again only
// when it has been written: a program that stops reading holds back its source, not memory.

#include <cstddef>
#include <string>
#include <string_view>

namespace isol8 {

class StdinFeed {
 public:
  // `request_data` must outlive the feed; `source_fd` -1: none.
  StdinFeed(std::string_view request_data, int source_fd)
      : pending_(request_data), source_fd_(source_fd) {}

  // The bytes to write next; empty while none have arrived (or when done()).
  std::string_view pending() const { return pending_; }
  void consumed(size_t n) { pending_.remove_prefix(n); }
  // The fd to wait on for readability before refill(): the source while nothing is pending and
  // it has not ended; -1 otherwise.
  int source_to_poll() const { return pending_.empty() ? source_fd_ : -1; }
  // Reads the source once (poll said it was readable). Its EOF, or an error, ends the feed.
  void refill();
  // Every byte was written and the source ended (or there is none): time for the program's EOF.
  bool done() const { return pending_.empty() && source_fd_ < 0; }
  // The program no longer reads its stdin (it closed it, or is gone): nothing more is read.
  void abandon() {
    pending_ = {};
    source_fd_ = -1;
  }

 private:
  std::string_view pending_;  // into the request's data, then into buffer_
  int source_fd_;
  std::string buffer_;
};

}  // namespace isol8
