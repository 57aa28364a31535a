/*
 * span_gen: steady OTLP/HTTP span traffic for several services with controlled latency and error
 * rate, and a change in the middle (tests/integration/test_anomaly.sh).
 *
 * Usage:
 *   span_gen --target HOST:PORT --service NAME:LATENCY_MS:ERROR_PCT [--service ...]
 *            [--rate R] [--spans S] [--duration-s D] [--tag HEX8]
 *            [--change-after-s T --change NAME:LATENCY_MS:ERROR_PCT [--change-file F]]
 *            [--mark-file M] [--caller NAME] [--out FILE]
 *
 * Each service sends R requests a second (default 20) on average, as a Poisson process (the
 * services' requests interleaved at random, exponential gaps), so per-window counts vary as real
 * traffic does rather than being one exact number that any hiccup of the client upsets. Each is an
 * ExportTraceServiceRequest (built with protobuf-c) whose resource has that service.name and
 * holds S spans (default 5): one-span traces, kind SERVER, name "GET /api", lasting the service's
 * latency times a uniform factor in [0.8, 1.2], status ERROR with probability ERROR_PCT %.
 * After T seconds the --change service takes its new latency and error rate (and F is written).
 * With --caller, each request answered 200 is followed by one from service NAME, on a second
 * connection: one span, "GET /front", in each of that request's traces (a caller whose spans
 * are exported after its callee's, in another request).
 * Sending stops after D seconds (default 10), or once the file --stop-file exists.
 *
 * Trace ids say who sent them, so a test can count them in Kafka by record key (linerate keys
 * trace records by the trace id in hex): bytes 0-3 the --tag, byte 4 the service's index, byte 5
 * the phase (0 before the change, 1 after it, 2 once the --mark-file exists), bytes 6-15 random.
 * --out writes per service and phase the spans answered 200 and the caller's spans in that
 * service's traces answered 200: "NAME PHASE SPANS CALLER_SPANS" lines.
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "linerate/clock.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#define MAX_SVC 8
#define MAX_SPANS 64

struct svc {
    char name[64];
    double latency_ms, error_pct;
    uint64_t sent[3];        /* spans answered 200, per phase */
    uint64_t caller_sent[3]; /* the caller's spans in this service's traces answered 200 */
};

static struct svc svcs[MAX_SVC];
static int n_svc;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(void)
{
    return (double)(next_rand() >> 11) / 9007199254740992.0;
}

static int parse_svc(const char *arg, char *name, double *lat, double *err)
{
    const char *a = strchr(arg, ':');
    const char *b = a ? strchr(a + 1, ':') : NULL;
    if (!a || !b || a == arg || (size_t)(a - arg) >= 64)
        return -1;
    memcpy(name, arg, (size_t)(a - arg));
    name[a - arg] = 0;
    char *end;
    *lat = strtod(a + 1, &end);
    if (end != b || *lat <= 0)
        return -1;
    *err = strtod(b + 1, &end);
    if (*end || *err < 0 || *err > 100)
        return -1;
    return 0;
}

static int dial(const char *target)
{
    char host[256];
    const char *colon = strrchr(target, ':');
    if (!colon || (size_t)(colon - target) >= sizeof(host))
        return -1;
    memcpy(host, target, (size_t)(colon - target));
    host[colon - target] = 0;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

/* Builds one request for service s, phase `phase`; returns its packed bytes (malloc'd) and
 * writes its spans' trace ids to tids. With `caller` set, the request is the caller's instead:
 * its spans are "GET /front" of that service, 50 ms +-20 %, no errors, one in each trace of
 * tids (given). */
static uint8_t *build(int s, int phase, uint32_t tag, int n_spans, size_t *len, uint8_t (*tids)[16],
                      const char *caller)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req;
    Opentelemetry__Proto__Trace__V1__ResourceSpans rs, *rsp = &rs;
    Opentelemetry__Proto__Resource__V1__Resource res;
    Opentelemetry__Proto__Common__V1__KeyValue kv, *kvp = &kv;
    Opentelemetry__Proto__Common__V1__AnyValue v;
    Opentelemetry__Proto__Trace__V1__ScopeSpans ss, *ssp = &ss;
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope;
    Opentelemetry__Proto__Trace__V1__Span spans[MAX_SPANS], *spp[MAX_SPANS];
    Opentelemetry__Proto__Trace__V1__Status st[MAX_SPANS];
    uint8_t ids[MAX_SPANS][24];

    opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
    opentelemetry__proto__trace__v1__resource_spans__init(&rs);
    opentelemetry__proto__resource__v1__resource__init(&res);
    opentelemetry__proto__common__v1__key_value__init(&kv);
    opentelemetry__proto__common__v1__any_value__init(&v);
    opentelemetry__proto__trace__v1__scope_spans__init(&ss);
    opentelemetry__proto__common__v1__instrumentation_scope__init(&scope);
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v.string_value = caller ? (char *)caller : svcs[s].name;
    kv.key = "service.name";
    kv.value = &v;
    res.n_attributes = 1;
    res.attributes = &kvp;
    rs.resource = &res;
    scope.name = "span_gen";
    ss.scope = &scope;
    uint64_t now = lr_real_ns();
    for (int i = 0; i < n_spans; i++) {
        Opentelemetry__Proto__Trace__V1__Span *sp = &spans[i];
        opentelemetry__proto__trace__v1__span__init(sp);
        opentelemetry__proto__trace__v1__status__init(&st[i]);
        uint8_t *id = ids[i];
        id[0] = (uint8_t)(tag >> 24);
        id[1] = (uint8_t)(tag >> 16);
        id[2] = (uint8_t)(tag >> 8);
        id[3] = (uint8_t)tag;
        id[4] = (uint8_t)s;
        id[5] = (uint8_t)phase;
        uint64_t r1 = next_rand(), r2 = next_rand();
        memcpy(id + 6, &r1, 8);
        memcpy(id + 14, &r2, 2); /* trace id bytes 14, 15 */
        memcpy(id + 16, &r2, 8); /* span id */
        id[16] |= 1;
        if (caller)
            memcpy(id, tids[i], 16);
        else
            memcpy(tids[i], id, 16);
        sp->trace_id = (ProtobufCBinaryData){ 16, id };
        sp->span_id = (ProtobufCBinaryData){ 8, id + 16 };
        sp->name = caller ? "GET /front" : "GET /api";
        sp->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
        double ms = (caller ? 50 : svcs[s].latency_ms) * (0.8 + 0.4 * uniform());
        sp->end_time_unix_nano = now;
        sp->start_time_unix_nano = now - (uint64_t)(ms * 1e6);
        if (!caller && uniform() * 100 < svcs[s].error_pct) {
            st[i].code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
            st[i].message = "boom";
            sp->status = &st[i];
        }
        spp[i] = sp;
    }
    ss.n_spans = (size_t)n_spans;
    ss.spans = spp;
    rs.n_scope_spans = 1;
    rs.scope_spans = &ssp;
    req.n_resource_spans = 1;
    req.resource_spans = &rsp;
    *len =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
            &req);
    uint8_t *out = malloc(*len ? *len : 1);
    if (out)
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, out);
    return out;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Sends one POST and reads the answer. Returns the HTTP status, or -1. */
static int post(int fd, const char *target, const uint8_t *body, size_t len)
{
    char hdr[512];
    int n = snprintf(hdr, sizeof(hdr),
                     "POST /v1/traces HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                     "application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
                     target, len);
    if (write_all(fd, hdr, (size_t)n) < 0 || write_all(fd, body, len) < 0)
        return -1;
    char buf[8192];
    size_t got = 0;
    for (;;) {
        ssize_t k = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (k <= 0)
            return -1;
        got += (size_t)k;
        buf[got] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        const char *cl = strcasestr(buf, "content-length:");
        size_t blen = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
        if (got >= (size_t)(end + 4 - buf) + blen)
            break;
        if (got == sizeof(buf) - 1)
            return -1;
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

static void usage(void)
{
    fprintf(stderr, "usage: span_gen --target HOST:PORT --service NAME:LATENCY_MS:ERROR_PCT ... "
                    "[--rate R] [--spans S] [--duration-s D] [--tag HEX8] [--change-after-s T "
                    "--change NAME:LATENCY_MS:ERROR_PCT] [--change-file F] [--mark-file M] "
                    "[--stop-file F] [--caller NAME] [--out FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *target = NULL, *change_file = NULL, *mark_file = NULL, *stop_file = NULL,
               *out = NULL, *change = NULL, *caller = NULL;
    double rate = 20, duration = 10, change_after = -1;
    int n_spans = 5;
    uint32_t tag = 0x11223344;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--target"))
            target = v;
        else if (!strcmp(a, "--service")) {
            if (n_svc == MAX_SVC ||
                parse_svc(v, svcs[n_svc].name, &svcs[n_svc].latency_ms, &svcs[n_svc].error_pct) < 0)
                usage();
            n_svc++;
        } else if (!strcmp(a, "--rate"))
            rate = atof(v);
        else if (!strcmp(a, "--spans"))
            n_spans = atoi(v);
        else if (!strcmp(a, "--duration-s"))
            duration = atof(v);
        else if (!strcmp(a, "--tag"))
            tag = (uint32_t)strtoul(v, NULL, 16);
        else if (!strcmp(a, "--change-after-s"))
            change_after = atof(v);
        else if (!strcmp(a, "--change"))
            change = v;
        else if (!strcmp(a, "--change-file"))
            change_file = v;
        else if (!strcmp(a, "--mark-file"))
            mark_file = v;
        else if (!strcmp(a, "--stop-file"))
            stop_file = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--caller"))
            caller = v;
        else
            usage();
    }
    if (!target || n_svc == 0 || rate <= 0 || n_spans < 1 || n_spans > MAX_SPANS)
        usage();
    char cname[64];
    double clat = 0, cerr = 0;
    int csvc = -1;
    if (change) {
        if (parse_svc(change, cname, &clat, &cerr) < 0)
            usage();
        for (int s = 0; s < n_svc; s++)
            if (!strcmp(svcs[s].name, cname))
                csvc = s;
        if (csvc < 0 || change_after < 0)
            usage();
    }
    rng ^= (uint64_t)tag * 0x2545f4914f6cdd1dull ^ lr_real_ns();
    int fd = dial(target), cfd = caller ? dial(target) : -1;
    if (fd < 0 || (caller && cfd < 0)) {
        fprintf(stderr, "span_gen: cannot connect to %s\n", target);
        return 1;
    }
    uint8_t tids[MAX_SPANS][16];
    /* One Poisson schedule for all services; each request goes to a service drawn at random. */
    uint64_t t0 = lr_mono_ns(), due = t0;
    double mean_gap_ns = 1e9 / (rate * n_svc);
    int phase = 0, rc = 0;
    uint64_t errors = 0;
    for (;;) {
        due += (uint64_t)(-log(1.0 - uniform()) * mean_gap_ns);
        if (due >= t0 + (uint64_t)(duration * 1e9))
            break;
        uint64_t now = lr_mono_ns();
        if (due > now) {
            struct timespec ts = { (time_t)((due - now) / 1000000000ull),
                                   (long)((due - now) % 1000000000ull) };
            nanosleep(&ts, NULL);
        }
        if (stop_file && access(stop_file, F_OK) == 0)
            break;
        if (phase == 0 && csvc >= 0 && lr_mono_ns() - t0 >= (uint64_t)(change_after * 1e9)) {
            phase = 1;
            svcs[csvc].latency_ms = clat;
            svcs[csvc].error_pct = cerr;
            if (change_file) {
                FILE *f = fopen(change_file, "w");
                if (f) {
                    fprintf(f, "%llu\n", (unsigned long long)(lr_real_ns() / 1000000ull));
                    fclose(f);
                }
            }
        }
        if (phase == 1 && mark_file && access(mark_file, F_OK) == 0)
            phase = 2;
        int s = (int)(next_rand() % (uint64_t)n_svc);
        size_t len;
        uint8_t *body = build(s, phase, tag, n_spans, &len, tids, NULL);
        if (!body) {
            rc = 1;
            break;
        }
        int st = post(fd, target, body, len);
        free(body);
        if (st == 200 && caller) {
            body = build(s, phase, tag, n_spans, &len, tids, caller);
            int cst = body ? post(cfd, target, body, len) : -1;
            free(body);
            if (cst == 200) {
                svcs[s].caller_sent[phase] += (uint64_t)n_spans;
            } else {
                fprintf(stderr, "span_gen: the caller's request failed (%d)\n", cst);
                rc = 1;
                break;
            }
        }
        if (st == 200) {
            svcs[s].sent[phase] += (uint64_t)n_spans;
        } else {
            errors++;
            if (st < 0) {
                close(fd);
                fd = dial(target);
                if (fd < 0) {
                    fprintf(stderr, "span_gen: connection lost\n");
                    rc = 1;
                    break;
                }
            }
        }
    }
    if (fd >= 0)
        close(fd);
    if (cfd >= 0)
        close(cfd);
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f)
        return 1;
    for (int s = 0; s < n_svc; s++)
        for (int p = 0; p < 3; p++)
            fprintf(f, "%s %d %llu %llu\n", svcs[s].name, p, (unsigned long long)svcs[s].sent[p],
                    (unsigned long long)svcs[s].caller_sent[p]);
    if (out)
        fclose(f);
    fprintf(stderr, "span_gen: %llu requests not answered 200\n", (unsigned long long)errors);
    return rc ? rc : errors ? 1 : 0;
}
