/* Errors that cross module boundaries, and the one table that maps them to protocol codes.
 *
 * Functions return 0 (or a count) on success and a negative value on failure: either -errno or
 * one of the LR_E_* values below (all far below -4096, so they never collide with errno). */
#ifndef LINERATE_ERROR_H
#define LINERATE_ERROR_H

enum lr_err {
    LR_OK = 0,
    LR_E_INCOMPLETE = -10000,  /* incremental parser: nothing changed, give me more bytes */
    LR_E_MALFORMED = -10001,   /* the input breaks its wire format */
    LR_E_TOO_LARGE = -10002,   /* a size limit was exceeded (body, header, message) */
    LR_E_MEDIA_TYPE = -10003,  /* unsupported Content-Type or Content-Encoding */
    LR_E_NOT_FOUND = -10004,   /* unknown path or service */
    LR_E_METHOD = -10005,      /* method not allowed on this path */
    LR_E_OVERLOADED = -10006,  /* queue full: retry later */
    LR_E_TIMEOUT = -10007,     /* a deadline passed (header, idle, request) */
    LR_E_HEADERS = -10008,     /* too many headers, or a header line too long */
    LR_E_UNAVAILABLE = -10009, /* shutting down or not ready */
    LR_E_INTERNAL = -10010,    /* a bug or an allocation failure on our side */
    LR_E_NOT_IMPLEMENTED =
        -10011, /* a protocol feature we refuse (e.g. an unknown transfer coding) */
};

/* What a protocol says for an internal error. */
struct lr_err_map {
    int err;            /* enum lr_err */
    int http_status;    /* RFC 9110 status code */
    int grpc_status;    /* gRPC status code (google.rpc.Code) */
    int retryable;      /* OTLP: the client may retry (429/502/503/504, UNAVAILABLE, ...) */
    const char *reason; /* HTTP reason phrase */
};

/* Returns the mapping for `err` (an enum lr_err or -errno); unknown values map to
 * LR_E_INTERNAL. Never NULL. Thread-safe (static table). */
const struct lr_err_map *lr_err_lookup(int err);

/* Returns a static, human-readable name for `err` ("malformed", "too large", ...). */
const char *lr_err_name(int err);

#endif
