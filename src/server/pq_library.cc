#include "server/pq_library.h"

#include <cstdlib>

#include "common/shared_library.h"

namespace isol8::server {
namespace {

Result<PqLibrary> load() {
  auto library = SharedLibrary::open("libpq.so.5", "libpq5");
  if (!library) return std::move(library).error();
  PqLibrary lib{};
  library->bind("PQconnectdb", lib.connectdb);
  library->bind("PQfinish", lib.finish);
  library->bind("PQreset", lib.reset);
  library->bind("PQstatus", lib.status);
  library->bind("PQerrorMessage", lib.error_message);
  library->bind("PQexec", lib.exec);
  library->bind("PQexecParams", lib.exec_params);
  library->bind("PQresultStatus", lib.result_status);
  library->bind("PQclear", lib.clear);
  library->bind("PQntuples", lib.ntuples);
  library->bind("PQgetvalue", lib.getvalue);
  library->bind("PQgetisnull", lib.getisnull);
  library->bind("PQcmdTuples", lib.cmd_tuples);
  ISOL8_TRY(library->check());
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
