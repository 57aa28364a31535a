/* The one table that maps linerate's internal errors to protocol codes (include/linerate/error.h).
 * HTTP statuses follow the OTLP/HTTP specification's "Failures" section: 400 for bad data (not
 * retryable), 413 for too large, 429/502/503/504 are the retryable ones. gRPC codes follow the
 * OTLP/gRPC specification's retryable-code table (UNAVAILABLE, RESOURCE_EXHAUSTED with RetryInfo).
 */
#include <errno.h>
#include <stddef.h>

#include "linerate/error.h"

/* google.rpc.Code values. */
enum {
    GRPC_OK = 0,
    GRPC_DEADLINE_EXCEEDED = 4,
    GRPC_NOT_FOUND = 5,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_UNIMPLEMENTED = 12,
    GRPC_INTERNAL = 13,
    GRPC_UNAVAILABLE = 14,
};

static const struct lr_err_map table[] = {
    { LR_OK, 200, GRPC_OK, 0, "OK" },
    { LR_E_INCOMPLETE, 400, GRPC_INVALID_ARGUMENT, 0, "Bad Request" },
    { LR_E_MALFORMED, 400, GRPC_INVALID_ARGUMENT, 0, "Bad Request" },
    { LR_E_TOO_LARGE, 413, GRPC_RESOURCE_EXHAUSTED, 0, "Content Too Large" },
    { LR_E_MEDIA_TYPE, 415, GRPC_UNIMPLEMENTED, 0, "Unsupported Media Type" },
    { LR_E_NOT_FOUND, 404, GRPC_UNIMPLEMENTED, 0, "Not Found" },
    { LR_E_METHOD, 405, GRPC_UNIMPLEMENTED, 0, "Method Not Allowed" },
    { LR_E_OVERLOADED, 503, GRPC_UNAVAILABLE, 1, "Service Unavailable" },
    { LR_E_TIMEOUT, 408, GRPC_DEADLINE_EXCEEDED, 1, "Request Timeout" },
    { LR_E_HEADERS, 431, GRPC_INVALID_ARGUMENT, 0, "Request Header Fields Too Large" },
    { LR_E_UNAVAILABLE, 503, GRPC_UNAVAILABLE, 1, "Service Unavailable" },
    { LR_E_INTERNAL, 500, GRPC_INTERNAL, 0, "Internal Server Error" },
    { LR_E_NOT_IMPLEMENTED, 501, GRPC_UNIMPLEMENTED, 0, "Not Implemented" },
};

static const char *const names[] = {
    "ok",          "incomplete",         "malformed",       "too large", "unsupported media type",
    "not found",   "method not allowed", "overloaded",      "timeout",   "header limits",
    "unavailable", "internal",           "not implemented",
};

static size_t index_of(int err)
{
    if (err == LR_OK)
        return 0;
    if (err <= LR_E_INCOMPLETE && err >= LR_E_NOT_IMPLEMENTED)
        return (size_t)(LR_E_INCOMPLETE - err) + 1;
    if (err == -ENOMEM || err == -ENOBUFS || err == -EAGAIN)
        return (size_t)(LR_E_INCOMPLETE - LR_E_OVERLOADED) + 1;
    return (size_t)(LR_E_INCOMPLETE - LR_E_INTERNAL) + 1;
}

const struct lr_err_map *lr_err_lookup(int err)
{
    return &table[index_of(err)];
}

const char *lr_err_name(int err)
{
    return names[index_of(err)];
}
