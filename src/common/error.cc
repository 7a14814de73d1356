#include <cstring>

#include "isol8/result.h"

namespace isol8 {

Error errno_error(std::string_view what, int code) {
  return Error{code, std::string(what) + ": " + std::strerror(code)};
}

}  // namespace isol8
