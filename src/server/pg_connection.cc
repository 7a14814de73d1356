#include "server/pg_connection.h"

#include <fmt/format.h>

namespace isol8::server {

Result<std::unique_ptr<PgConnection>> PgConnection::open(const std::string& connection,
                                                         const char* schema, std::string what) {
  if (auto loaded = pq_library(); !loaded) return std::move(loaded).error();
  std::unique_ptr<PgConnection> c(
      new PgConnection(loaded_pq().connectdb(connection.c_str()), std::move(what)));
  if (loaded_pq().status(c->conn_) != CONNECTION_OK) {
    return make_error(
        fmt::format("cannot connect to the {}: {}", c->what_, loaded_pq().error_message(c->conn_)));
  }
  // (Quietly: "relation already exists, skipping" notices would reach stderr at every start.)
  // Several nodes starting at once would race in CREATE ... IF NOT EXISTS (a duplicate-key error
  // from the catalog): the schema is set up under a transaction-scoped advisory lock.
  const std::string guarded =
      std::string(
          "SET client_min_messages = warning; BEGIN; SELECT pg_advisory_xact_lock(7418800); ") +
      schema + " COMMIT;";
  PgResult r(loaded_pq().exec(c->conn_, guarded.c_str()));
  if (loaded_pq().result_status(r.get()) != PGRES_COMMAND_OK) {
    return make_error(
        fmt::format("cannot set up the {}: {}", c->what_, loaded_pq().error_message(c->conn_)));
  }
  return c;
}

PgConnection::~PgConnection() { loaded_pq().finish(conn_); }

Result<PgResult> PgConnection::exec(const std::string& sql,
                                    const std::vector<std::string>& params) {
  std::lock_guard lock(mutex_);
  if (loaded_pq().status(conn_) != CONNECTION_OK) loaded_pq().reset(conn_);
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  PgResult r(loaded_pq().exec_params(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                     values.data(), nullptr, nullptr, 0));
  const auto status = loaded_pq().result_status(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return make_error(fmt::format("{}: {}", what_, loaded_pq().error_message(conn_)));
  }
  return r;
}

int64_t PgConnection::affected(const PgResult& r) {
  const char* n = loaded_pq().cmd_tuples(r.get());
  return (n == nullptr || *n == '\0') ? 0 : std::stoll(n);
}

}  // namespace isol8::server
