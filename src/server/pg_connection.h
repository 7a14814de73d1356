#pragma once
// One PostgreSQL connection shared by a thread-safe store: queries under a mutex, parameters
// always as query parameters (never spliced into the SQL), reconnected when the connection broke
// (a restarted database). Used by the key store and the cluster's session registry.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "isol8/result.h"
#include "server/pq_library.h"

namespace isol8::server {

struct PgResultClear {
  void operator()(PGresult* r) const { loaded_pq().clear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultClear>;

class PgConnection {
 public:
  // Connects and runs `schema` (CREATE ... IF NOT EXISTS). `what` names the database in errors
  // ("auth DB", "cluster registry").
  static Result<std::unique_ptr<PgConnection>> open(const std::string& connection,
                                                    const char* schema, std::string what);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  Result<PgResult> exec(const std::string& sql, const std::vector<std::string>& params);

  // Reading a result.
  static int rows(const PgResult& r) { return loaded_pq().ntuples(r.get()); }
  static std::string value(const PgResult& r, int row, int column) {
    return loaded_pq().getvalue(r.get(), row, column);
  }
  static bool is_null(const PgResult& r, int row, int column) {
    return loaded_pq().getisnull(r.get(), row, column) != 0;
  }
  static int64_t affected(const PgResult& r);

 private:
  PgConnection(PGconn* conn, std::string what) : conn_(conn), what_(std::move(what)) {}

  std::mutex mutex_;
  PGconn* conn_;
  const std::string what_;
};

}  // namespace isol8::server
