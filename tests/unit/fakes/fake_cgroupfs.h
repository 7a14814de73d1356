#pragma once
// A temp-directory imitation of cgroupfs for tests (no root needed): a mountinfo file that lists
// its hierarchies, and CgroupFsOps that act like the kernel: mkdir creates a hierarchy's control
// files, rmdir removes them but refuses (EBUSY) while cgroup.procs lists a pid or a child cgroup
// exists. Header-only; not part of the library.

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cgroups/cgroup_manager.h"

namespace isol8::testing {

class FakeCgroupFs {
 public:
  using Files = std::map<std::string, std::string>;  // control file -> initial content

  FakeCgroupFs() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "isol8-fakecg-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
  }
  ~FakeCgroupFs() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeCgroupFs(const FakeCgroupFs&) = delete;
  FakeCgroupFs& operator=(const FakeCgroupFs&) = delete;

  const std::filesystem::path& root() const { return root_; }

  // A cgroup2 mount whose root offers `controllers` (cgroup.controllers).
  std::filesystem::path add_v2(const std::string& controllers = "cpuset cpu io memory pids") {
    std::filesystem::path mount = root_ / "unified";
    std::filesystem::create_directories(mount);
    write(mount / "cgroup.controllers", controllers + "\n");
    write(mount / "cgroup.subtree_control", "");
    write(mount / "cgroup.procs", "");
    templates_->emplace(mount, Files{
                                   {"cgroup.procs", ""},
                                   {"cgroup.kill", ""},
                                   {"cgroup.events", "populated 0\nfrozen 0\n"},
                                   {"cgroup.controllers", "cpu memory pids\n"},
                                   {"cgroup.subtree_control", ""},
                                   {"memory.max", "max\n"},
                                   {"memory.swap.max", "max\n"},
                                   {"memory.oom.group", "0\n"},
                                   {"memory.current", "0\n"},
                                   {"memory.peak", "0\n"},
                                   {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
                                   {"pids.max", "max\n"},
                                   {"cpu.max", "max 100000\n"},
                                   {"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"},
                               });
    lines_.push_back(" - cgroup2 cgroup2 rw,nsdelegate");
    mounts_.push_back(mount);
    return mount;
  }

  // A cgroup v1 hierarchy for `controllers` ("memory", or co-mounted "cpu,cpuacct").
  std::filesystem::path add_v1(const std::string& controllers) {
    std::filesystem::path mount = root_ / controllers;
    std::filesystem::create_directories(mount);
    Files files{{"cgroup.procs", ""}, {"tasks", ""}};
    std::stringstream list(controllers);
    for (std::string c; std::getline(list, c, ',');) {
      if (c == "memory") {
        files.insert({{"memory.limit_in_bytes", "9223372036854771712\n"},
                      {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
                      {"memory.max_usage_in_bytes", "0\n"},
                      {"memory.failcnt", "0\n"},
                      {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"}});
      } else if (c == "pids") {
        files.insert({"pids.max", "max\n"});
      } else if (c == "cpu") {
        files.insert({{"cpu.cfs_period_us", "100000\n"}, {"cpu.cfs_quota_us", "-1\n"}});
      } else if (c == "cpuacct") {
        files.insert({"cpuacct.stat", "user 0\nsystem 0\n"});
      } else if (c == "freezer") {
        files.insert({"freezer.state", "THAWED\n"});
      }
    }
    for (const auto& [file, content] : files) write(mount / file, content);
    templates_->emplace(mount, std::move(files));
    lines_.push_back(" - cgroup cgroup rw," + controllers);
    mounts_.push_back(mount);
    return mount;
  }

  // The control files the fake kernel creates in new cgroups under `mount` (edit to imitate an
  // older kernel, e.g. erase "memory.swap.max").
  Files& template_of(const std::filesystem::path& mount) { return templates_->at(mount); }

  // Roots for detect_cgroup_manager(): a mountinfo naming the hierarchies, the fake ops, and a
  // short kill timeout (a fake cgroup.procs never empties by itself).
  CgroupRoots roots() {
    std::string text = "22 1 0:20 / /proc rw,nosuid - proc proc rw\n";
    for (size_t i = 0; i < mounts_.size(); ++i) {
      text += std::to_string(30 + i) + " 23 0:" + std::to_string(40 + i) + " / " +
              mounts_[i].string() + " rw,nosuid,nodev,noexec,relatime shared:9" + lines_[i] + "\n";
    }
    write(root_ / "mountinfo", text);
    return CgroupRoots{root_ / "mountinfo", ops(), std::chrono::milliseconds(100)};
  }

  CgroupFsOps ops() {
    auto templates = templates_;
    return CgroupFsOps{
        [templates](const std::filesystem::path& dir) {
          if (::mkdir(dir.c_str(), 0755) != 0) return errno;
          for (const auto& [mount, files] : *templates) {
            if (dir.string().rfind(mount.string() + "/", 0) != 0) continue;
            for (const auto& [file, content] : files) write(dir / file, content);
          }
          return 0;
        },
        [](const std::filesystem::path& dir) {
          std::error_code ec;
          if (!std::filesystem::exists(dir, ec)) return ENOENT;
          for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            if (entry.is_directory()) return EBUSY;
          }
          if (!read(dir / "cgroup.procs").empty()) return EBUSY;
          std::filesystem::remove_all(dir, ec);
          return ec ? ec.value() : 0;
        },
    };
  }

  static void write(const std::filesystem::path& file, const std::string& content) {
    std::ofstream(file, std::ios::trunc) << content;
  }
  static std::string read(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::filesystem::path root_;
  std::vector<std::filesystem::path> mounts_;
  std::vector<std::string> lines_;  // " - fstype source super-options" per mount
  std::shared_ptr<std::map<std::filesystem::path, Files>> templates_ =
      std::make_shared<std::map<std::filesystem::path, Files>>();
};

}  // namespace isol8::testing
