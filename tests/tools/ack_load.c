/*
 * ack_load: an OTLP/HTTP load client that records exactly which spans linerate acknowledged, for
 * kill -9 and Kafka outage tests. Every span it ever sends has an id unique to this run, and the
 * ids of every request answered 200 (without a partial_success) are appended to --acked FILE;
 * after the test every id in FILE must be found in Kafka (kafka_verify --ids-out), whatever
 * happened to linerate in between. Ids sent but not acknowledged need not be in Kafka.
 *
 * Usage:
 *   ack_load --port P --acked FILE [--host 127.0.0.1] [--conns C] [--spans S] [--traces T]
 *            [--duration-s D] [--run-id N] [--max-requests R] [--pause-ms M]
 *            [--error-pct E] [--slow-pct L] [--slow-ms MS]
 *
 *   --conns C         connections, one thread each (default 4)
 *   --spans S         spans per request (default 20)
 *   --traces T        trace ids per request, spans spread over them round-robin (default 4)
 *   --acked FILE      acked span ids, lowercase hex, one per line; appended to, never truncated
 *   --duration-s D    stop after D seconds (default: at SIGTERM or SIGINT)
 *   --run-id N        0..65535, part of every id (default: the pid's low 16 bits); runs that
 *                     append to the same FILE or write to the same topic need different ids
 *   --max-requests R  stop after R acknowledged requests in all (exactly R)
 *   --pause-ms M      pause between two requests on a connection (default 0)
 *   --error-pct E     0..100: share of spans with status ERROR (default 0)
 *   --slow-pct L      0..100-E: share of spans lasting --slow-ms (default 0)
 *   --slow-ms MS      how long the slow spans last (default 2000; the others last 1 ms)
 *
 * What kind a span is follows from its id, so that a test can sort the acked ids: with c the
 * per-connection span counter (the span id's low 32 bits), the span has status ERROR when
 * c % 100 < E, is slow when E <= c % 100 < E + L, and is a plain 1 ms span with no status
 * otherwise. (To keep plain spans in traces of their own, give every span its own trace:
 * --traces equal to --spans.)
 *
 * Each connection is a blocking TCP socket that sends HTTP/1.1 keep-alive `POST /v1/traces`
 * requests, one at a time, each an ExportTraceServiceRequest (protobuf-c): one ResourceSpans
 * (service.name "ack-load"), one ScopeSpans, S spans over T trace ids.
 *   span id   8 bytes big-endian: run id (16 bits), connection index (16), per-connection span
 *             counter (32, from 1)
 *   trace id  16 bytes big-endian: run id (16), connection index (16), per-connection request
 *             counter (64, from 1), trace index in the request (32)
 *
 * Outcomes per request:
 *   200             acked: its S ids are appended to FILE with one write() on an O_APPEND fd
 *                   shared by the threads, so lines never interleave and FILE holds exactly the
 *                   acked ids even if this tool is killed (at worst a killed run misses the ids
 *                   of the one response it had read and not yet written). A 200 whose
 *                   partial_success has rejected_spans > 0 counts as "partial" and records
 *                   nothing (linerate should never answer one to these spans).
 *   503, 429        "refused": sleep 50-100 ms, or Retry-After (capped at 1 s) when longer, then
 *                   send a new request (new ids).
 *   other status    "errors"; an undecodable 200 body counts here too.
 *   no full answer  "conn_errors": refused or failed connect, reset, EOF, malformed response or
 *                   30 s without progress (SO_RCVTIMEO/SO_SNDTIMEO). The socket is closed, the
 *                   request forgotten (never recorded), and a new connection made after 50 ms.
 *
 * Stops at --duration-s, after --max-requests, or at SIGTERM/SIGINT: requests in flight get up to
 * 1 s more for their answer, then are abandoned. Prints one line of JSON on stdout:
 *   {"acked_requests":N,"acked_spans":N,"refused":N,"errors":N,"conn_errors":N,"partial":N,
 *    "seconds":X,"spans_per_s":X}
 * Exit status: 0 done, 1 FILE could not be written (the JSON is still printed), 2 usage or setup
 * error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#define SPAN_ID_BYTES 8
#define TRACE_ID_BYTES 16
#define ID_LINE_BYTES (2 * SPAN_ID_BYTES + 1)
#define IO_TIMEOUT_MS 30000
#define STOP_GRACE_MS 1000
#define POLL_SLICE_MS 100
#define RECONNECT_PAUSE_MS 50
#define MAX_RETRY_AFTER_MS 1000
#define MAX_HEAD_BYTES (64 * 1024)
#define MAX_BODY_BYTES (16 * 1024 * 1024)
#define REQ_HEAD_MAX 512
#define MAX_CONNS 4096
#define MAX_SPANS 100000
#define MAX_LOGGED_CONN_ERRORS 10

enum io_result {
    IO_OK = 0,
    IO_FAIL = -1, /* connection failure: close, count, reconnect */
    IO_EOF = -2,  /* the peer closed */
    IO_STOP = -3, /* stopping, and the grace period ran out */
};

struct options {
    const char *host;
    const char *port;
    int conns;
    int spans;  /* per request */
    int traces; /* per request */
    const char *acked_path;
    long duration_s; /* 0: until a signal */
    uint16_t run_id;
    uint64_t max_requests; /* 0: no limit */
    int pause_ms;
    int error_pct, slow_pct; /* shares of ERROR and slow spans, by span counter % 100 */
    int slow_ms;
};

/* What the connection threads share. */
struct shared {
    const struct options *opts;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char host_header[300];
    int acked_fd;
    atomic_bool stop;
    _Atomic int64_t stop_ms;       /* when stop was set, CLOCK_MONOTONIC */
    atomic_bool write_failed;      /* FILE could not be written: exit status 1 */
    atomic_uint_fast64_t reserved; /* acked requests + requests in flight, for --max-requests */
    atomic_uint_fast64_t acked_requests;
    atomic_uint logged_errors;
};

struct response {
    int status;
    bool chunked;
    bool close;
    long long content_length; /* -1: none */
    long retry_after_s;       /* -1: none */
    const uint8_t *body;      /* borrows the connection's buffers, valid until its next read */
    size_t body_len;
    size_t consumed; /* bytes of rbuf the response took */
};

/* One connection and its thread. The request message is built once; each request rewrites its
 * ids and times in place, so the hot loop allocates nothing. */
struct conn {
    struct shared *sh;
    pthread_t thread;
    bool started;
    uint16_t index;
    int fd;
    uint32_t span_counter; /* last span id counter used */
    uint64_t req_counter;
    uint64_t rng;

    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req;
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs, *rs_p;
    Opentelemetry__Proto__Resource__V1__Resource res;
    Opentelemetry__Proto__Common__V1__KeyValue kv, *kv_p;
    Opentelemetry__Proto__Common__V1__AnyValue val;
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss, *ss_p;
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope;
    Opentelemetry__Proto__Trace__V1__Span *spans; /* opts->spans, owned */
    Opentelemetry__Proto__Trace__V1__Span **span_ps;
    Opentelemetry__Proto__Trace__V1__Status error_status; /* shared by the ERROR spans */
    uint8_t *span_ids;                                    /* spans * SPAN_ID_BYTES */
    uint8_t *trace_ids;                                   /* traces * TRACE_ID_BYTES */
    char *lines; /* spans * ID_LINE_BYTES: this request's ids as FILE lines */

    uint8_t *sbuf; /* the request: head and body */
    size_t sbuf_len, sbuf_cap;
    uint8_t *rbuf; /* bytes read and not yet consumed */
    size_t rbuf_len, rbuf_cap;
    uint8_t *body; /* a chunked body, decoded */
    size_t body_len, body_cap;

    uint64_t acked_requests, acked_spans, refused, errors, conn_errors, partial;
};

static char SERVICE_KEY[] = "service.name";
static char SERVICE_NAME[] = "ack-load";
static char SCOPE_NAME[] = "ack_load";
static char SPAN_NAME[] = "ack-load-span";
static char ERROR_MESSAGE[] = "ack-load error";

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[n - 1 - i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void request_stop(struct shared *sh)
{
    bool expected = false;

    if (atomic_compare_exchange_strong(&sh->stop, &expected, true)) {
        atomic_store(&sh->stop_ms, now_ms());
    }
}

/* True once stop was asked for more than STOP_GRACE_MS ago: whatever is in flight is abandoned. */
static bool stop_expired(struct shared *sh, int64_t now)
{
    return atomic_load(&sh->stop) && now - atomic_load(&sh->stop_ms) > STOP_GRACE_MS;
}

/* Sleeps ms milliseconds, or less when the run stops. */
static void pause_for(struct shared *sh, int64_t ms)
{
    int64_t end = now_ms() + ms;

    for (;;) {
        int64_t left = end - now_ms();
        if (left <= 0 || atomic_load(&sh->stop)) {
            return;
        }
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (left < 10 ? left : 10) * 1000000 };
        nanosleep(&ts, NULL);
    }
}

static void conn_log(struct conn *c, const char *what, int err)
{
    unsigned n = atomic_fetch_add(&c->sh->logged_errors, 1);

    if (n < MAX_LOGGED_CONN_ERRORS) {
        fprintf(stderr, "ack_load: conn %u: %s: %s\n", c->index, what, strerror(err));
    } else if (n == MAX_LOGGED_CONN_ERRORS) {
        fprintf(stderr, "ack_load: more connection errors follow, not shown\n");
    }
}

/* ---- socket I/O ------------------------------------------------------------------------- */

/* Waits until fd is ready for events, IO_TIMEOUT_MS at most; wakes every POLL_SLICE_MS to see
 * whether the run's stop grace period ran out. */
static int wait_fd(struct conn *c, short events)
{
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;

    for (;;) {
        int64_t now = now_ms();
        if (stop_expired(c->sh, now)) {
            return IO_STOP;
        }
        if (now >= deadline) {
            errno = ETIMEDOUT;
            return IO_FAIL;
        }
        struct pollfd p = { .fd = c->fd, .events = events };
        int n = poll(&p, 1, POLL_SLICE_MS);
        if (n > 0) {
            return IO_OK; /* POLLERR and POLLHUP too: the next send or recv says what */
        }
        if (n < 0 && errno != EINTR) {
            return IO_FAIL;
        }
    }
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->rbuf_len = 0;
}

/* Connects with a non-blocking connect() so that a stop is noticed, then makes the socket
 * blocking with 30 s send and receive timeouts. */
static int conn_open(struct conn *c)
{
    struct shared *sh = c->sh;
    struct timeval tv = { .tv_sec = IO_TIMEOUT_MS / 1000 };
    int one = 1, soerr = 0, rc;
    socklen_t len = sizeof(soerr);

    c->fd = socket(sh->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        return IO_FAIL;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(c->fd, (const struct sockaddr *)&sh->addr, sh->addr_len) != 0) {
        if (errno != EINPROGRESS) {
            goto fail;
        }
        rc = wait_fd(c, POLLOUT);
        if (rc != IO_OK) {
            conn_close(c);
            return rc;
        }
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
            goto fail;
        }
        if (soerr != 0) {
            errno = soerr;
            goto fail;
        }
    }
    if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        goto fail;
    }
    return IO_OK;
fail:
    rc = errno;
    conn_close(c);
    errno = rc;
    return IO_FAIL;
}

static int send_all(struct conn *c, const uint8_t *p, size_t len)
{
    size_t off = 0;

    while (off < len) {
        /* MSG_DONTWAIT: a peer that stops reading must not hold us past the stop grace. */
        ssize_t n = send(c->fd, p + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(c, POLLOUT);
            if (rc != IO_OK) {
                return rc;
            }
        } else {
            return IO_FAIL;
        }
    }
    return IO_OK;
}

static int grow(uint8_t **buf, size_t *cap, size_t need, size_t limit)
{
    size_t n = *cap ? *cap : 4096;

    if (need <= *cap) {
        return 0;
    }
    if (need > limit) {
        errno = EMSGSIZE;
        return -1;
    }
    while (n < need) {
        n *= 2;
    }
    if (n > limit) {
        n = limit;
    }
    void *p = realloc(*buf, n);
    if (p == NULL) {
        return -1;
    }
    *buf = p;
    *cap = n;
    return 0;
}

/* Reads more bytes into rbuf (growing it when full). IO_EOF when the peer closed. */
static int fill(struct conn *c)
{
    if (grow(&c->rbuf, &c->rbuf_cap, c->rbuf_len + 4096, MAX_HEAD_BYTES + MAX_BODY_BYTES) != 0) {
        return IO_FAIL;
    }
    for (;;) {
        int rc = wait_fd(c, POLLIN);
        if (rc != IO_OK) {
            return rc;
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rbuf_len, c->rbuf_cap - c->rbuf_len, MSG_DONTWAIT);
        if (n > 0) {
            c->rbuf_len += (size_t)n;
            return IO_OK;
        }
        if (n == 0) {
            errno = ECONNRESET;
            return IO_EOF;
        }
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
            return IO_FAIL;
        }
    }
}

/* Like fill, when the peer closing before the end of a response is a failure. */
static int fill_more(struct conn *c)
{
    int rc = fill(c);

    return rc == IO_EOF ? IO_FAIL : rc;
}

static void consume(struct conn *c, size_t n)
{
    memmove(c->rbuf, c->rbuf + n, c->rbuf_len - n);
    c->rbuf_len -= n;
}

/* ---- HTTP/1.1 response (RFC 9112) -------------------------------------------------------- */

static bool name_is(const uint8_t *name, size_t len, const char *want)
{
    return len == strlen(want) && strncasecmp((const char *)name, want, len) == 0;
}

/* Parses a decimal number of at most 18 digits; -1 when s is not one. */
static long long parse_decimal(const uint8_t *s, size_t len)
{
    long long v = 0;

    if (len == 0 || len > 18) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parses the status line and header fields, head[0..len) ending with the empty line.
 * Returns 0 or -1 when the head is malformed. */
static int parse_head(const uint8_t *head, size_t len, struct response *r)
{
    const uint8_t *end = head + len, *line, *eol;

    *r = (struct response){ .status = -1, .content_length = -1, .retry_after_s = -1 };
    eol = memmem(head, len, "\r\n", 2);
    /* "HTTP/1.x SSS" then, optionally, " reason" */
    if (eol == NULL || eol - head < 12 || memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ' ||
        (eol - head > 12 && head[12] != ' ')) {
        return -1;
    }
    r->status = (int)parse_decimal(head + 9, 3);
    if (r->status < 100) {
        return -1;
    }
    r->close = head[7] == '0'; /* HTTP/1.0: no keep-alive unless asked, and we do not ask */

    for (line = eol + 2; line < end; line = eol + 2) {
        eol = memmem(line, (size_t)(end - line), "\r\n", 2);
        if (eol == NULL) {
            return -1;
        }
        if (eol == line) {
            break;
        }
        const uint8_t *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL || colon == line) {
            return -1;
        }
        const uint8_t *v = colon + 1, *v_end = eol;
        while (v < v_end && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t')) {
            v_end--;
        }
        size_t name_len = (size_t)(colon - line), v_len = (size_t)(v_end - v);
        char value[256];
        size_t n = v_len < sizeof(value) - 1 ? v_len : sizeof(value) - 1;
        memcpy(value, v, n);
        value[n] = '\0';

        if (name_is(line, name_len, "content-length")) {
            long long cl = parse_decimal(v, v_len);
            if (cl < 0 || (r->content_length >= 0 && r->content_length != cl)) {
                return -1;
            }
            r->content_length = cl;
        } else if (name_is(line, name_len, "transfer-encoding")) {
            if (strcasestr(value, "chunked") != NULL) {
                r->chunked = true;
            }
        } else if (name_is(line, name_len, "connection")) {
            if (strcasestr(value, "close") != NULL) {
                r->close = true;
            }
        } else if (name_is(line, name_len, "retry-after")) {
            r->retry_after_s = (long)parse_decimal(v, v_len); /* an HTTP-date reads as -1 */
        }
    }
    return 0;
}

/* Finds "\r\n" at or after rbuf[pos], reading more as needed. Returns the line's length. */
static int read_line(struct conn *c, size_t pos, size_t *line_len)
{
    for (;;) {
        const uint8_t *eol = memmem(c->rbuf + pos, c->rbuf_len - pos, "\r\n", 2);
        if (eol != NULL) {
            *line_len = (size_t)(eol - (c->rbuf + pos));
            return IO_OK;
        }
        if (c->rbuf_len - pos > 4096) {
            errno = EPROTO;
            return IO_FAIL;
        }
        int rc = fill_more(c);
        if (rc != IO_OK) {
            return rc;
        }
    }
}

/* Decodes a chunked body starting at rbuf[pos] into c->body (RFC 9112 section 7.1). */
static int read_chunked(struct conn *c, size_t pos, struct response *r)
{
    size_t line_len;
    int rc;

    c->body_len = 0;
    for (;;) {
        size_t size = 0, digits = 0;
        rc = read_line(c, pos, &line_len);
        if (rc != IO_OK) {
            return rc;
        }
        for (; digits < line_len; digits++) {
            uint8_t ch = c->rbuf[pos + digits];
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d < 0) {
                break; /* chunk extensions, ignored */
            }
            size = size * 16 + (size_t)d;
            if (size > MAX_BODY_BYTES) {
                errno = EMSGSIZE;
                return IO_FAIL;
            }
        }
        if (digits == 0) {
            errno = EPROTO;
            return IO_FAIL;
        }
        pos += line_len + 2;
        if (size == 0) {
            break;
        }
        while (c->rbuf_len - pos < size + 2) {
            rc = fill_more(c);
            if (rc != IO_OK) {
                return rc;
            }
        }
        if (c->rbuf[pos + size] != '\r' || c->rbuf[pos + size + 1] != '\n') {
            errno = EPROTO;
            return IO_FAIL;
        }
        if (grow(&c->body, &c->body_cap, c->body_len + size, MAX_BODY_BYTES) != 0) {
            return IO_FAIL;
        }
        memcpy(c->body + c->body_len, c->rbuf + pos, size);
        c->body_len += size;
        pos += size + 2;
    }
    /* trailer fields, up to the empty line */
    do {
        rc = read_line(c, pos, &line_len);
        if (rc != IO_OK) {
            return rc;
        }
        pos += line_len + 2;
    } while (line_len > 0);
    r->body = c->body;
    r->body_len = c->body_len;
    r->consumed = pos;
    return IO_OK;
}

/* Reads one final response (1xx ones are skipped). */
static int read_response(struct conn *c, struct response *r)
{
    size_t head_len;
    int rc;

    for (;;) {
        const uint8_t *end = memmem(c->rbuf, c->rbuf_len, "\r\n\r\n", 4);
        if (end == NULL) {
            if (c->rbuf_len >= MAX_HEAD_BYTES) {
                errno = EMSGSIZE;
                return IO_FAIL;
            }
            rc = fill_more(c);
            if (rc != IO_OK) {
                return rc;
            }
            continue;
        }
        head_len = (size_t)(end - c->rbuf) + 4;
        if (parse_head(c->rbuf, head_len, r) != 0) {
            errno = EPROTO;
            return IO_FAIL;
        }
        if (r->status >= 200) {
            break;
        }
        consume(c, head_len);
    }

    if (r->status == 204 || r->status == 304) {
        r->body_len = 0;
        r->consumed = head_len;
    } else if (r->chunked) {
        return read_chunked(c, head_len, r);
    } else if (r->content_length >= 0) {
        if (r->content_length > MAX_BODY_BYTES) {
            errno = EMSGSIZE;
            return IO_FAIL;
        }
        size_t need = head_len + (size_t)r->content_length;
        while (c->rbuf_len < need) {
            rc = fill_more(c);
            if (rc != IO_OK) {
                return rc;
            }
        }
        r->body_len = (size_t)r->content_length;
        r->consumed = need;
    } else {
        /* No framing: the body runs to the end of the connection (RFC 9112 section 6.3). */
        for (;;) {
            rc = fill(c);
            if (rc == IO_EOF) {
                break;
            }
            if (rc != IO_OK) {
                return rc;
            }
        }
        r->close = true;
        r->body_len = c->rbuf_len - head_len;
        r->consumed = c->rbuf_len;
    }
    r->body = c->rbuf + head_len;
    return IO_OK;
}

/* ---- the request -------------------------------------------------------------------------- */

/* Builds the message skeleton once; ids and times are filled in by build_request. */
static int conn_init(struct conn *c, struct shared *sh, uint16_t index)
{
    const struct options *o = sh->opts;

    c->sh = sh;
    c->index = index;
    c->fd = -1;
    c->rng = 0x9e3779b97f4a7c15u ^ ((uint64_t)index << 32 | (uint64_t)getpid());
    c->spans = calloc((size_t)o->spans, sizeof(*c->spans));
    c->span_ps = calloc((size_t)o->spans, sizeof(*c->span_ps));
    c->span_ids = calloc((size_t)o->spans, SPAN_ID_BYTES);
    c->trace_ids = calloc((size_t)o->traces, TRACE_ID_BYTES);
    c->lines = malloc((size_t)o->spans * ID_LINE_BYTES);
    if (c->spans == NULL || c->span_ps == NULL || c->span_ids == NULL || c->trace_ids == NULL ||
        c->lines == NULL || grow(&c->rbuf, &c->rbuf_cap, 16384, 16384) != 0) {
        return -ENOMEM;
    }

    opentelemetry__proto__common__v1__any_value__init(&c->val);
    c->val.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    c->val.string_value = SERVICE_NAME;
    opentelemetry__proto__common__v1__key_value__init(&c->kv);
    c->kv.key = SERVICE_KEY;
    c->kv.value = &c->val;
    c->kv_p = &c->kv;
    opentelemetry__proto__resource__v1__resource__init(&c->res);
    c->res.n_attributes = 1;
    c->res.attributes = &c->kv_p;

    opentelemetry__proto__common__v1__instrumentation_scope__init(&c->scope);
    c->scope.name = SCOPE_NAME;
    opentelemetry__proto__trace__v1__status__init(&c->error_status);
    c->error_status.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
    c->error_status.message = ERROR_MESSAGE;
    for (int i = 0; i < o->spans; i++) {
        Opentelemetry__Proto__Trace__V1__Span *s = &c->spans[i];
        opentelemetry__proto__trace__v1__span__init(s);
        s->trace_id.len = TRACE_ID_BYTES;
        s->trace_id.data = c->trace_ids + (size_t)(i % o->traces) * TRACE_ID_BYTES;
        s->span_id.len = SPAN_ID_BYTES;
        s->span_id.data = c->span_ids + (size_t)i * SPAN_ID_BYTES;
        s->name = SPAN_NAME;
        s->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
        c->span_ps[i] = s;
    }
    opentelemetry__proto__trace__v1__scope_spans__init(&c->ss);
    c->ss.scope = &c->scope;
    c->ss.n_spans = (size_t)o->spans;
    c->ss.spans = c->span_ps;
    c->ss_p = &c->ss;

    opentelemetry__proto__trace__v1__resource_spans__init(&c->rs);
    c->rs.resource = &c->res;
    c->rs.n_scope_spans = 1;
    c->rs.scope_spans = &c->ss_p;
    c->rs_p = &c->rs;

    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&c->req);
    c->req.n_resource_spans = 1;
    c->req.resource_spans = &c->rs_p;
    return 0;
}

static void conn_free(struct conn *c)
{
    if (c->sh == NULL) {
        return; /* never initialised */
    }
    conn_close(c);
    free(c->spans);
    free(c->span_ps);
    free(c->span_ids);
    free(c->trace_ids);
    free(c->lines);
    free(c->sbuf);
    free(c->rbuf);
    free(c->body);
}

/* Gives the next request fresh ids and times and writes it, head and body, into sbuf; its ids
 * as FILE lines into c->lines. */
static int build_request(struct conn *c)
{
    static const char digits[] = "0123456789abcdef";
    const struct options *o = c->sh->opts;
    uint64_t end_ns = wall_ns();
    size_t body_len, head_len;
    char head[REQ_HEAD_MAX];
    int n;

    c->req_counter++;
    for (int t = 0; t < o->traces; t++) {
        uint8_t *id = c->trace_ids + (size_t)t * TRACE_ID_BYTES;
        put_be(id, o->run_id, 2);
        put_be(id + 2, c->index, 2);
        put_be(id + 4, c->req_counter, 8);
        put_be(id + 12, (uint32_t)t, 4);
    }
    for (int i = 0; i < o->spans; i++) {
        Opentelemetry__Proto__Trace__V1__Span *s = &c->spans[i];
        uint8_t *id = c->span_ids + (size_t)i * SPAN_ID_BYTES;
        char *line = c->lines + (size_t)i * ID_LINE_BYTES;
        c->span_counter++;
        put_be(id, o->run_id, 2);
        put_be(id + 2, c->index, 2);
        put_be(id + 4, c->span_counter, 4);
        for (int b = 0; b < SPAN_ID_BYTES; b++) {
            line[2 * b] = digits[id[b] >> 4];
            line[2 * b + 1] = digits[id[b] & 0xf];
        }
        line[2 * SPAN_ID_BYTES] = '\n';
        int kind = (int)(c->span_counter % 100);
        bool error = kind < o->error_pct;
        bool slow = !error && kind < o->error_pct + o->slow_pct;
        s->status = error ? &c->error_status : NULL;
        s->end_time_unix_nano = end_ns;
        s->start_time_unix_nano =
            end_ns - (slow ? (uint64_t)o->slow_ms * 1000000 : 1000000 + (uint64_t)i * 1000);
    }

    body_len =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
            &c->req);
    n = snprintf(head, sizeof(head),
                 "POST /v1/traces HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "Content-Type: application/x-protobuf\r\n"
                 "Content-Length: %zu\r\n"
                 "\r\n",
                 c->sh->host_header, body_len);
    if (n < 0 || (size_t)n >= sizeof(head)) {
        return -EINVAL;
    }
    head_len = (size_t)n;
    if (grow(&c->sbuf, &c->sbuf_cap, head_len + body_len, SIZE_MAX) != 0) {
        return -ENOMEM;
    }
    memcpy(c->sbuf, head, head_len);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(
        &c->req, c->sbuf + head_len);
    c->sbuf_len = head_len + body_len;
    return 0;
}

/* rejected_spans of a 200's ExportTraceServiceResponse (an empty body is a full success).
 * Returns 0, or -EBADMSG when the body does not decode. */
static int rejected_spans(const uint8_t *body, size_t len, int64_t *rejected)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *resp;

    *rejected = 0;
    if (len == 0) {
        return 0;
    }
    resp = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
        NULL, len, body);
    if (resp == NULL) {
        return -EBADMSG;
    }
    if (resp->partial_success != NULL) {
        *rejected = resp->partial_success->rejected_spans;
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* Appends this request's ids to FILE: one write(), so that concurrent appends never interleave
 * (O_APPEND writes to a regular file are atomic with respect to each other on Linux). */
static int record_acked(struct conn *c)
{
    size_t len = (size_t)c->sh->opts->spans * ID_LINE_BYTES;
    ssize_t n = write(c->sh->acked_fd, c->lines, len);

    if (n != (ssize_t)len) {
        fprintf(stderr, "ack_load: %s: %s\n", c->sh->opts->acked_path,
                n < 0 ? strerror(errno) : "short write");
        return -EIO;
    }
    return 0;
}

/* With --max-requests, takes a slot for one more request: acked plus in-flight requests never
 * exceed R, so exactly R get acked. Returns false when the run is over. */
static bool reserve(struct conn *c)
{
    struct shared *sh = c->sh;
    uint64_t max = sh->opts->max_requests;

    if (max == 0) {
        return true;
    }
    while (!atomic_load(&sh->stop)) {
        if (atomic_fetch_add(&sh->reserved, 1) < max) {
            return true;
        }
        atomic_fetch_sub(&sh->reserved, 1);
        if (atomic_load(&sh->acked_requests) >= max) {
            request_stop(sh);
            return false;
        }
        pause_for(sh, 10); /* another connection's request may still fail and free its slot */
    }
    return false;
}

static void release(struct conn *c)
{
    if (c->sh->opts->max_requests != 0) {
        atomic_fetch_sub(&c->sh->reserved, 1);
    }
}

/* Sorts out one answered request. Returns how long to pause before the next one, or -1 when
 * the run must stop. */
static int64_t handle_response(struct conn *c, const struct response *r)
{
    struct shared *sh = c->sh;
    int64_t rejected;

    if (r->status == 200) {
        if (rejected_spans(r->body, r->body_len, &rejected) != 0) {
            c->errors++;
        } else if (rejected > 0) {
            c->partial++;
        } else if (record_acked(c) != 0) {
            atomic_store(&sh->write_failed, true);
            request_stop(sh);
            return -1;
        } else {
            c->acked_requests++;
            c->acked_spans += (uint64_t)sh->opts->spans;
            uint64_t total = atomic_fetch_add(&sh->acked_requests, 1) + 1;
            if (sh->opts->max_requests != 0 && total >= sh->opts->max_requests) {
                request_stop(sh);
            }
            return sh->opts->pause_ms;
        }
    } else if (r->status == 503 || r->status == 429) {
        int64_t ms = 50 + (int64_t)(xorshift(&c->rng) % 51);
        c->refused++;
        if (r->retry_after_s > 0) {
            int64_t ra_ms = r->retry_after_s < MAX_RETRY_AFTER_MS / 1000
                                ? (int64_t)r->retry_after_s * 1000
                                : MAX_RETRY_AFTER_MS;
            ms = ra_ms > ms ? ra_ms : ms;
        }
        release(c);
        return ms;
    } else {
        c->errors++;
    }
    release(c);
    return sh->opts->pause_ms;
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct shared *sh = c->sh;
    const struct options *o = sh->opts;
    struct response r;
    int rc;

    while (!atomic_load(&sh->stop)) {
        if (c->fd < 0) {
            rc = conn_open(c);
            if (rc == IO_STOP) {
                break;
            }
            if (rc != IO_OK) {
                conn_log(c, "connect", errno);
                c->conn_errors++;
                pause_for(sh, RECONNECT_PAUSE_MS);
                continue;
            }
        }
        if ((uint64_t)c->span_counter + (uint64_t)o->spans > UINT32_MAX) {
            fprintf(stderr, "ack_load: conn %u: span id counter exhausted\n", c->index);
            request_stop(sh);
            break;
        }
        if (!reserve(c)) {
            break;
        }
        if (build_request(c) != 0) {
            fprintf(stderr, "ack_load: conn %u: cannot build a request\n", c->index);
            release(c);
            request_stop(sh);
            break;
        }
        rc = send_all(c, c->sbuf, c->sbuf_len);
        if (rc == IO_OK) {
            rc = read_response(c, &r);
        }
        if (rc != IO_OK) {
            /* The request's fate is unknown: it is not recorded, and never retried. */
            int err = errno;
            release(c);
            conn_close(c);
            if (rc == IO_STOP) {
                break;
            }
            conn_log(c, "request", err);
            c->conn_errors++;
            pause_for(sh, RECONNECT_PAUSE_MS);
            continue;
        }
        int64_t pause_ms = handle_response(c, &r);
        consume(c, r.consumed);
        if (r.close) {
            conn_close(c);
        }
        if (pause_ms < 0) {
            break;
        }
        if (pause_ms > 0) {
            pause_for(sh, pause_ms);
        }
    }
    conn_close(c);
    return NULL;
}

/* ---- main --------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: ack_load --port P --acked FILE [--host H] [--conns C] [--spans S]\n"
            "                [--traces T] [--duration-s D] [--run-id N] [--max-requests R]\n"
            "                [--pause-ms M] [--error-pct E] [--slow-pct L] [--slow-ms MS]\n"
            "  --host H          linerate's OTLP/HTTP address (default 127.0.0.1)\n"
            "  --conns C         connections, one thread each (default 4)\n"
            "  --spans S         spans per request (default 20)\n"
            "  --traces T        trace ids per request (default 4)\n"
            "  --acked FILE      append acked span ids here, hex, one per line\n"
            "  --duration-s D    stop after D seconds (default: at SIGTERM/SIGINT)\n"
            "  --run-id N        0..65535, in every span and trace id (default: from the pid)\n"
            "  --max-requests R  stop after R acked requests\n"
            "  --pause-ms M      pause between requests on a connection (default 0)\n"
            "  --error-pct E     share of spans with status ERROR, by span counter %% 100\n"
            "  --slow-pct L      share of spans lasting --slow-ms, after the ERROR ones\n"
            "  --slow-ms MS      how long slow spans last (default 2000)\n");
    exit(2);
}

static long long parse_num(const char *s, const char *what, long long min, long long max)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "ack_load: bad %s: %s (%lld..%lld)\n", what, s, min, max);
        usage();
    }
    return v;
}

static int resolve(struct shared *sh, const struct options *o)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);

    if (rc != 0) {
        fprintf(stderr, "ack_load: %s:%s: %s\n", o->host, o->port, gai_strerror(rc));
        return -1;
    }
    memcpy(&sh->addr, res->ai_addr, res->ai_addrlen);
    sh->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    snprintf(sh->host_header, sizeof(sh->host_header),
             strchr(o->host, ':') != NULL ? "[%s]:%s" : "%s:%s", o->host, o->port);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "host", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },
        { "conns", required_argument, NULL, 'c' },
        { "spans", required_argument, NULL, 's' },
        { "traces", required_argument, NULL, 't' },
        { "acked", required_argument, NULL, 'a' },
        { "duration-s", required_argument, NULL, 'd' },
        { "run-id", required_argument, NULL, 'r' },
        { "max-requests", required_argument, NULL, 'm' },
        { "pause-ms", required_argument, NULL, 'P' },
        { "error-pct", required_argument, NULL, 'E' },
        { "slow-pct", required_argument, NULL, 'L' },
        { "slow-ms", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct options opts = {
        .host = "127.0.0.1",
        .conns = 4,
        .spans = 20,
        .traces = 4,
        .run_id = (uint16_t)getpid(),
        .slow_ms = 2000,
    };
    struct shared sh = { .opts = &opts, .acked_fd = -1 };
    struct conn *conns = NULL;
    sigset_t sigs;
    int64_t start_ms, end_ms;
    uint64_t tot[6] = { 0 };
    double seconds;
    int c, rc = 2;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'H':
            opts.host = optarg;
            break;
        case 'p':
            parse_num(optarg, "--port", 1, 65535);
            opts.port = optarg;
            break;
        case 'c':
            opts.conns = (int)parse_num(optarg, "--conns", 1, MAX_CONNS);
            break;
        case 's':
            opts.spans = (int)parse_num(optarg, "--spans", 1, MAX_SPANS);
            break;
        case 't':
            opts.traces = (int)parse_num(optarg, "--traces", 1, MAX_SPANS);
            break;
        case 'a':
            opts.acked_path = optarg;
            break;
        case 'd':
            opts.duration_s = (long)parse_num(optarg, "--duration-s", 1, 365L * 24 * 3600);
            break;
        case 'r':
            opts.run_id = (uint16_t)parse_num(optarg, "--run-id", 0, 65535);
            break;
        case 'm':
            opts.max_requests = (uint64_t)parse_num(optarg, "--max-requests", 1, INT64_MAX);
            break;
        case 'P':
            opts.pause_ms = (int)parse_num(optarg, "--pause-ms", 0, 3600 * 1000);
            break;
        case 'E':
            opts.error_pct = (int)parse_num(optarg, "--error-pct", 0, 100);
            break;
        case 'L':
            opts.slow_pct = (int)parse_num(optarg, "--slow-pct", 0, 100);
            break;
        case 'S':
            opts.slow_ms = (int)parse_num(optarg, "--slow-ms", 1, 3600 * 1000);
            break;
        default:
            usage();
        }
    }
    if (opts.error_pct + opts.slow_pct > 100) {
        fprintf(stderr, "ack_load: --error-pct plus --slow-pct is above 100\n");
        usage();
    }
    if (opts.port == NULL || opts.acked_path == NULL || optind != argc) {
        usage();
    }
    if (resolve(&sh, &opts) != 0) {
        return 2;
    }
    sh.acked_fd = open(opts.acked_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (sh.acked_fd < 0) {
        fprintf(stderr, "ack_load: %s: %s\n", opts.acked_path, strerror(errno));
        return 2;
    }

    /* The threads inherit the mask: SIGTERM and SIGINT are taken only by sigtimedwait below. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    conns = calloc((size_t)opts.conns, sizeof(*conns));
    if (conns == NULL) {
        perror("ack_load: calloc");
        goto cleanup;
    }
    for (int i = 0; i < opts.conns; i++) {
        if (conn_init(&conns[i], &sh, (uint16_t)i) != 0) {
            perror("ack_load: conn_init");
            goto cleanup;
        }
    }

    start_ms = now_ms();
    for (int i = 0; i < opts.conns; i++) {
        int err = pthread_create(&conns[i].thread, NULL, conn_main, &conns[i]);
        if (err != 0) {
            fprintf(stderr, "ack_load: pthread_create: %s\n", strerror(err));
            request_stop(&sh);
            break;
        }
        conns[i].started = true;
    }
    while (!atomic_load(&sh.stop)) {
        struct timespec slice = { .tv_sec = 0, .tv_nsec = 100 * 1000000 };
        if (sigtimedwait(&sigs, NULL, &slice) > 0) {
            request_stop(&sh);
        } else if (opts.duration_s > 0 && now_ms() - start_ms >= opts.duration_s * 1000) {
            request_stop(&sh);
        }
    }
    for (int i = 0; i < opts.conns; i++) {
        if (conns[i].started) {
            pthread_join(conns[i].thread, NULL);
        }
    }
    end_ms = now_ms();

    for (int i = 0; i < opts.conns; i++) {
        tot[0] += conns[i].acked_requests;
        tot[1] += conns[i].acked_spans;
        tot[2] += conns[i].refused;
        tot[3] += conns[i].errors;
        tot[4] += conns[i].conn_errors;
        tot[5] += conns[i].partial;
    }
    seconds = (double)(end_ms - start_ms) / 1000.0;
    printf("{\"acked_requests\":%" PRIu64 ",\"acked_spans\":%" PRIu64 ",\"refused\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"conn_errors\":%" PRIu64 ",\"partial\":%" PRIu64
           ",\"seconds\":%.3f,\"spans_per_s\":%.1f}\n",
           tot[0], tot[1], tot[2], tot[3], tot[4], tot[5], seconds,
           seconds > 0 ? (double)tot[1] / seconds : 0.0);
    fflush(stdout);
    rc = atomic_load(&sh.write_failed) ? 1 : 0;

cleanup:
    if (conns != NULL) {
        for (int i = 0; i < opts.conns; i++) {
            conn_free(&conns[i]);
        }
        free(conns);
    }
    if (sh.acked_fd >= 0 && close(sh.acked_fd) != 0) {
        fprintf(stderr, "ack_load: %s: %s\n", opts.acked_path, strerror(errno));
        rc = rc == 0 ? 1 : rc;
    }
    return rc;
}
