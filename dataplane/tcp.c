/* linerate's userspace TCP stack: see tcp.h for the API and what it implements.
 *
 * Memory. Everything is allocated in lr_dp_tcp_new: an array of max_conns connection slots, a
 * hash table of 2^k buckets (k such that buckets >= 2 * max_conns) chained through the slots, one
 * scratch packet buffer, and one buffer region of max_conns * (receive ring + send ring) bytes.
 * The region is an anonymous mmap with MAP_NORESERVE: the address space is reserved up front, the
 * kernel backs a page only when a connection first writes into it, so a table sized for 100k
 * connections costs nothing until they exist. No allocation happens per packet or per connection.
 *
 * Receive side. A ring of rcv_cap + 2^rcv_wscale bytes per connection holds the in-order bytes the
 * application has not taken (rb_len of them, ending at rcv_nxt) and, at their final position,
 * out-of-order bytes (up to MAX_OOO ranges, beyond rcv_nxt). The right edge we advertise is at most
 * (first untaken byte + rcv_cap) rounded up to the window-scale unit, so it only moves forward when
 * the application takes bytes: the window never shrinks (RFC 7323 2.4, RFC 1122 4.2.2.16) and the
 * extra 2^wscale bytes of the ring absorb the rounding. Receiver SWS avoidance (RFC 1122 4.2.3.3):
 * the edge moves only by at least min(rcv_cap / 2, MSS).
 *
 * Send side. A ring of snd_buf_bytes holds bytes sent and not acknowledged plus bytes queued;
 * snd_una is its first byte. Our FIN follows the last queued byte once lr_dp_tcp_shutdown was
 * called. What goes out is limited by min(cwnd, peer window); retransmission is go-back-N from
 * snd_una after an RTO (RFC 6298, one timed segment, Karn), NewReno fast retransmit/recovery on the
 * third duplicate ACK (RFC 5681, RFC 6582). The SACK blocks a peer sends are not used (we send
 * responses, rarely large enough for that to matter).
 *
 * Timers. Every connection keeps absolute deadlines (delayed ACK, retransmission/SYN-ACK,
 * persist, TIME_WAIT/FIN_WAIT_2, idle); lr_dp_tcp_tick walks the list of live connections, so a
 * tick costs O(live connections). A timing wheel would make it O(expiring), not needed at our
 * sizes.
 *
 * Decisions the issue left open:
 *  - table full: a SYN gets RST (conns_refused_full), as does the ACK of a SYN cookie when no slot
 *    is free; with syn_queue connections in SYN_RCVD, further SYNs get SYN cookies;
 *  - idle timeout: RST (the peer learns at once, the slot is free at once; no FIN_WAIT dance);
 *  - TIME_WAIT lasts 2 s (we rarely close first); a new SYN with a higher sequence number takes
 *    over a TIME_WAIT slot like Linux does;
 *  - a connection refused by on_open gets RST and no on_close;
 *  - segments without timestamps on a timestamp connection are accepted (as Linux does, not the
 *    RFC 7323 SHOULD);
 *  - ACKs for out-of-window segments without data and challenge ACKs are rate limited to one per
 *    500 ms per connection (Linux's tcp_invalid_ratelimit); per connection, so no global counter
 *    leaks state across connections (CVE-2016-5696).
 *
 * Re-entrancy. A connection closed inside any call is unhashed at once but its slot stays
 * allocated (state CLOSED, on a reap list) until the outermost public call returns, so callbacks
 * may abort any connection, and code after a callback only has to check for CLOSED. The `output`
 * callback must not call back into the stack. */
#include "tcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum {
    ST_FREE = 0,
    ST_SYN_RCVD,
    ST_ESTABLISHED,
    ST_FIN_WAIT_1,
    ST_FIN_WAIT_2,
    ST_CLOSING,
    ST_TIME_WAIT,
    ST_CLOSE_WAIT,
    ST_LAST_ACK,
    ST_CLOSED,
};

enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10, TH_URG = 0x20 };

#define NONE UINT32_MAX
#define MAX_OOO 8
#define MS_NS 1000000ull
#define RTO_INIT_NS (1000 * MS_NS)
#define RTO_MIN_NS (200 * MS_NS)
#define RTO_MAX_NS (60000 * MS_NS)
#define DELACK_NS (40 * MS_NS)
#define TIME_WAIT_NS (2000 * MS_NS)
#define FIN_WAIT_2_NS (60000 * MS_NS)
#define OOW_RATE_NS (500 * MS_NS)
#define COOKIE_PERIOD_NS (64000 * MS_NS)
#define PAWS_IDLE_NS (24ull * 86400 * 1000 * MS_NS)
#define SYNACK_RETRIES 5
#define MAX_RETRIES 12
#define MIN_PEER_MSS 64
#define TS_OPT_BYTES 12
#define QUICKACK_SEGS 8

/* The MSS values a SYN cookie can carry (3 bits), like Linux's msstab plus jumbo frames. */
static const uint16_t cookie_mss[8] = { 536, 1200, 1220, 1300, 1400, 1440, 1460, 8960 };

struct ooo {
    uint32_t start, end; /* sequence range held, [start, end) */
    uint32_t stamp;      /* recency, for the order of SACK blocks (RFC 2018 4) */
};

struct lr_dp_tcp_conn {
    struct lr_dp_tcp *s;
    uint32_t idx;
    uint32_t hnext;        /* hash chain, or free list */
    uint32_t lprev, lnext; /* list of live connections (tick) */
    uint32_t reap_next;
    uint8_t state;
    bool app_open; /* on_open returned a handle, on_close not yet called */
    bool rx_blocked, delivering, fin_rcvd, fin_delivered, fin_ooo;
    bool ts_ok, sack_ok, ws_ok, zero_win_adv;
    bool fin_queued, fin_sent, in_recovery, rtt_timing;
    bool ack_now, ack_pending, push_seen;
    uint8_t snd_ws, rcv_ws, dupacks, backoff, persist_backoff, quickacks;
    uint16_t snd_mss, rcv_mss; /* payload bytes per segment each way */
    uint16_t lport, rport;
    uint32_t rip;
    void *app;

    /* receive */
    uint32_t irs, rcv_nxt, rcv_adv, rcv_last_ack, rcv_cap, fin_ooo_seq;
    uint8_t *rb;
    uint32_t rb_size, rb_start, rb_len;
    struct ooo ooo[MAX_OOO];
    uint32_t n_ooo, ooo_stamp;
    uint32_t ts_recent, ts_off;
    uint64_t ts_recent_ns;

    /* send */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, max_snd_wnd, snd_wl1, snd_wl2, fin_seq;
    uint8_t *sb;
    uint32_t sb_size, sb_start, sb_len;
    uint32_t cwnd, ssthresh, bytes_acked, recover, rtt_seq;
    uint64_t rtt_start_ns, srtt_ns, rttvar_ns, rto_ns;

    /* deadlines (ns, 0: off) */
    uint64_t t_rto, t_delack, t_persist, t_close, last_active_ns, last_oow_ns;
};

struct lr_dp_tcp {
    struct lr_dp_tcp_cfg cfg;
    struct lr_dp_tcp_ops ops;
    struct lr_dp_tcp_stats st;
    struct lr_dp_tcp_conn *conns;
    uint32_t *buckets;
    uint32_t bucket_mask;
    uint32_t free_head, live_head, reap_head;
    uint32_t n_conns, n_synrcvd;
    uint8_t *bufs;
    size_t bufs_len;
    uint32_t rb_size, sb_size;
    uint8_t *pkt;
    size_t pkt_cap;
    uint16_t ip_id;
    int depth;
    uint64_t now_ns, last_cookie_ns;
    uint64_t k0, k1;
};

/* A parsed segment. */
struct seg {
    uint32_t sip;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t win;
    uint8_t flags;
    const uint8_t *data;
    uint32_t len;
    uint16_t mss; /* 0: absent */
    int ws;       /* -1: absent */
    bool sack_ok, ts;
    uint32_t tsval, tsecr;
};

/* ---- small helpers ------------------------------------------------------------------------- */

static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline bool seq_le(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}
static inline bool seq_gt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}
static inline bool seq_ge(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}
static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}
static inline uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t lr_dp_tcp_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    /* 64-bit accumulator so any length is safe; folded back to 32 bits (RFC 1071 2(B)). An odd
     * length pads the last byte with zero, so only the last piece of a sum may be odd. */
    /* Eight bytes per step in the machine's byte order, then one byte swap of the folded
     * result: the one's complement sum does not depend on the order the bytes are summed in
     * (RFC 1071 2(B)). Callgrind: 4x fewer instructions than 16-bit big-endian steps, and the
     * checksum was 79 % of the userspace path's instructions per full segment
     * (bench/tcp_segments.c). */
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        acc += (v & 0xffffffffu) + (v >> 32);
    }
    for (; i + 2 <= n; i += 2) {
        uint16_t v;
        memcpy(&v, p + i, 2);
        acc += v;
    }
    if (i < n) {
        uint16_t v = 0;
        memcpy(&v, p + i, 1); /* the odd last byte, zero-padded after it */
        acc += v;
    }
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    uint16_t be = (uint16_t)acc;
    if (*(const uint8_t *)&(const uint16_t){ 1 }) /* little-endian machine */
        be = (uint16_t)(be >> 8 | be << 8);
    uint64_t r = (uint64_t)sum + be;
    while (r >> 32)
        r = (r & 0xffffffffu) + (r >> 32);
    return (uint32_t)r;
}

uint16_t lr_dp_tcp_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* SipHash-2-4 (Aumasson & Bernstein), for SYN cookies, ISNs, timestamp offsets and the
 * connection hash, keyed by cfg.secret so none of them can be predicted or flooded. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND           \
    do {                   \
        v0 += v1;          \
        v1 = ROTL(v1, 13); \
        v1 ^= v0;          \
        v0 = ROTL(v0, 32); \
        v2 += v3;          \
        v3 = ROTL(v3, 16); \
        v3 ^= v2;          \
        v0 += v3;          \
        v3 = ROTL(v3, 21); \
        v3 ^= v0;          \
        v2 += v1;          \
        v1 = ROTL(v1, 17); \
        v1 ^= v2;          \
        v2 = ROTL(v2, 32); \
    } while (0)

static uint64_t siphash24(uint64_t k0, uint64_t k1, const uint8_t *m, size_t n)
{
    uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int j = 0; j < 8; j++)
            w |= (uint64_t)m[i + j] << (8 * j);
        v3 ^= w;
        SIPROUND;
        SIPROUND;
        v0 ^= w;
    }
    uint64_t b = (uint64_t)n << 56;
    for (int j = 0; i + j < n; j++)
        b |= (uint64_t)m[i + j] << (8 * j);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* Keyed hash of the 4-tuple, a domain byte (what it is for) and two extra words. */
static uint64_t tuple_hash(const struct lr_dp_tcp *s, uint8_t domain, uint32_t rip, uint16_t rport,
                           uint16_t lport, uint32_t x, uint32_t y)
{
    uint8_t m[21];
    wr32(m, rip);
    wr32(m + 4, s->cfg.local_ip);
    wr16(m + 8, rport);
    wr16(m + 10, lport);
    wr32(m + 12, x);
    wr32(m + 16, y);
    m[20] = domain;
    return siphash24(s->k0, s->k1, m, sizeof(m));
}

enum { H_BUCKET = 1, H_ISN, H_TSOFF, H_COOKIE };

/* ---- connection table ---------------------------------------------------------------------- */

static uint32_t bucket_of(const struct lr_dp_tcp *s, uint32_t rip, uint16_t rport, uint16_t lport)
{
    return (uint32_t)tuple_hash(s, H_BUCKET, rip, rport, lport, 0, 0) & s->bucket_mask;
}

static struct lr_dp_tcp_conn *conn_find(struct lr_dp_tcp *s, uint32_t rip, uint16_t rport,
                                        uint16_t lport)
{
    for (uint32_t i = s->buckets[bucket_of(s, rip, rport, lport)]; i != NONE;
         i = s->conns[i].hnext) {
        struct lr_dp_tcp_conn *c = &s->conns[i];
        if (c->rip == rip && c->rport == rport && c->lport == lport)
            return c;
    }
    return NULL;
}

static void enter(struct lr_dp_tcp *s, uint64_t now_ns)
{
    s->depth++;
    if (now_ns > s->now_ns)
        s->now_ns = now_ns;
}

static void leave(struct lr_dp_tcp *s)
{
    if (--s->depth > 0)
        return;
    /* The outermost call returns: closed slots go back to the free list. */
    while (s->reap_head != NONE) {
        struct lr_dp_tcp_conn *c = &s->conns[s->reap_head];
        s->reap_head = c->reap_next;
        c->state = ST_FREE;
        c->hnext = s->free_head;
        s->free_head = c->idx;
    }
}

static struct lr_dp_tcp_conn *conn_alloc(struct lr_dp_tcp *s, uint32_t rip, uint16_t rport,
                                         uint16_t lport)
{
    if (s->free_head == NONE)
        return NULL;
    uint32_t idx = s->free_head;
    struct lr_dp_tcp_conn *c = &s->conns[idx];
    s->free_head = c->hnext;
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->idx = idx;
    c->rip = rip;
    c->rport = rport;
    c->lport = lport;
    c->rb = s->bufs + (size_t)idx * (s->rb_size + s->sb_size);
    c->sb = c->rb + s->rb_size;
    c->rb_size = s->rb_size;
    c->sb_size = s->sb_size;
    c->reap_next = NONE;
    uint32_t b = bucket_of(s, rip, rport, lport);
    c->hnext = s->buckets[b];
    s->buckets[b] = idx;
    c->lprev = NONE;
    c->lnext = s->live_head;
    if (s->live_head != NONE)
        s->conns[s->live_head].lprev = idx;
    s->live_head = idx;
    s->n_conns++;
    c->rto_ns = RTO_INIT_NS;
    c->ts_off = (uint32_t)tuple_hash(s, H_TSOFF, rip, rport, lport, 0, 0);
    c->last_active_ns = s->now_ns;
    return c;
}

static void app_release(struct lr_dp_tcp_conn *c)
{
    if (!c->app_open)
        return;
    c->app_open = false;
    if (c->s->ops.on_close)
        c->s->ops.on_close(c->app, c);
}

/* Takes the connection out of the table at once (the slot is reaped by leave()), then tells the
 * application. */
static void conn_close(struct lr_dp_tcp_conn *c)
{
    struct lr_dp_tcp *s = c->s;
    if (c->state == ST_CLOSED || c->state == ST_FREE)
        return;
    if (c->state == ST_SYN_RCVD)
        s->n_synrcvd--;
    c->state = ST_CLOSED;
    uint32_t *pp = &s->buckets[bucket_of(s, c->rip, c->rport, c->lport)];
    while (*pp != NONE && *pp != c->idx)
        pp = &s->conns[*pp].hnext;
    if (*pp == c->idx)
        *pp = c->hnext;
    /* Unlinked from the live list, but lnext is kept: a tick walking the list may stand on it. */
    if (c->lprev != NONE)
        s->conns[c->lprev].lnext = c->lnext;
    else
        s->live_head = c->lnext;
    if (c->lnext != NONE)
        s->conns[c->lnext].lprev = c->lprev;
    c->reap_next = s->reap_head;
    s->reap_head = c->idx;
    s->n_conns--;
    s->st.conns_closed++;
    app_release(c);
}

/* ---- output -------------------------------------------------------------------------------- */

static uint32_t ts_now(const struct lr_dp_tcp_conn *c)
{
    return (uint32_t)(c->s->now_ns / MS_NS) + c->ts_off;
}

/* Writes an IPv4+TCP packet into the scratch buffer and hands it to output. The payload comes in
 * two pieces (a ring may wrap). */
static void emit(struct lr_dp_tcp *s, uint32_t dip, uint16_t sport, uint16_t dport, uint32_t seq,
                 uint32_t ack, uint8_t flags, uint16_t win, const uint8_t *opt, size_t optlen,
                 const uint8_t *p1, size_t n1, const uint8_t *p2, size_t n2)
{
    uint8_t *ip = s->pkt;
    size_t thl = 20 + optlen;
    size_t tcp_len = thl + n1 + n2;
    size_t tot = 20 + tcp_len;
    if (tot > s->pkt_cap)
        return; /* cannot happen: segments are cut to the MSS */
    ip[0] = 0x45;
    ip[1] = 0;
    wr16(ip + 2, (uint16_t)tot);
    wr16(ip + 4, s->ip_id++);
    wr16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = 6;
    wr16(ip + 10, 0);
    wr32(ip + 12, s->cfg.local_ip);
    wr32(ip + 16, dip);
    if (!s->cfg.tx_csum_offload)
        wr16(ip + 10, lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(0, ip, 20)));
    uint8_t *th = ip + 20;
    wr16(th, sport);
    wr16(th + 2, dport);
    wr32(th + 4, seq);
    wr32(th + 8, ack);
    th[12] = (uint8_t)((thl / 4) << 4);
    th[13] = flags;
    wr16(th + 14, win);
    wr16(th + 16, 0);
    wr16(th + 18, 0);
    if (optlen)
        memcpy(th + 20, opt, optlen);
    if (n1)
        memcpy(th + thl, p1, n1);
    if (n2)
        memcpy(th + thl + n1, p2, n2);
    uint8_t ph[12];
    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = 6;
    wr16(ph + 10, (uint16_t)tcp_len);
    uint32_t sum = lr_dp_tcp_csum_add(0, ph, sizeof(ph));
    if (s->cfg.tx_csum_offload) /* the pseudo-header sum only: the port sums the rest */
        wr16(th + 16, (uint16_t)~lr_dp_tcp_csum_fold(sum));
    else
        wr16(th + 16, lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(sum, th, tcp_len)));
    s->st.segs_out++;
    s->st.bytes_out += n1 + n2;
    s->ops.output(s->ops.ctx, ip, tot);
}

/* The window field for a segment we send now, moving rcv_adv (the advertised right edge) forward
 * only: see the comment at the top. */
static uint16_t rcv_window(struct lr_dp_tcp_conn *c, bool syn)
{
    uint32_t avail = c->rcv_cap - c->rb_len; /* edge at most first untaken byte + rcv_cap */
    uint32_t cur = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    uint32_t win = cur;
    uint32_t incr = min_u32(c->rcv_cap / 2, c->rcv_mss);
    if (avail > cur && (avail - cur >= incr || avail == c->rcv_cap))
        win = avail;
    uint32_t field;
    if (syn) {
        field = min_u32(win, 65535); /* the window in a SYN is never scaled (RFC 7323 2.2) */
        c->rcv_adv = c->rcv_nxt + field;
    } else {
        /* Rounded up, so the edge already advertised never moves back. */
        field = (uint32_t)(((uint64_t)win + (1u << c->rcv_ws) - 1) >> c->rcv_ws);
        if (field > 65535)
            field = 65535;
        uint32_t edge = c->rcv_nxt + (field << c->rcv_ws);
        if (seq_gt(edge, c->rcv_adv))
            c->rcv_adv = edge;
    }
    if (field == 0 && !c->zero_win_adv) {
        c->zero_win_adv = true;
        c->s->st.zero_windows++;
    } else if (field != 0) {
        c->zero_win_adv = false;
    }
    return (uint16_t)field;
}

static int cmp_stamp_desc(const void *a, const void *b)
{
    const struct ooo *x = a, *y = b;
    return x->stamp < y->stamp ? 1 : x->stamp > y->stamp ? -1 : 0;
}

/* Options of a SYN-ACK: MSS, then SACK-permitted, timestamps and window scale as the SYN had them,
 * laid out like Linux does (aligned with NOPs). Returns the length. */
static size_t syn_opts(uint8_t *o, uint16_t mss, bool sack, bool ts, uint32_t tsval, uint32_t tsecr,
                       bool ws, uint8_t wscale)
{
    size_t n = 0;
    o[n++] = 2;
    o[n++] = 4;
    wr16(o + n, mss);
    n += 2;
    if (sack && ts) {
        o[n++] = 4;
        o[n++] = 2;
    } else if (sack) {
        o[n++] = 1;
        o[n++] = 1;
        o[n++] = 4;
        o[n++] = 2;
    } else if (ts) {
        o[n++] = 1;
        o[n++] = 1;
    }
    if (ts) {
        o[n++] = 8;
        o[n++] = 10;
        wr32(o + n, tsval);
        wr32(o + n + 4, tsecr);
        n += 8;
    }
    if (ws) {
        o[n++] = 1;
        o[n++] = 3;
        o[n++] = 3;
        o[n++] = wscale;
    }
    return n;
}

/* Sends one segment of connection c: `flags`, and `len` payload bytes from the send ring starting
 * at sequence `seq` (which must be data, never the SYN or FIN position). */
static void send_seg(struct lr_dp_tcp_conn *c, uint32_t seq, uint8_t flags, uint32_t len)
{
    struct lr_dp_tcp *s = c->s;
    uint8_t opt[40];
    size_t n = 0;
    if (flags & TH_SYN) {
        n = syn_opts(opt, s->cfg.mss, c->sack_ok, c->ts_ok, ts_now(c), c->ts_recent, c->ws_ok,
                     c->rcv_ws);
    } else if (!(flags & TH_RST)) {
        if (c->ts_ok) {
            opt[n++] = 1;
            opt[n++] = 1;
            opt[n++] = 8;
            opt[n++] = 10;
            wr32(opt + n, ts_now(c));
            wr32(opt + n + 4, c->ts_recent);
            n += 8;
        }
        if (c->sack_ok && c->n_ooo && (flags & TH_ACK) && !(flags & TH_RST)) {
            /* RFC 2018 4: the block holding the newest segment first, then the others most recent
             * first; 3 fit beside timestamps, 4 without. */
            struct ooo b[MAX_OOO];
            memcpy(b, c->ooo, c->n_ooo * sizeof(b[0]));
            qsort(b, c->n_ooo, sizeof(b[0]), cmp_stamp_desc);
            uint32_t k = min_u32(c->n_ooo, c->ts_ok ? 3 : 4);
            opt[n++] = 1;
            opt[n++] = 1;
            opt[n++] = 5;
            opt[n++] = (uint8_t)(2 + 8 * k);
            for (uint32_t i = 0; i < k; i++) {
                wr32(opt + n, b[i].start);
                wr32(opt + n + 4, b[i].end);
                n += 8;
            }
        }
    }
    uint16_t win = (flags & TH_RST) ? 0 : rcv_window(c, (flags & TH_SYN) != 0);
    uint32_t ack = (flags & TH_ACK) ? c->rcv_nxt : 0;
    if (flags & TH_ACK) {
        c->rcv_last_ack = c->rcv_nxt;
        c->ack_now = c->ack_pending = c->push_seen = false;
        c->t_delack = 0;
    }
    const uint8_t *p1 = NULL, *p2 = NULL;
    size_t n1 = 0, n2 = 0;
    if (len) {
        uint32_t pos = (c->sb_start + (seq - c->snd_una)) % c->sb_size;
        n1 = min_u32(len, c->sb_size - pos);
        p1 = c->sb + pos;
        n2 = len - n1;
        p2 = c->sb;
    }
    emit(s, c->rip, c->lport, c->rport, seq, ack, flags, win, opt, n, p1, n1, p2, n2);
}

static void send_ack(struct lr_dp_tcp_conn *c)
{
    send_seg(c, c->snd_nxt, TH_ACK, 0);
}

/* An ACK for a segment we do not accept (out of window, PAWS, bad ACK) or a challenge ACK (RFC 5961
 * 3.2, 4.2, 5.2). Those answering segments without data are rate limited per connection: two
 * stacks that ACK each other's invalid ACKs would otherwise loop, and RFC 5961 7 asks for a limit
 * on challenge ACKs. Data segments are always answered (the peer retransmits because our ACK was
 * lost). */
static void send_oow_ack(struct lr_dp_tcp_conn *c, uint32_t seglen, bool challenge)
{
    struct lr_dp_tcp *s = c->s;
    if (seglen == 0 || challenge) {
        if (c->last_oow_ns && s->now_ns - c->last_oow_ns < OOW_RATE_NS)
            return;
        c->last_oow_ns = s->now_ns;
    }
    if (challenge)
        s->st.challenge_acks++;
    send_ack(c);
}

/* RST for a segment that matches no connection (RFC 793 3.4 "Reset Generation"). */
static void send_rst_reply(struct lr_dp_tcp *s, const struct seg *g)
{
    if (g->flags & TH_RST)
        return;
    if (g->flags & TH_ACK) {
        emit(s, g->sip, g->dport, g->sport, g->ack, 0, TH_RST, 0, NULL, 0, NULL, 0, NULL, 0);
    } else {
        uint32_t ack = g->seq + g->len + !!(g->flags & TH_SYN) + !!(g->flags & TH_FIN);
        emit(s, g->sip, g->dport, g->sport, 0, ack, TH_RST | TH_ACK, 0, NULL, 0, NULL, 0, NULL, 0);
    }
}

static void send_rst_conn(struct lr_dp_tcp_conn *c)
{
    send_seg(c, c->snd_max, TH_RST | TH_ACK, 0);
}

/* ---- sending ------------------------------------------------------------------------------- */

static uint64_t rto_now(const struct lr_dp_tcp_conn *c)
{
    uint64_t r = c->rto_ns << (c->backoff < 20 ? c->backoff : 20);
    return r > RTO_MAX_NS ? RTO_MAX_NS : r;
}

static void arm_rto(struct lr_dp_tcp_conn *c)
{
    c->t_rto = c->s->now_ns + rto_now(c);
}

/* Sends what the congestion and peer windows allow: new data, then our FIN once all data went out.
 * Arms the retransmission timer for what is in flight and the persist timer when the peer's
 * window is zero and nothing is in flight. */
static void tcp_output(struct lr_dp_tcp_conn *c)
{
    if (c->state == ST_SYN_RCVD || c->state == ST_CLOSED || c->state == ST_TIME_WAIT)
        return;
    uint32_t data_end = c->snd_una + c->sb_len;
    for (;;) {
        uint32_t flight = c->snd_nxt - c->snd_una;
        uint32_t wnd = min_u32(c->cwnd, c->snd_wnd);
        if (seq_lt(c->snd_nxt, data_end)) {
            uint32_t left = data_end - c->snd_nxt;
            uint32_t room = wnd > flight ? wnd - flight : 0;
            uint32_t len = min_u32(min_u32(left, c->snd_mss), room);
            if (len == 0)
                break;
            /* Sender SWS avoidance (RFC 1122 4.2.3.4): a short segment only when it is all we
             * have or nothing is in flight. */
            if (len < c->snd_mss && len < left && flight > 0)
                break;
            uint8_t flags = TH_ACK;
            if (len == left)
                flags |= TH_PSH;
            uint32_t seq = c->snd_nxt;
            bool rexmit = seq_lt(seq, c->snd_max);
            if (rexmit) {
                c->s->st.retransmits++;
                c->rtt_timing = false; /* Karn */
            } else if (!c->rtt_timing) {
                c->rtt_timing = true;
                c->rtt_seq = seq + len;
                c->rtt_start_ns = c->s->now_ns;
            }
            /* FIN rides on the last data segment when it may. */
            if (len == left && c->fin_queued) {
                flags |= TH_FIN;
                c->fin_seq = data_end;
                c->fin_sent = true;
            }
            send_seg(c, seq, flags, len);
            c->snd_nxt = seq + len + !!(flags & TH_FIN);
            if (seq_gt(c->snd_nxt, c->snd_max))
                c->snd_max = c->snd_nxt;
            if (!c->t_rto)
                arm_rto(c);
            continue;
        }
        /* Once our FIN is acknowledged, snd_una is past it and data_end (snd_una + an empty
         * buffer) meets snd_nxt again: that is not a FIN still to send. */
        bool fin_acked = c->fin_sent && seq_gt(c->snd_una, c->fin_seq);
        if (c->fin_queued && c->snd_nxt == data_end && !fin_acked) {
            /* A FIN alone: it needs no window. */
            c->fin_seq = data_end;
            c->fin_sent = true;
            send_seg(c, data_end, TH_FIN | TH_ACK, 0);
            if (seq_lt(data_end, c->snd_max))
                c->s->st.retransmits++;
            c->snd_nxt = data_end + 1;
            if (seq_gt(c->snd_nxt, c->snd_max))
                c->snd_max = c->snd_nxt;
            if (!c->t_rto)
                arm_rto(c);
        }
        break;
    }
    bool pending = seq_lt(c->snd_nxt, data_end);
    if (pending && c->snd_wnd == 0 && c->snd_nxt == c->snd_una) {
        if (!c->t_persist)
            c->t_persist = c->s->now_ns + rto_now(c);
    } else {
        c->t_persist = 0;
        c->persist_backoff = 0;
    }
}

/* Retransmits the first unacknowledged segment (fast retransmit, NewReno partial ACK). */
static void retransmit_first(struct lr_dp_tcp_conn *c)
{
    uint32_t data_end = c->snd_una + c->sb_len;
    c->s->st.retransmits++;
    c->rtt_timing = false;
    if (seq_lt(c->snd_una, data_end)) {
        uint32_t len = min_u32(data_end - c->snd_una, c->snd_mss);
        uint8_t flags = TH_ACK;
        if (c->snd_una + len == data_end) {
            flags |= TH_PSH;
            if (c->fin_sent)
                flags |= TH_FIN;
        }
        send_seg(c, c->snd_una, flags, len);
    } else if (c->fin_sent) {
        send_seg(c, c->snd_una, TH_FIN | TH_ACK, 0);
    }
}

/* ---- receiving ----------------------------------------------------------------------------- */

static void rcv_store(struct lr_dp_tcp_conn *c, uint32_t seq, const uint8_t *p, uint32_t n)
{
    uint32_t base = c->rcv_nxt - c->rb_len;
    uint32_t pos = (uint32_t)(((uint64_t)c->rb_start + (seq - base)) % c->rb_size);
    uint32_t n1 = min_u32(n, c->rb_size - pos);
    memcpy(c->rb + pos, p, n1);
    if (n > n1)
        memcpy(c->rb, p + n1, n - n1);
}

/* Adds [a, b) to the out-of-order ranges, merging. False when it would need a range beyond
 * MAX_OOO (the segment is dropped). */
static bool ooo_add(struct lr_dp_tcp_conn *c, uint32_t a, uint32_t b)
{
    uint32_t stamp = ++c->ooo_stamp;
    /* Merge every range that overlaps or touches [a, b). */
    for (uint32_t i = 0; i < c->n_ooo;) {
        struct ooo *r = &c->ooo[i];
        if (seq_le(r->start, b) && seq_ge(r->end, a)) {
            if (seq_lt(r->start, a))
                a = r->start;
            if (seq_gt(r->end, b))
                b = r->end;
            c->ooo[i] = c->ooo[--c->n_ooo];
            continue;
        }
        i++;
    }
    if (c->n_ooo == MAX_OOO)
        return false;
    c->ooo[c->n_ooo++] = (struct ooo){ a, b, stamp };
    return true;
}

/* Moves rcv_nxt over out-of-order ranges it reached. True when a hole was filled. */
static bool ooo_advance(struct lr_dp_tcp_conn *c)
{
    bool filled = false, again = true;
    while (again) {
        again = false;
        for (uint32_t i = 0; i < c->n_ooo; i++) {
            struct ooo *r = &c->ooo[i];
            if (seq_le(r->start, c->rcv_nxt)) {
                if (seq_gt(r->end, c->rcv_nxt)) {
                    c->rb_len += r->end - c->rcv_nxt;
                    c->rcv_nxt = r->end;
                }
                c->ooo[i] = c->ooo[--c->n_ooo];
                filled = again = true;
                break;
            }
        }
    }
    return filled;
}

/* The peer's FIN is in order: consume it and move the state. */
static void fin_in_order(struct lr_dp_tcp_conn *c)
{
    c->rcv_nxt++;
    c->fin_rcvd = true;
    c->fin_ooo = false;
    c->ack_now = true;
    switch (c->state) {
    case ST_SYN_RCVD:
    case ST_ESTABLISHED:
        c->state = ST_CLOSE_WAIT;
        break;
    case ST_FIN_WAIT_1:
        c->state = ST_CLOSING;
        break;
    case ST_FIN_WAIT_2:
        c->state = ST_TIME_WAIT;
        c->t_close = c->s->now_ns + TIME_WAIT_NS;
        break;
    default:
        break;
    }
}

/* Offers buffered in-order bytes to the application until it takes less than offered; then
 * on_fin once everything before the peer's FIN was taken. The application may close or abort c
 * from inside (the caller checks for ST_CLOSED). */
static void deliver(struct lr_dp_tcp_conn *c)
{
    struct lr_dp_tcp *s = c->s;
    if (c->delivering || !c->app_open)
        return;
    c->delivering = true;
    while (c->rb_len && !c->rx_blocked && c->state != ST_CLOSED) {
        uint32_t n = min_u32(c->rb_len, c->rb_size - c->rb_start);
        size_t took = s->ops.on_data(c->app, c, c->rb + c->rb_start, n);
        if (c->state == ST_CLOSED)
            break;
        if (took > n)
            took = n;
        c->rb_start = (c->rb_start + (uint32_t)took) % c->rb_size;
        c->rb_len -= (uint32_t)took;
        if (took < n)
            c->rx_blocked = true;
    }
    if (c->state != ST_CLOSED && c->fin_rcvd && !c->fin_delivered && c->rb_len == 0) {
        c->fin_delivered = true;
        if (s->ops.on_fin)
            s->ops.on_fin(c->app, c);
    }
    c->delivering = false;
}

/* After the application took bytes: a window update when the peer may be waiting for one (our
 * advertised window below 2 MSS) and it grows by at least min(rcv_cap / 2, MSS). */
static void maybe_window_update(struct lr_dp_tcp_conn *c)
{
    if (c->state == ST_CLOSED || c->state == ST_SYN_RCVD || c->state == ST_TIME_WAIT)
        return;
    uint32_t cur = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    uint32_t avail = c->rcv_cap - c->rb_len;
    uint32_t incr = min_u32(c->rcv_cap / 2, c->rcv_mss);
    if (cur < 2u * c->rcv_mss && avail > cur && avail - cur >= incr)
        send_ack(c);
}

/* ---- RTT and congestion -------------------------------------------------------------------- */

static void rtt_sample(struct lr_dp_tcp_conn *c, uint64_t r)
{
    /* RFC 6298 2.2 / 2.3 with alpha 1/8, beta 1/4, G = 10 ms (the tick), clamped to [200 ms,
     * 60 s] (Linux's minimum, RFC 6298 2.4 allows it). */
    if (!c->srtt_ns) {
        c->srtt_ns = r;
        c->rttvar_ns = r / 2;
    } else {
        uint64_t d = c->srtt_ns > r ? c->srtt_ns - r : r - c->srtt_ns;
        c->rttvar_ns = (3 * c->rttvar_ns + d) / 4;
        c->srtt_ns = (7 * c->srtt_ns + r) / 8;
    }
    uint64_t k = 4 * c->rttvar_ns;
    if (k < 10 * MS_NS)
        k = 10 * MS_NS;
    uint64_t rto = c->srtt_ns + k;
    c->rto_ns = rto < RTO_MIN_NS ? RTO_MIN_NS : rto > RTO_MAX_NS ? RTO_MAX_NS : rto;
}

static uint32_t loss_ssthresh(const struct lr_dp_tcp_conn *c)
{
    uint32_t flight = c->snd_max - c->snd_una;
    return max_u32(flight / 2, 2u * c->snd_mss); /* RFC 5681 (4) */
}

/* ---- connection setup ---------------------------------------------------------------------- */

static uint16_t peer_mss(const struct seg *g)
{
    uint16_t m = g->mss ? g->mss : 536; /* RFC 1122 4.2.2.6 default */
    return m < MIN_PEER_MSS ? MIN_PEER_MSS : m;
}

/* Fills in what a new connection negotiated from the peer's SYN (or SYN cookie). */
static void conn_setup(struct lr_dp_tcp_conn *c, uint16_t pmss, int ws, bool sack, bool ts,
                       uint32_t irs, uint32_t iss)
{
    struct lr_dp_tcp *s = c->s;
    c->ws_ok = ws >= 0;
    c->snd_ws = c->ws_ok ? (uint8_t)(ws > 14 ? 14 : ws) : 0; /* RFC 7323 2.3 */
    c->rcv_ws = c->ws_ok ? s->cfg.wscale : 0;
    c->sack_ok = sack;
    c->ts_ok = ts;
    uint16_t m = pmss < s->cfg.mss ? pmss : s->cfg.mss;
    c->snd_mss = (uint16_t)(m - (ts ? TS_OPT_BYTES : 0));
    c->rcv_mss = c->snd_mss;
    c->rcv_cap = min_u32(s->cfg.rcv_buf_bytes, 65535u << c->rcv_ws);
    c->irs = irs;
    c->rcv_nxt = irs + 1;
    c->rcv_adv = c->rcv_nxt;
    c->rcv_last_ack = c->rcv_nxt;
    c->iss = iss;
    c->snd_una = iss;
    c->snd_nxt = c->snd_max = iss + 1;
    /* IW10 (RFC 6928): min(10 MSS, max(2 MSS, 14600)). */
    c->cwnd = min_u32(10u * c->snd_mss, max_u32(2u * c->snd_mss, 14600));
    c->ssthresh = UINT32_MAX;
    c->quickacks = QUICKACK_SEGS;
}

/* ESTABLISHED: ask the application. False when the connection is gone (refused). */
static bool conn_established(struct lr_dp_tcp_conn *c)
{
    struct lr_dp_tcp *s = c->s;
    if (c->state == ST_SYN_RCVD)
        s->n_synrcvd--;
    c->state = ST_ESTABLISHED;
    c->t_rto = 0;
    c->backoff = 0;
    s->st.conns_opened++;
    c->app_open = true; /* an abort inside on_open reports on_close(NULL app) */
    c->app = NULL;
    void *app = s->ops.on_open(s->ops.ctx, c);
    if (c->state == ST_CLOSED)
        return false;
    if (!app) {
        c->app_open = false;
        s->st.conns_reset++;
        send_rst_conn(c);
        conn_close(c);
        return false;
    }
    c->app = app;
    return true;
}

/* SYN cookies: the ISN is t (5 bits, 64 s units) | MSS index (3 bits) | 24 bits of SipHash over
 * the 4-tuple, the peer's ISN, t and the index. Valid for the current and the two previous
 * periods (2 to 3 minutes, like Linux's MAX_SYNCOOKIE_AGE). With timestamps, the low 6 bits of our
 * TSval carry the window scale (4 bits, 15: none) and SACK-permitted (bit 4), as Linux does
 * (net/ipv4/syncookies.c, cookie_init_timestamp); without timestamps the cookie SYN-ACK offers
 * neither option. */
static uint32_t cookie_make(const struct lr_dp_tcp *s, const struct seg *g, uint32_t t, uint32_t mi)
{
    uint32_t h = (uint32_t)tuple_hash(s, H_COOKIE, g->sip, g->sport, g->dport, g->seq, t << 3 | mi);
    return (t & 31) << 27 | (mi & 7) << 24 | (h & 0xffffff);
}

static void send_cookie(struct lr_dp_tcp *s, const struct seg *g)
{
    uint16_t pm = peer_mss(g);
    uint32_t mi = 0;
    for (uint32_t i = 0; i < 8; i++)
        if (cookie_mss[i] <= pm)
            mi = i;
    uint32_t t = (uint32_t)(s->now_ns / COOKIE_PERIOD_NS);
    uint32_t isn = cookie_make(s, g, t, mi);
    uint8_t opt[40];
    size_t n;
    if (g->ts) {
        uint32_t bits =
            (uint32_t)(g->ws >= 0 ? (g->ws > 14 ? 14 : g->ws) : 15) | (g->sack_ok ? 16u : 0u);
        uint32_t now = (uint32_t)(s->now_ns / MS_NS) +
                       (uint32_t)tuple_hash(s, H_TSOFF, g->sip, g->sport, g->dport, 0, 0);
        uint32_t tsval = (now & ~63u) | bits;
        if (seq_gt(tsval, now)) /* never ahead of the clock the connection will use */
            tsval -= 64;
        n = syn_opts(opt, s->cfg.mss, g->sack_ok, true, tsval, g->tsval, g->ws >= 0, s->cfg.wscale);
    } else {
        n = syn_opts(opt, s->cfg.mss, false, false, 0, 0, false, 0);
    }
    s->st.syn_cookies_sent++;
    s->last_cookie_ns = s->now_ns ? s->now_ns : 1;
    uint16_t win = (uint16_t)min_u32(s->cfg.rcv_buf_bytes, 65535);
    emit(s, g->sip, g->dport, g->sport, isn, g->seq + 1, TH_SYN | TH_ACK, win, opt, n, NULL, 0,
         NULL, 0);
}

/* The ACK of a cookie SYN-ACK. Returns the new ESTABLISHED connection, or NULL (counted; RST sent
 * when the cookie is bad or the table is full). */
static struct lr_dp_tcp_conn *cookie_check(struct lr_dp_tcp *s, const struct seg *g)
{
    uint32_t cookie = g->ack - 1;
    struct seg syn = *g;
    syn.seq = g->seq - 1;
    uint32_t t = cookie >> 27, mi = (cookie >> 24) & 7;
    uint32_t cur = (uint32_t)(s->now_ns / COOKIE_PERIOD_NS);
    bool ok = false;
    for (uint32_t age = 0; age < 3 && !ok; age++) {
        uint32_t tt = cur - age;
        if ((tt & 31) == t && cookie_make(s, &syn, tt, mi) == cookie)
            ok = true;
    }
    if (!ok) {
        s->st.syn_cookies_bad++;
        send_rst_reply(s, g);
        return NULL;
    }
    struct lr_dp_tcp_conn *c = conn_alloc(s, g->sip, g->sport, g->dport);
    if (!c) {
        s->st.conns_refused_full++;
        send_rst_reply(s, g);
        return NULL;
    }
    s->st.syn_cookies_ok++;
    int ws = -1;
    bool sack = false, ts = false;
    if (g->ts && g->tsecr) {
        ts = true;
        uint32_t bits = g->tsecr & 63;
        ws = (bits & 15) == 15 ? -1 : (int)(bits & 15);
        sack = (bits & 16) != 0;
    }
    conn_setup(c, cookie_mss[mi], ws, sack, ts, g->seq - 1, cookie);
    c->rcv_adv = c->rcv_nxt + min_u32(s->cfg.rcv_buf_bytes, 65535); /* what the SYN-ACK said */
    c->snd_wnd = (uint32_t)g->win << c->snd_ws;
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = g->seq;
    c->snd_wl2 = g->ack;
    if (ts) {
        c->ts_recent = g->tsval;
        c->ts_recent_ns = s->now_ns;
    }
    c->state = ST_SYN_RCVD;
    s->n_synrcvd++;
    return c;
}

static void listen_syn(struct lr_dp_tcp *s, const struct seg *g)
{
    if (s->free_head == NONE) {
        /* Table full: refuse at once (the client sees ECONNREFUSED, not a timeout). */
        s->st.conns_refused_full++;
        send_rst_reply(s, g);
        return;
    }
    if (s->n_synrcvd >= s->cfg.syn_queue) {
        send_cookie(s, g);
        return;
    }
    struct lr_dp_tcp_conn *c = conn_alloc(s, g->sip, g->sport, g->dport);
    /* RFC 6528: ISN = 4 us clock + keyed hash of the 4-tuple. */
    uint32_t iss = (uint32_t)(s->now_ns / 4000) +
                   (uint32_t)tuple_hash(s, H_ISN, g->sip, g->sport, g->dport, 0, 0);
    conn_setup(c, peer_mss(g), g->ws, g->sack_ok, g->ts, g->seq, iss);
    c->snd_wnd = g->win; /* unscaled in a SYN */
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = g->seq;
    c->snd_wl2 = iss;
    if (g->ts) {
        c->ts_recent = g->tsval;
        c->ts_recent_ns = s->now_ns;
    }
    c->state = ST_SYN_RCVD;
    s->n_synrcvd++;
    send_seg(c, iss, TH_SYN | TH_ACK, 0);
    arm_rto(c);
}

/* ---- segment arrival (RFC 793 3.9, RFC 5961, RFC 7323) ----------------------------------------
 */

/* A segment of an existing connection. */
static void conn_input(struct lr_dp_tcp_conn *c, const struct seg *g)
{
    struct lr_dp_tcp *s = c->s;
    uint32_t seq = g->seq;
    uint32_t len = g->len;
    const uint8_t *data = g->data;
    uint8_t flags = g->flags;
    uint32_t seglen = len + !!(flags & TH_SYN) + !!(flags & TH_FIN);

    if (c->state == ST_SYN_RCVD) {
        if (flags & TH_RST) {
            if (seq == c->rcv_nxt) {
                s->st.conns_reset++;
                conn_close(c);
            }
            return;
        }
        if (flags & TH_SYN) {
            /* The peer retransmitted its SYN: our SYN-ACK was lost. */
            if (!(flags & TH_ACK) && seq == c->irs)
                send_seg(c, c->iss, TH_SYN | TH_ACK, 0);
            return;
        }
        if (!(flags & TH_ACK))
            return;
        if (g->ack != c->iss + 1) {
            send_rst_reply(s, g);
            return;
        }
        if (seq_lt(seq, c->rcv_nxt) || seq_gt(seq, c->rcv_adv))
            return;
        if (c->ts_ok && g->ts && seq_lt(g->tsval, c->ts_recent))
            return;
        c->snd_una = c->iss + 1;
        if (seq_lt(c->snd_nxt, c->snd_una))
            c->snd_nxt = c->snd_una;
        if (c->backoff)
            c->cwnd = c->snd_mss; /* SYN-ACK was retransmitted: IW 1 (RFC 6298 5.7) */
        c->snd_wnd = (uint32_t)g->win << c->snd_ws;
        c->max_snd_wnd = c->snd_wnd;
        c->snd_wl1 = seq;
        c->snd_wl2 = g->ack;
        if (!conn_established(c))
            return;
        /* falls through to the synchronized states with the same segment */
    }

    /* TIME_WAIT: a new SYN beyond the old sequence space (and timestamps, when used) takes over
     * the slot, like Linux's tcp_timewait_state_process. */
    if (c->state == ST_TIME_WAIT && (flags & TH_SYN) && !(flags & (TH_ACK | TH_RST)) &&
        seq_gt(seq, c->rcv_nxt) && (!c->ts_ok || !g->ts || seq_gt(g->tsval, c->ts_recent))) {
        conn_close(c);
        listen_syn(s, g);
        return;
    }

    /* PAWS (RFC 7323 5.3 R1): an old timestamp drops the segment; RST is exempt, as is a
     * ts_recent older than 24 days (5.5). */
    if (c->ts_ok && g->ts && !(flags & TH_RST) && seq_lt(g->tsval, c->ts_recent)) {
        if (s->now_ns - c->ts_recent_ns <= PAWS_IDLE_NS) {
            s->st.paws_dropped++;
            send_oow_ack(c, seglen, false);
            return;
        }
        c->ts_recent = g->tsval;
        c->ts_recent_ns = s->now_ns;
    }

    uint32_t wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
    bool in_window = seq_ge(seq, c->rcv_nxt) && seq_lt(seq, c->rcv_nxt + wnd);

    /* RST (RFC 5961 3.2): exactly at rcv_nxt resets, elsewhere in the window asks for a challenge
     * ACK, out of the window is ignored. */
    if (flags & TH_RST) {
        if (seq == c->rcv_nxt) {
            s->st.conns_reset++;
            conn_close(c);
        } else if (in_window || (wnd == 0 && seq == c->rcv_nxt)) {
            send_oow_ack(c, 0, true);
        } else {
            s->st.out_of_window++;
        }
        return;
    }

    /* Acceptability (RFC 793 3.9 "first check sequence number"). With a zero window a segment at
     * rcv_nxt is let through for its ACK, RST and FIN ("special allowance", RFC 793 p. 69): its
     * data is cut off below and answered with an ACK that carries the window. */
    bool overlaps = seglen && seq_lt(seq, c->rcv_nxt) && seq_gt(seq + seglen, c->rcv_nxt);
    bool ok = wnd == 0 ? seq == c->rcv_nxt || overlaps : in_window || overlaps;
    if (!ok && (flags & TH_SYN))
        ok = true; /* SYN in a synchronized state: challenge ACK below, wherever it is */
    if (!ok) {
        if (wnd == 0)
            s->st.window_probes++;
        else
            s->st.out_of_window++;
        send_oow_ack(c, seglen, false);
        return;
    }

    /* SYN in a synchronized state (RFC 5961 4.2): challenge ACK, drop. */
    if (flags & TH_SYN) {
        send_oow_ack(c, 0, true);
        return;
    }
    if (!(flags & TH_ACK))
        return;

    /* ACK (RFC 5961 5.2): acceptable when SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT. */
    uint32_t ack = g->ack;
    if (seq_gt(ack, c->snd_max) || seq_lt(ack, c->snd_una - c->max_snd_wnd)) {
        s->st.out_of_window++;
        send_oow_ack(c, seglen, true);
        return;
    }

    c->last_active_ns = s->now_ns;

    /* Timestamps (RFC 7323 4.3): remember the peer's TSval of a segment that covers the last
     * ACK we sent. */
    if (c->ts_ok && g->ts && seq_le(seq, c->rcv_last_ack) && seq_ge(g->tsval, c->ts_recent)) {
        c->ts_recent = g->tsval;
        c->ts_recent_ns = s->now_ns;
    }

    uint32_t new_wnd = (uint32_t)g->win << c->snd_ws;
    bool fin_acked = false;
    if (seq_gt(ack, c->snd_una)) {
        uint32_t acked = ack - c->snd_una;
        uint32_t data_acked = acked;
        if (c->fin_sent && seq_gt(ack, c->fin_seq)) {
            fin_acked = true;
            data_acked--;
        }
        if (data_acked > c->sb_len)
            data_acked = c->sb_len;
        c->sb_start = (c->sb_start + data_acked) % c->sb_size;
        c->sb_len -= data_acked;
        c->snd_una = ack;
        if (seq_lt(c->snd_nxt, ack))
            c->snd_nxt = ack;
        if (c->rtt_timing && seq_ge(ack, c->rtt_seq)) {
            rtt_sample(c, s->now_ns - c->rtt_start_ns);
            c->rtt_timing = false;
        }
        c->backoff = 0;
        /* Congestion control (RFC 5681 3.1, appropriate byte counting RFC 3465 with L = 1 MSS;
         * NewReno recovery RFC 6582). */
        if (c->in_recovery) {
            if (seq_ge(ack, c->recover)) {
                c->in_recovery = false;
                uint32_t flight = c->snd_max - c->snd_una;
                c->cwnd = min_u32(c->ssthresh, max_u32(flight, c->snd_mss) + c->snd_mss);
            } else {
                retransmit_first(c);
                c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
                c->cwnd += c->snd_mss;
            }
        } else if (c->cwnd < c->ssthresh) {
            c->cwnd += min_u32(acked, c->snd_mss);
        } else {
            c->bytes_acked += acked;
            if (c->bytes_acked >= c->cwnd) {
                c->bytes_acked -= c->cwnd;
                c->cwnd += c->snd_mss;
            }
        }
        c->dupacks = 0;
        if (c->snd_una == c->snd_max)
            c->t_rto = 0;
        else
            arm_rto(c);
    } else if (ack == c->snd_una && len == 0 && !(flags & TH_FIN) && new_wnd == c->snd_wnd &&
               c->snd_max != c->snd_una) {
        /* Duplicate ACK (RFC 5681 2). */
        s->st.dup_acks++;
        c->dupacks++;
        if (c->in_recovery) {
            c->cwnd += c->snd_mss;
        } else if (c->dupacks == 3 && seq_gt(c->snd_max, c->recover)) {
            c->ssthresh = loss_ssthresh(c);
            c->recover = c->snd_max;
            c->in_recovery = true;
            retransmit_first(c);
            c->cwnd = c->ssthresh + 3u * c->snd_mss;
        }
    }
    /* Window update (RFC 793 SND.WL1/WL2). */
    if (seq_lt(c->snd_wl1, seq) || (c->snd_wl1 == seq && seq_le(c->snd_wl2, ack))) {
        c->snd_wnd = new_wnd;
        c->snd_wl1 = seq;
        c->snd_wl2 = ack;
        if (new_wnd > c->max_snd_wnd)
            c->max_snd_wnd = new_wnd;
    }

    if (fin_acked) {
        switch (c->state) {
        case ST_FIN_WAIT_1:
            c->state = ST_FIN_WAIT_2;
            c->t_close = s->now_ns + FIN_WAIT_2_NS;
            break;
        case ST_CLOSING:
            c->state = ST_TIME_WAIT;
            c->t_close = s->now_ns + TIME_WAIT_NS;
            app_release(c);
            break;
        case ST_LAST_ACK:
            conn_close(c);
            return;
        default:
            break;
        }
        if (c->state == ST_CLOSED)
            return;
    }

    if (c->state == ST_TIME_WAIT) {
        /* Only a retransmitted FIN is expected here: ACK it and restart the 2 s. */
        if (flags & TH_FIN) {
            c->t_close = s->now_ns + TIME_WAIT_NS;
            send_ack(c);
        }
        return;
    }

    /* Data (RFC 793 "seventh, process the segment text"), trimmed to the window. */
    bool fin = (flags & TH_FIN) != 0;
    if (c->fin_rcvd) {
        len = 0; /* nothing after the peer's FIN */
        fin = false;
    }
    if (len && seq_lt(seq, c->rcv_nxt)) {
        uint32_t d = c->rcv_nxt - seq;
        if (d >= len) {
            /* Entirely old: only a FIN at rcv_nxt may remain. */
            len = 0;
            seq = c->rcv_nxt;
            c->ack_now = true;
            fin = fin && seq_ge(g->seq + g->len, c->rcv_nxt);
        } else {
            data += d;
            len -= d;
            seq = c->rcv_nxt;
        }
    }
    uint32_t edge = c->rcv_nxt + wnd;
    if (len && seq_gt(seq + len, edge)) {
        if (wnd == 0)
            s->st.window_probes++;
        else
            s->st.out_of_window++;
        len = seq_lt(seq, edge) ? edge - seq : 0;
        fin = false;
        c->ack_now = true;
    }
    if (len) {
        s->st.bytes_in += len;
        if (seq == c->rcv_nxt) {
            rcv_store(c, seq, data, len);
            c->rb_len += len;
            c->rcv_nxt += len;
            if (c->n_ooo && ooo_advance(c))
                c->ack_now = true; /* a hole filled: ACK at once (RFC 5681 4.2) */
            if (flags & TH_PSH)
                c->push_seen = true;
            if (c->quickacks) {
                c->quickacks--;
                c->ack_now = true;
            }
            c->ack_pending = true;
            if (c->rcv_nxt - c->rcv_last_ack >= 2u * c->rcv_mss)
                c->ack_now = true;
        } else {
            /* Out of order: stored at its place, reported with SACK, ACKed at once. */
            s->st.ooo_segs++;
            if (ooo_add(c, seq, seq + len))
                rcv_store(c, seq, data, len);
            else
                s->st.ooo_dropped_mem++;
            c->ack_now = true;
        }
    }
    if (fin) {
        uint32_t fseq = seq + len;
        if (fseq == c->rcv_nxt) {
            fin_in_order(c);
        } else if (seq_gt(fseq, c->rcv_nxt)) {
            c->fin_ooo = true;
            c->fin_ooo_seq = fseq;
        }
    }
    if (c->fin_ooo && !c->fin_rcvd && c->fin_ooo_seq == c->rcv_nxt)
        fin_in_order(c);

    deliver(c);
    if (c->state == ST_CLOSED)
        return;
    if (c->state == ST_TIME_WAIT)
        app_release(c); /* after on_data and on_fin: on_close is the last callback */
    if (c->state == ST_CLOSED)
        return;
    tcp_output(c);
    if (c->state == ST_CLOSED)
        return;
    if (c->ack_now) {
        send_ack(c);
    } else if (c->ack_pending) {
        if (c->push_seen)
            c->t_delack = s->now_ns; /* PSH: at the next tick */
        else if (!c->t_delack)
            c->t_delack = s->now_ns + DELACK_NS;
    }
}

/* Parses the TCP options (bounded; malformed lengths stop the walk). */
static void parse_opts(struct seg *g, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t k = p[i];
        if (k == 0)
            break;
        if (k == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n)
            break;
        uint8_t l = p[i + 1];
        if (l < 2 || i + l > n)
            break;
        if (k == 2 && l == 4)
            g->mss = rd16(p + i + 2);
        else if (k == 3 && l == 3)
            g->ws = p[i + 2];
        else if (k == 4 && l == 2)
            g->sack_ok = true;
        else if (k == 8 && l == 10) {
            g->ts = true;
            g->tsval = rd32(p + i + 2);
            g->tsecr = rd32(p + i + 6);
        }
        i += l;
    }
}

void lr_dp_tcp_input(struct lr_dp_tcp *s, const uint8_t *ip, size_t len, uint64_t now_ns)
{
    lr_dp_tcp_input_flags(s, ip, len, now_ns, 0);
}

void lr_dp_tcp_input_flags(struct lr_dp_tcp *s, const uint8_t *ip, size_t len, uint64_t now_ns,
                           unsigned flags)
{
    bool verified = flags & LR_DP_TCP_IN_CSUM_OK; /* the port summed IP and TCP already */
    if (!s || !ip)
        return;
    /* IPv4 header (RFC 791). len may include link padding: the total length rules. */
    if (len < 20 || (ip[0] >> 4) != 4) {
        s->st.bad_header++;
        return;
    }
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    size_t tot = rd16(ip + 2);
    if (ihl < 20 || tot < ihl + 20 || tot > len) {
        s->st.bad_header++;
        return;
    }
    if (!verified && lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(0, ip, ihl)) != 0) {
        s->st.bad_checksum++;
        return;
    }
    if (rd16(ip + 6) & 0x3fff) { /* fragments are not reassembled */
        s->st.bad_header++;
        return;
    }
    uint32_t dst = rd32(ip + 16), src = rd32(ip + 12);
    if (ip[9] != 6 || dst != s->cfg.local_ip) {
        s->st.not_ours++;
        return;
    }
    if (src == 0 || src == 0xffffffffu || (src >> 28) == 14 || (src >> 24) == 127 || src == dst) {
        s->st.bad_header++;
        return;
    }
    const uint8_t *th = ip + ihl;
    size_t tcp_len = tot - ihl;
    size_t thl = (size_t)(th[12] >> 4) * 4;
    if (thl < 20 || thl > tcp_len) {
        s->st.bad_header++;
        return;
    }
    uint8_t ph[12];
    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = 6;
    wr16(ph + 10, (uint16_t)tcp_len);
    if (!verified &&
        lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(lr_dp_tcp_csum_add(0, ph, 12), th, tcp_len)) != 0) {
        s->st.bad_checksum++;
        return;
    }
    struct seg g = { 0 };
    g.sip = src;
    g.sport = rd16(th);
    g.dport = rd16(th + 2);
    g.seq = rd32(th + 4);
    g.ack = rd32(th + 8);
    g.flags = th[13] & 0x3f;
    g.win = rd16(th + 14);
    g.data = th + thl;
    g.len = (uint32_t)(tcp_len - thl);
    g.ws = -1;
    parse_opts(&g, th + 20, thl - 20);
    if (g.sport == 0 || ((g.flags & TH_SYN) && (g.flags & (TH_RST | TH_FIN)))) {
        s->st.bad_header++;
        return;
    }

    enter(s, now_ns);
    s->st.segs_in++;
    if (g.dport != s->cfg.port && (!s->cfg.port2 || g.dport != s->cfg.port2)) {
        s->st.not_ours++;
        send_rst_reply(s, &g); /* a closed port, as RFC 793 asks */
        goto out;
    }
    struct lr_dp_tcp_conn *c = conn_find(s, g.sip, g.sport, g.dport);
    if (c) {
        conn_input(c, &g);
        goto out;
    }
    /* LISTEN (RFC 793 3.9). */
    if (g.flags & TH_RST)
        goto out;
    if (g.flags & TH_ACK) {
        bool cookies_recent =
            s->last_cookie_ns && s->now_ns - s->last_cookie_ns < 2 * COOKIE_PERIOD_NS;
        if (cookies_recent && !(g.flags & TH_SYN)) {
            c = cookie_check(s, &g);
            if (c)
                conn_input(c, &g);
        } else {
            send_rst_reply(s, &g);
        }
        goto out;
    }
    if (g.flags & TH_SYN)
        listen_syn(s, &g);
out:
    leave(s);
}

/* ---- timers -------------------------------------------------------------------------------- */

static void on_rto(struct lr_dp_tcp_conn *c)
{
    struct lr_dp_tcp *s = c->s;
    c->t_rto = 0;
    if (c->state == ST_SYN_RCVD) {
        if (c->backoff >= SYNACK_RETRIES) {
            conn_close(c); /* silently: the peer never completed */
            return;
        }
        c->backoff++;
        s->st.retransmits++;
        send_seg(c, c->iss, TH_SYN | TH_ACK, 0);
        arm_rto(c);
        return;
    }
    if (c->snd_una == c->snd_max)
        return;
    s->st.rto_fired++;
    if (c->backoff >= MAX_RETRIES) {
        s->st.conns_reset++;
        send_rst_conn(c);
        conn_close(c);
        return;
    }
    /* RFC 5681 (4) once per loss episode; RFC 6298 5.5 to 5.7; go back N. */
    if (c->backoff == 0)
        c->ssthresh = loss_ssthresh(c);
    c->cwnd = c->snd_mss;
    c->bytes_acked = 0;
    c->backoff++;
    c->in_recovery = false;
    c->recover = c->snd_max;
    c->dupacks = 0;
    c->rtt_timing = false;
    c->snd_nxt = c->snd_una;
    retransmit_first(c);
    uint32_t data_end = c->snd_una + c->sb_len;
    if (seq_lt(c->snd_una, data_end))
        c->snd_nxt = c->snd_una + min_u32(data_end - c->snd_una, c->snd_mss);
    if (c->fin_sent && c->snd_nxt == data_end)
        c->snd_nxt = data_end + 1;
    arm_rto(c);
}

static void on_persist(struct lr_dp_tcp_conn *c)
{
    struct lr_dp_tcp *s = c->s;
    c->t_persist = 0;
    if (c->snd_wnd != 0 || c->snd_nxt != c->snd_una || c->sb_len == 0)
        return;
    /* A probe below the window (like Linux's tcp_xmit_probe_skb): the peer answers with an ACK
     * that carries its current window. */
    s->st.persist_probes++;
    send_seg(c, c->snd_una - 1, TH_ACK, 0);
    if (c->persist_backoff < 20)
        c->persist_backoff++;
    uint64_t r = c->rto_ns << c->persist_backoff;
    c->t_persist = s->now_ns + (r > RTO_MAX_NS ? RTO_MAX_NS : r);
}

static void conn_tick(struct lr_dp_tcp_conn *c, uint64_t now)
{
    struct lr_dp_tcp *s = c->s;
    if (c->t_close && now >= c->t_close &&
        (c->state == ST_TIME_WAIT || c->state == ST_FIN_WAIT_2)) {
        conn_close(c);
        return;
    }
    if (s->cfg.idle_timeout_ms && c->state != ST_SYN_RCVD && c->state != ST_TIME_WAIT &&
        now - c->last_active_ns >= (uint64_t)s->cfg.idle_timeout_ms * MS_NS) {
        s->st.idle_timeouts++;
        send_rst_conn(c);
        conn_close(c);
        return;
    }
    if (c->t_rto && now >= c->t_rto) {
        on_rto(c);
        if (c->state == ST_CLOSED)
            return;
    }
    if (c->t_persist && now >= c->t_persist)
        on_persist(c);
    if (c->t_delack && now >= c->t_delack && c->ack_pending)
        send_ack(c);
}

void lr_dp_tcp_tick(struct lr_dp_tcp *s, uint64_t now_ns)
{
    if (!s)
        return;
    enter(s, now_ns);
    for (uint32_t i = s->live_head; i != NONE;) {
        struct lr_dp_tcp_conn *c = &s->conns[i];
        if (c->state != ST_CLOSED)
            conn_tick(c, s->now_ns);
        i = c->lnext;
    }
    leave(s);
}

/* ---- application calls --------------------------------------------------------------------- */

static bool can_send(const struct lr_dp_tcp_conn *c)
{
    return (c->state == ST_ESTABLISHED || c->state == ST_CLOSE_WAIT) && !c->fin_queued;
}

size_t lr_dp_tcp_send(struct lr_dp_tcp_conn *c, const uint8_t *p, size_t n, uint64_t now_ns)
{
    if (!c || !can_send(c) || n == 0)
        return 0;
    struct lr_dp_tcp *s = c->s;
    enter(s, now_ns);
    uint32_t room = c->sb_size - c->sb_len;
    uint32_t k = n < room ? (uint32_t)n : room;
    uint32_t pos = (c->sb_start + c->sb_len) % c->sb_size;
    uint32_t k1 = min_u32(k, c->sb_size - pos);
    memcpy(c->sb + pos, p, k1);
    if (k > k1)
        memcpy(c->sb, p + k1, k - k1);
    c->sb_len += k;
    c->last_active_ns = s->now_ns;
    tcp_output(c);
    leave(s);
    return k;
}

size_t lr_dp_tcp_send_room(const struct lr_dp_tcp_conn *c)
{
    if (!c || !can_send(c))
        return 0;
    return c->sb_size - c->sb_len;
}

void lr_dp_tcp_resume(struct lr_dp_tcp_conn *c, uint64_t now_ns)
{
    if (!c || c->state == ST_CLOSED || c->state == ST_FREE)
        return;
    struct lr_dp_tcp *s = c->s;
    enter(s, now_ns);
    c->rx_blocked = false;
    c->last_active_ns = s->now_ns;
    if (!c->delivering) {
        deliver(c);
        maybe_window_update(c);
    }
    leave(s);
}

void lr_dp_tcp_shutdown(struct lr_dp_tcp_conn *c, uint64_t now_ns)
{
    if (!c || c->fin_queued)
        return;
    if (c->state != ST_ESTABLISHED && c->state != ST_CLOSE_WAIT)
        return;
    struct lr_dp_tcp *s = c->s;
    enter(s, now_ns);
    c->fin_queued = true;
    c->state = c->state == ST_ESTABLISHED ? ST_FIN_WAIT_1 : ST_LAST_ACK;
    tcp_output(c);
    leave(s);
}

void lr_dp_tcp_abort(struct lr_dp_tcp_conn *c)
{
    if (!c || c->state == ST_CLOSED || c->state == ST_FREE)
        return;
    struct lr_dp_tcp *s = c->s;
    enter(s, 0);
    s->st.conns_reset++;
    if (c->state != ST_TIME_WAIT)
        send_rst_conn(c);
    conn_close(c);
    leave(s);
}

void lr_dp_tcp_peer(const struct lr_dp_tcp_conn *c, uint32_t *ip, uint16_t *port)
{
    if (ip)
        *ip = c->rip;
    if (port)
        *port = c->rport;
}

uint16_t lr_dp_tcp_local_port(const struct lr_dp_tcp_conn *c)
{
    return c->lport;
}

uint32_t lr_dp_tcp_conns(const struct lr_dp_tcp *s)
{
    return s->n_conns;
}

const struct lr_dp_tcp_stats *lr_dp_tcp_stats(const struct lr_dp_tcp *s)
{
    return &s->st;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

struct lr_dp_tcp *lr_dp_tcp_new(const struct lr_dp_tcp_cfg *cfg, const struct lr_dp_tcp_ops *ops)
{
    if (!cfg || !ops || !ops->output || !ops->on_open || !ops->on_data || cfg->max_conns == 0 ||
        cfg->max_conns > (1u << 24) || cfg->port == 0 || cfg->mss < 88 || cfg->mss > 9000 ||
        cfg->wscale > 14 || cfg->rcv_buf_bytes < 1024 || cfg->snd_buf_bytes < 1024 ||
        cfg->rcv_buf_bytes > (1u << 30) || cfg->snd_buf_bytes > (1u << 30)) {
        errno = EINVAL;
        return NULL;
    }
    struct lr_dp_tcp *s = calloc(1, sizeof(*s));
    if (!s)
        goto nomem;
    s->cfg = *cfg;
    s->ops = *ops;
    s->k0 = (uint64_t)cfg->secret[0] << 32 | cfg->secret[1];
    s->k1 = (uint64_t)cfg->secret[2] << 32 | cfg->secret[3];
    uint32_t nb = 1;
    while (nb < 2 * cfg->max_conns)
        nb <<= 1;
    s->bucket_mask = nb - 1;
    s->buckets = malloc(sizeof(uint32_t) * nb);
    s->conns = calloc(cfg->max_conns, sizeof(*s->conns));
    s->pkt_cap = 20 + 60 + cfg->mss;
    s->pkt = malloc(s->pkt_cap);
    if (!s->buckets || !s->conns || !s->pkt)
        goto nomem;
    s->rb_size = cfg->rcv_buf_bytes + (1u << cfg->wscale);
    s->sb_size = cfg->snd_buf_bytes;
    s->bufs_len = (size_t)cfg->max_conns * ((size_t)s->rb_size + s->sb_size);
    void *m = mmap(NULL, s->bufs_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        goto nomem;
    s->bufs = m;
    for (uint32_t i = 0; i < nb; i++)
        s->buckets[i] = NONE;
    s->free_head = NONE;
    for (uint32_t i = cfg->max_conns; i-- > 0;) {
        s->conns[i].idx = i;
        s->conns[i].hnext = s->free_head;
        s->free_head = i;
    }
    s->live_head = s->reap_head = NONE;
    return s;
nomem:
    if (s) {
        free(s->pkt);
        free(s->conns);
        free(s->buckets);
        free(s);
    }
    errno = ENOMEM;
    return NULL;
}

void lr_dp_tcp_free(struct lr_dp_tcp *s)
{
    if (!s)
        return;
    enter(s, 0);
    while (s->live_head != NONE)
        conn_close(&s->conns[s->live_head]);
    leave(s);
    munmap(s->bufs, s->bufs_len);
    free(s->pkt);
    free(s->conns);
    free(s->buckets);
    free(s);
}
