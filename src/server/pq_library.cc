#include "server/pq_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>

namespace isol8::server {
namespace {

constexpr const char* kSoname = "libpq.so.5";

template <class F>
void bind(void* handle, const char* name, F& out, std::string& missing) {
  out = reinterpret_cast<F>(::dlsym(handle, name));
  if (out == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
}

Result<PqLibrary> load() {
  // Never unloaded: connections may live until the process ends.
  void* handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return make_error(std::string("cannot load ") + kSoname +
                      " (package libpq5), needed for a postgres:// auth DB: " +
                      (why != nullptr ? why : "unknown error"));
  }
  PqLibrary lib{};
  std::string missing;
  bind(handle, "PQconnectdb", lib.connectdb, missing);
  bind(handle, "PQfinish", lib.finish, missing);
  bind(handle, "PQreset", lib.reset, missing);
  bind(handle, "PQstatus", lib.status, missing);
  bind(handle, "PQerrorMessage", lib.error_message, missing);
  bind(handle, "PQexec", lib.exec, missing);
  bind(handle, "PQexecParams", lib.exec_params, missing);
  bind(handle, "PQresultStatus", lib.result_status, missing);
  bind(handle, "PQclear", lib.clear, missing);
  bind(handle, "PQntuples", lib.ntuples, missing);
  bind(handle, "PQgetvalue", lib.getvalue, missing);
  bind(handle, "PQgetisnull", lib.getisnull, missing);
  bind(handle, "PQcmdTuples", lib.cmd_tuples, missing);
  if (!missing.empty()) return make_error(std::string(kSoname) + " lacks " + missing);
  return lib;
}

const Result<PqLibrary>& loaded() {
  static const Result<PqLibrary> library = load();
  return library;
}

}  // namespace

Result<const PqLibrary*> pq_library() {
  if (!loaded()) return loaded().error();
  return &loaded().value();
}

const PqLibrary& loaded_pq() {
  if (!loaded()) std::abort();  // a libpq object exists only after a successful load
  return loaded().value();
}

}  // namespace isol8::server
