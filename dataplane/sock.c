/* The kernel-socket io backend: one worker thread per selected CPU, each with its own epoll set,
 * its own SO_REUSEPORT listener (the kernel spreads new connections over the listeners by flow
 * hash) and its own connections, run to completion: read → HTTP/1.1 engine → OTLP handler →
 * ring → write. No locks on the request path: the only shared state is the SPSC ring towards the
 * output thread and single-writer counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hwloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dpdk.h"
#include "linerate/clock.h"
#include "linerate/error.h"
#include "linerate/h2.h"
#include "linerate/http1.h"
#include "linerate/spool.h"
#include "linerate/workers.h"
#include "net.h"
#include "otlp_http.h"
#include "tcp.h"

#define RX_BUF_BYTES (256u * 1024u)
#define MAX_EVENTS 256
#define TICK_MS 100
#define OUT_HIGH_BYTES (4u << 20) /* stop reading a connection that does not read its answers */
#define MAX_HOLDS 8 /* past this, the newest hold grows instead (answers wait longer) */

/* A connection speaks HTTP/1.1 or HTTP/2. On the OTLP/HTTP port the first bytes decide: the
 * HTTP/2 client preface (RFC 9113 §3.4) means gRPC with prior knowledge, anything else HTTP/1.1.
 * On the gRPC port it is HTTP/2 from the start. */
enum proto { P_SNIFF, P_H1, P_H2 };

struct conn {
    int fd;                    /* kernel path; -1 on the userspace TCP path */
    struct lr_dp_tcp_conn *tc; /* userspace TCP path (dataplane.mode dpdk); NULL otherwise */
    bool closed;               /* tc: closed by us, freed when the stack's on_close comes */
    struct worker *owner;
    enum proto proto;
    struct lr_http1_conn *h; /* P_H1 */
    struct lr_h2_conn *h2;   /* P_H2 */
    uint8_t sniff[LR_H2_PREFACE_LEN];
    size_t sniff_len;
    uint64_t born_ns;
    bool dead; /* sniffing failed or timed out: close */
    bool shut; /* draining: GOAWAY sent (HTTP/2) */
    struct conn *prev, *next;
    bool want_out;  /* EPOLLOUT registered */
    bool paused_in; /* EPOLLIN removed while output is backed up */
    /* Acknowledgement: in spool and kafka modes, output from the point where an answer that
     * appended to the spool begins is not sent until the spool made its records durable, or
     * Kafka has them. One hold per engine call that appended (oldest first); output before the
     * first hold goes out as usual, so one slow answer does not hold back the ones before it. */
    enum lr_ack_mode ack;
    struct hold {
        uint64_t start; /* output byte (counted from the connection's first) it begins at */
        uint64_t seq;   /* the last record it waits for */
        uint64_t t_ns;  /* when it was made */
    } holds[MAX_HOLDS];
    uint32_t n_holds;
    uint64_t out_sent; /* output bytes sent so far */
    bool eof;          /* the peer closed its side */
    bool rdhup;        /* EPOLLRDHUP registered */
    struct conn *hprev, *hnext;
    bool in_held; /* on the worker's held list */
};

struct worker {
    uint32_t id;
    int cpu, numa_node;
    int lfd, gfd, epfd, stopfd; /* OTLP/HTTP listener, OTLP/gRPC listener */
    const struct lr_config *cfg;
    struct lr_dp_workers *all;
    pthread_t thread;
    bool started;
    struct lr_http1_limits limits;
    struct lr_http_handler handler;
    struct lr_h2_limits h2_limits;
    struct lr_h2_handler h2_handler;
    struct lr_dp_otlp_ctx otlp;
    struct lr_worker_stats stats;
    struct lr_dp_worker_info info;
    struct conn *conns; /* doubly linked list */
    struct conn *held;  /* connections with answers held for the spool or Kafka */
    int notefd;         /* eventfd: the spool's watermarks advanced */
    struct lr_cp_spool *spool;
    uint8_t *rx; /* RX_BUF_BYTES from the worker's NUMA node */
    bool numa_rx;
    /* dataplane.mode dpdk: this worker's queue pair, link/network layer and TCP stack. */
    struct lr_dp_dpdk_q *q;
    struct lr_dp_net *net;
    struct lr_dp_tcp *tcp;
    uint64_t now;      /* the time of the current loop pass (the stack's callbacks use it) */
    unsigned rx_flags; /* LR_DP_RX_CSUM_OK of the frame being taken in */
};

struct lr_dp_workers {
    const struct lr_config *cfg;
    hwloc_topology_t topo;
    uint32_t n;
    struct worker **w;
    _Atomic bool stopping;
    _Atomic uint32_t grace_ms;
    struct lr_ring **route;       /* tail sampling: n x n rings, [from * n + to] (owned) */
    struct lr_ring ***route_in;   /* per worker: its n inbound rings (owned arrays) */
    int *wake;                    /* per worker: its notefd (tail routing wakes the owner) */
    struct lr_dp_dpdk *dpdk;      /* dataplane.mode dpdk: the port (owned) */
    struct lr_sampling_rt *rt;    /* owned */
    struct lr_sampling_set *set0; /* owned: generation 1, from the configuration */
    struct lr_anom_rt *anom;      /* owned (anomaly.enabled): the batcher's open series */
};

/* ---- cpu selection -------------------------------------------------------------------------- */

/* Fills `cpus` with the CPUs named by `spec` ("all": the CPUs this process may run on, so that
 * taskset and cgroups are honoured). Returns the count, or -1 with errstr set. */
static int select_cpus(const char *spec, int *cpus, int cap, char *errstr, size_t errlen)
{
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
        snprintf(errstr, errlen, "workers.cores: sched_getaffinity: %s", strerror(errno));
        return -1;
    }
    int n = 0;
    if (strcmp(spec, "all") == 0) {
        for (int c = 0; c < CPU_SETSIZE && n < cap; c++)
            if (CPU_ISSET(c, &allowed))
                cpus[n++] = c;
        return n;
    }
    const char *p = spec;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b;
        if (end == p || a < 0 || a >= CPU_SETSIZE)
            goto bad;
        b = a;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a || b >= CPU_SETSIZE)
                goto bad;
            p = end;
        }
        for (long c = a; c <= b; c++) {
            if (!CPU_ISSET(c, &allowed)) {
                snprintf(errstr, errlen, "workers.cores: cpu %ld is not available to this process",
                         c);
                return -1;
            }
            for (int i = 0; i < n; i++)
                if (cpus[i] == c)
                    goto dup;
            if (n < cap)
                cpus[n++] = (int)c;
        dup:;
        }
        if (*p == ',')
            p++;
        else if (*p)
            goto bad;
    }
    if (n == 0)
        goto bad;
    return n;
bad:
    snprintf(errstr, errlen, "workers.cores: \"%s\" is not a cpu list (e.g. all, 0-3,6)", spec);
    return -1;
}

/* ---- listener -------------------------------------------------------------------------------- */

static int listen_on(const char *host, uint16_t port, bool reuseport, char *errstr, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC,
                              .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char ports[8];
    snprintf(ports, sizeof(ports), "%u", port);
    int rc = getaddrinfo(host[0] ? host : NULL, ports, &hints, &res);
    if (rc != 0) {
        snprintf(errstr, errlen, "%s:%u: %s", host, port, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        goto fail;
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4096) != 0)
        goto fail;
    freeaddrinfo(res);
    return fd;
fail:
    snprintf(errstr, errlen, "listen on %s:%u: %s", host, port, strerror(errno));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return -1;
}

/* ---- connections ----------------------------------------------------------------------------- */

/* ---- one connection, whichever protocol ----------------------------------------------------- */

static struct lr_slice c_output(struct conn *c)
{
    if (c->proto == P_H1)
        return lr_http1_conn_output(c->h);
    if (c->proto == P_H2)
        return lr_h2_conn_output(c->h2);
    return lr_slice_make(NULL, 0);
}

static void held_add(struct worker *w, struct conn *c)
{
    if (c->in_held)
        return;
    c->in_held = true;
    c->hprev = NULL;
    c->hnext = w->held;
    if (w->held)
        w->held->hprev = c;
    w->held = c;
}

static void held_remove(struct worker *w, struct conn *c)
{
    if (!c->in_held)
        return;
    c->in_held = false;
    if (c->hprev)
        c->hprev->hnext = c->hnext;
    else
        w->held = c->hnext;
    if (c->hnext)
        c->hnext->hprev = c->hprev;
}

/* Around an engine call that may answer requests (and so append to the spool) on behalf of `c`:
 * the handler learns the connection's ack mode, and what it appended becomes a hold starting
 * where the output stood before the call. */
static uint64_t engine_begin(struct worker *w, struct conn *c, uint64_t *pos)
{
    w->otlp.ack = c->ack;
    *pos = c->out_sent + c_output(c).len;
    return w->otlp.appended_seq;
}

static void engine_end(struct worker *w, struct conn *c, uint64_t before, uint64_t pos, uint64_t t)
{
    if (w->otlp.appended_seq == before)
        return;
    if (c->n_holds == MAX_HOLDS) {
        c->holds[MAX_HOLDS - 1].seq = w->otlp.appended_seq;
    } else {
        c->holds[c->n_holds++] =
            (struct hold){ .start = pos, .seq = w->otlp.appended_seq, .t_ns = t };
    }
    held_add(w, c);
}

static void c_consumed(struct worker *w, struct conn *c, size_t n, uint64_t t)
{
    uint64_t pos, before = engine_begin(w, c, &pos);
    c->out_sent += n;
    if (c->proto == P_H1)
        lr_http1_conn_output_consumed(c->h, n);
    else if (c->proto == P_H2)
        lr_h2_conn_output_consumed(c->h2, n, t);
    engine_end(w, c, before, pos, t);
}

static bool c_closing(const struct conn *c)
{
    if (c->proto == P_H1)
        return lr_http1_conn_closing(c->h);
    if (c->proto == P_H2)
        return lr_h2_conn_closing(c->h2);
    return c->dead;
}

static bool c_idle(const struct conn *c)
{
    if (c->proto == P_H1)
        return lr_http1_conn_idle(c->h);
    if (c->proto == P_H2)
        return lr_h2_conn_idle(c->h2);
    return c->sniff_len == 0;
}

static int c_tick(struct conn *c, uint64_t t, uint64_t sniff_timeout_ns)
{
    if (c->proto == P_H1)
        return lr_http1_conn_tick(c->h, t);
    if (c->proto == P_H2)
        return lr_h2_conn_tick(c->h2, t);
    if (t - c->born_ns > sniff_timeout_ns)
        c->dead = true;
    return c->dead ? LR_E_TIMEOUT : 0;
}

static void c_eof(struct conn *c)
{
    if (c->proto == P_H1)
        lr_http1_conn_eof(c->h);
    else if (c->proto == P_H2)
        lr_h2_conn_eof(c->h2);
    else
        c->dead = true;
}

static bool start_h2(struct worker *w, struct conn *c, uint64_t t)
{
    c->h2 = lr_h2_conn_new(&w->h2_limits, &w->h2_handler, t);
    c->proto = P_H2;
    c->ack = w->spool ? (enum lr_ack_mode)w->cfg->grpc.ack : LR_ACK_MEMORY;
    if (!c->h2)
        c->dead = true, c->proto = P_SNIFF;
    return c->h2 != NULL;
}

/* Feeds received bytes; on the OTLP/HTTP port the first bytes pick the protocol. */
static void c_feed(struct worker *w, struct conn *c, const uint8_t *p, size_t n, uint64_t t)
{
    if (c->proto == P_SNIFF) {
        size_t i = 0;
        while (i < n && c->sniff_len < LR_H2_PREFACE_LEN &&
               p[i] == (uint8_t)LR_H2_PREFACE[c->sniff_len])
            c->sniff[c->sniff_len++] = p[i++];
        if (c->sniff_len < LR_H2_PREFACE_LEN && i == n)
            return; /* a prefix of the preface so far: wait for more */
        bool h2 = c->sniff_len == LR_H2_PREFACE_LEN;
        if (h2) {
            if (!start_h2(w, c, t))
                return;
        } else {
            c->h = lr_http1_conn_new(&w->limits, &w->handler, t);
            if (!c->h) {
                c->dead = true;
                return;
            }
            c->proto = P_H1;
            c->ack = w->spool ? (enum lr_ack_mode)w->cfg->http.ack : LR_ACK_MEMORY;
        }
        /* Replay what was held back, then the rest of this read. */
        if (c->sniff_len)
            c_feed(w, c, c->sniff, c->sniff_len, t);
        c->sniff_len = 0;
        p += i;
        n -= i;
        if (n == 0)
            return;
    }
    uint64_t pos, before = engine_begin(w, c, &pos);
    if (c->proto == P_H1)
        lr_http1_conn_feed(c->h, p, n, t);
    else if (c->proto == P_H2)
        lr_h2_conn_feed(c->h2, p, n, t);
    engine_end(w, c, before, pos, t);
}

static void conn_free(struct worker *w, struct conn *c)
{
    held_remove(w, c);
    lr_http1_conn_free(c->h);
    lr_h2_conn_free(c->h2);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    lr_stat_add(&w->stats.conns_open, (uint64_t)-1);
}

static void conn_close(struct worker *w, struct conn *c)
{
    if (c->tc) {
        /* The userspace stack sends what is queued, then FIN; the conn goes with on_close. */
        if (!c->closed) {
            c->closed = true;
            held_remove(w, c);
            lr_dp_tcp_shutdown(c->tc, w->now);
        }
        return;
    }
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    conn_free(w, c);
}

static void conn_update_events(struct worker *w, struct conn *c, bool want_out, bool pause_in)
{
    /* After the peer's EOF, EPOLLRDHUP stays raised (level-triggered): stop asking for it, or a
     * connection whose answers are held would wake the worker in a loop. */
    bool rdhup = !c->eof;
    if (c->tc) {
        /* Userspace TCP: pausing input is a closing receive window (on_data takes nothing);
         * resuming offers what the stack buffered and opens the window again. */
        bool was = c->paused_in;
        c->paused_in = pause_in;
        c->want_out = want_out;
        if (was && !pause_in && !c->closed)
            lr_dp_tcp_resume(c->tc, w->now);
        return;
    }
    if (want_out == c->want_out && pause_in == c->paused_in && rdhup == c->rdhup)
        return;
    struct epoll_event ev = { .events = (pause_in ? 0 : EPOLLIN) | (want_out ? EPOLLOUT : 0) |
                                        (rdhup ? EPOLLRDHUP : 0),
                              .data.ptr = c };
    epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want_out;
    c->paused_in = pause_in;
    c->rdhup = rdhup;
}

static unsigned lat_bucket(uint64_t ns)
{
    uint64_t us = ns / 1000;
    unsigned b = 0;
    while (us > 0 && b < LR_LAT_BUCKETS - 1) {
        us >>= 1;
        b++;
    }
    return b;
}

/* Drops the holds whose records the spool has on disk (spool mode) or Kafka has (kafka mode),
 * recording their latency. Returns true when none is left. */
static bool hold_released(struct worker *w, struct conn *c, uint64_t t)
{
    uint32_t i = 0;
    if (c->n_holds == 0)
        return true;
    uint64_t mark = c->ack == LR_ACK_KAFKA ? lr_cp_spool_delivered_below(w->spool)
                                           : lr_cp_spool_durable_seq(w->spool) + 1;
    for (; i < c->n_holds && mark > c->holds[i].seq; i++)
        lr_stat_add(&w->stats.ack_latency[c->ack == LR_ACK_KAFKA][lat_bucket(t - c->holds[i].t_ns)],
                    1);
    if (i > 0) {
        memmove(c->holds, c->holds + i, (c->n_holds - i) * sizeof(c->holds[0]));
        c->n_holds -= i;
    }
    if (c->n_holds)
        return false;
    held_remove(w, c);
    return true;
}

/* Sends what the engine queued, up to the first answer still held. Returns false when the
 * connection is gone. */
static bool conn_flush(struct worker *w, struct conn *c)
{
    hold_released(w, c, lr_mono_ns());
    for (;;) {
        struct lr_slice out = c_output(c);
        size_t len = out.len;
        if (c->n_holds) {
            uint64_t room = c->holds[0].start > c->out_sent ? c->holds[0].start - c->out_sent : 0;
            if (room < len)
                len = (size_t)room;
        }
        if (len == 0)
            break;
        if (c->tc) {
            size_t k = c->closed ? 0 : lr_dp_tcp_send(c->tc, out.p, len, w->now);
            if (k == 0)
                break; /* send buffer full: the next pass tries again */
            lr_stat_add(&w->stats.bytes_out, k);
            c_consumed(w, c, k, w->now);
            continue;
        }
        ssize_t k = send(c->fd, out.p, len, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            conn_close(w, c);
            return false;
        }
        lr_stat_add(&w->stats.bytes_out, (uint64_t)k);
        c_consumed(w, c, (size_t)k, lr_mono_ns());
    }
    size_t left = c_output(c).len;
    bool held = c->n_holds && c->holds[0].start <= c->out_sent;
    if (left == 0 && !c->n_holds && (c_closing(c) || c->eof)) {
        conn_close(w, c);
        return false;
    }
    /* Held: no EPOLLOUT (the spool's eventfd wakes us), and keep reading (more requests may join
     * this commit) unless output is backed up or the peer is gone. */
    conn_update_events(w, c, left > 0 && !held, left > OUT_HIGH_BYTES || c->eof);
    return true;
}

static void conn_readable(struct worker *w, struct conn *c)
{
    /* Read a bounded amount per wakeup so one busy connection cannot starve the others. */
    for (int rounds = 0; rounds < 4; rounds++) {
        ssize_t k = recv(c->fd, w->rx, RX_BUF_BYTES, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            conn_close(w, c);
            return;
        }
        if (k == 0) {
            c_eof(c);
            c->eof = true;
            if (c_output(c).len == 0 && !c->n_holds) {
                conn_close(w, c);
                return;
            }
            break;
        }
        lr_stat_add(&w->stats.bytes_in, (uint64_t)k);
        c_feed(w, c, w->rx, (size_t)k, lr_mono_ns());
        if (c_closing(c) || (size_t)k < RX_BUF_BYTES)
            break;
    }
    conn_flush(w, c);
}

static void accept_all(struct worker *w, int lfd, bool grpc_port)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or EMFILE and friends: try again on the next wakeup */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->rdhup = true;
        c->born_ns = lr_mono_ns();
        /* The server speaks first in HTTP/2 (its SETTINGS): on the gRPC port start at once. */
        if (grpc_port)
            start_h2(w, c, c->born_ns);
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
        if (c->dead || epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            lr_h2_conn_free(c->h2);
            free(c);
            close(fd);
            continue;
        }
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        lr_stat_add(&w->stats.conns_accepted, 1);
        lr_stat_add(&w->stats.conns_open, 1);
        if (grpc_port)
            conn_flush(w, c);
    }
}

static void tick_all(struct worker *w, uint64_t t)
{
    struct conn *c = w->conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (c->closed)
            continue;
        /* A held connection's output waits for the spool, not for the peer: the engines' send
         * timeouts must not count that time. */
        if (c->n_holds && !hold_released(w, c, t))
            continue;
        if (c_tick(c, t, w->limits.header_timeout_ns) < 0 || c_closing(c) || c_output(c).len)
            conn_flush(w, c);
    }
}

/* The spool's watermarks advanced: send the answers they release. */
static void release_held(struct worker *w, uint64_t t)
{
    struct conn *c = w->held, *next;
    for (; c; c = next) {
        next = c->hnext;
        if (hold_released(w, c, t))
            conn_flush(w, c);
    }
}

/* ---- dataplane.mode dpdk: the userspace TCP path
 * -------------------------------------------------
 *
 * The same connections and engines as the socket path; only the byte transport differs. Frames
 * come from the worker's DPDK queue into the link/network layer (net.c), TCP datagrams into the
 * worker's own TCP stack (tcp.c), and the stack's connections into the engines. Backpressure is
 * the receive window: while a connection's output is backed up, on_data takes nothing. */

#define DP_TICK_NS 5000000ull /* TCP timers, ARP, engine timeouts */
#define DP_IDLE_SPINS 2000    /* empty polls before the worker naps */
#define DP_NAP_US 50

static void *tcp_on_open(void *ctx, struct lr_dp_tcp_conn *tc)
{
    struct worker *w = ctx;
    if (atomic_load(&w->all->stopping))
        return NULL; /* draining: refused (RST) */
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->fd = -1;
    c->tc = tc;
    c->owner = w;
    c->born_ns = w->now;
    /* The server speaks first in HTTP/2: on the gRPC port start at once (the next pass sends
     * the SETTINGS). */
    if (lr_dp_tcp_local_port(tc) == w->cfg->grpc.port && w->cfg->grpc.port != w->cfg->http.port)
        start_h2(w, c, w->now);
    if (c->dead) {
        free(c);
        return NULL;
    }
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    lr_stat_add(&w->stats.conns_accepted, 1);
    lr_stat_add(&w->stats.conns_open, 1);
    return c;
}

static size_t tcp_on_data(void *app, struct lr_dp_tcp_conn *tc, const uint8_t *p, size_t n)
{
    (void)tc;
    struct conn *c = app;
    struct worker *w = c->owner;
    if (c->closed)
        return n; /* we are closing: what the peer still sends is discarded */
    if (c->paused_in)
        return 0; /* output backed up: the window closes */
    lr_stat_add(&w->stats.bytes_in, n);
    c_feed(w, c, p, n, w->now);
    return n;
}

static void tcp_on_fin(void *app, struct lr_dp_tcp_conn *tc)
{
    (void)tc;
    struct conn *c = app;
    if (c->closed)
        return;
    c_eof(c);
    c->eof = true;
}

static void tcp_on_close(void *app, struct lr_dp_tcp_conn *tc)
{
    (void)tc;
    struct conn *c = app;
    c->tc = NULL;
    conn_free(c->owner, c);
}

static void tcp_output(void *ctx, const uint8_t *ip_pkt, size_t len)
{
    struct worker *w = ctx;
    lr_dp_net_ip_output(w->net, ip_pkt, len, w->now);
}

static void net_tx(void *ctx, const uint8_t *frame, size_t len)
{
    struct worker *w = ctx;
    lr_dp_dpdk_tx(w->q, frame, len);
}

static void net_ip_input(void *ctx, const uint8_t *ip_pkt, size_t len, uint64_t now)
{
    struct worker *w = ctx;
    lr_dp_tcp_input_flags(w->tcp, ip_pkt, len, now,
                          (w->rx_flags & LR_DP_RX_CSUM_OK) ? LR_DP_TCP_IN_CSUM_OK : 0);
}

static void dpdk_frame(void *ctx, const uint8_t *frame, size_t len, unsigned flags)
{
    struct worker *w = ctx;
    w->rx_flags = flags; /* for net_ip_input, called from inside lr_dp_net_input */
    lr_dp_net_input(w->net, frame, len, w->now);
    w->rx_flags = 0;
}

static void dp_set(struct worker *w, enum lr_dp_counter k, uint64_t v)
{
    atomic_store_explicit(&w->stats.dp[k], v, memory_order_relaxed);
}

/* Publishes the queue's, the link layer's and the stack's counters for /metrics. */
static void dp_stats(struct worker *w)
{
    const struct lr_dp_dpdk_q_stats *q = lr_dp_dpdk_q_stats(w->q);
    const struct lr_dp_net_stats *n = lr_dp_net_stats(w->net);
    const struct lr_dp_tcp_stats *t = lr_dp_tcp_stats(w->tcp);
    dp_set(w, LR_DPC_RX_PKTS, q->rx_pkts);
    dp_set(w, LR_DPC_RX_BYTES, q->rx_bytes);
    dp_set(w, LR_DPC_TX_PKTS, q->tx_pkts);
    dp_set(w, LR_DPC_TX_BYTES, q->tx_bytes);
    dp_set(w, LR_DPC_DROP_TX_NO_MBUF, q->tx_dropped);
    dp_set(w, LR_DPC_RX_CSUM_OFFLOADED, q->rx_csum_ok);
    dp_set(w, LR_DPC_TX_CSUM_OFFLOADED, q->tx_csum_offloaded);
    dp_set(w, LR_DPC_ARP_REQUESTS_IN, n->arp_requests_in);
    dp_set(w, LR_DPC_ARP_REPLIES_OUT, n->arp_replies_out);
    dp_set(w, LR_DPC_ICMP_ECHO, n->icmp_echo);
    dp_set(w, LR_DPC_DROP_NOT_OURS, n->drop_not_ours + t->not_ours);
    dp_set(w, LR_DPC_DROP_BAD_FRAME, n->drop_bad_frame + n->drop_other_ethertype + n->drop_vlan);
    dp_set(w, LR_DPC_DROP_IPV6, n->drop_ipv6);
    dp_set(w, LR_DPC_DROP_IP_HEADER, n->drop_ip_header);
    dp_set(w, LR_DPC_DROP_IP_CHECKSUM, n->drop_ip_checksum);
    dp_set(w, LR_DPC_DROP_IP_FRAGMENT, n->drop_ip_fragment);
    dp_set(w, LR_DPC_DROP_OTHER_PROTOCOL, n->drop_other_protocol);
    dp_set(w, LR_DPC_DROP_NO_ROUTE, n->drop_no_route);
    dp_set(w, LR_DPC_DROP_ARP, n->drop_arp_timeout + n->drop_arp_queue_full);
    dp_set(w, LR_DPC_TCP_SEGS_IN, t->segs_in);
    dp_set(w, LR_DPC_TCP_SEGS_OUT, t->segs_out);
    dp_set(w, LR_DPC_CONNS_OPENED, t->conns_opened);
    dp_set(w, LR_DPC_CONNS_CLOSED, t->conns_closed);
    dp_set(w, LR_DPC_CONNS_RESET, t->conns_reset);
    dp_set(w, LR_DPC_CONNS_OPEN, lr_dp_tcp_conns(w->tcp));
    dp_set(w, LR_DPC_RETRANSMITS, t->retransmits);
    dp_set(w, LR_DPC_SYN_COOKIES_SENT, t->syn_cookies_sent);
    dp_set(w, LR_DPC_SYN_COOKIES_OK, t->syn_cookies_ok);
    dp_set(w, LR_DPC_ZERO_WINDOWS, t->zero_windows);
    dp_set(w, LR_DPC_CHALLENGE_ACKS, t->challenge_acks);
    dp_set(w, LR_DPC_DROP_TCP_CHECKSUM, t->bad_checksum);
    dp_set(w, LR_DPC_DROP_TCP_HEADER, t->bad_header);
    dp_set(w, LR_DPC_DROP_TCP_OUT_OF_WINDOW, t->out_of_window);
    dp_set(w, LR_DPC_DROP_TCP_PAWS, t->paws_dropped);
    dp_set(w, LR_DPC_DROP_TCP_OOO_MEMORY, t->ooo_dropped_mem);
    dp_set(w, LR_DPC_DROP_TCP_TABLE_FULL, t->conns_refused_full);
}

/* Sends what the engines queued on every live connection, and closes the finished ones. */
static void flush_all(struct worker *w)
{
    struct conn *c = w->conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (!c->closed && (c_output(c).len || c_closing(c) || c->eof))
            conn_flush(w, c);
    }
}

/* Builds this worker's link layer and TCP stack over its queue. */
static int dp_worker_init(struct lr_dp_workers *ws, struct worker *w, char *errstr, size_t errlen)
{
    const struct lr_config *cfg = ws->cfg;
    uint32_t ip, gw;
    uint8_t prefix;
    if (lr_cp_config_dp_addr(cfg, &ip, &prefix, &gw) < 0) {
        snprintf(errstr, errlen, "dataplane.ip: not an IPv4 address with a prefix");
        return -1;
    }
    w->q = lr_dp_dpdk_queue(ws->dpdk, (uint16_t)w->id);
    struct lr_dp_net_cfg nc = { .ip = ip,
                                .prefix = prefix,
                                .gateway = gw,
                                .vlan = (uint16_t)cfg->dp.vlan,
                                .mtu = cfg->dp.mtu,
                                .neighbours = 1024,
                                .neighbour_ttl_ms = 60000 };
    lr_dp_dpdk_mac(ws->dpdk, nc.mac);
    struct lr_dp_net_ops no = { .tx = net_tx, .ip_input = net_ip_input, .ctx = w };
    w->net = lr_dp_net_new(&nc, &no);
    struct lr_dp_tcp_cfg tc = { .local_ip = ip,
                                .port = cfg->http.port,
                                .port2 = cfg->grpc.port != cfg->http.port ? cfg->grpc.port : 0,
                                .max_conns = cfg->dp.max_conns,
                                .syn_queue = cfg->dp.syn_queue,
                                .rcv_buf_bytes = cfg->dp.rcv_buf_bytes,
                                .snd_buf_bytes = cfg->dp.snd_buf_bytes,
                                .mss = (uint16_t)(cfg->dp.mtu - 40),
                                .wscale = 7,
                                .idle_timeout_ms = cfg->http.idle_timeout_ms,
                                .tx_csum_offload = lr_dp_dpdk_tx_csum_offload(ws->dpdk) };
    if (getrandom(tc.secret, sizeof(tc.secret), 0) != (ssize_t)sizeof(tc.secret)) {
        snprintf(errstr, errlen, "getrandom: %s", strerror(errno));
        return -1;
    }
    struct lr_dp_tcp_ops to = { .output = tcp_output,
                                .on_open = tcp_on_open,
                                .on_data = tcp_on_data,
                                .on_fin = tcp_on_fin,
                                .on_close = tcp_on_close,
                                .ctx = w };
    w->tcp = w->net ? lr_dp_tcp_new(&tc, &to) : NULL;
    if (!w->net || !w->tcp) {
        snprintf(errstr, errlen, "dataplane: out of memory for the TCP tables (dataplane.tcp.*)");
        return -1;
    }
    return 0;
}

/* The DPDK worker: polls its queue (napping briefly when idle, so that it shares a small
 * machine), runs the timers every DP_TICK_NS, and drains like the socket loop at a stop. */
static void dpdk_loop(struct worker *w)
{
    char err[256];
    if (lr_dp_dpdk_thread_register(err, sizeof(err)) < 0) {
        fprintf(stderr, "linerate: worker %u: %s\n", w->id, err);
        return;
    }
    /* The other threads block SIGIO and the real-time signals (control/main.c): a PMD that
     * signals arrivals with them (tap) interrupts this polling loop only. */
    sigset_t io;
    sigemptyset(&io);
    sigaddset(&io, SIGIO);
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
        sigaddset(&io, s);
    pthread_sigmask(SIG_UNBLOCK, &io, NULL);
    uint64_t next_tick = 0, next_spool = 0, drain_deadline = 0, busy = 0, passes = 0;
    unsigned idle = 0;
    bool draining = false;
    for (;;) {
        /* Cycles per packet and per request, measured here: the TSC around every pass that
         * received something or ran the timers (empty polls are not work). */
        uint64_t tsc0 = __builtin_ia32_rdtsc();
        bool ticked = false;
        w->now = lr_mono_ns();
        size_t n = lr_dp_dpdk_rx(w->q, dpdk_frame, w);
        lr_dp_otlp_tail_poll(&w->otlp, w->now, false);
        if (w->held)
            release_held(w, w->now);
        if (n)
            flush_all(w);
        if (w->now >= next_tick) {
            lr_dp_tcp_tick(w->tcp, w->now);
            lr_dp_net_tick(w->net, w->now);
            tick_all(w, w->now);
            flush_all(w);
            dp_stats(w);
            dp_set(w, LR_DPC_BUSY_CYCLES, busy);
            dp_set(w, LR_DPC_BUSY_PASSES, passes);
            next_tick = w->now + DP_TICK_NS;
            ticked = true;
            if (w->spool && w->now >= next_spool) {
                lr_cp_spool_tick(w->spool);
                next_spool = w->now + TICK_MS * 1000000ull;
            }
        }
        lr_dp_dpdk_flush(w->q);
        if (n || ticked) {
            busy += __builtin_ia32_rdtsc() - tsc0;
            passes++;
        }
        if (!draining && atomic_load(&w->all->stopping)) {
            draining = true;
            drain_deadline = w->now + (uint64_t)atomic_load(&w->all->grace_ms) * 1000000ull;
        }
        if (draining) {
            struct conn *c = w->conns, *next;
            for (; c; c = next) {
                next = c->next;
                if (c->closed)
                    continue;
                if (c->proto == P_H2 && !c->shut) {
                    c->shut = true;
                    lr_h2_conn_shutdown(c->h2);
                    if (!conn_flush(w, c))
                        continue;
                }
                if (!c->n_holds && c_output(c).len == 0 && c_idle(c))
                    conn_close(w, c);
            }
            if (!w->conns || w->now >= drain_deadline)
                break;
        }
        if (n == 0 && ++idle >= DP_IDLE_SPINS) {
            idle = 0;
            usleep(DP_NAP_US);
        } else if (n) {
            idle = 0;
        }
    }
    lr_dp_dpdk_flush(w->q);
    /* Whatever is left is dropped without a word to the peer (past the grace period). */
    lr_dp_tcp_free(w->tcp);
    w->tcp = NULL;
    lr_dp_dpdk_thread_unregister();
}

/* ---- the worker loop --------------------------------------------------------------------------
 */

static void pin(struct worker *w)
{
    hwloc_topology_t topo = w->all->topo;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return;
    hwloc_bitmap_only(set, (unsigned)w->cpu);
    if (hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD) != 0)
        fprintf(stderr, "linerate: worker %u: cannot pin to cpu %d: %s\n", w->id, w->cpu,
                strerror(errno));
    hwloc_bitmap_free(set);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char name[16];
    snprintf(name, sizeof(name), "lr-worker-%u", w->id);
    pthread_setname_np(pthread_self(), name);
    pin(w);
    /* Allocate the receive buffer after pinning so that, with or without libnuma, it is backed by
     * pages of this CPU's node (numa_alloc_local; first touch otherwise). */
    if (numa_available() >= 0) {
        w->rx = numa_alloc_local(RX_BUF_BYTES);
        w->numa_rx = w->rx != NULL;
    }
    if (!w->rx)
        w->rx = malloc(RX_BUF_BYTES);
    if (!w->rx) {
        fprintf(stderr, "linerate: worker %u: out of memory\n", w->id);
        return NULL;
    }
    memset(w->rx, 0, RX_BUF_BYTES);

    if (w->q) {
        dpdk_loop(w);
        goto done;
    }
    struct epoll_event evs[MAX_EVENTS];
    uint64_t next_tick = lr_mono_ns() + TICK_MS * 1000000ull;
    bool draining = false;
    uint64_t drain_deadline = 0;
    for (;;) {
        int n = epoll_wait(w->epfd, evs, MAX_EVENTS, TICK_MS);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &w->lfd) {
                accept_all(w, w->lfd, false);
            } else if (p == &w->gfd) {
                accept_all(w, w->gfd, true);
            } else if (p == &w->notefd) {
                uint64_t v;
                if (read(w->notefd, &v, sizeof(v)) < 0) {
                    /* EAGAIN: another wakeup already drained it */
                }
                release_held(w, lr_mono_ns());
            } else if (p == &w->stopfd) {
                uint64_t v;
                if (read(w->stopfd, &v, sizeof(v)) < 0) {
                    /* nothing: the flag below is what counts */
                }
            } else {
                struct conn *c = p;
                if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    conn_readable(w, c);
                else if (evs[i].events & EPOLLOUT)
                    conn_flush(w, c);
            }
        }
        uint64_t t = lr_mono_ns();
        lr_dp_otlp_tail_poll(&w->otlp, t, false);
        if (!draining && atomic_load(&w->all->stopping)) {
            /* Stop accepting: the kernel moves nothing to us any more. Connections with a request
             * in flight finish it; idle ones are closed at once. */
            draining = true;
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->lfd, NULL);
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->gfd, NULL);
            close(w->lfd);
            close(w->gfd);
            w->lfd = w->gfd = -1;
            drain_deadline = t + (uint64_t)atomic_load(&w->all->grace_ms) * 1000000ull;
        }
        if (t >= next_tick || draining) {
            if (w->spool)
                lr_cp_spool_tick(w->spool);
            if (w->held)
                release_held(w, t);
            tick_all(w, t);
            next_tick = t + TICK_MS * 1000000ull;
        }
        if (draining) {
            struct conn *c = w->conns, *next;
            for (; c; c = next) {
                next = c->next;
                /* Idle (no request in progress, nothing left to send): close. A request in
                 * progress is finished (answered) and closed after its response. HTTP/2 clients
                 * get GOAWAY first so they open no new streams. */
                if (c->proto == P_H2 && !c->shut) {
                    c->shut = true;
                    lr_h2_conn_shutdown(c->h2);
                    if (!conn_flush(w, c))
                        continue;
                }
                if (!c->n_holds && c_output(c).len == 0 && c_idle(c))
                    conn_close(w, c);
            }
            if (!w->conns || t >= drain_deadline)
                break;
        }
    }
done:
    /* Past the grace period, held answers are not sent: their records are in the spool (written,
     * and made durable just below) and the clients, unanswered, send them again. */
    while (w->conns)
        conn_close(w, w->conns);
    if (w->spool)
        lr_cp_spool_sync(w->spool);
    return NULL;
}

/* ---- start / stop ---------------------------------------------------------------------------- */

static void worker_free(struct worker *w)
{
    if (!w)
        return;
    if (w->lfd >= 0)
        close(w->lfd);
    if (w->gfd >= 0)
        close(w->gfd);
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->stopfd >= 0)
        close(w->stopfd);
    if (w->notefd >= 0)
        close(w->notefd);
    /* A stack still there (the worker never ran) closes its connections through on_close. */
    lr_dp_tcp_free(w->tcp);
    while (w->conns)
        conn_free(w, w->conns);
    lr_dp_net_free(w->net);
    lr_dp_otlp_ctx_fini(&w->otlp);
    if (w->info.ring) {
        struct lr_msg *m;
        while ((m = lr_ring_pop(w->info.ring)))
            lr_msg_free(m);
        lr_ring_free(w->info.ring);
    }
    if (w->info.feat_ring) {
        void *m;
        while ((m = lr_ring_pop(w->info.feat_ring)))
            free(m);
        lr_ring_free(w->info.feat_ring);
    }
    if (w->numa_rx)
        numa_free(w->rx, RX_BUF_BYTES);
    else
        free(w->rx);
    free(w);
}

/* Tail sampling: one SPSC ring from every worker to every other, so that each span reaches the
 * worker owning its trace id without a lock. */
static int routes_new(struct lr_dp_workers *ws, char *errstr, size_t errlen)
{
    uint32_t n = ws->n;
    ws->route = calloc((size_t)n * n, sizeof(*ws->route));
    ws->route_in = calloc(n, sizeof(*ws->route_in));
    if (!ws->route || !ws->route_in)
        goto oom;
    for (uint32_t to = 0; to < n; to++) {
        if (!(ws->route_in[to] = calloc(n, sizeof(**ws->route_in))))
            goto oom;
        for (uint32_t from = 0; from < n; from++)
            if (from != to) {
                if (!(ws->route[from * n + to] = lr_ring_new(ws->cfg->tail.route_queue)))
                    goto oom;
                ws->route_in[to][from] = ws->route[from * n + to];
            }
    }
    if (!(ws->wake = calloc(n, sizeof(*ws->wake))))
        goto oom;
    for (uint32_t i = 0; i < n; i++)
        ws->wake[i] = ws->w[i]->notefd;
    for (uint32_t i = 0; i < n; i++)
        if (lr_dp_otlp_tail_init(&ws->w[i]->otlp, n, &ws->route[i * n], ws->route_in[i], ws->wake) <
            0)
            goto oom;
    return 0;
oom:
    snprintf(errstr, errlen, "out of memory (tail sampling tables)");
    return -1;
}

static void routes_free(struct lr_dp_workers *ws)
{
    if (ws->route)
        for (size_t i = 0; i < (size_t)ws->n * ws->n; i++) {
            struct lr_msg *m;
            while (ws->route[i] && (m = lr_ring_pop(ws->route[i])))
                lr_msg_free(m);
            lr_ring_free(ws->route[i]);
        }
    free(ws->route);
    if (ws->route_in)
        for (uint32_t i = 0; i < ws->n; i++)
            free(ws->route_in[i]);
    free(ws->route_in);
    free(ws->wake);
}

/* After the workers exited: every trace still waiting is decided now and what is kept goes to
 * the output (the output thread still runs and drains the rings), then the spools are synced. */
static void tail_finish(struct lr_dp_workers *ws)
{
    if (!ws->route)
        return;
    uint64_t deadline = lr_mono_ns() + 5000000000ull;
    for (;;) {
        bool idle = true;
        for (uint32_t i = 0; i < ws->n; i++) {
            lr_dp_otlp_tail_poll(&ws->w[i]->otlp, lr_mono_ns(), true);
            idle &= lr_dp_otlp_tail_idle(&ws->w[i]->otlp);
        }
        if (idle || lr_mono_ns() > deadline)
            break;
        usleep(1000);
    }
    for (uint32_t i = 0; i < ws->n; i++)
        if (ws->w[i]->spool)
            lr_cp_spool_sync(ws->w[i]->spool);
}

struct lr_dp_workers *lr_dp_workers_new(const struct lr_config *cfg, char *errstr, size_t errlen)
{
    static int cpus[CPU_SETSIZE];
    struct lr_dp_workers *ws = calloc(1, sizeof(*ws));
    if (!ws) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    ws->cfg = cfg;
    ws->rt = calloc(1, sizeof(*ws->rt));
    ws->set0 = calloc(1, sizeof(*ws->set0));
    if (cfg->anomaly.enabled) {
        ws->anom = calloc(1, sizeof(*ws->anom));
        if (ws->anom)
            ws->anom->boost = calloc(LR_ANOM_BOOST_SLOTS, sizeof(*ws->anom->boost));
    }
    if (!ws->rt || !ws->set0 || (cfg->anomaly.enabled && (!ws->anom || !ws->anom->boost))) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    *ws->set0 = (struct lr_sampling_set){
        .generation = 1,
        .head = cfg->sampler.enabled || cfg->adaptive.enabled,
        .traces_percentage = cfg->sampler.percentage,
        .logs = cfg->sampler.logs,
        .logs_percentage = cfg->sampler.logs_percentage,
        .tail = cfg->tail.enabled ? cfg->tail.policies : NULL,
    };
    lr_sampling_scale_set(ws->rt, 1.0);
    atomic_store(&ws->rt->cur, ws->set0);
    int n = select_cpus(cfg->workers.cores, cpus, CPU_SETSIZE, errstr, errlen);
    if (n <= 0)
        goto fail;
    if (hwloc_topology_init(&ws->topo) != 0 || hwloc_topology_load(ws->topo) != 0) {
        snprintf(errstr, errlen, "hwloc: cannot load the cpu topology");
        goto fail;
    }
    ws->w = calloc((size_t)n, sizeof(*ws->w));
    if (!ws->w) {
        snprintf(errstr, errlen, "out of memory");
        goto fail;
    }
    bool numa = numa_available() >= 0;
    for (int i = 0; i < n; i++) {
        struct worker *w = calloc(1, sizeof(*w));
        if (!w) {
            snprintf(errstr, errlen, "out of memory");
            goto fail;
        }
        ws->w[ws->n++] = w;
        w->id = (uint32_t)i;
        w->cpu = cpus[i];
        w->numa_node = numa ? numa_node_of_cpu(cpus[i]) : 0;
        if (w->numa_node < 0)
            w->numa_node = 0;
        w->lfd = w->gfd = w->epfd = w->stopfd = w->notefd = -1;
        w->cfg = cfg;
        w->all = ws;
        w->limits = (struct lr_http1_limits){
            .max_header_bytes = cfg->http.max_header_bytes,
            .max_headers = cfg->http.max_headers,
            .max_body_bytes = cfg->http.max_body_bytes,
            .header_timeout_ns = (uint64_t)cfg->http.header_timeout_ms * 1000000ull,
            .idle_timeout_ns = (uint64_t)cfg->http.idle_timeout_ms * 1000000ull,
            .body_timeout_ns = (uint64_t)cfg->http.body_timeout_ms * 1000000ull,
        };
        w->info.ring = lr_ring_new(cfg->workers.queue_size);
        if (!w->info.ring ||
            lr_dp_otlp_ctx_init(&w->otlp, cfg, w->info.ring, &w->stats, w->id) < 0) {
            snprintf(errstr, errlen, "out of memory");
            goto fail;
        }
        w->otlp.rt = ws->rt;
        /* A window a second per worker; 64 of them is a minute of the batcher being stuck. */
        if (cfg->anomaly.enabled &&
            (!(w->info.feat_ring = lr_ring_new(64)) ||
             lr_dp_otlp_anom_init(&w->otlp, w->info.feat_ring, ws->anom) < 0)) {
            snprintf(errstr, errlen, "out of memory");
            goto fail;
        }
        w->handler = lr_dp_otlp_handler(&w->otlp);
        lr_h2_limits_default(&w->h2_limits);
        w->h2_limits.max_concurrent_streams = cfg->grpc.max_concurrent_streams;
        w->h2_limits.max_header_list_bytes = cfg->grpc.max_header_list_bytes;
        w->h2_limits.hpack_table_bytes = cfg->grpc.hpack_table_bytes;
        w->h2_limits.stream_window_bytes = cfg->grpc.stream_window_bytes;
        w->h2_limits.connection_window_bytes = cfg->grpc.connection_window_bytes;
        w->h2_limits.max_message_bytes = (size_t)cfg->grpc.max_recv_msg_size_mib << 20;
        w->h2_limits.max_resets_per_s = cfg->grpc.max_resets_per_s;
        w->h2_limits.max_control_frames_per_s = cfg->grpc.max_control_frames_per_s;
        w->h2_limits.header_timeout_ns = (uint64_t)cfg->grpc.header_timeout_ms * 1000000ull;
        w->h2_limits.idle_timeout_ns = (uint64_t)cfg->grpc.idle_timeout_ms * 1000000ull;
        w->h2_limits.send_timeout_ns = (uint64_t)cfg->grpc.send_timeout_ms * 1000000ull;
        w->h2_handler = lr_dp_otlp_grpc_handler(&w->otlp);
        w->info.cpu = w->cpu;
        w->info.numa_node = w->numa_node;
        w->info.stats = &w->stats;
        bool sockets =
            cfg->dp.mode == LR_DP_MODE_SOCKET; /* dpdk: the ports are served by the TCP stack */
        if (sockets &&
            (w->lfd = listen_on(cfg->http.host, cfg->http.port, true, errstr, errlen)) < 0)
            goto fail;
        if (sockets &&
            (w->gfd = listen_on(cfg->grpc.host, cfg->grpc.port, true, errstr, errlen)) < 0)
            goto fail;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        w->notefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        w->info.notify_fd = w->notefd;
        if (w->epfd < 0 || w->stopfd < 0 || w->notefd < 0) {
            snprintf(errstr, errlen, "epoll/eventfd: %s", strerror(errno));
            goto fail;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->lfd };
        struct epoll_event evg = { .events = EPOLLIN, .data.ptr = &w->gfd };
        struct epoll_event evs = { .events = EPOLLIN, .data.ptr = &w->stopfd };
        struct epoll_event evn = { .events = EPOLLIN, .data.ptr = &w->notefd };
        if ((sockets && epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, &ev) != 0) ||
            (sockets && epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->gfd, &evg) != 0) ||
            epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->stopfd, &evs) != 0 ||
            epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->notefd, &evn) != 0) {
            snprintf(errstr, errlen, "epoll_ctl: %s", strerror(errno));
            goto fail;
        }
    }
    if (cfg->tail.enabled && routes_new(ws, errstr, errlen) < 0)
        goto fail;
    if (cfg->dp.mode == LR_DP_MODE_DPDK) {
        int nodes[CPU_SETSIZE];
        for (uint32_t i = 0; i < ws->n; i++)
            nodes[i] = ws->w[i]->numa_node;
        ws->dpdk = lr_dp_dpdk_start(cfg, (uint16_t)ws->n, nodes, errstr, errlen);
        if (!ws->dpdk)
            goto fail;
        for (uint32_t i = 0; i < ws->n; i++)
            if (dp_worker_init(ws, ws->w[i], errstr, errlen) < 0)
                goto fail;
    }
    return ws;
fail:
    lr_dp_workers_free(ws);
    return NULL;
}

int lr_dp_workers_run(struct lr_dp_workers *ws, struct lr_cp_spool *const *spools, char *errstr,
                      size_t errlen)
{
    for (uint32_t i = 0; i < ws->n; i++) {
        ws->w[i]->spool = spools ? spools[i] : NULL;
        ws->w[i]->otlp.spool = ws->w[i]->spool;
    }
    for (uint32_t i = 0; i < ws->n; i++) {
        int rc = pthread_create(&ws->w[i]->thread, NULL, worker_main, ws->w[i]);
        if (rc != 0) {
            snprintf(errstr, errlen, "pthread_create: %s", strerror(rc));
            lr_dp_workers_stop(ws, 0);
            return -1;
        }
        ws->w[i]->started = true;
    }
    return 0;
}

uint32_t lr_dp_workers_count(const struct lr_dp_workers *w)
{
    return w->n;
}

struct lr_sampling_rt *lr_dp_workers_sampling(struct lr_dp_workers *w)
{
    return w->rt;
}

struct lr_anom_rt *lr_dp_workers_anomaly(struct lr_dp_workers *w)
{
    return w->anom;
}

const struct lr_dp_worker_info *lr_dp_workers_info(const struct lr_dp_workers *w, uint32_t i)
{
    return &w->w[i]->info;
}

void lr_dp_workers_stop(struct lr_dp_workers *ws, uint32_t grace_ms)
{
    atomic_store(&ws->grace_ms, grace_ms);
    atomic_store(&ws->stopping, true);
    for (uint32_t i = 0; i < ws->n; i++) {
        uint64_t one = 1;
        if (ws->w[i]->stopfd >= 0 && write(ws->w[i]->stopfd, &one, sizeof(one)) < 0) {
            /* the worker also checks the flag on its next tick */
        }
    }
    bool joined = false;
    for (uint32_t i = 0; i < ws->n; i++) {
        if (ws->w[i]->started) {
            pthread_join(ws->w[i]->thread, NULL);
            ws->w[i]->started = false;
            joined = true;
        }
    }
    if (joined)
        tail_finish(ws);
}

void lr_dp_workers_free(struct lr_dp_workers *ws)
{
    if (!ws)
        return;
    for (uint32_t i = 0; i < ws->n; i++)
        if (ws->w[i]->started) {
            lr_dp_workers_stop(ws, 0);
            break;
        }
    routes_free(ws);
    for (uint32_t i = 0; i < ws->n; i++)
        worker_free(ws->w[i]);
    free(ws->w);
    lr_dp_dpdk_stop(ws->dpdk);
    if (ws->topo)
        hwloc_topology_destroy(ws->topo);
    free(ws->rt);
    free(ws->set0);
    if (ws->anom)
        free((void *)ws->anom->boost);
    free(ws->anom);
    free(ws);
}
