#pragma once
// Runs a callable when the scope ends unless dismissed: the undo step of a resource that has no
// owning type of its own (a cgroup directory, an nft table, a mount).

#include <utility>

namespace isol8 {

template <class F>
class ScopeExit {
 public:
  explicit ScopeExit(F f) : f_(std::move(f)) {}
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;
  ~ScopeExit() {
    if (active_) f_();
  }
  void dismiss() { active_ = false; }

 private:
  F f_;
  bool active_ = true;
};

}  // namespace isol8
