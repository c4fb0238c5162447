// OpenSSL's libcrypto, for one thing only: SHA-256 of many short inputs (text commitments hash every
// sentence of every version). Its SHA256_Init/Update/Final work on a context on the caller's stack;
// swift-crypto's SHA256 allocates a context object per hash, which costs more than hashing a
// sentence. The 1.1 API level keeps those functions undeprecated (they remain in OpenSSL 3).
#define OPENSSL_API_COMPAT 0x10100000L
#include <openssl/sha.h>
