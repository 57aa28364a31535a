/* libFuzzer target for the userspace TCP stack (dataplane/tcp.c).
 *
 * Input: byte 0 picks the configuration (SYN queue, buffer sizes, window scale, MSS), then records
 * framed by a length byte: [len][op][len bytes]. op bits 0-2 say what the record is:
 *   0-3  a segment from peer port (op >> 3) & 3: flags, a sequence and an ACK number chosen
 *        relative to what the stack last sent that port (so most land in the window), window,
 *        TCP options and payload from the record; the harness fixes the 4-tuple and both
 *        checksums, except when op bit 5 asks for a broken one;
 *   4    the clock moves (record byte 0 times 10 ms, times 100 when op bit 5 is set) and ticks;
 *   5    the application acts on a connection: resume, send, shutdown, abort;
 *   6    the application's mood changes (how much on_data takes, whether it answers, refuses,
 *        shuts down or aborts from inside callbacks);
 *   7    raw bytes as an IPv4 datagram (checksums as they are).
 * Checked: every packet sent is a well-formed IPv4+TCP datagram with correct checksums and no
 * larger than the MSS allows; on_open / on_close pair up exactly; no callback reaches a
 * connection after its on_close; the table never holds more than max_conns. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/tcp.h"

#define LOCAL_IP 0x0a000001u
#define PEER_IP 0x0a000002u
#define PORT 4318
#define NAPPS 64

struct app {
    struct lr_dp_tcp_conn *c;
    bool live;
    uint64_t taken;
};

struct fz {
    struct lr_dp_tcp *s;
    uint32_t max_conns;
    uint16_t mss;
    uint64_t now;
    uint8_t mood;
    struct app apps[NAPPS];
    uint32_t opens, closes;
    /* what the stack last sent each peer port: its seq and ack */
    uint32_t st_seq[4], st_ack[4];
    uint32_t depth;
    uint64_t sink;
};

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

static uint16_t tcp_csum(const uint8_t *ip, const uint8_t *th, size_t tl)
{
    uint8_t ph[12];
    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = 6;
    wr16(ph + 10, (uint16_t)tl);
    return lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(lr_dp_tcp_csum_add(0, ph, 12), th, tl));
}

static void out(void *ctx, const uint8_t *p, size_t n)
{
    struct fz *f = ctx;
    assert(n >= 40 && n <= (size_t)20 + 60 + f->mss);
    assert(p[0] == 0x45 && rd16(p + 2) == n && p[9] == 6 && p[8] == 64);
    assert(rd32(p + 12) == LOCAL_IP);
    assert(lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(0, p, 20)) == 0);
    const uint8_t *th = p + 20;
    size_t thl = (size_t)(th[12] >> 4) * 4;
    assert(thl >= 20 && thl <= n - 20);
    assert(tcp_csum(p, th, n - 20) == 0);
    assert(n - 20 - thl <= f->mss);
    uint16_t dport = rd16(th + 2);
    if (rd32(p + 16) == PEER_IP && dport >= 40000 && dport < 40004) {
        f->st_seq[dport - 40000] = rd32(th + 4);
        if (th[13] & 0x10)
            f->st_ack[dport - 40000] = rd32(th + 8);
    }
}

static struct app *app_of(struct fz *f, struct lr_dp_tcp_conn *c)
{
    for (int i = 0; i < NAPPS; i++)
        if (f->apps[i].live && f->apps[i].c == c)
            return &f->apps[i];
    return NULL;
}

static void *on_open(void *ctx, struct lr_dp_tcp_conn *c)
{
    struct fz *f = ctx;
    assert(!app_of(f, c));
    if (f->mood & 0x80)
        return NULL;
    for (int i = 0; i < NAPPS; i++) {
        if (!f->apps[i].live) {
            f->apps[i] = (struct app){ .c = c, .live = true };
            f->opens++;
            return &f->apps[i];
        }
    }
    return NULL;
}

static struct fz *g_f; /* the one harness of this run (libFuzzer runs inputs one at a time) */

static size_t on_data_fz(void *ap, struct lr_dp_tcp_conn *c, const uint8_t *p, size_t n)
{
    struct fz *f = g_f;
    struct app *a = ap;
    assert(a && a->live && a->c == c && n > 0);
    for (size_t i = 0; i < n; i++)
        f->sink += p[i];
    size_t take;
    switch (f->mood & 3) {
    case 0:
        take = n;
        break;
    case 1:
        take = 0;
        break;
    case 2:
        take = n / 2;
        break;
    default:
        take = n > 7 ? 7 : n;
        break;
    }
    a->taken += take;
    if (f->mood & 4) {
        static const uint8_t resp[300] = { 'H', 'T', 'T', 'P' };
        lr_dp_tcp_send(c, resp, sizeof(resp), f->now);
    }
    if ((f->mood & 0x18) == 0x08)
        lr_dp_tcp_shutdown(c, f->now);
    else if ((f->mood & 0x18) == 0x18 && (a->taken & 3) == 1)
        lr_dp_tcp_abort(c);
    if ((f->mood & 0x20) && take < n)
        lr_dp_tcp_resume(c, f->now); /* resume from inside: must not recurse forever */
    return take;
}

static void on_fin(void *ap, struct lr_dp_tcp_conn *c)
{
    struct app *a = ap;
    assert(a && a->live && a->c == c);
    if (g_f->mood & 0x40)
        lr_dp_tcp_shutdown(c, g_f->now);
}

static void on_close(void *ap, struct lr_dp_tcp_conn *c)
{
    struct app *a = ap;
    if (!a)
        return; /* aborted inside on_open */
    assert(a->live && a->c == c);
    a->live = false;
    g_f->closes++;
}

static struct lr_dp_tcp_conn *pick(struct fz *f, uint8_t b)
{
    for (int k = 0; k < NAPPS; k++) {
        struct app *a = &f->apps[(b + k) % NAPPS];
        if (a->live)
            return a->c;
    }
    return NULL;
}

static void segment(struct fz *f, uint8_t op, const uint8_t *d, size_t n)
{
    /* d: flags, seq delta (int8), ack delta (int8), window (2), optlen, options, payload */
    uint8_t pkt[20 + 60 + 1600];
    if (n < 6)
        return;
    int port = (op >> 3) & 3;
    uint8_t flags = d[0] & 0x3f;
    int32_t dseq = (int8_t)d[1], dack = (int8_t)d[2];
    uint16_t win = rd16(d + 3);
    size_t optlen = (size_t)(d[5] & 0x0f) * 4;
    d += 6;
    n -= 6;
    if (optlen > n)
        optlen = n & ~(size_t)3;
    size_t plen = n - optlen;
    if (plen > 1600)
        plen = 1600;
    uint32_t seq, ack;
    if (flags & 0x02 && !(flags & 0x10)) {
        seq = 1000u + (uint32_t)dseq * 100000u;
        ack = 0;
    } else {
        /* Mostly at the stack's rcv_nxt / snd_nxt, sometimes far away. */
        seq = f->st_ack[port] + (uint32_t)(dseq & 0x40 ? dseq * 1000 : dseq);
        ack = f->st_seq[port] + (uint32_t)(dack & 0x40 ? dack * 1000 : dack);
        if (dack == 1)
            ack = f->st_seq[port] + 1;
    }
    size_t thl = 20 + optlen;
    size_t tot = 20 + thl + plen;
    memset(pkt, 0, 40);
    pkt[0] = 0x45;
    wr16(pkt + 2, (uint16_t)tot);
    wr16(pkt + 6, 0x4000);
    pkt[8] = 64;
    pkt[9] = 6;
    wr32(pkt + 12, PEER_IP);
    wr32(pkt + 16, LOCAL_IP);
    wr16(pkt + 10, lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(0, pkt, 20)));
    uint8_t *th = pkt + 20;
    wr16(th, (uint16_t)(40000 + port));
    wr16(th + 2, PORT);
    wr32(th + 4, seq);
    wr32(th + 8, ack);
    th[12] = (uint8_t)((thl / 4) << 4);
    th[13] = flags;
    wr16(th + 14, win);
    memcpy(th + 20, d, optlen);
    memcpy(th + thl, d + optlen, plen);
    wr16(th + 16, tcp_csum(pkt, th, thl + plen));
    if (op & 0x20)
        pkt[tot - 1 - (op & 7) % tot] ^= 0x01; /* a broken checksum */
    lr_dp_tcp_input(f->s, pkt, tot, f->now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static struct fz fz;
    struct fz *f = &fz;
    memset(f, 0, sizeof(*f));
    g_f = f;
    uint8_t m = data[0];
    data++;
    size--;
    struct lr_dp_tcp_cfg cfg = {
        .local_ip = LOCAL_IP,
        .port = PORT,
        .port2 = 4317,
        .max_conns = 4 + (m & 3),
        .syn_queue = (m >> 2) & 3,
        .rcv_buf_bytes = (m & 0x10) ? 1024 : 8192,
        .snd_buf_bytes = (m & 0x20) ? 1024 : 16384,
        .mss = (m & 0x40) ? 536 : 1460,
        .wscale = (m & 0x80) ? 0 : 7,
        .idle_timeout_ms = 20000,
        .secret = { 1, 2, 3, 4 },
    };
    struct lr_dp_tcp_ops ops = {
        .output = out,
        .on_open = on_open,
        .on_data = on_data_fz,
        .on_fin = on_fin,
        .on_close = on_close,
        .ctx = f,
    };
    f->mss = cfg.mss;
    f->max_conns = cfg.max_conns;
    f->now = 1000000000ull;
    f->s = lr_dp_tcp_new(&cfg, &ops);
    if (!f->s)
        return 0;
    while (size >= 2) {
        size_t len = data[0];
        uint8_t op = data[1];
        data += 2;
        size -= 2;
        if (len > size)
            len = size;
        const uint8_t *d = data;
        data += len;
        size -= len;
        switch (op & 7) {
        case 0:
        case 1:
        case 2:
        case 3:
            segment(f, op, d, len);
            break;
        case 4: {
            uint64_t step = (len ? d[0] : 1) * 10000000ull;
            if (op & 0x20)
                step *= 100;
            f->now += step;
            lr_dp_tcp_tick(f->s, f->now);
            break;
        }
        case 5: {
            struct lr_dp_tcp_conn *c = pick(f, len ? d[0] : 0);
            if (!c)
                break;
            switch ((op >> 3) & 3) {
            case 0:
                lr_dp_tcp_resume(c, f->now);
                break;
            case 1: {
                size_t room = lr_dp_tcp_send_room(c);
                size_t k = lr_dp_tcp_send(c, d, len, f->now);
                assert(k <= len && k <= room);
                break;
            }
            case 2:
                lr_dp_tcp_shutdown(c, f->now);
                break;
            default:
                lr_dp_tcp_abort(c);
                break;
            }
            break;
        }
        case 6:
            f->mood = len ? d[0] : 0;
            break;
        default:
            lr_dp_tcp_input(f->s, d, len, f->now);
            break;
        }
        assert(lr_dp_tcp_conns(f->s) <= f->max_conns);
    }
    /* Let timers run out: everything ends. */
    for (int i = 0; i < 40; i++) {
        f->now += 10000000000ull;
        lr_dp_tcp_tick(f->s, f->now);
    }
    assert(lr_dp_tcp_conns(f->s) == 0);
    lr_dp_tcp_free(f->s);
    assert(f->opens == f->closes);
    return 0;
}
