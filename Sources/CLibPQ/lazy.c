#include "CLibPQ.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// One pointer per libpq function, resolved by lpq_load.
#define LPQ_FUNCTIONS(X)                                                                                          \
    X(PGconn *, PQconnectdb, (const char *))                                                                      \
    X(void, PQfinish, (PGconn *))                                                                                 \
    X(void, PQreset, (PGconn *))                                                                                  \
    X(ConnStatusType, PQstatus, (const PGconn *))                                                                 \
    X(char *, PQerrorMessage, (const PGconn *))                                                                   \
    X(int, PQsocket, (const PGconn *))                                                                            \
    X(PQnoticeProcessor, PQsetNoticeProcessor, (PGconn *, PQnoticeProcessor, void *))                             \
    X(PGresult *, PQexecParams, (PGconn *, const char *, int, const Oid *, const char *const *, const int *,      \
                                 const int *, int))                                                               \
    X(int, PQconsumeInput, (PGconn *))                                                                            \
    X(PGnotify *, PQnotifies, (PGconn *))                                                                         \
    X(ExecStatusType, PQresultStatus, (const PGresult *))                                                         \
    X(char *, PQresultErrorField, (const PGresult *, int))                                                        \
    X(int, PQntuples, (const PGresult *))                                                                         \
    X(char *, PQgetvalue, (const PGresult *, int, int))                                                           \
    X(int, PQgetlength, (const PGresult *, int, int))                                                             \
    X(int, PQgetisnull, (const PGresult *, int, int))                                                             \
    X(void, PQclear, (PGresult *))                                                                                \
    X(void, PQfreemem, (void *))

#define LPQ_POINTER(result, name, parameters) static result(*p_##name) parameters;
LPQ_FUNCTIONS(LPQ_POINTER)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *failure = NULL;
static char failureText[512];

static void load(void) {
    void *library = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *why = dlerror();
        snprintf(failureText, sizeof failureText, "%s", why ? why : "libpq.so.5 could not be loaded");
        failure = failureText;
        return;
    }
#define LPQ_RESOLVE(result, name, parameters)                                                                     \
    p_##name = (result(*) parameters)dlsym(library, #name);                                                      \
    if (!p_##name) {                                                                                              \
        snprintf(failureText, sizeof failureText, "libpq.so.5 has no %s", #name);                                 \
        failure = failureText;                                                                                    \
        return;                                                                                                   \
    }
    LPQ_FUNCTIONS(LPQ_RESOLVE)
}

const char *lpq_load(void) {
    pthread_once(&once, load);
    return failure;
}

PGconn *lpq_connectdb(const char *conninfo) { return p_PQconnectdb(conninfo); }
void lpq_finish(PGconn *conn) { p_PQfinish(conn); }
void lpq_reset(PGconn *conn) { p_PQreset(conn); }
ConnStatusType lpq_status(const PGconn *conn) { return p_PQstatus(conn); }
char *lpq_errorMessage(const PGconn *conn) { return p_PQerrorMessage(conn); }
int lpq_socket(const PGconn *conn) { return p_PQsocket(conn); }
PQnoticeProcessor lpq_setNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg) {
    return p_PQsetNoticeProcessor(conn, proc, arg);
}
PGresult *lpq_execParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                         const char *const *paramValues, const int *paramLengths, const int *paramFormats,
                         int resultFormat) {
    return p_PQexecParams(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat);
}
int lpq_consumeInput(PGconn *conn) { return p_PQconsumeInput(conn); }
PGnotify *lpq_notifies(PGconn *conn) { return p_PQnotifies(conn); }
ExecStatusType lpq_resultStatus(const PGresult *res) { return p_PQresultStatus(res); }
char *lpq_resultErrorField(const PGresult *res, int fieldcode) { return p_PQresultErrorField(res, fieldcode); }
int lpq_ntuples(const PGresult *res) { return p_PQntuples(res); }
char *lpq_getvalue(const PGresult *res, int tup_num, int field_num) { return p_PQgetvalue(res, tup_num, field_num); }
int lpq_getlength(const PGresult *res, int tup_num, int field_num) { return p_PQgetlength(res, tup_num, field_num); }
int lpq_getisnull(const PGresult *res, int tup_num, int field_num) { return p_PQgetisnull(res, tup_num, field_num); }
void lpq_clear(PGresult *res) { p_PQclear(res); }
void lpq_freemem(void *ptr) { p_PQfreemem(ptr); }
