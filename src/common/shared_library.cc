#include "common/shared_library.h"

#include <dlfcn.h>

namespace isol8 {

Result<SharedLibrary> SharedLibrary::open(const char* soname, std::string_view package) {
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return make_error(std::string("cannot load ") + soname + " (package " + std::string(package) +
                      "): " + (why != nullptr ? why : "unknown error"));
  }
  return SharedLibrary(handle, soname);
}

void* SharedLibrary::symbol(const char* name) const { return ::dlsym(handle_, name); }

Result<void> SharedLibrary::check() const {
  if (!missing_.empty()) return make_error(std::string(soname_) + " lacks " + missing_);
  return ok();
}

}  // namespace isol8
