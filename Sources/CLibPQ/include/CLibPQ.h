// PostgreSQL's client library (libpq.so.5), loaded when a shared ledger is first used rather than
// linked: linked, it and the libraries it needs (Kerberos, LDAP, GnuTLS…) cost every command ~4 ms
// of start-up, and a machine without libpq could not run the CLI at all.
//
// Declares what Palimpsest uses of libpq-fe.h under the prefix `lpq_`: the types as libpq's stable
// ABI (soname 5) defines them, and one wrapper per function, which calls libpq's own through a
// pointer resolved once.
#ifndef PALIMPSEST_CLIBPQ_H
#define PALIMPSEST_CLIBPQ_H

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef unsigned int Oid;

typedef enum { CONNECTION_OK = 0, CONNECTION_BAD = 1 } ConnStatusType;
typedef enum { PGRES_EMPTY_QUERY = 0, PGRES_COMMAND_OK = 1, PGRES_TUPLES_OK = 2 } ExecStatusType;

typedef struct pgNotify {
    char *relname;
    int be_pid;
    char *extra;
    struct pgNotify *next;
} PGnotify;

typedef void (*PQnoticeProcessor)(void *arg, const char *message);

/// Loads libpq and resolves every function below; NULL when that worked, else why not (the loader's
/// message). Safe to call from any thread, any number of times; the wrappers must not be called
/// before it has returned NULL.
const char *lpq_load(void);

PGconn *lpq_connectdb(const char *conninfo);
void lpq_finish(PGconn *conn);
void lpq_reset(PGconn *conn);
ConnStatusType lpq_status(const PGconn *conn);
char *lpq_errorMessage(const PGconn *conn);
int lpq_socket(const PGconn *conn);
PQnoticeProcessor lpq_setNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg);
PGresult *lpq_execParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                         const char *const *paramValues, const int *paramLengths, const int *paramFormats,
                         int resultFormat);
int lpq_consumeInput(PGconn *conn);
PGnotify *lpq_notifies(PGconn *conn);
ExecStatusType lpq_resultStatus(const PGresult *res);
char *lpq_resultErrorField(const PGresult *res, int fieldcode);
int lpq_ntuples(const PGresult *res);
char *lpq_getvalue(const PGresult *res, int tup_num, int field_num);
int lpq_getlength(const PGresult *res, int tup_num, int field_num);
int lpq_getisnull(const PGresult *res, int tup_num, int field_num);
void lpq_clear(PGresult *res);
void lpq_freemem(void *ptr);

#endif
