#pragma once
// libpq, loaded on first use (dlopen) instead of at every start of the binary: libpq.so.5 brings
// some twenty shared libraries (Kerberos, LDAP, SASL, GnuTLS, ...) whose symbol lookups the
// dynamic loader would pay on every `isol8 run`, while only `isol8 serve` with a postgres://
// auth DB uses it. That server pays the load, once.

#include <libpq-fe.h>

#include "isol8/result.h"

namespace isol8::server {

// The functions of libpq this project calls.
struct PqLibrary {
  PGconn* (*connectdb)(const char*);
  void (*finish)(PGconn*);
  void (*reset)(PGconn*);
  ConnStatusType (*status)(const PGconn*);
  char* (*error_message)(const PGconn*);
  PGresult* (*exec)(PGconn*, const char*);
  PGresult* (*exec_params)(PGconn*, const char*, int, const Oid*, const char* const*, const int*,
                           const int*, int);
  ExecStatusType (*result_status)(const PGresult*);
  void (*clear)(PGresult*);
  int (*ntuples)(const PGresult*);
  char* (*getvalue)(const PGresult*, int, int);
  int (*getisnull)(const PGresult*, int, int);
  char* (*cmd_tuples)(PGresult*);
};

// Loads libpq.so.5 once (thread-safe); the error says why it cannot be used.
Result<const PqLibrary*> pq_library();

// The library once pq_library() has succeeded (for the deleters of its objects).
const PqLibrary& loaded_pq();

}  // namespace isol8::server
