#pragma once
// One finding of `isol8 doctor`: what the host offers a backend, with the reason when something
// is missing. The backends make them (they know their own requirements); core collects them.

#include <string>

namespace isol8 {

struct Check {
  enum class Level { kOk, kInfo, kWarn, kFail };
  Level level = Level::kOk;
  std::string name;
  std::string detail;
};

}  // namespace isol8
