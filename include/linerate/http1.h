/* The transport-agnostic HTTP/1.1 engine (dataplane/http1.c).
 *
 * The engine is fed the bytes a transport received and produces the bytes the transport must
 * send; it never calls a socket, a clock or an allocator per byte. The kernel-socket workers, the
 * admin endpoint and (later) the userspace TCP stack feed the very same engine.
 *
 * Per connection it parses request lines and headers (RFC 9112), keep-alive and pipelining,
 * Content-Length and chunked bodies, `Expect: 100-continue`, and decodes `Content-Encoding: gzip`
 * (also `x-gzip`, `deflate`, `zlib` streaming; `zstd`, `snappy`, `x-snappy-framed`, `lz4` via
 * codec.h) with the body limit counted after decompression, so a gzip bomb stops at the limit
 * without allocating past it. Every complete request goes to the handler, in order; responses are
 * queued in order.
 *
 * Threads: a connection belongs to one thread. */
#ifndef LINERATE_HTTP1_H
#define LINERATE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "linerate/slice.h"

struct lr_http1_limits {
    size_t max_header_bytes; /* request line + all header lines, bytes (431 above) */
    uint32_t max_headers;    /* header lines (431 above) */
    size_t max_body_bytes;   /* body after de-chunking and decompression (413 above) */
    uint64_t
        header_timeout_ns;    /* from the first byte of a request to the end of its headers (408) */
    uint64_t idle_timeout_ns; /* no bytes on a connection with no request in progress: close */
    uint64_t body_timeout_ns; /* no progress on a body this long: 408 and close */
};

struct lr_http_header {
    struct lr_slice name;  /* as received (compare case-insensitively) */
    struct lr_slice value; /* leading/trailing whitespace removed */
};

/* A request as the engine hands it to the handler. Everything borrows from the connection and is
 * valid only during the callback. */
struct lr_http_req {
    struct lr_slice method;
    struct lr_slice target; /* request-target as sent (path and query) */
    struct lr_slice path;   /* target without the query */
    int version_minor;      /* HTTP/1.x */
    const struct lr_http_header *headers;
    uint32_t n_headers;
    struct lr_slice content_type;     /* media type only, lowercased view is NOT made: compare
                                         case-insensitively; parameters (;charset=...) stripped */
    struct lr_slice content_encoding; /* as sent ("" when absent) */
    bool has_content_length;
    uint64_t content_length; /* when has_content_length */
    bool chunked;
    bool keep_alive;      /* the connection stays open after this request */
    struct lr_slice body; /* de-chunked and decompressed; empty in on_headers */
};

/* What the handler answers. `body` is borrowed until the handler returns (the engine copies it).
 * `extra_headers` is NULL or complete header lines, each ending in CRLF (e.g. "Retry-After:
 * 1\r\n"). */
struct lr_http_resp {
    int status;
    const char *content_type; /* NULL: no Content-Type header */
    struct lr_slice body;
    const char *extra_headers;
    bool close; /* close the connection after this response */
};

struct lr_http_handler {
    /* Optional (may be NULL). Called when the headers of a request are complete, before its body
     * is read: return 0 to go on, or an LR_E_* (e.g. LR_E_NOT_FOUND, LR_E_METHOD, LR_E_MEDIA_TYPE,
     * LR_E_TOO_LARGE) with *reason set to a static string to refuse the request early. A refused
     * request is answered through on_error and its body is not delivered (the connection is
     * closed when the body cannot be skipped safely). No `100 Continue` is sent for it. */
    int (*on_headers)(void *ctx, const struct lr_http_req *req, const char **reason);
    /* Called for every complete request. Must fill `resp`. */
    void (*on_request)(void *ctx, const struct lr_http_req *req, struct lr_http_resp *resp);
    /* Called for every error answered with a response: the engine's own (bad framing → 400,
     * header limits → 431, body limit → 413, unsupported coding → 415/501, timeouts → 408) and
     * refusals from on_headers. `err` is an enum lr_err; `req` is the request as far as it was
     * parsed (NULL when not even the request line parsed). The handler fills `resp` (status
     * pre-set by the engine from lr_err_lookup(err); the handler sets body and content type). */
    void (*on_error)(void *ctx, const struct lr_http_req *req, int err, const char *reason,
                     struct lr_http_resp *resp);
    void *ctx;
};

struct lr_http1_conn;

/* Returns an owned connection (free with lr_http1_conn_free), or NULL with errno set.
 * `limits` and `handler` are copied. */
struct lr_http1_conn *lr_http1_conn_new(const struct lr_http1_limits *limits,
                                        const struct lr_http_handler *handler, uint64_t now_ns);

/* Frees `c` and everything it holds. Accepts NULL. */
void lr_http1_conn_free(struct lr_http1_conn *c);

/* Feeds `n` bytes received from the peer (borrows `p`: the engine copies what it keeps). Runs the
 * handler for each request these bytes complete and queues the responses.
 * Returns n (all consumed), or a negative LR_E_* when the connection must be closed once the
 * queued output has been sent (after a fatal framing error, an early refusal whose body cannot
 * be skipped, or `Connection: close`; a graceful close, after a response, returns
 * LR_E_UNAVAILABLE). After a negative return, further feeds return the same error and consume
 * nothing. While more than 1 MiB of output is unsent, further pipelined requests are buffered
 * (bounded) and not parsed; lr_http1_conn_output_consumed() resumes them. */
ssize_t lr_http1_conn_feed(struct lr_http1_conn *c, const uint8_t *p, size_t n, uint64_t now_ns);

/* The peer closed its sending side. Returns 0, or LR_E_MALFORMED when a request was cut off
 * (nothing is answered for it). The connection should be closed once output is flushed. */
int lr_http1_conn_eof(struct lr_http1_conn *c);

/* Bytes waiting to be sent (borrowed until the next call on `c`). */
struct lr_slice lr_http1_conn_output(const struct lr_http1_conn *c);

/* The transport sent the first `n` bytes of the output. May run the handler for requests that
 * were buffered while output was backed up (see lr_http1_conn_feed). */
void lr_http1_conn_output_consumed(struct lr_http1_conn *c, size_t n);

/* Timer check. Returns 0 while the connection may live on, LR_E_TIMEOUT when it must be closed
 * once the queued output has been sent (a 408 is queued when a request was in progress). */
int lr_http1_conn_tick(struct lr_http1_conn *c, uint64_t now_ns);

/* True when the connection is finished: close it as soon as lr_http1_conn_output() is empty. */
bool lr_http1_conn_closing(const struct lr_http1_conn *c);

/* True when no request is in progress: no byte of a next request has arrived (a draining server
 * may close the connection without cutting anyone off once its output is sent). */
bool lr_http1_conn_idle(const struct lr_http1_conn *c);

/* Requests completed on this connection so far (for counters and tests). */
uint64_t lr_http1_conn_requests(const struct lr_http1_conn *c);

#endif
