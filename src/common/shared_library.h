#pragma once
// A shared library loaded on first use (dlopen) instead of by the dynamic loader at every start
// of the binary (cmake/dependencies.cmake says why): libcurl, libnftables, libpq. Each wrapper
// binds the functions it calls into a struct of pointers, once, and reports what is missing.

#include <string>
#include <string_view>

#include "isol8/result.h"

namespace isol8 {

class SharedLibrary {
 public:
  // dlopen(soname, RTLD_NOW | RTLD_LOCAL); never unloaded (its objects may live until the process
  // ends). The error names the library, the Debian package that ships it and the loader's reason.
  static Result<SharedLibrary> open(const char* soname, std::string_view package);

  // Binds `name` into `out`; a missing symbol is remembered for check().
  template <class F>
  void bind(const char* name, F& out) {
    out = reinterpret_cast<F>(symbol(name));
    if (out == nullptr) missing_ += std::string(missing_.empty() ? "" : ", ") + name;
  }
  // An error naming every symbol bind() did not find.
  Result<void> check() const;

 private:
  SharedLibrary(void* handle, const char* soname) : handle_(handle), soname_(soname) {}
  void* symbol(const char* name) const;

  void* handle_;
  const char* soname_;
  std::string missing_;
};

}  // namespace isol8
