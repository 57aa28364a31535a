/* The transport-agnostic HTTP/2 + gRPC engine (dataplane/h2.c), built on nghttp2.
 *
 * Like the HTTP/1.1 engine (http1.h) it is fed the bytes a transport received and produces the
 * bytes to send; it never calls a socket or a clock. It serves unary gRPC calls over h2c (prior
 * knowledge): 5-byte message framing, grpc-encoding (gzip, deflate, zstd, snappy) bounded by
 * max_message_bytes after decompression, grpc-timeout, and answers with a response message,
 * then trailers carrying grpc-status (and grpc-message, grpc-status-details-bin).
 *
 * Defences, each bounded by lr_h2_limits: max concurrent streams, header list size, HPACK table
 * size, flow-control windows, rapid reset (CVE-2023-44487), CONTINUATION floods, HPACK bombs,
 * SETTINGS/PING/empty-frame floods, slowloris (header timeout) and zero-window stalls (a peer that
 * stops reading: send timeout). An offender gets GOAWAY and the connection closes.
 *
 * Threads: a connection belongs to one thread. */
#ifndef LINERATE_H2_H
#define LINERATE_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "linerate/slice.h"

/* The HTTP/2 client connection preface (RFC 9113 §3.4). */
#define LR_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define LR_H2_PREFACE_LEN 24

struct lr_h2_limits {
    uint32_t max_concurrent_streams;   /* SETTINGS_MAX_CONCURRENT_STREAMS (default 100) */
    uint32_t max_header_list_bytes;    /* SETTINGS_MAX_HEADER_LIST_SIZE (default 16 KiB) */
    uint32_t hpack_table_bytes;        /* SETTINGS_HEADER_TABLE_SIZE (default 4096) */
    uint32_t stream_window_bytes;      /* SETTINGS_INITIAL_WINDOW_SIZE (default 1 MiB) */
    uint32_t connection_window_bytes;  /* connection receive window (default 16 MiB) */
    size_t max_message_bytes;          /* gRPC message after decompression (default 4 MiB) */
    uint32_t max_resets_per_s;         /* RST_STREAM from the peer per second before GOAWAY */
    uint32_t max_control_frames_per_s; /* SETTINGS/PING/empty DATA/... per second */
    uint64_t header_timeout_ns;        /* preface + first complete request, and each request's
                                          HEADERS..END_STREAM, must arrive within this */
    uint64_t idle_timeout_ns;          /* no stream open and no bytes: close (GOAWAY) */
    uint64_t send_timeout_ns;          /* output pending with no progress (zero window): close */
};

/* Fills `l` with the defaults above. */
void lr_h2_limits_default(struct lr_h2_limits *l);

/* One unary gRPC call, complete (all DATA received, message decompressed). Borrows from the
 * connection; valid only during the callback. */
struct lr_grpc_req {
    int32_t stream_id;
    struct lr_slice
        path; /* :path, e.g. "/opentelemetry.proto.collector.trace.v1.TraceService/Export" */
    struct lr_slice content_type; /* "application/grpc" or "application/grpc+proto" ... */
    struct lr_slice encoding;     /* grpc-encoding as sent ("" when absent or identity) */
    uint64_t timeout_ns;          /* grpc-timeout (0: none) */
    struct lr_slice message;      /* the request message, decompressed (empty in on_headers) */
};

/* The handler's answer. Everything is borrowed until the handler returns (the engine copies). */
struct lr_grpc_resp {
    int grpc_status;                /* google.rpc.Code; 0 = OK */
    const char *grpc_message;       /* NULL or UTF-8 text (the engine percent-encodes it) */
    struct lr_slice message;        /* the response message; sent (framed) when grpc_status == 0 */
    struct lr_slice status_details; /* serialized google.rpc.Status for grpc-status-details-bin
                                       (the engine base64-encodes it); empty: header omitted */
};

struct lr_h2_handler {
    /* Optional. Called when a request's headers are complete: return 0 to go on, or an LR_E_*
     * with *reason set (static) to refuse it; the engine answers with the gRPC status that
     * lr_err_lookup() maps it to, without reading the body. */
    int (*on_headers)(void *ctx, const struct lr_grpc_req *req, const char **reason);
    /* Called for every complete call. Must fill `resp`. */
    void (*on_request)(void *ctx, const struct lr_grpc_req *req, struct lr_grpc_resp *resp);
    void *ctx;
};

struct lr_h2_conn;

/* Returns an owned server connection, or NULL with errno set. `limits` and `handler` copied.
 * The server's SETTINGS are queued in the output at once. */
struct lr_h2_conn *lr_h2_conn_new(const struct lr_h2_limits *limits,
                                  const struct lr_h2_handler *handler, uint64_t now_ns);

void lr_h2_conn_free(struct lr_h2_conn *c); /* accepts NULL */

/* Feeds received bytes (borrows `p`). Runs the handler for each call they complete. Returns n, or
 * a negative LR_E_* when the connection must be closed once the queued output is sent (protocol
 * error, flood, limit): further feeds consume nothing and return the same error. */
ssize_t lr_h2_conn_feed(struct lr_h2_conn *c, const uint8_t *p, size_t n, uint64_t now_ns);

/* The peer closed its sending side. */
void lr_h2_conn_eof(struct lr_h2_conn *c);

/* Bytes waiting to be sent (borrowed until the next call on `c`); output_consumed advances. */
struct lr_slice lr_h2_conn_output(struct lr_h2_conn *c);
void lr_h2_conn_output_consumed(struct lr_h2_conn *c, size_t n, uint64_t now_ns);

/* Timer check: 0, or LR_E_TIMEOUT when the connection must close (GOAWAY queued). */
int lr_h2_conn_tick(struct lr_h2_conn *c, uint64_t now_ns);

/* Graceful shutdown: queue GOAWAY (last stream id = the highest seen), finish open streams. */
void lr_h2_conn_shutdown(struct lr_h2_conn *c);

/* True when finished: close once lr_h2_conn_output() is empty. */
bool lr_h2_conn_closing(const struct lr_h2_conn *c);

/* True when no stream is open (a draining server may close it once output is sent). */
bool lr_h2_conn_idle(const struct lr_h2_conn *c);

/* Calls completed so far. */
uint64_t lr_h2_conn_requests(const struct lr_h2_conn *c);

#endif
