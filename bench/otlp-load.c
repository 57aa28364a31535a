/*
 * otlp-load: an OTLP load generator for linerate (and any OTLP receiver), HTTP/1.1 and gRPC.
 *
 * Usage:
 *   otlp-load --target http://HOST:PORT[/PATH] | grpc://HOST:PORT[/PATH]
 *             [--signal traces|metrics|logs | --mix traces=8,metrics=1,logs=1]
 *             [--connections N] [--inflight M] [--threads T] [--rate R]
 *             [--duration-s D | --requests N] [--warmup-s W] [--timeout-s S]
 *             [--gzip] [--chunked] [--spans-per-request 100] [--spans-per-trace 10]
 *             [--pool K] [--seed S] [--cpu] [--quiet] [--dump-requests DIR]
 *
 *   --target URL          http:// is OTLP/HTTP over HTTP/1.1 (POST /v1/traces, /v1/metrics,
 *                         /v1/logs, application/x-protobuf); grpc:// is OTLP/gRPC over cleartext
 *                         HTTP/2 with prior knowledge (/opentelemetry.proto.collector.<signal>.v1.
 *                         <Signal>Service/Export). A PATH in the URL replaces every signal's path
 *                         (to check that errors are reported).
 *   --signal, --mix       what to send: one signal, or weights per signal (default traces only).
 *                         A mix is sent in a fixed rotation of the weights (8 traces, 1 metrics,
 *                         1 logs, ...), per thread.
 *   --connections N       TCP connections in all (default 4), spread over the threads.
 *   --inflight M          requests outstanding per connection (default 1): gRPC streams at once,
 *                         or HTTP/1.1 requests pipelined.
 *   --threads T           threads (default 1, at most N), each with its own epoll loop.
 *   --rate R              open loop: R requests/s in all, on a fixed schedule (R/T per thread);
 *                         latency counts from the scheduled time, so a stalled server is not
 *                         hidden by the client waiting for it (coordinated omission). Requests
 *                         due while every connection is full wait, and their wait counts.
 *                         Without --rate: closed loop, each connection keeps M requests out.
 *   --duration-s D        stop sending after W + D seconds (default 10 when --requests is not
 *                         given); --requests N stops after N requests in all (warmup included);
 *                         with both, whichever comes first. Requests in flight then get
 *                         --timeout-s (default 10) to finish; one in flight longer than that
 *                         at any time counts as a timeout and its connection is made again.
 *   --warmup-s W          the first W seconds are sent but left out of the rates and latencies.
 *   --gzip                gzip the bodies (Content-Encoding: gzip; on gRPC grpc-encoding: gzip).
 *   --chunked             HTTP/1.1: Transfer-Encoding: chunked (8 KiB chunks), not Content-Length.
 *   --spans-per-request   items per request (default 100): spans, data points or log records.
 *   --spans-per-trace     spans (and log records) per trace id (default 10).
 *   --pool K              distinct pre-encoded requests per signal (default 64).
 *   --seed S              seeds the ids and the attribute values (default 1).
 *   --dump-requests DIR   writes one request body per signal (DIR/traces.pb, metrics.pb,
 *                         logs.pb) and exits: the same bytes for benchmarks without the
 *                         network (bench/walk.c). --target is still required.
 *   --cpu                 also report the process's CPU time (getrusage), per item.
 *   --quiet               no summary on stderr (the JSON line only).
 *
 * Requests. Each signal has a pool of K requests encoded with protobuf-c at start, with realistic
 * content: a resource with 6 attributes and 100 items with 6 attributes each (about 28 KB):
 * spans of 10-span traces (a SERVER root and CLIENT children pointing at it), Sum / Gauge /
 * Histogram data points, log records tied to trace and span ids. Ids are unique per request:
 * the offsets of every trace id, span id and parent span id are recorded at encoding, and each
 * send writes ids derived from a per-thread counter (splitmix64, so they look random to sampling
 * and partitioning) over them while copying the body out; the protobuf lengths do not change.
 * With --gzip the bodies are compressed once per pool entry, so ids repeat every K requests.
 *
 * Output: one JSON line on stdout, a summary on stderr. Rates and latencies cover requests sent
 * after the warmup, up to the last answer (or to the stop, when later: an open loop's last
 * interval ends at the deadline); "total" counts the whole run, warmup included:
 * total.spans / metric_points / log_records are the items answered 200 (less any rejected in a
 * partial_success), what the receiver's accepted counters should show. Latency comes from a
 * log-linear histogram (128 linear buckets per power of two: < 0.8 % error).
 * Errors by kind: connect (per failed attempt), reset (requests lost to a reset or EOF),
 * timeout, malformed (an answer that does not parse), partial_success (rejected items),
 * http_status (non-200 other than 429/503), grpc_status (other than 8 RESOURCE_EXHAUSTED and
 * 14 UNAVAILABLE). Retryable refusals (429, 503, 8, 14, REFUSED_STREAM, requests left unanswered
 * after the server said Connection: close) are counted under "refused"; the request is not
 * sent again, the connection goes on with a new one.
 *
 * Exit status: 0 no errors (retryable refusals allowed); 1 any error above, or the run gave up
 * after repeated connection failures with no answer in between; 2 usage or setup error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <zlib.h>

#include "linerate/clock.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#define MAX_THREADS 256
#define MAX_CONNECTIONS 100000
#define MAX_INFLIGHT 1024
#define MAX_ITEMS 100000
#define MAX_HEAD_BYTES (64 * 1024)
#define MAX_BODY_BYTES (16 * 1024 * 1024)
#define CHUNK_BYTES 8192
#define READ_BYTES (64 * 1024)
#define H2_BATCH_BYTES (64 * 1024) /* nghttp2 output gathered per send() */
#define GRPC_RESP_MAX 1024         /* larger answers are not decoded for partial_success */
#define TICK_NS 100000000ull       /* timeouts, reconnects and the stop are checked this often */
#define GIVE_UP_NS 1000000000ull
#define ATTRS 6
#define POINTS_PER_METRIC 10
#define HIST_SUB_BITS 7 /* 128 linear buckets per power of two */
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 42 /* 2^42 ns: 73 minutes; longer latencies land in the last bucket */
#define HIST_BUCKETS (2 * HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS) * HIST_SUB)
#define HTTP_CODES 600
#define GRPC_CODES 18 /* 0..16, and 17 for anything else */
#define GRPC_RESOURCE_EXHAUSTED 8
#define GRPC_UNAVAILABLE 14

enum sig { SIG_TRACES, SIG_METRICS, SIG_LOGS, SIG_COUNT };
static const char *const sig_name[SIG_COUNT] = { "traces", "metrics", "logs" };
static const char *const item_name[SIG_COUNT] = { "spans", "metric_points", "log_records" };
static const char *const http_path[SIG_COUNT] = { "/v1/traces", "/v1/metrics", "/v1/logs" };
static const char *const grpc_path[SIG_COUNT] = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};

/* Fatal error kinds; http_status and grpc_status are counted by code apart. */
enum err_kind { E_CONNECT, E_RESET, E_TIMEOUT, E_MALFORMED, E_PARTIAL, E_COUNT };
static const char *const err_name[E_COUNT] = { "connect", "reset", "timeout", "malformed",
                                               "partial_success" };

struct options {
    const char *target;
    bool grpc;
    char host[256];
    char port[16];
    char authority[300];
    char path[512]; /* "" unless the URL has one */
    unsigned weights[SIG_COUNT];
    unsigned connections, inflight, threads;
    double rate;
    double duration_s, warmup_s, timeout_s;
    uint64_t requests; /* 0: no bound */
    bool gzip, chunked, cpu, quiet;
    unsigned items, items_per_trace, pool;
    uint64_t seed;
    const char *dump_dir; /* --dump-requests: write one request per signal there and exit */
};

/* An id in an encoded body, rewritten at every send. */
struct patch {
    uint32_t off;
    uint32_t ref; /* the trace's or the span's index in the request */
    uint8_t len;  /* 16: trace id, 8: span id */
};

/* One pre-encoded request body. */
struct payload {
    uint8_t *body;
    size_t len;
    struct patch *patches; /* by offset; none with --gzip */
    size_t n_patches;
};

struct pool {
    struct payload *p;
    unsigned n;
    uint32_t items;    /* per request */
    uint32_t n_traces; /* ids per request, the counters' steps */
    uint32_t n_spans;
    char h1_head[1024]; /* HTTP/1.1 request head up to the length line */
    size_t h1_head_len;
    size_t raw_len; /* uncompressed protobuf length of entry 0 */
};

/* Per-send ids: trace i of the request is trace_base + i on this thread, and so for spans. */
struct ids {
    uint64_t tag; /* thread index << 48 */
    uint64_t trace_base, span_base;
};

struct stats {
    uint64_t hist[HIST_BUCKETS];
    uint64_t lat_max_ns, lat_sum_ns;
    uint64_t m_ok, m_items, m_bytes; /* measured: sent after the warmup */
    uint64_t last_done_ns;
    uint64_t sent, ok, bytes;
    uint64_t acked[SIG_COUNT]; /* items answered 200, less rejected ones */
    uint64_t err[E_COUNT];
    uint64_t http[HTTP_CODES]; /* non-200 answers by status (0: out of range) */
    uint64_t grpc[GRPC_CODES]; /* non-0 grpc-status */
    uint64_t refused_stream, closed_by_server, unsent;
};

struct run {
    struct options o;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct pool pools[SIG_COUNT];
    uint8_t mix[64]; /* the signal rotation */
    unsigned mix_len;
    uint64_t seed_a, seed_b, seed_c;
    uint64_t start_ns, warmup_end_ns, deadline_ns; /* deadline 0: none */
    uint64_t timeout_ns;
    atomic_bool stop;
    atomic_uint_fast64_t issued;
    atomic_uint gave_up;
    atomic_uint threads_done;
};

struct reqinfo {
    uint64_t t0_ns;   /* latency origin: the scheduled time with --rate, else the send */
    uint64_t sent_ns; /* for the timeout */
    uint32_t items, bytes;
    uint8_t sig;
    bool measured;
};

struct stream { /* gRPC: one per in-flight slot of a connection */
    struct conn *c;
    struct reqinfo ri;
    const struct payload *pl;
    struct ids ids;
    size_t off, len; /* of prefix + body */
    size_t cursor;   /* patch cursor */
    uint8_t prefix[5];
    int http_status, grpc_status;
    bool in_use;
    uint8_t resp[GRPC_RESP_MAX];
    size_t resp_len;
    bool resp_trunc;
};

enum conn_state { C_CLOSED, C_CONNECTING, C_OPEN };

struct conn {
    struct worker *w;
    int fd;
    enum conn_state state;
    uint32_t events;
    uint64_t reconnect_ns;
    unsigned fails;    /* consecutive failures, for the backoff */
    bool server_close; /* HTTP/1.1: an answer said Connection: close */
    bool draining;     /* gRPC: GOAWAY received */
    unsigned n_inflight;
    uint8_t *wbuf;
    size_t woff, wlen, wcap;
    /* HTTP/1.1 */
    struct reqinfo *q; /* FIFO of --inflight */
    unsigned qhead;
    uint8_t *rbuf;
    size_t rlen, rcap;
    uint8_t *body; /* a chunked answer's body, decoded */
    size_t body_len, body_cap;
    /* gRPC */
    nghttp2_session *sess;
    struct stream *streams;
    unsigned *free_slots, n_free;
};

struct worker {
    struct run *r;
    unsigned idx;
    pthread_t th;
    int ep;
    struct conn *conns;
    unsigned n_conns, rr;
    struct ids next_ids;
    uint64_t mix_ctr, pool_ctr[SIG_COUNT];
    uint64_t inflight;
    bool stopping, budget_out;
    uint64_t stop_ns;
    double interval_ns; /* --rate: this thread's interval, threads x 1/R */
    double phase_ns;    /* thread t sends at start + t/R + k x interval: all spaced 1/R apart */
    uint64_t sched_k;
    unsigned fail_streak;
    uint64_t streak_start_ns;
    uint64_t reconnect_wake; /* the earliest reconnect_ns of a closed connection */
    uint8_t scratch[READ_BYTES];
    struct stats st;
};

/* splitmix64's finalizer: a bijection, so distinct counters give distinct ids. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rng_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    uint64_t x = *s;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

/* ---- histogram ------------------------------------------------------------------------------ */

static unsigned hist_index(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    if (e > HIST_MAX_EXP) {
        e = HIST_MAX_EXP;
        v = (2ull << HIST_MAX_EXP) - 1;
    }
    unsigned shift = e - HIST_SUB_BITS;
    return 2 * HIST_SUB + (e - HIST_SUB_BITS - 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

/* The middle of bucket i. */
static uint64_t hist_value(unsigned i)
{
    if (i < 2 * HIST_SUB)
        return i;
    unsigned k = i - 2 * HIST_SUB;
    unsigned e = k / HIST_SUB + HIST_SUB_BITS + 1, sub = k % HIST_SUB;
    unsigned shift = e - HIST_SUB_BITS;
    return ((uint64_t)(HIST_SUB + sub) << shift) + ((1ull << shift) >> 1);
}

static uint64_t hist_quantile(const struct stats *s, double q)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        total += s->hist[i];
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(q * (double)total), acc = 0;
    if (want < 1)
        want = 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        acc += s->hist[i];
        if (acc >= want) {
            uint64_t v = hist_value(i);
            return v < s->lat_max_ns ? v : s->lat_max_ns;
        }
    }
    return s->lat_max_ns;
}

/* ---- request encoding ----------------------------------------------------------------------- */

/* Allocations of one request's message tree, freed together after packing. */
struct arena {
    void **p;
    size_t n, cap;
    bool failed;
};

static void *arena_alloc(struct arena *a, size_t size)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        void **np = realloc(a->p, cap * sizeof(*np));
        if (np == NULL) {
            a->failed = true;
            return NULL;
        }
        a->p = np;
        a->cap = cap;
    }
    void *m = calloc(1, size ? size : 1);
    if (m == NULL) {
        a->failed = true;
        return NULL;
    }
    a->p[a->n++] = m;
    return m;
}

static void arena_free(struct arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->p[i]);
    free(a->p);
    memset(a, 0, sizeof(*a));
}

static char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *arena_printf(struct arena *a, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *s = arena_alloc(a, (size_t)n + 1);
    if (s)
        memcpy(s, tmp, (size_t)n + 1);
    return s;
}

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

static KeyValue *kv_new(struct arena *a, const char *key)
{
    KeyValue *kv = arena_alloc(a, sizeof(*kv));
    AnyValue *v = arena_alloc(a, sizeof(*v));
    if (!kv || !v)
        return NULL;
    opentelemetry__proto__common__v1__key_value__init(kv);
    opentelemetry__proto__common__v1__any_value__init(v);
    kv->key = (char *)key;
    kv->value = v;
    return kv;
}

static KeyValue *kv_str(struct arena *a, const char *key, char *val)
{
    KeyValue *kv = kv_new(a, key);
    if (kv && val) {
        kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        kv->value->string_value = val;
    }
    return kv;
}

static KeyValue *kv_int(struct arena *a, const char *key, int64_t val)
{
    KeyValue *kv = kv_new(a, key);
    if (kv) {
        kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        kv->value->int_value = val;
    }
    return kv;
}

static KeyValue *kv_dbl(struct arena *a, const char *key, double val)
{
    KeyValue *kv = kv_new(a, key);
    if (kv) {
        kv->value->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        kv->value->double_value = val;
    }
    return kv;
}

static KeyValue **kv_array(struct arena *a)
{
    return arena_alloc(a, ATTRS * sizeof(KeyValue *));
}

static const char *const services[] = { "checkout",  "cart",     "payment",        "frontend",
                                        "inventory", "shipping", "recommendation", "currency" };
static const char *const methods[] = { "GET", "GET", "GET", "POST", "PUT", "DELETE" };
static const char *const routes[] = { "/api/v2/orders/{id}", "/api/v2/cart/items",
                                      "/api/v2/products/{sku}/stock", "/api/v2/checkout",
                                      "/api/v2/users/{id}/addresses" };
static const char *const statements[] = {
    "SELECT id, status, total FROM orders WHERE id = $1",
    "UPDATE stock SET reserved = reserved + $1 WHERE sku = $2",
    "INSERT INTO cart_items (cart_id, sku, qty) VALUES ($1, $2, $3)",
};

static Opentelemetry__Proto__Resource__V1__Resource *resource_new(struct arena *a, uint64_t *rng)
{
    Opentelemetry__Proto__Resource__V1__Resource *res = arena_alloc(a, sizeof(*res));
    KeyValue **kv = kv_array(a);
    if (!res || !kv)
        return NULL;
    opentelemetry__proto__resource__v1__resource__init(res);
    uint64_t x = rng_next(rng);
    kv[0] = kv_str(a, "service.name", arena_printf(a, "%s", services[x % 8]));
    kv[1] = kv_str(a, "service.namespace", arena_printf(a, "shop"));
    kv[2] = kv_str(a, "service.version",
                   arena_printf(a, "2.%u.%u", (unsigned)(x >> 8) % 20, (unsigned)(x >> 16) % 10));
    kv[3] = kv_str(a, "service.instance.id", arena_printf(a, "%016" PRIx64, rng_next(rng)));
    kv[4] = kv_str(a, "host.name",
                   arena_printf(a, "ip-10-0-%u-%u.ec2.internal", (unsigned)(x >> 24) % 256,
                                (unsigned)(x >> 32) % 256));
    kv[5] = kv_str(a, "deployment.environment", arena_printf(a, "production"));
    res->n_attributes = ATTRS;
    res->attributes = kv;
    return res;
}

static Opentelemetry__Proto__Common__V1__InstrumentationScope *scope_new(struct arena *a,
                                                                         const char *name)
{
    Opentelemetry__Proto__Common__V1__InstrumentationScope *s = arena_alloc(a, sizeof(*s));
    if (!s)
        return NULL;
    opentelemetry__proto__common__v1__instrumentation_scope__init(s);
    s->name = (char *)name;
    s->version = (char *)"1.29.0";
    return s;
}

/* An id to find in the packed body: its bytes (random, so found once) and what it stands for. */
struct idref {
    uint8_t *bytes;
    uint8_t len;
    uint32_t ref;
};

struct idlist {
    struct idref *v;
    size_t n, cap;
};

/* Records one more occurrence of an id already made (the trace id of every span of a trace). */
static uint8_t *id_again(struct arena *a, struct idlist *l, uint8_t *b, uint8_t len, uint32_t ref)
{
    if (!b)
        return NULL;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        struct idref *nv = realloc(l->v, cap * sizeof(*nv));
        if (!nv) {
            a->failed = true;
            return NULL;
        }
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = (struct idref){ b, len, ref };
    return b;
}

/* A new random id, recorded at its first occurrence. */
static uint8_t *id_new(struct arena *a, struct idlist *l, uint64_t *rng, uint8_t len, uint32_t ref)
{
    uint8_t *b = arena_alloc(a, len);
    if (!b)
        return NULL;
    put_be(b, rng_next(rng), 8);
    if (len == 16)
        put_be(b + 8, rng_next(rng), 8);
    return id_again(a, l, b, len, ref);
}

static ProtobufCBinaryData bin(uint8_t *p, size_t len)
{
    return (ProtobufCBinaryData){ p ? len : 0, p };
}

static ProtobufCMessage *build_traces(struct arena *a, struct idlist *ids, uint64_t *rng,
                                      unsigned n, unsigned per_trace, uint64_t t_ns)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req =
        arena_alloc(a, sizeof(*req));
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = arena_alloc(a, sizeof(*rs)), **rsp;
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = arena_alloc(a, sizeof(*ss)), **ssp;
    Opentelemetry__Proto__Trace__V1__Span **spans = arena_alloc(a, n * sizeof(*spans));
    rsp = arena_alloc(a, sizeof(*rsp));
    ssp = arena_alloc(a, sizeof(*ssp));
    if (a->failed)
        return NULL;
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    opentelemetry__proto__trace__v1__scope_spans__init(ss);
    rs->resource = resource_new(a, rng);
    ss->scope = scope_new(a, "io.opentelemetry.http-server");
    uint8_t *trace = NULL, *root = NULL;
    uint32_t root_idx = 0;
    const char *route = routes[0], *method = methods[0];
    for (unsigned i = 0; i < n && !a->failed; i++) {
        Opentelemetry__Proto__Trace__V1__Span *s = arena_alloc(a, sizeof(*s));
        Opentelemetry__Proto__Trace__V1__Status *st = arena_alloc(a, sizeof(*st));
        KeyValue **kv = kv_array(a);
        if (a->failed)
            break;
        opentelemetry__proto__trace__v1__span__init(s);
        opentelemetry__proto__trace__v1__status__init(st);
        bool is_root = i % per_trace == 0;
        uint64_t x = rng_next(rng);
        /* Serialization order within a span: trace_id (1), span_id (2), parent_span_id (4). */
        if (is_root)
            trace = id_new(a, ids, rng, 16, i / per_trace);
        else
            id_again(a, ids, trace, 16, i / per_trace);
        s->trace_id = bin(trace, 16);
        uint8_t *sid = id_new(a, ids, rng, 8, i);
        s->span_id = bin(sid, 8);
        s->start_time_unix_nano = t_ns + i * 1000u;
        s->end_time_unix_nano = s->start_time_unix_nano + 50000u + x % 50000000u;
        if (is_root) {
            root = sid;
            root_idx = i;
            route = routes[x % 5];
            method = methods[(x >> 8) % 6];
            s->name = arena_printf(a, "%s %s", method, route);
            s->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
            kv[0] = kv_str(a, "http.request.method", (char *)method);
            kv[1] = kv_str(a, "http.route", (char *)route);
            kv[2] = kv_int(a, "http.response.status_code", (x >> 16) % 50 ? 200 : 503);
            kv[3] = kv_str(a, "url.path",
                           arena_printf(a, "/api/v2/orders/%u", (unsigned)(x >> 20) % 1000000));
            kv[4] = kv_str(a, "client.address",
                           arena_printf(a, "10.%u.%u.%u", (unsigned)(x >> 24) % 256,
                                        (unsigned)(x >> 32) % 256, (unsigned)(x >> 40) % 256));
            kv[5] = kv_str(a, "user_agent.original", (char *)"okhttp/4.12.0");
            st->code =
                (x >> 16) % 50
                    ? OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK
                    : OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
        } else {
            s->parent_span_id = bin(id_again(a, ids, root, 8, root_idx), 8);
            const char *stmt = statements[x % 3];
            s->name = arena_printf(a, "%.6s shop.%s", stmt, (x >> 8) % 2 ? "orders" : "stock");
            s->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
            kv[0] = kv_str(a, "db.system", (char *)"postgresql");
            kv[1] = kv_str(a, "db.name", (char *)"shop");
            kv[2] = kv_str(a, "db.statement", (char *)stmt);
            kv[3] = kv_str(a, "server.address", (char *)"pg-primary.internal");
            kv[4] = kv_int(a, "server.port", 5432);
            kv[5] = kv_int(a, "db.rows_affected", (int64_t)((x >> 12) % 100));
        }
        s->n_attributes = ATTRS;
        s->attributes = kv;
        s->status = st;
        spans[i] = s;
    }
    if (a->failed)
        return NULL;
    ss->n_spans = n;
    ss->spans = spans;
    ssp[0] = ss;
    rs->n_scope_spans = 1;
    rs->scope_spans = ssp;
    rs->schema_url = (char *)"https://opentelemetry.io/schemas/1.24.0";
    rsp[0] = rs;
    req->n_resource_spans = 1;
    req->resource_spans = rsp;
    return &req->base;
}

typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;

static KeyValue **point_attrs(struct arena *a, uint64_t x)
{
    KeyValue **kv = kv_array(a);
    if (!kv)
        return NULL;
    kv[0] = kv_str(a, "http.request.method", (char *)methods[x % 6]);
    kv[1] = kv_str(a, "http.route", (char *)routes[(x >> 8) % 5]);
    kv[2] = kv_int(a, "http.response.status_code", (x >> 16) % 20 ? 200 : 404);
    kv[3] = kv_str(a, "server.address", (char *)"api.shop.example.com");
    kv[4] = kv_str(a, "network.protocol.version", (char *)"1.1");
    kv[5] = kv_str(a, "url.scheme", (char *)"https");
    return kv;
}

static ProtobufCMessage *build_metrics(struct arena *a, uint64_t *rng, unsigned n, uint64_t t_ns)
{
    static double bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0 };
    enum { NB = sizeof(bounds) / sizeof(bounds[0]) };
    unsigned n_metrics = (n + POINTS_PER_METRIC - 1) / POINTS_PER_METRIC;
    Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *req =
        arena_alloc(a, sizeof(*req));
    Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = arena_alloc(a, sizeof(*rm)), **rmp;
    Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = arena_alloc(a, sizeof(*sm)), **smp;
    Opentelemetry__Proto__Metrics__V1__Metric **metrics =
        arena_alloc(a, n_metrics * sizeof(*metrics));
    rmp = arena_alloc(a, sizeof(*rmp));
    smp = arena_alloc(a, sizeof(*smp));
    if (a->failed)
        return NULL;
    opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(req);
    opentelemetry__proto__metrics__v1__resource_metrics__init(rm);
    opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
    rm->resource = resource_new(a, rng);
    sm->scope = scope_new(a, "io.opentelemetry.http-server-metrics");
    unsigned left = n;
    for (unsigned m = 0; m < n_metrics && !a->failed; m++) {
        unsigned np = left < POINTS_PER_METRIC ? left : POINTS_PER_METRIC;
        left -= np;
        Opentelemetry__Proto__Metrics__V1__Metric *me = arena_alloc(a, sizeof(*me));
        if (!me)
            break;
        opentelemetry__proto__metrics__v1__metric__init(me);
        metrics[m] = me;
        switch (m % 3) {
        case 0: {
            Opentelemetry__Proto__Metrics__V1__Sum *sum = arena_alloc(a, sizeof(*sum));
            NumberDataPoint **pts = arena_alloc(a, np * sizeof(*pts));
            if (a->failed)
                break;
            opentelemetry__proto__metrics__v1__sum__init(sum);
            me->name = arena_printf(a, "http.server.request.count.%u", m);
            me->unit = (char *)"{request}";
            me->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
            me->sum = sum;
            sum->aggregation_temporality =
                OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
            sum->is_monotonic = 1;
            sum->n_data_points = np;
            sum->data_points = pts;
            for (unsigned i = 0; i < np && !a->failed; i++) {
                uint64_t x = rng_next(rng);
                NumberDataPoint *p = arena_alloc(a, sizeof(*p));
                if (!p)
                    break;
                opentelemetry__proto__metrics__v1__number_data_point__init(p);
                p->attributes = point_attrs(a, x);
                p->n_attributes = ATTRS;
                p->start_time_unix_nano = t_ns - 3600000000000ull;
                p->time_unix_nano = t_ns;
                p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
                p->as_int = (int64_t)(x >> 40);
                pts[i] = p;
            }
            break;
        }
        case 1: {
            Opentelemetry__Proto__Metrics__V1__Gauge *g = arena_alloc(a, sizeof(*g));
            NumberDataPoint **pts = arena_alloc(a, np * sizeof(*pts));
            if (a->failed)
                break;
            opentelemetry__proto__metrics__v1__gauge__init(g);
            me->name = arena_printf(a, "process.runtime.memory.utilization.%u", m);
            me->unit = (char *)"1";
            me->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
            me->gauge = g;
            g->n_data_points = np;
            g->data_points = pts;
            for (unsigned i = 0; i < np && !a->failed; i++) {
                uint64_t x = rng_next(rng);
                NumberDataPoint *p = arena_alloc(a, sizeof(*p));
                if (!p)
                    break;
                opentelemetry__proto__metrics__v1__number_data_point__init(p);
                p->attributes = point_attrs(a, x);
                p->n_attributes = ATTRS;
                p->time_unix_nano = t_ns;
                p->value_case =
                    OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
                p->as_double = (double)(x >> 11) / 9007199254740992.0;
                pts[i] = p;
            }
            break;
        }
        default: {
            Opentelemetry__Proto__Metrics__V1__Histogram *h = arena_alloc(a, sizeof(*h));
            HistogramDataPoint **pts = arena_alloc(a, np * sizeof(*pts));
            if (a->failed)
                break;
            opentelemetry__proto__metrics__v1__histogram__init(h);
            me->name = arena_printf(a, "http.server.request.duration.%u", m);
            me->unit = (char *)"s";
            me->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
            me->histogram = h;
            h->aggregation_temporality =
                OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
            h->n_data_points = np;
            h->data_points = pts;
            for (unsigned i = 0; i < np && !a->failed; i++) {
                uint64_t x = rng_next(rng);
                HistogramDataPoint *p = arena_alloc(a, sizeof(*p));
                uint64_t *counts = arena_alloc(a, (NB + 1) * sizeof(*counts));
                if (a->failed)
                    break;
                opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
                p->attributes = point_attrs(a, x);
                p->n_attributes = ATTRS;
                p->start_time_unix_nano = t_ns - 3600000000000ull;
                p->time_unix_nano = t_ns;
                uint64_t total = 0;
                for (unsigned b = 0; b <= NB; b++) {
                    counts[b] = rng_next(rng) % 1000;
                    total += counts[b];
                }
                p->count = total;
                p->n_bucket_counts = NB + 1;
                p->bucket_counts = counts;
                p->n_explicit_bounds = NB;
                p->explicit_bounds = bounds;
                p->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
                p->sum = (double)total * 0.042;
                pts[i] = p;
            }
            break;
        }
        }
    }
    if (a->failed)
        return NULL;
    sm->n_metrics = n_metrics;
    sm->metrics = metrics;
    smp[0] = sm;
    rm->n_scope_metrics = 1;
    rm->scope_metrics = smp;
    rmp[0] = rm;
    req->n_resource_metrics = 1;
    req->resource_metrics = rmp;
    return &req->base;
}

static ProtobufCMessage *build_logs(struct arena *a, struct idlist *ids, uint64_t *rng, unsigned n,
                                    unsigned per_trace, uint64_t t_ns)
{
    Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req =
        arena_alloc(a, sizeof(*req));
    Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = arena_alloc(a, sizeof(*rl)), **rlp;
    Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = arena_alloc(a, sizeof(*sl)), **slp;
    Opentelemetry__Proto__Logs__V1__LogRecord **recs = arena_alloc(a, n * sizeof(*recs));
    rlp = arena_alloc(a, sizeof(*rlp));
    slp = arena_alloc(a, sizeof(*slp));
    if (a->failed)
        return NULL;
    opentelemetry__proto__collector__logs__v1__export_logs_service_request__init(req);
    opentelemetry__proto__logs__v1__resource_logs__init(rl);
    opentelemetry__proto__logs__v1__scope_logs__init(sl);
    rl->resource = resource_new(a, rng);
    sl->scope = scope_new(a, "com.example.orders.OrderService");
    uint8_t *trace = NULL;
    for (unsigned i = 0; i < n && !a->failed; i++) {
        uint64_t x = rng_next(rng);
        Opentelemetry__Proto__Logs__V1__LogRecord *l = arena_alloc(a, sizeof(*l));
        AnyValue *body = arena_alloc(a, sizeof(*body));
        KeyValue **kv = kv_array(a);
        if (a->failed)
            break;
        opentelemetry__proto__logs__v1__log_record__init(l);
        opentelemetry__proto__common__v1__any_value__init(body);
        bool warn = (x & 15) == 0;
        l->time_unix_nano = t_ns + i * 1000u;
        l->observed_time_unix_nano = l->time_unix_nano + 150000u;
        l->severity_number =
            warn ? OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_WARN
                 : OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO;
        l->severity_text = (char *)(warn ? "WARN" : "INFO");
        body->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        body->string_value = arena_printf(a, "order %u processed in %u ms (items=%u, payment=card)",
                                          (unsigned)(x >> 8) % 10000000, (unsigned)(x >> 32) % 900,
                                          (unsigned)(x >> 48) % 9 + 1);
        l->body = body;
        kv[0] = kv_str(a, "log.logger", (char *)"c.e.orders.OrderService");
        kv[1] = kv_str(a, "thread.name", arena_printf(a, "http-exec-%u", (unsigned)(x % 64)));
        kv[2] = kv_str(a, "code.function", (char *)"processOrder");
        kv[3] = kv_int(a, "code.lineno", (int64_t)(100 + (x >> 4) % 400));
        kv[4] = kv_str(a, "customer.id", arena_printf(a, "c-%u", (unsigned)(x >> 20) % 1000000));
        kv[5] = kv_dbl(a, "order.total", (double)((x >> 24) % 100000) / 100.0);
        l->n_attributes = ATTRS;
        l->attributes = kv;
        l->flags = 1;
        /* Serialization order: trace_id (9), span_id (10). */
        if (i % per_trace == 0)
            trace = id_new(a, ids, rng, 16, i / per_trace);
        else
            id_again(a, ids, trace, 16, i / per_trace);
        l->trace_id = bin(trace, 16);
        l->span_id = bin(id_new(a, ids, rng, 8, i), 8);
        recs[i] = l;
    }
    if (a->failed)
        return NULL;
    sl->n_log_records = n;
    sl->log_records = recs;
    slp[0] = sl;
    rl->n_scope_logs = 1;
    rl->scope_logs = slp;
    rlp[0] = rl;
    req->n_resource_logs = 1;
    req->resource_logs = rlp;
    return &req->base;
}

static int gzip_buf(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, n) + 32;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

/* Finds every id in the packed body, in serialization order, each behind its tag and length. */
static int find_patches(struct payload *pl, const struct idlist *ids)
{
    pl->patches = calloc(ids->n ? ids->n : 1, sizeof(*pl->patches));
    if (!pl->patches)
        return -1;
    size_t from = 0;
    for (size_t i = 0; i < ids->n; i++) {
        const struct idref *id = &ids->v[i];
        const uint8_t *hit = memmem(pl->body + from, pl->len - from, id->bytes, id->len);
        if (!hit || hit - pl->body < 2 || hit[-1] != id->len) {
            fprintf(stderr, "otlp-load: id %zu not found in the encoded request\n", i);
            return -1;
        }
        size_t off = (size_t)(hit - pl->body);
        pl->patches[i] = (struct patch){ (uint32_t)off, id->ref, id->len };
        from = off + id->len;
    }
    pl->n_patches = ids->n;
    return 0;
}

static int pool_build(struct run *r, enum sig s)
{
    const struct options *o = &r->o;
    struct pool *p = &r->pools[s];
    uint64_t rng = o->seed * 0x100000001b3ull + (uint64_t)s * 7919;
    uint64_t t_ns = lr_real_ns();

    p->n = o->pool;
    p->p = calloc(p->n, sizeof(*p->p));
    if (!p->p)
        return -1;
    p->items = o->items;
    p->n_traces = s == SIG_METRICS ? 0 : (o->items + o->items_per_trace - 1) / o->items_per_trace;
    p->n_spans = s == SIG_METRICS ? 0 : o->items;
    for (unsigned e = 0; e < p->n; e++) {
        struct arena a = { 0 };
        struct idlist ids = { 0 };
        ProtobufCMessage *m = NULL;
        switch (s) {
        case SIG_TRACES:
            m = build_traces(&a, &ids, &rng, o->items, o->items_per_trace, t_ns);
            break;
        case SIG_METRICS:
            m = build_metrics(&a, &rng, o->items, t_ns);
            break;
        default:
            m = build_logs(&a, &ids, &rng, o->items, o->items_per_trace, t_ns);
            break;
        }
        int rc = -1;
        if (m) {
            struct payload *pl = &p->p[e];
            pl->len = protobuf_c_message_get_packed_size(m);
            pl->body = malloc(pl->len ? pl->len : 1);
            if (pl->body) {
                protobuf_c_message_pack(m, pl->body);
                rc = find_patches(pl, &ids);
            }
            if (rc == 0 && e == 0)
                p->raw_len = pl->len;
            if (rc == 0 && o->gzip) {
                uint8_t *z;
                size_t zn;
                rc = gzip_buf(pl->body, pl->len, &z, &zn);
                if (rc == 0) {
                    free(pl->body);
                    pl->body = z;
                    pl->len = zn;
                    pl->n_patches = 0; /* compressed once: the ids stay as encoded */
                }
            }
        }
        free(ids.v);
        arena_free(&a);
        if (rc != 0)
            return -1;
    }
    const char *path = o->path[0] ? o->path : http_path[s];
    int n = snprintf(p->h1_head, sizeof(p->h1_head),
                     "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: otlp-load/1\r\n"
                     "Content-Type: application/x-protobuf\r\n%s",
                     path, o->authority, o->gzip ? "Content-Encoding: gzip\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(p->h1_head))
        return -1;
    p->h1_head_len = (size_t)n;
    return 0;
}

static void pools_free(struct run *r)
{
    for (int s = 0; s < SIG_COUNT; s++) {
        struct pool *p = &r->pools[s];
        for (unsigned e = 0; p->p && e < p->n; e++) {
            free(p->p[e].body);
            free(p->p[e].patches);
        }
        free(p->p);
        p->p = NULL;
    }
}

static void make_id(const struct run *r, uint64_t x, uint8_t len, uint8_t *out)
{
    if (len == 16) {
        uint64_t hi = mix64(x ^ r->seed_a), lo = mix64(x ^ r->seed_b);
        put_be(out, hi, 8);
        put_be(out + 8, lo | (hi == 0 && lo == 0), 8);
    } else {
        uint64_t v = mix64(x ^ r->seed_c);
        put_be(out, v ? v : 1, 8);
    }
}

/* Copies body bytes [from, from + n) of pl to dst with this send's ids over the recorded ones.
 * *cursor: the first patch that may overlap, advanced as the copy moves on (calls go forward). */
static void payload_copy(const struct run *r, const struct payload *pl, const struct ids *ids,
                         size_t from, size_t n, uint8_t *dst, size_t *cursor)
{
    memcpy(dst, pl->body + from, n);
    size_t end = from + n;
    for (size_t i = *cursor; i < pl->n_patches; i++) {
        const struct patch *pt = &pl->patches[i];
        if (pt->off >= end)
            break;
        if (pt->off + pt->len <= from) {
            *cursor = i + 1;
            continue;
        }
        uint8_t id[16];
        uint64_t base = pt->len == 16 ? ids->trace_base : ids->span_base;
        make_id(r, ids->tag | (base + pt->ref), pt->len, id);
        size_t lo = pt->off > from ? pt->off : from;
        size_t hi = pt->off + pt->len < end ? pt->off + pt->len : end;
        memcpy(dst + (lo - from), id + (lo - pt->off), hi - lo);
        if (pt->off + pt->len <= end)
            *cursor = i + 1;
    }
}

/* ---- answers -------------------------------------------------------------------------------- */

static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned s = 0; s < 64 && *p < end; s += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Skips one field's value; false when it runs past end or the wire type is unknown. */
static bool skip_field(const uint8_t **p, const uint8_t *end, unsigned wt, uint64_t *len_out)
{
    uint64_t v;
    switch (wt) {
    case 0:
        return varint(p, end, &v);
    case 1:
        if (end - *p < 8)
            return false;
        *p += 8;
        return true;
    case 2:
        if (!varint(p, end, &v) || v > (uint64_t)(end - *p))
            return false;
        if (len_out)
            *len_out = v;
        *p += v;
        return true;
    case 5:
        if (end - *p < 4)
            return false;
        *p += 4;
        return true;
    default:
        return false;
    }
}

/* Export{Trace,Metrics,Logs}ServiceResponse: partial_success (1) { rejected_* (1) }. Returns the
 * rejected count (0 without partial_success), or -1 when the message does not parse. */
static int64_t rejected_count(const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    int64_t rejected = 0;
    while (p < end) {
        uint64_t key, len = 0;
        if (!varint(&p, end, &key))
            return -1;
        if (!skip_field(&p, end, (unsigned)(key & 7), &len))
            return -1;
        if ((key >> 3) == 1 && (key & 7) == 2) {
            const uint8_t *q = p - len, *qend = p;
            while (q < qend) {
                uint64_t k2, v;
                if (!varint(&q, qend, &k2))
                    return -1;
                if ((k2 >> 3) == 1 && (k2 & 7) == 0) {
                    if (!varint(&q, qend, &v))
                        return -1;
                    rejected = (int64_t)v;
                } else if (!skip_field(&q, qend, (unsigned)(k2 & 7), NULL)) {
                    return -1;
                }
            }
        }
    }
    return rejected;
}

enum outcome { O_OK, O_HTTP, O_GRPC, O_ERR };
#define FAIL_REFUSED_STREAM (-1)
#define FAIL_CLOSED_BY_SERVER (-2)

/* One request's end. code: the status for O_HTTP and O_GRPC; for O_ERR an enum err_kind, or
 * FAIL_REFUSED_STREAM / FAIL_CLOSED_BY_SERVER (retryable); rejected: items a partial_success
 * rejected (O_OK). */
static void req_done(struct worker *w, const struct reqinfo *ri, enum outcome oc, int code,
                     int64_t rejected)
{
    struct stats *st = &w->st;
    uint64_t now = lr_mono_ns();
    w->inflight--;
    switch (oc) {
    case O_OK: {
        st->ok++;
        uint64_t acked = ri->items;
        if (rejected > 0) {
            st->err[E_PARTIAL]++;
            acked = (uint64_t)rejected < acked ? acked - (uint64_t)rejected : 0;
        }
        st->acked[ri->sig] += acked;
        w->fail_streak = 0;
        if (ri->measured) {
            uint64_t lat = now > ri->t0_ns ? now - ri->t0_ns : 0;
            st->hist[hist_index(lat)]++;
            st->lat_sum_ns += lat;
            if (lat > st->lat_max_ns)
                st->lat_max_ns = lat;
            st->m_ok++;
            st->m_items += ri->items;
            st->m_bytes += ri->bytes;
            st->last_done_ns = now;
        }
        break;
    }
    case O_HTTP:
        st->http[code > 0 && code < HTTP_CODES ? code : 0]++;
        w->fail_streak = 0;
        break;
    case O_GRPC:
        st->grpc[code >= 0 && code < GRPC_CODES - 1 ? code : GRPC_CODES - 1]++;
        w->fail_streak = 0;
        break;
    case O_ERR:
        if (code == FAIL_REFUSED_STREAM)
            st->refused_stream++;
        else if (code == FAIL_CLOSED_BY_SERVER)
            st->closed_by_server++;
        else
            st->err[code]++;
        break;
    }
}

/* ---- connections ---------------------------------------------------------------------------- */

static void conn_set_events(struct conn *c, uint32_t ev)
{
    if (c->fd < 0 || ev == c->events)
        return;
    struct epoll_event e = { .events = ev, .data.ptr = c };
    epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

/* Ends every request in flight on c as failed with kind (an enum err_kind or FAIL_*), closes it
 * and schedules a new connection after delay_ns. */
static void conn_close(struct conn *c, int kind, uint64_t delay_ns)
{
    struct worker *w = c->w;
    if (c->sess) {
        for (unsigned i = 0; i < w->r->o.inflight; i++) {
            struct stream *s = &c->streams[i];
            if (s->in_use) {
                s->in_use = false;
                req_done(w, &s->ri, O_ERR, kind, 0);
            }
        }
        nghttp2_session_del(c->sess);
        c->sess = NULL;
        c->n_free = 0;
        for (unsigned i = 0; i < w->r->o.inflight; i++)
            c->free_slots[c->n_free++] = w->r->o.inflight - 1 - i;
    } else {
        for (unsigned i = 0; i < c->n_inflight; i++) {
            const struct reqinfo *ri = &c->q[(c->qhead + i) % w->r->o.inflight];
            req_done(w, ri, O_ERR, kind, 0);
        }
    }
    c->n_inflight = 0;
    c->qhead = 0;
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->state = C_CLOSED;
    c->events = 0;
    c->woff = c->wlen = 0;
    c->rlen = 0;
    c->server_close = false;
    c->draining = false;
    c->reconnect_ns = lr_mono_ns() + delay_ns;
    if (c->reconnect_ns < w->reconnect_wake)
        w->reconnect_wake = c->reconnect_ns;
}

static uint64_t backoff_ns(struct conn *c)
{
    unsigned f = c->fails < 7 ? c->fails : 7;
    uint64_t d = 10000000ull << f; /* 10 ms .. 1.28 s */
    return d > 1000000000ull ? 1000000000ull : d;
}

/* A failure: counted, then the connection is made again after a backoff. Gives the run up after
 * max(10, 3 x connections) failures in a row on a thread, over a second at least, with no
 * answer in between. */
static void conn_fail(struct conn *c, enum err_kind kind)
{
    struct worker *w = c->w;
    if (kind == E_CONNECT)
        w->st.err[E_CONNECT]++;
    c->fails++;
    if (w->fail_streak++ == 0)
        w->streak_start_ns = lr_mono_ns();
    conn_close(c, kind, backoff_ns(c));
    unsigned limit = 3 * w->n_conns > 10 ? 3 * w->n_conns : 10;
    if (w->fail_streak >= limit && lr_mono_ns() - w->streak_start_ns >= GIVE_UP_NS &&
        !atomic_load(&w->r->stop)) {
        if (atomic_fetch_add(&w->r->gave_up, 1) == 0)
            fprintf(stderr,
                    "otlp-load: giving up after %u connection failures in a row (last: %s)\n",
                    w->fail_streak, err_name[kind]);
        atomic_store(&w->r->stop, true);
    }
}

static ssize_t h2_send_cb(nghttp2_session *s, const uint8_t *d, size_t n, int f, void *u);
static int h2_header_cb(nghttp2_session *s, const nghttp2_frame *fr, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *u);
static int h2_data_cb(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *d, size_t n,
                      void *u);
static int h2_close_cb(nghttp2_session *s, int32_t sid, uint32_t code, void *u);
static int h2_frame_cb(nghttp2_session *s, const nghttp2_frame *fr, void *u);

static nghttp2_session_callbacks *h2_callbacks;

static int conn_connect(struct conn *c)
{
    struct worker *w = c->w;
    const struct run *r = w->r;
    int one = 1;
    c->fd = socket(r->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail(c, E_CONNECT);
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (const struct sockaddr *)&r->addr, r->addr_len) != 0 &&
        errno != EINPROGRESS) {
        conn_fail(c, E_CONNECT);
        return -1;
    }
    c->state = C_CONNECTING;
    c->events = EPOLLOUT;
    struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &e) != 0) {
        conn_fail(c, E_CONNECT);
        return -1;
    }
    return 0;
}

static int conn_open_h2(struct conn *c)
{
    if (nghttp2_session_client_new(&c->sess, h2_callbacks, c) != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
        { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100 },
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
    };
    if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, 3) != 0)
        return -1;
    return 0;
}

static int wbuf_reserve(struct conn *c, size_t more)
{
    if (c->woff == c->wlen) {
        c->woff = c->wlen = 0;
    } else if (c->woff > 0 && c->wlen + more > c->wcap) {
        memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
        c->wlen -= c->woff;
        c->woff = 0;
    }
    if (c->wlen + more <= c->wcap)
        return 0;
    size_t cap = c->wcap ? c->wcap : 65536;
    while (cap < c->wlen + more)
        cap *= 2;
    uint8_t *nb = realloc(c->wbuf, cap);
    if (!nb)
        return -1;
    c->wbuf = nb;
    c->wcap = cap;
    return 0;
}

static bool conn_has_room(const struct conn *c)
{
    if (c->state != C_OPEN || c->server_close || c->draining)
        return false;
    return c->n_inflight < c->w->r->o.inflight;
}

static bool budget_take(struct worker *w)
{
    uint64_t n = w->r->o.requests;
    if (n == 0)
        return true;
    if (atomic_fetch_add(&w->r->issued, 1) < n)
        return true;
    w->budget_out = true;
    return false;
}

/* A request taken from the budget and not sent after all (the connection could not take it). */
static void budget_return(struct worker *w)
{
    if (w->r->o.requests)
        atomic_fetch_sub(&w->r->issued, 1);
}

static ssize_t grpc_read_cb(nghttp2_session *sess, int32_t sid, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *u)
{
    (void)sess;
    (void)sid;
    struct conn *c = u;
    struct stream *s = src->ptr;
    size_t n = s->len - s->off < len ? s->len - s->off : len;
    size_t done = 0;
    if (s->off < 5) {
        size_t k = 5 - s->off < n ? 5 - s->off : n;
        memcpy(buf, s->prefix + s->off, k);
        done = k;
    }
    if (done < n)
        payload_copy(c->w->r, s->pl, &s->ids, s->off + done - 5, n - done, buf + done, &s->cursor);
    s->off += n;
    if (s->off == s->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* Starts one request on c (which has room), t0: its latency origin. */
static int conn_issue(struct conn *c, uint64_t t0)
{
    struct worker *w = c->w;
    struct run *r = w->r;
    const struct options *o = &r->o;
    enum sig sg = (enum sig)r->mix[w->mix_ctr++ % r->mix_len];
    struct pool *p = &r->pools[sg];
    const struct payload *pl = &p->p[w->pool_ctr[sg]++ % p->n];
    struct ids ids = w->next_ids;
    w->next_ids.trace_base += p->n_traces;
    w->next_ids.span_base += p->n_spans;
    uint64_t now = lr_mono_ns();
    struct reqinfo ri = { .t0_ns = t0,
                          .sent_ns = now,
                          .items = p->items,
                          .bytes = (uint32_t)pl->len,
                          .sig = (uint8_t)sg,
                          .measured = t0 >= r->warmup_end_ns };

    if (c->sess) {
        unsigned slot = c->free_slots[--c->n_free];
        struct stream *s = &c->streams[slot];
        memset(s, 0, offsetof(struct stream, resp));
        s->c = c;
        s->ri = ri;
        s->pl = pl;
        s->ids = ids;
        s->len = 5 + pl->len;
        s->prefix[0] = o->gzip ? 1 : 0;
        put_be(s->prefix + 1, pl->len, 4);
        s->http_status = 0;
        s->grpc_status = -1;
        s->resp_len = 0;
        s->resp_trunc = false;
        const char *path = o->path[0] ? o->path : grpc_path[sg];
#define NV(n, v, vl)                                       \
    { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl), \
      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE }
        nghttp2_nv nv[] = {
            NV(":method", "POST", 4),
            NV(":scheme", "http", 4),
            NV(":authority", o->authority, strlen(o->authority)),
            NV(":path", path, strlen(path)),
            NV("content-type", "application/grpc", 16),
            NV("te", "trailers", 8),
            NV("user-agent", "otlp-load/1", 11),
            NV("grpc-encoding", "gzip", 4),
        };
#undef NV
        nghttp2_data_provider dp = { .source.ptr = s, .read_callback = grpc_read_cb };
        int32_t id = nghttp2_submit_request(c->sess, NULL, nv, o->gzip ? 8 : 7, &dp, s);
        if (id < 0) {
            c->free_slots[c->n_free++] = slot;
            c->draining = true; /* out of stream ids, or GOAWAY: a new connection */
            return -1;
        }
        s->in_use = true;
    } else {
        size_t cap = p->h1_head_len + 64 + pl->len + (pl->len / CHUNK_BYTES + 1) * 16;
        if (wbuf_reserve(c, cap) != 0)
            return -1;
        uint8_t *d = c->wbuf + c->wlen;
        memcpy(d, p->h1_head, p->h1_head_len);
        d += p->h1_head_len;
        size_t cursor = 0;
        if (o->chunked) {
            memcpy(d, "Transfer-Encoding: chunked\r\n\r\n", 30);
            d += 30;
            for (size_t off = 0; off < pl->len; off += CHUNK_BYTES) {
                size_t k = pl->len - off < CHUNK_BYTES ? pl->len - off : CHUNK_BYTES;
                d += sprintf((char *)d, "%zx\r\n", k);
                payload_copy(r, pl, &ids, off, k, d, &cursor);
                d += k;
                memcpy(d, "\r\n", 2);
                d += 2;
            }
            memcpy(d, "0\r\n\r\n", 5);
            d += 5;
        } else {
            d += sprintf((char *)d, "Content-Length: %zu\r\n\r\n", pl->len);
            payload_copy(r, pl, &ids, 0, pl->len, d, &cursor);
            d += pl->len;
        }
        c->wlen = (size_t)(d - c->wbuf);
        c->q[(c->qhead + c->n_inflight) % o->inflight] = ri;
    }
    c->n_inflight++;
    w->inflight++;
    w->st.sent++;
    w->st.bytes += pl->len;
    return 0;
}

/* Sends what is buffered (and, on gRPC, what nghttp2 has to send) until the socket is full. */
static int conn_flush(struct conn *c)
{
    for (;;) {
        if (c->sess) {
            while (c->wlen - c->woff < H2_BATCH_BYTES) {
                const uint8_t *d;
                ssize_t n = nghttp2_session_mem_send(c->sess, &d);
                if (n < 0) {
                    conn_fail(c, E_MALFORMED);
                    return -1;
                }
                if (n == 0)
                    break;
                if (wbuf_reserve(c, (size_t)n) != 0) {
                    conn_fail(c, E_RESET);
                    return -1;
                }
                memcpy(c->wbuf + c->wlen, d, (size_t)n);
                c->wlen += (size_t)n;
            }
        }
        if (c->woff == c->wlen)
            break;
        ssize_t k = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (k > 0) {
            c->woff += (size_t)k;
            if (c->woff == c->wlen)
                c->woff = c->wlen = 0;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        conn_fail(c, E_RESET);
        return -1;
    }
    conn_set_events(c, EPOLLIN | (c->woff < c->wlen ? EPOLLOUT : 0));
    return 0;
}

/* Closed loop: tops c up to --inflight. */
static void conn_fill(struct conn *c)
{
    struct worker *w = c->w;
    if (w->interval_ns > 0)
        return;
    while (!w->stopping && conn_has_room(c) && budget_take(w)) {
        if (conn_issue(c, lr_mono_ns()) != 0) {
            budget_return(w);
            break;
        }
    }
}

/* ---- HTTP/1.1 answers ----------------------------------------------------------------------- */

struct h1_resp {
    int status;
    bool close;
    bool json;
    const uint8_t *body;
    size_t body_len;
};

static bool header_is(const uint8_t *n, size_t nl, const char *want)
{
    return nl == strlen(want) && strncasecmp((const char *)n, want, nl) == 0;
}

static bool value_has(const uint8_t *v, size_t vl, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= vl; i++)
        if (strncasecmp((const char *)v + i, word, wl) == 0)
            return true;
    return false;
}

static int body_append(struct conn *c, const uint8_t *p, size_t n)
{
    if (c->body_len + n > MAX_BODY_BYTES)
        return -1;
    if (c->body_len + n > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->body_len + n)
            cap *= 2;
        uint8_t *nb = realloc(c->body, cap);
        if (!nb)
            return -1;
        c->body = nb;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, p, n);
    c->body_len += n;
    return 0;
}

/* One answer at the front of p[0..n): bytes it took, 0 when incomplete, -1 malformed. */
static long h1_parse(struct conn *c, const uint8_t *p, size_t n, struct h1_resp *rs)
{
    size_t lim = n < MAX_HEAD_BYTES ? n : MAX_HEAD_BYTES;
    const uint8_t *eoh = memmem(p, lim, "\r\n\r\n", 4);
    if (!eoh)
        return n >= MAX_HEAD_BYTES ? -1 : 0;
    size_t head_len = (size_t)(eoh - p) + 4;
    if (head_len < 14 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return -1;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        status = status * 10 + (p[i] - '0');
    }
    memset(rs, 0, sizeof(*rs));
    rs->status = status;
    long long cl = -1;
    bool chunked = false;
    const uint8_t *line = (const uint8_t *)memchr(p, '\n', head_len) + 1;
    const uint8_t *hend = p + head_len;
    while (line < hend) {
        const uint8_t *eol = memchr(line, '\n', (size_t)(hend - line));
        if (!eol)
            return -1;
        size_t ll = (size_t)(eol - line);
        if (ll && line[ll - 1] == '\r')
            ll--;
        if (ll == 0)
            break;
        const uint8_t *colon = memchr(line, ':', ll);
        if (!colon)
            return -1;
        size_t nl = (size_t)(colon - line);
        const uint8_t *v = colon + 1, *vend = line + ll;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        size_t vl = (size_t)(vend - v);
        if (header_is(line, nl, "content-length")) {
            if (vl == 0 || vl > 12)
                return -1;
            cl = 0;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return -1;
                cl = cl * 10 + (v[i] - '0');
            }
        } else if (header_is(line, nl, "transfer-encoding")) {
            chunked = value_has(v, vl, "chunked");
        } else if (header_is(line, nl, "connection")) {
            rs->close = value_has(v, vl, "close");
        } else if (header_is(line, nl, "content-type")) {
            rs->json = value_has(v, vl, "json");
        }
        line = eol + 1;
    }
    if (status < 200 || status == 204 || status == 304)
        return (long)head_len;
    if (chunked) {
        size_t pos = head_len;
        c->body_len = 0;
        for (;;) {
            const uint8_t *eol = memmem(p + pos, n - pos, "\r\n", 2);
            if (!eol)
                return n - pos > 1024 ? -1 : 0;
            uint64_t sz = 0;
            const uint8_t *q = p + pos;
            if (q == eol)
                return -1;
            for (; q < eol && *q != ';'; q++) {
                int d = (*q >= '0' && *q <= '9')   ? *q - '0'
                        : (*q >= 'a' && *q <= 'f') ? *q - 'a' + 10
                        : (*q >= 'A' && *q <= 'F') ? *q - 'A' + 10
                                                   : -1;
                if (d < 0 || sz > MAX_BODY_BYTES)
                    return -1;
                sz = sz * 16 + (uint64_t)d;
            }
            pos = (size_t)(eol - p) + 2;
            if (sz == 0) { /* trailers, then an empty line */
                for (;;) {
                    const uint8_t *e2 = memmem(p + pos, n - pos, "\r\n", 2);
                    if (!e2)
                        return 0;
                    size_t l2 = (size_t)(e2 - (p + pos));
                    pos += l2 + 2;
                    if (l2 == 0)
                        break;
                }
                rs->body = c->body;
                rs->body_len = c->body_len;
                return (long)pos;
            }
            if (n - pos < sz + 2)
                return 0;
            if (p[pos + sz] != '\r' || p[pos + sz + 1] != '\n' || body_append(c, p + pos, sz) != 0)
                return -1;
            pos += sz + 2;
        }
    }
    if (cl < 0)
        cl = 0;
    if (cl > MAX_BODY_BYTES)
        return -1;
    if (n - head_len < (size_t)cl)
        return 0;
    rs->body = p + head_len;
    rs->body_len = (size_t)cl;
    return (long)(head_len + (size_t)cl);
}

static bool retryable_http(int status)
{
    return status == 429 || status == 503;
}

/* Reads what there is; answers end requests in order. */
static void h1_read(struct conn *c)
{
    struct worker *w = c->w;
    unsigned cap = w->r->o.inflight;
    for (;;) {
        if (c->rcap - c->rlen < READ_BYTES / 2) {
            size_t ncap = c->rcap ? c->rcap * 2 : READ_BYTES;
            if (ncap > MAX_HEAD_BYTES + MAX_BODY_BYTES + READ_BYTES) {
                conn_fail(c, E_MALFORMED);
                return;
            }
            uint8_t *nb = realloc(c->rbuf, ncap);
            if (!nb) {
                conn_fail(c, E_RESET);
                return;
            }
            c->rbuf = nb;
            c->rcap = ncap;
        }
        ssize_t k = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (k > 0) {
            c->rlen += (size_t)k;
        } else if (k == 0) {
            if (c->n_inflight == 0) {
                conn_close(c, E_RESET, 0); /* an idle keep-alive connection closed */
            } else if (c->server_close) {
                conn_close(c, FAIL_CLOSED_BY_SERVER, 0);
            } else {
                conn_fail(c, E_RESET);
            }
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            conn_fail(c, E_RESET);
            return;
        }
        /* Parse what is complete. */
        size_t off = 0;
        while (off < c->rlen) {
            struct h1_resp rs;
            long used = h1_parse(c, c->rbuf + off, c->rlen - off, &rs);
            if (used == 0)
                break;
            if (used < 0 || c->n_inflight == 0) {
                conn_fail(c, E_MALFORMED);
                return;
            }
            off += (size_t)used;
            if (rs.status < 200)
                continue; /* 100 Continue and the like */
            struct reqinfo ri = c->q[c->qhead];
            c->qhead = (c->qhead + 1) % cap;
            c->n_inflight--;
            if (rs.status == 200) {
                int64_t rej = rs.json ? 0 : rejected_count(rs.body, rs.body_len);
                if (rej < 0)
                    req_done(w, &ri, O_ERR, E_MALFORMED, 0);
                else
                    req_done(w, &ri, O_OK, 0, rej);
                c->fails = 0;
            } else {
                req_done(w, &ri, O_HTTP, rs.status, 0);
            }
            if (rs.close) {
                c->server_close = true;
                if (c->n_inflight > 0) {
                    conn_close(c, FAIL_CLOSED_BY_SERVER, 0);
                } else {
                    conn_close(c, E_RESET, 0);
                }
                return;
            }
        }
        if (off > 0) {
            memmove(c->rbuf, c->rbuf + off, c->rlen - off);
            c->rlen -= off;
        }
    }
}

/* ---- gRPC answers --------------------------------------------------------------------------- */

static ssize_t h2_send_cb(nghttp2_session *s, const uint8_t *d, size_t n, int f, void *u)
{
    (void)s;
    (void)d;
    (void)n;
    (void)f;
    (void)u;
    return NGHTTP2_ERR_CALLBACK_FAILURE; /* nghttp2_session_mem_send only */
}

static int h2_header_cb(nghttp2_session *sess, const nghttp2_frame *fr, const uint8_t *name,
                        size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *u)
{
    (void)flags;
    (void)u;
    if (fr->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct stream *s = nghttp2_session_get_stream_user_data(sess, fr->hd.stream_id);
    if (!s || !s->in_use)
        return 0;
    int v = 0;
    bool num = valuelen > 0 && valuelen <= 6;
    for (size_t i = 0; i < valuelen && num; i++) {
        if (value[i] < '0' || value[i] > '9')
            num = false;
        else
            v = v * 10 + (value[i] - '0');
    }
    if (namelen == 7 && memcmp(name, ":status", 7) == 0)
        s->http_status = num ? v : 0;
    else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
        s->grpc_status = num ? v : 1000;
    return 0;
}

static int h2_data_cb(nghttp2_session *sess, uint8_t flags, int32_t sid, const uint8_t *d, size_t n,
                      void *u)
{
    (void)flags;
    (void)u;
    struct stream *s = nghttp2_session_get_stream_user_data(sess, sid);
    if (!s || !s->in_use)
        return 0;
    if (s->resp_len + n > GRPC_RESP_MAX) {
        s->resp_trunc = true;
        return 0;
    }
    memcpy(s->resp + s->resp_len, d, n);
    s->resp_len += n;
    return 0;
}

static int h2_close_cb(nghttp2_session *sess, int32_t sid, uint32_t code, void *u)
{
    struct conn *c = u;
    struct worker *w = c->w;
    struct stream *s = nghttp2_session_get_stream_user_data(sess, sid);
    if (!s || !s->in_use)
        return 0;
    s->in_use = false;
    c->free_slots[c->n_free++] = (unsigned)(s - c->streams);
    c->n_inflight--;
    const struct reqinfo *ri = &s->ri;
    if (s->grpc_status < 0) {
        if (code == NGHTTP2_REFUSED_STREAM)
            req_done(w, ri, O_ERR, FAIL_REFUSED_STREAM, 0);
        else if (code != NGHTTP2_NO_ERROR)
            req_done(w, ri, O_ERR, E_RESET, 0);
        else if (s->http_status != 200 && s->http_status != 0)
            req_done(w, ri, O_HTTP, s->http_status, 0);
        else
            req_done(w, ri, O_ERR, E_MALFORMED, 0);
        return 0;
    }
    if (s->grpc_status != 0) {
        req_done(w, ri, O_GRPC, s->grpc_status, 0);
        return 0;
    }
    int64_t rej = 0;
    if (s->resp_len > 0 && !s->resp_trunc) {
        /* One length-prefixed message; a compressed one is not looked into (none is asked for). */
        uint32_t mlen = s->resp_len >= 5 ? (uint32_t)s->resp[1] << 24 | (uint32_t)s->resp[2] << 16 |
                                               (uint32_t)s->resp[3] << 8 | s->resp[4]
                                         : 0;
        if (s->resp_len < 5 || mlen != s->resp_len - 5) {
            req_done(w, ri, O_ERR, E_MALFORMED, 0);
            return 0;
        }
        if (s->resp[0] == 0)
            rej = rejected_count(s->resp + 5, mlen);
    }
    if (rej < 0) {
        req_done(w, ri, O_ERR, E_MALFORMED, 0);
        return 0;
    }
    c->fails = 0;
    req_done(w, ri, O_OK, 0, rej);
    return 0;
}

static int h2_frame_cb(nghttp2_session *sess, const nghttp2_frame *fr, void *u)
{
    (void)sess;
    struct conn *c = u;
    if (fr->hd.type == NGHTTP2_GOAWAY)
        c->draining = true;
    return 0;
}

static void h2_read(struct conn *c)
{
    struct worker *w = c->w;
    for (;;) {
        ssize_t k = recv(c->fd, w->scratch, sizeof(w->scratch), 0);
        if (k > 0) {
            ssize_t used = nghttp2_session_mem_recv(c->sess, w->scratch, (size_t)k);
            if (used < 0) {
                conn_fail(c, E_MALFORMED);
                return;
            }
        } else if (k == 0) {
            if (c->n_inflight == 0)
                conn_close(c, E_RESET, 0);
            else
                conn_fail(c, E_RESET);
            return;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            conn_fail(c, E_RESET);
            return;
        }
    }
    if (c->draining && c->n_inflight == 0)
        conn_close(c, E_RESET, 0); /* after GOAWAY: a fresh connection */
}

/* ---- the worker loop ------------------------------------------------------------------------ */

static void conn_connected(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        conn_fail(c, E_CONNECT);
        return;
    }
    c->state = C_OPEN;
    if (c->w->r->o.grpc && conn_open_h2(c) != 0) {
        conn_fail(c, E_CONNECT);
        return;
    }
    conn_set_events(c, EPOLLIN);
}

static void conn_event(struct conn *c, uint32_t ev)
{
    if (c->state == C_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            conn_connected(c);
        if (c->state != C_OPEN)
            return;
    } else if (c->state == C_OPEN && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
        if (c->sess)
            h2_read(c);
        else
            h1_read(c);
        if (c->state != C_OPEN)
            return;
    }
    conn_fill(c);
    if (c->state == C_OPEN)
        conn_flush(c);
}

/* Requests in flight longer than the timeout: the connection goes, its requests count as timed
 * out. */
static void check_timeouts(struct worker *w, uint64_t now)
{
    const struct run *r = w->r;
    for (unsigned i = 0; i < w->n_conns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state != C_OPEN || c->n_inflight == 0)
            continue;
        uint64_t oldest = UINT64_MAX;
        if (c->sess) {
            for (unsigned k = 0; k < r->o.inflight; k++)
                if (c->streams[k].in_use && c->streams[k].ri.sent_ns < oldest)
                    oldest = c->streams[k].ri.sent_ns;
        } else {
            oldest = c->q[c->qhead].sent_ns;
        }
        if (oldest != UINT64_MAX && now - oldest > r->timeout_ns)
            conn_fail(c, E_TIMEOUT);
    }
}

/* --rate: when the k-th request of this thread is due. */
static uint64_t sched_ns(const struct worker *w, uint64_t k)
{
    return w->r->start_ns + (uint64_t)(w->phase_ns + (double)k * w->interval_ns);
}

/* --rate: sends what is due, on connections with room, in turn. */
static void dispatch_due(struct worker *w, uint64_t now)
{
    while (!w->stopping) {
        uint64_t due = sched_ns(w, w->sched_k);
        if (due > now)
            break;
        struct conn *c = NULL;
        for (unsigned k = 0; k < w->n_conns; k++) {
            struct conn *cc = &w->conns[(w->rr + k) % w->n_conns];
            if (conn_has_room(cc)) {
                c = cc;
                w->rr = (unsigned)((cc - w->conns) + 1) % w->n_conns;
                break;
            }
        }
        if (!c)
            break; /* everything full: it waits, and the wait counts in its latency */
        if (!budget_take(w))
            break;
        if (conn_issue(c, due) != 0) {
            budget_return(w);
            break;
        }
        w->sched_k++;
        conn_flush(c);
    }
}

/* epoll_pwait2 (Linux 5.11) waits to the nanosecond: with --rate, epoll_wait's milliseconds
 * would send up to 1 ms late, and that lateness would count in every latency. */
static int wait_events(int ep, struct epoll_event *evs, int max, uint64_t timeout_ns)
{
    static atomic_bool no_pwait2;
    if (!atomic_load(&no_pwait2)) {
        struct timespec ts = { .tv_sec = (time_t)(timeout_ns / 1000000000u),
                               .tv_nsec = (long)(timeout_ns % 1000000000u) };
        int n = epoll_pwait2(ep, evs, max, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        atomic_store(&no_pwait2, true);
    }
    return epoll_wait(ep, evs, max, (int)((timeout_ns + 999999) / 1000000));
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct run *r = w->r;
    struct epoll_event evs[256];
    uint64_t next_tick = 0;

    w->reconnect_wake = UINT64_MAX;
    if (w->interval_ns > 0)
        prctl(PR_SET_TIMERSLACK, 1000UL); /* 1 us, not the default 50 us */
    for (unsigned i = 0; i < w->n_conns; i++)
        conn_connect(&w->conns[i]);
    for (;;) {
        uint64_t now = lr_mono_ns();
        if (!w->stopping &&
            (atomic_load(&r->stop) || w->budget_out || (r->deadline_ns && now >= r->deadline_ns))) {
            w->stopping = true;
            w->stop_ns = now;
            if (w->interval_ns > 0) { /* due and never sent */
                uint64_t end = now > r->deadline_ns && r->deadline_ns ? r->deadline_ns : now;
                double due = ceil(((double)(end - r->start_ns) - w->phase_ns) / w->interval_ns);
                if (due > (double)w->sched_k && !w->budget_out)
                    w->st.unsent += (uint64_t)due - w->sched_k;
            }
        }
        if (w->stopping) {
            if (w->inflight == 0)
                break;
            if (now - w->stop_ns > r->timeout_ns) {
                for (unsigned i = 0; i < w->n_conns; i++)
                    if (w->conns[i].n_inflight > 0)
                        conn_close(&w->conns[i], E_TIMEOUT, 0);
                break;
            }
        }
        if (now >= next_tick || (!w->stopping && now >= w->reconnect_wake)) {
            /* The housekeeping pass: timeouts, connections to make again, and (closed loop)
             * connections to top up that no event will wake. */
            next_tick = now + TICK_NS;
            w->reconnect_wake = UINT64_MAX;
            check_timeouts(w, now);
            for (unsigned i = 0; i < w->n_conns; i++) {
                struct conn *c = &w->conns[i];
                if (c->state == C_OPEN && c->draining && c->n_inflight == 0)
                    conn_close(c, E_RESET, 0); /* after GOAWAY: a fresh connection */
                if (c->state == C_CLOSED && !w->stopping) {
                    if (now >= c->reconnect_ns)
                        conn_connect(c);
                    else if (c->reconnect_ns < w->reconnect_wake)
                        w->reconnect_wake = c->reconnect_ns;
                } else if (c->state == C_OPEN && w->interval_ns == 0 && conn_has_room(c)) {
                    conn_fill(c);
                    if (c->state == C_OPEN)
                        conn_flush(c);
                }
            }
        }
        if (w->interval_ns > 0)
            dispatch_due(w, now);
        uint64_t wake = next_tick;
        if (!w->stopping && w->reconnect_wake < wake)
            wake = w->reconnect_wake;
        if (w->interval_ns > 0 && !w->stopping) {
            uint64_t due = sched_ns(w, w->sched_k);
            if (due < wake)
                wake = due;
        }
        now = lr_mono_ns();
        int n = wait_events(w->ep, evs, 256, wake <= now ? 0 : wake - now);
        for (int i = 0; i < n; i++)
            conn_event(evs[i].data.ptr, evs[i].events);
    }
    for (unsigned i = 0; i < w->n_conns; i++) {
        struct conn *c = &w->conns[i];
        if (c->sess || c->fd >= 0)
            conn_close(c, E_RESET, 0);
    }
    atomic_fetch_add(&r->threads_done, 1);
    return NULL;
}

/* ---- options, report ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: otlp-load --target http://HOST:PORT | grpc://HOST:PORT\n"
            "         [--signal traces|metrics|logs | --mix traces=8,metrics=1,logs=1]\n"
            "         [--connections N] [--inflight M] [--threads T] [--rate R]\n"
            "         [--duration-s D | --requests N] [--warmup-s W] [--timeout-s S]\n"
            "         [--gzip] [--chunked] [--spans-per-request 100] [--spans-per-trace 10]\n"
            "         [--pool K] [--seed S] [--cpu] [--quiet]\n");
}

static int sig_from(const char *s, size_t n)
{
    for (int i = 0; i < SIG_COUNT; i++)
        if (strlen(sig_name[i]) == n && strncmp(s, sig_name[i], n) == 0)
            return i;
    return -1;
}

static int parse_mix(struct options *o, const char *arg)
{
    memset(o->weights, 0, sizeof(o->weights));
    const char *p = arg;
    while (*p) {
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        int s = eq && eq < end ? sig_from(p, (size_t)(eq - p)) : sig_from(p, (size_t)(end - p));
        if (s < 0)
            return -1;
        unsigned long wgt = 1;
        if (eq && eq < end) {
            char *e;
            wgt = strtoul(eq + 1, &e, 10);
            if (e != end || wgt > 64)
                return -1;
        }
        o->weights[s] = (unsigned)wgt;
        p = *end ? end + 1 : end;
    }
    unsigned total = 0;
    for (int s = 0; s < SIG_COUNT; s++)
        total += o->weights[s];
    return total == 0 || total > 64 ? -1 : 0;
}

static int parse_target(struct options *o)
{
    const char *t = o->target, *rest;
    if (strncmp(t, "http://", 7) == 0) {
        rest = t + 7;
    } else if (strncmp(t, "grpc://", 7) == 0) {
        o->grpc = true;
        rest = t + 7;
    } else {
        return -1;
    }
    const char *slash = strchr(rest, '/');
    size_t hp_len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (hp_len == 0 || hp_len >= sizeof(o->authority))
        return -1;
    memcpy(o->authority, rest, hp_len);
    o->authority[hp_len] = '\0';
    if (slash && strcmp(slash, "/") != 0) {
        if (strlen(slash) >= sizeof(o->path))
            return -1;
        strcpy(o->path, slash);
    }
    const char *hs = o->authority, *colon;
    if (*hs == '[') {
        const char *rb = strchr(hs, ']');
        if (!rb || rb[1] != ':')
            return -1;
        snprintf(o->host, sizeof(o->host), "%.*s", (int)(rb - hs - 1), hs + 1);
        colon = rb + 1;
    } else {
        colon = strrchr(hs, ':');
        if (!colon)
            return -1;
        snprintf(o->host, sizeof(o->host), "%.*s", (int)(colon - hs), hs);
    }
    if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(o->port))
        return -1;
    strcpy(o->port, colon + 1);
    return 0;
}

static bool parse_u(const char *s, unsigned long long lo, unsigned long long hi,
                    unsigned long long *out)
{
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno || e == s || *e || v < lo || v > hi || *s == '-')
        return false;
    *out = v;
    return true;
}

static bool parse_d(const char *s, double lo, double hi, double *out)
{
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (errno || e == s || *e || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static void stats_add(struct stats *a, const struct stats *b)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        a->hist[i] += b->hist[i];
    if (b->lat_max_ns > a->lat_max_ns)
        a->lat_max_ns = b->lat_max_ns;
    if (b->last_done_ns > a->last_done_ns)
        a->last_done_ns = b->last_done_ns;
    a->lat_sum_ns += b->lat_sum_ns;
    a->m_ok += b->m_ok;
    a->m_items += b->m_items;
    a->m_bytes += b->m_bytes;
    a->sent += b->sent;
    a->ok += b->ok;
    a->bytes += b->bytes;
    for (int s = 0; s < SIG_COUNT; s++)
        a->acked[s] += b->acked[s];
    for (int e = 0; e < E_COUNT; e++)
        a->err[e] += b->err[e];
    for (int i = 0; i < HTTP_CODES; i++)
        a->http[i] += b->http[i];
    for (int i = 0; i < GRPC_CODES; i++)
        a->grpc[i] += b->grpc[i];
    a->refused_stream += b->refused_stream;
    a->closed_by_server += b->closed_by_server;
    a->unsent += b->unsent;
}

static volatile sig_atomic_t got_signal;
static struct run *the_run;

static void on_signal(int sig)
{
    (void)sig;
    got_signal = 1;
    if (the_run)
        atomic_store(&the_run->stop, true);
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    static struct run run;
    struct run *r = &run;
    struct options *o = &r->o;
    int rc = 2;
    struct worker *ws = NULL;
    unsigned long long u;
    bool have_duration = false;

    o->weights[SIG_TRACES] = 1;
    o->connections = 4;
    o->inflight = 1;
    o->threads = 1;
    o->duration_s = 10;
    o->timeout_s = 10;
    o->items = 100;
    o->items_per_trace = 10;
    o->pool = 64;
    o->seed = 1;

    enum {
        OPT_SPANS = 256,
        OPT_PER_TRACE,
        OPT_WARMUP,
        OPT_TIMEOUT,
        OPT_CPU,
        OPT_MIX,
        OPT_POOL,
        OPT_DUMP
    };
    static const struct option lopts[] = {
        { "target", required_argument, NULL, 'T' },
        { "signal", required_argument, NULL, 's' },
        { "mix", required_argument, NULL, OPT_MIX },
        { "connections", required_argument, NULL, 'c' },
        { "inflight", required_argument, NULL, 'm' },
        { "threads", required_argument, NULL, 't' },
        { "rate", required_argument, NULL, 'r' },
        { "duration-s", required_argument, NULL, 'd' },
        { "requests", required_argument, NULL, 'n' },
        { "warmup-s", required_argument, NULL, OPT_WARMUP },
        { "timeout-s", required_argument, NULL, OPT_TIMEOUT },
        { "gzip", no_argument, NULL, 'z' },
        { "chunked", no_argument, NULL, 'k' },
        { "spans-per-request", required_argument, NULL, OPT_SPANS },
        { "spans-per-trace", required_argument, NULL, OPT_PER_TRACE },
        { "pool", required_argument, NULL, OPT_POOL },
        { "seed", required_argument, NULL, 'S' },
        { "dump-requests", required_argument, NULL, OPT_DUMP },
        { "cpu", no_argument, NULL, OPT_CPU },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'T':
            o->target = optarg;
            break;
        case OPT_DUMP:
            o->dump_dir = optarg;
            break;
        case 's': {
            int s = sig_from(optarg, strlen(optarg));
            ok = s >= 0;
            if (ok) {
                memset(o->weights, 0, sizeof(o->weights));
                o->weights[s] = 1;
            }
            break;
        }
        case OPT_MIX:
            ok = parse_mix(o, optarg) == 0;
            break;
        case 'c':
            ok = parse_u(optarg, 1, MAX_CONNECTIONS, &u);
            o->connections = (unsigned)u;
            break;
        case 'm':
            ok = parse_u(optarg, 1, MAX_INFLIGHT, &u);
            o->inflight = (unsigned)u;
            break;
        case 't':
            ok = parse_u(optarg, 1, MAX_THREADS, &u);
            o->threads = (unsigned)u;
            break;
        case 'r':
            ok = parse_d(optarg, 0.001, 1e9, &o->rate);
            break;
        case 'd':
            ok = parse_d(optarg, 0.001, 1e7, &o->duration_s);
            have_duration = true;
            break;
        case 'n':
            ok = parse_u(optarg, 1, UINT64_MAX / 2, &u);
            o->requests = u;
            break;
        case OPT_WARMUP:
            ok = parse_d(optarg, 0, 1e6, &o->warmup_s);
            break;
        case OPT_TIMEOUT:
            ok = parse_d(optarg, 0.001, 1e6, &o->timeout_s);
            break;
        case 'z':
            o->gzip = true;
            break;
        case 'k':
            o->chunked = true;
            break;
        case OPT_SPANS:
            ok = parse_u(optarg, 1, MAX_ITEMS, &u);
            o->items = (unsigned)u;
            break;
        case OPT_PER_TRACE:
            ok = parse_u(optarg, 1, MAX_ITEMS, &u);
            o->items_per_trace = (unsigned)u;
            break;
        case OPT_POOL:
            ok = parse_u(optarg, 1, 4096, &u);
            o->pool = (unsigned)u;
            break;
        case 'S':
            ok = parse_u(optarg, 0, UINT64_MAX, &u);
            o->seed = u;
            break;
        case OPT_CPU:
            o->cpu = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage();
            return 0;
        default:
            usage();
            return 2;
        }
        if (!ok) {
            const char *name = "?";
            for (const struct option *lo = lopts; lo->name; lo++)
                if (lo->val == ch)
                    name = lo->name;
            fprintf(stderr, "otlp-load: bad value for --%s: %s\n", name, optarg);
            return 2;
        }
    }
    if (optind != argc || !o->target) {
        usage();
        return 2;
    }
    if (parse_target(o) != 0) {
        fprintf(stderr,
                "otlp-load: --target must be http://HOST:PORT[/PATH] or grpc://HOST:PORT\n");
        return 2;
    }
    if (o->chunked && o->grpc) {
        fprintf(stderr, "otlp-load: --chunked is for HTTP/1.1 targets\n");
        return 2;
    }
    if (o->requests && !have_duration)
        o->duration_s = 0;
    if (o->threads > o->connections)
        o->threads = o->connections;
    for (int s = 0; s < SIG_COUNT; s++)
        for (unsigned i = 0; i < o->weights[s]; i++)
            r->mix[r->mix_len++] = (uint8_t)s;

    if (o->dump_dir) {
        /* The request bodies the load would send, one per signal, for benchmarks that need the
         * same bytes without the network (bench/walk.c). */
        o->pool = 1;
        o->gzip = false;
        for (int s = 0; s < SIG_COUNT; s++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s.pb", o->dump_dir, sig_name[s]);
            FILE *f = pool_build(r, (enum sig)s) == 0 ? fopen(path, "wb") : NULL;
            if (!f ||
                fwrite(r->pools[s].p[0].body, 1, r->pools[s].p[0].len, f) != r->pools[s].p[0].len) {
                fprintf(stderr, "otlp-load: cannot write %s\n", path);
                if (f)
                    fclose(f);
                return 2;
            }
            fclose(f);
        }
        return 0;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int gai = getaddrinfo(o->host, o->port, &hints, &ai);
    if (gai != 0) {
        fprintf(stderr, "otlp-load: %s: %s\n", o->host, gai_strerror(gai));
        return 2;
    }
    memcpy(&r->addr, ai->ai_addr, ai->ai_addrlen);
    r->addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);

    r->seed_a = mix64(o->seed ^ 0x5452414345ull);
    r->seed_b = mix64(o->seed ^ 0x4c4f574552ull);
    r->seed_c = mix64(o->seed ^ 0x5350414eull);
    for (int s = 0; s < SIG_COUNT; s++) {
        if (o->weights[s] && pool_build(r, (enum sig)s) != 0) {
            fprintf(stderr, "otlp-load: could not encode the %s requests\n", sig_name[s]);
            goto out;
        }
    }

    nghttp2_session_callbacks_new(&h2_callbacks);
    nghttp2_session_callbacks_set_send_callback(h2_callbacks, h2_send_cb);
    nghttp2_session_callbacks_set_on_header_callback(h2_callbacks, h2_header_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(h2_callbacks, h2_data_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(h2_callbacks, h2_close_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(h2_callbacks, h2_frame_cb);

    signal(SIGPIPE, SIG_IGN);
    the_run = r;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    ws = calloc(o->threads, sizeof(*ws));
    if (!ws)
        goto out;
    r->timeout_ns = (uint64_t)(o->timeout_s * 1e9);
    for (unsigned t = 0; t < o->threads; t++) {
        struct worker *w = &ws[t];
        w->r = r;
        w->idx = t;
        w->n_conns = o->connections / o->threads + (t < o->connections % o->threads);
        w->conns = calloc(w->n_conns, sizeof(*w->conns));
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (!w->conns || w->ep < 0)
            goto out;
        w->next_ids.tag = (uint64_t)t << 48;
        w->next_ids.trace_base = w->next_ids.span_base = 1;
        w->pool_ctr[SIG_TRACES] = w->pool_ctr[SIG_METRICS] = w->pool_ctr[SIG_LOGS] = t;
        if (o->rate > 0) {
            w->interval_ns = 1e9 * o->threads / o->rate;
            w->phase_ns = 1e9 * t / o->rate;
        }
        for (unsigned i = 0; i < w->n_conns; i++) {
            struct conn *c = &w->conns[i];
            c->w = w;
            c->fd = -1;
            if (o->grpc) {
                c->streams = calloc(o->inflight, sizeof(*c->streams));
                c->free_slots = calloc(o->inflight, sizeof(*c->free_slots));
                if (!c->streams || !c->free_slots)
                    goto out;
                for (unsigned k = 0; k < o->inflight; k++)
                    c->free_slots[c->n_free++] = o->inflight - 1 - k;
            } else {
                c->q = calloc(o->inflight, sizeof(*c->q));
                if (!c->q)
                    goto out;
            }
        }
    }

    struct rusage ru0, ru_w, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    r->start_ns = lr_mono_ns();
    r->warmup_end_ns = r->start_ns + (uint64_t)(o->warmup_s * 1e9);
    r->deadline_ns = o->duration_s > 0 ? r->warmup_end_ns + (uint64_t)(o->duration_s * 1e9) : 0;
    unsigned started = 0;
    for (; started < o->threads; started++)
        if (pthread_create(&ws[started].th, NULL, worker_main, &ws[started]) != 0)
            break;
    if (started < o->threads) {
        atomic_store(&r->stop, true);
        fprintf(stderr, "otlp-load: could not start the threads\n");
    }
    bool have_w = o->warmup_s == 0;
    ru_w = ru0;
    while (atomic_load(&r->threads_done) < started) {
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);
        if (!have_w && lr_mono_ns() >= r->warmup_end_ns) {
            getrusage(RUSAGE_SELF, &ru_w);
            have_w = true;
        }
    }
    for (unsigned t = 0; t < started; t++)
        pthread_join(ws[t].th, NULL);
    getrusage(RUSAGE_SELF, &ru1);
    if (started < o->threads)
        goto out;

    static struct stats tot;
    for (unsigned t = 0; t < o->threads; t++)
        stats_add(&tot, &ws[t].st);
    /* The window: from the warmup's end to the last answer, or to the stop when that came later
     * (an open loop's last interval ends at the deadline, not at its last answer). */
    uint64_t first_stop_ns = UINT64_MAX;
    for (unsigned t = 0; t < o->threads; t++)
        if (ws[t].stop_ns < first_stop_ns)
            first_stop_ns = ws[t].stop_ns;
    uint64_t end_ns = tot.last_done_ns > first_stop_ns ? tot.last_done_ns : first_stop_ns;
    if (end_ns < r->warmup_end_ns)
        end_ns = r->warmup_end_ns;
    double secs = (double)(end_ns - r->warmup_end_ns) / 1e9;
    double rps = secs > 0 ? (double)tot.m_ok / secs : 0;
    double ips = secs > 0 ? (double)tot.m_items / secs : 0;
    double bps = secs > 0 ? (double)tot.m_bytes / secs : 0;
    double q[5] = { 0.5, 0.9, 0.99, 0.999 };
    double lat_us[5];
    for (int i = 0; i < 4; i++)
        lat_us[i] = (double)hist_quantile(&tot, q[i]) / 1e3;
    lat_us[4] = (double)tot.lat_max_ns / 1e3;
    double mean_us = tot.m_ok ? (double)tot.lat_sum_ns / (double)tot.m_ok / 1e3 : 0;
    double cpu_user = tv_s(ru1.ru_utime) - tv_s(ru_w.ru_utime);
    double cpu_sys = tv_s(ru1.ru_stime) - tv_s(ru_w.ru_stime);

    uint64_t errors = 0;
    for (int e = 0; e < E_COUNT; e++)
        errors += tot.err[e];
    for (int i = 0; i < HTTP_CODES; i++)
        if (!retryable_http(i))
            errors += tot.http[i];
    for (int i = 0; i < GRPC_CODES; i++)
        if (i != GRPC_RESOURCE_EXHAUSTED && i != GRPC_UNAVAILABLE)
            errors += tot.grpc[i];
    if (atomic_load(&r->gave_up))
        errors += errors == 0;
    rc = errors ? 1 : 0;

    char mixs[96] = "";
    for (int s = 0, n = 0; s < SIG_COUNT; s++)
        if (o->weights[s])
            n += snprintf(mixs + n, sizeof(mixs) - (size_t)n, "%s%s=%u", n ? "," : "", sig_name[s],
                          o->weights[s]);

    /* JSON */
    printf("{\"target\":\"%s\",\"transport\":\"%s\",\"mix\":\"%s\",\"connections\":%u,"
           "\"inflight\":%u,\"threads\":%u,\"rate\":%.3f,\"gzip\":%s,\"chunked\":%s,"
           "\"items_per_request\":%u,\"measured_s\":%.3f,\"requests\":%" PRIu64
           ",\"items\":%" PRIu64 ",\"body_bytes\":%" PRIu64
           ",\"requests_per_s\":%.1f,\"items_per_s\":%.1f,\"bytes_per_s\":%.1f,"
           "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,"
           "\"mean\":%.1f},",
           o->target, o->grpc ? "grpc" : "http1", mixs, o->connections, o->inflight, o->threads,
           o->rate, o->gzip ? "true" : "false", o->chunked ? "true" : "false", o->items, secs,
           tot.m_ok, tot.m_items, tot.m_bytes, rps, ips, bps, lat_us[0], lat_us[1], lat_us[2],
           lat_us[3], lat_us[4], mean_us);
    printf("\"errors\":{\"total\":%" PRIu64, errors);
    for (int e = 0; e < E_COUNT; e++)
        printf(",\"%s\":%" PRIu64, err_name[e], tot.err[e]);
    printf(",\"http_status\":{");
    for (int i = 0, n = 0; i < HTTP_CODES; i++)
        if (tot.http[i] && !retryable_http(i))
            printf("%s\"%d\":%" PRIu64, n++ ? "," : "", i, tot.http[i]);
    printf("},\"grpc_status\":{");
    for (int i = 0, n = 0; i < GRPC_CODES; i++)
        if (tot.grpc[i] && i != GRPC_RESOURCE_EXHAUSTED && i != GRPC_UNAVAILABLE)
            printf("%s\"%d\":%" PRIu64, n++ ? "," : "", i, tot.grpc[i]);
    printf("},\"gave_up\":%s},", atomic_load(&r->gave_up) ? "true" : "false");
    printf("\"refused\":{\"http_429\":%" PRIu64 ",\"http_503\":%" PRIu64 ",\"grpc_8\":%" PRIu64
           ",\"grpc_14\":%" PRIu64 ",\"refused_stream\":%" PRIu64 ",\"closed_by_server\":%" PRIu64
           "},\"unsent\":%" PRIu64 ",",
           tot.http[429], tot.http[503], tot.grpc[GRPC_RESOURCE_EXHAUSTED],
           tot.grpc[GRPC_UNAVAILABLE], tot.refused_stream, tot.closed_by_server, tot.unsent);
    printf("\"total\":{\"sent\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"body_bytes\":%" PRIu64, tot.sent,
           tot.ok, tot.bytes);
    for (int s = 0; s < SIG_COUNT; s++)
        printf(",\"%s\":%" PRIu64, item_name[s], tot.acked[s]);
    printf("},\"bytes_per_request\":{");
    for (int s = 0, n = 0; s < SIG_COUNT; s++)
        if (o->weights[s])
            printf("%s\"%s\":%zu", n++ ? "," : "", sig_name[s], r->pools[s].p[0].len);
    printf("}");
    if (o->cpu)
        printf(",\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_ns_per_item\":%.1f", cpu_user,
               cpu_sys, tot.m_items ? (cpu_user + cpu_sys) * 1e9 / (double)tot.m_items : 0.0);
    printf(",\"exit\":%d}\n", rc);
    fflush(stdout);

    if (!o->quiet) {
        fprintf(stderr, "otlp-load: %s %s, %s, %u connections x %u in flight, %u thread(s), %s",
                o->grpc ? "gRPC" : "HTTP/1.1", o->target, mixs, o->connections, o->inflight,
                o->threads, o->rate > 0 ? "open loop" : "closed loop");
        if (o->rate > 0)
            fprintf(stderr, " at %.0f req/s", o->rate);
        fprintf(stderr, "%s%s\n", o->gzip ? ", gzip" : "", o->chunked ? ", chunked" : "");
        for (int s = 0; s < SIG_COUNT; s++)
            if (o->weights[s])
                fprintf(stderr, "  %s request: %u items, %zu bytes protobuf%s, %zu on the wire\n",
                        sig_name[s], r->pools[s].items, r->pools[s].raw_len,
                        o->gzip ? " before gzip" : "", r->pools[s].p[0].len);
        fprintf(stderr,
                "  measured %.2f s: %" PRIu64 " requests ok, %.1f req/s, %.0f items/s, %.2f MB/s "
                "of bodies\n",
                secs, tot.m_ok, rps, ips, bps / 1e6);
        fprintf(stderr,
                "  latency (us): p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f  mean %.0f\n",
                lat_us[0], lat_us[1], lat_us[2], lat_us[3], lat_us[4], mean_us);
        fprintf(stderr, "  errors: %" PRIu64, errors);
        for (int e = 0; e < E_COUNT; e++)
            if (tot.err[e])
                fprintf(stderr, ", %s %" PRIu64, err_name[e], tot.err[e]);
        for (int i = 0; i < HTTP_CODES; i++)
            if (tot.http[i] && !retryable_http(i))
                fprintf(stderr, ", HTTP %d: %" PRIu64, i, tot.http[i]);
        for (int i = 0; i < GRPC_CODES; i++)
            if (tot.grpc[i] && i != GRPC_RESOURCE_EXHAUSTED && i != GRPC_UNAVAILABLE)
                fprintf(stderr, ", grpc-status %d: %" PRIu64, i, tot.grpc[i]);
        fprintf(stderr,
                "\n  refused (retryable): HTTP 429 %" PRIu64 ", 503 %" PRIu64 ", grpc 8 %" PRIu64
                ", 14 %" PRIu64 ", REFUSED_STREAM %" PRIu64 ", closed by server %" PRIu64
                "; due but never sent: %" PRIu64 "\n",
                tot.http[429], tot.http[503], tot.grpc[GRPC_RESOURCE_EXHAUSTED],
                tot.grpc[GRPC_UNAVAILABLE], tot.refused_stream, tot.closed_by_server, tot.unsent);
        fprintf(stderr,
                "  whole run: %" PRIu64 " sent, %" PRIu64 " ok; accepted %" PRIu64
                " spans, %" PRIu64 " metric points, %" PRIu64 " log records\n",
                tot.sent, tot.ok, tot.acked[SIG_TRACES], tot.acked[SIG_METRICS],
                tot.acked[SIG_LOGS]);
        if (o->cpu)
            fprintf(stderr, "  cpu (after warmup): user %.2f s, sys %.2f s, %.1f ns per item\n",
                    cpu_user, cpu_sys,
                    tot.m_items ? (cpu_user + cpu_sys) * 1e9 / (double)tot.m_items : 0.0);
    }

out:
    if (ws) {
        for (unsigned t = 0; t < o->threads; t++) {
            struct worker *w = &ws[t];
            for (unsigned i = 0; w->conns && i < w->n_conns; i++) {
                struct conn *c = &w->conns[i];
                free(c->wbuf);
                free(c->rbuf);
                free(c->body);
                free(c->q);
                free(c->streams);
                free(c->free_slots);
            }
            free(w->conns);
            if (w->ep > 0)
                close(w->ep);
        }
        free(ws);
    }
    if (h2_callbacks)
        nghttp2_session_callbacks_del(h2_callbacks);
    pools_free(r);
    return rc;
}
