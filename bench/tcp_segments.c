/* The userspace TCP path's cost per segment, for callgrind (bench/dataplane.sh): a client opens
 * one connection to the link layer + TCP stack of dataplane/net.c and dataplane/tcp.c and sends
 * N full segments (1448 bytes, timestamps on, as Linux sends them) that the application takes at
 * once; the stack acknowledges as it does on the wire (every second segment). Frames are built
 * before the measured part; the bench runs this for two values of N and divides the difference
 * in instructions by the difference in segments, so that set-up costs cancel out.
 *
 * Usage: tcp_segments N. Prints "segments N bytes B acks A". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dataplane/net.h"
#include "../dataplane/tcp.h"

#define MSS 1448
#define SRV_IP 0x0a4d0001u /* 10.77.0.1 */
#define CLI_IP 0x0a4d0002u
#define PORT 4318
#define CPORT 40000

static const uint8_t srv_mac[6] = { 2, 0, 0, 0, 0, 1 }, cli_mac[6] = { 2, 0, 0, 0, 0, 2 };
static uint32_t srv_isn, srv_tsval;
static uint64_t acks, bytes;

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Ethernet + IPv4 + TCP with the timestamp option (and the SYN's options when `syn`). */
static size_t frame(uint8_t *f, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t tsval,
                    size_t payload, int syn)
{
    memcpy(f, srv_mac, 6);
    memcpy(f + 6, cli_mac, 6);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14, *tcp = ip + 20, *o = tcp + 20;
    size_t ol = 0;
    if (syn) {
        static const uint8_t so[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
                                      0, 0, 0,    0,    0, 0, 1, 3,  3, 7 };
        memcpy(o, so, sizeof(so));
        put32(o + 8, tsval);
        ol = sizeof(so);
    } else {
        static const uint8_t to[] = { 1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0 };
        memcpy(o, to, sizeof(to));
        put32(o + 4, tsval);
        put32(o + 8, srv_tsval);
        ol = sizeof(to);
    }
    size_t tl = 20 + ol + payload;
    memset(o + ol, 'x', payload);
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + tl));
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 12, CLI_IP);
    put32(ip + 16, SRV_IP);
    put16(ip + 10, lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(0, ip, 20)));
    put16(tcp, CPORT);
    put16(tcp + 2, PORT);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = (uint8_t)((20 + ol) / 4) << 4;
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    put16(tcp + 16, 0);
    put16(tcp + 18, 0);
    uint8_t ph[12];
    memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = 6;
    put16(ph + 10, (uint16_t)tl);
    put16(tcp + 16,
          lr_dp_tcp_csum_fold(lr_dp_tcp_csum_add(lr_dp_tcp_csum_add(0, ph, 12), tcp, tl)));
    return 14 + 20 + tl;
}

static void on_tx(void *ctx, const uint8_t *f, size_t len)
{
    (void)ctx;
    if (len < 54 || f[12] != 8 || f[13] != 0 || f[23] != 6)
        return;
    const uint8_t *tcp = f + 14 + (f[14] & 15) * 4;
    if (tcp[13] & 0x02) /* SYN-ACK */
        srv_isn = get32(tcp + 4);
    /* the stack's timestamp value, to echo */
    for (const uint8_t *o = tcp + 20; o < tcp + (tcp[12] >> 4) * 4;) {
        if (*o == 8) {
            srv_tsval = get32(o + 2);
            break;
        }
        o += *o <= 1 ? 1 : o[1];
    }
    acks++;
}

static struct lr_dp_net *net;
static struct lr_dp_tcp *stack;

static void ip_in(void *ctx, const uint8_t *p, size_t n, uint64_t now)
{
    (void)ctx;
    lr_dp_tcp_input(stack, p, n, now);
}

static void tcp_out(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    lr_dp_net_ip_output(net, p, n, 0);
}

static void *on_open(void *ctx, struct lr_dp_tcp_conn *c)
{
    (void)c;
    return ctx;
}

static size_t on_data(void *app, struct lr_dp_tcp_conn *c, const uint8_t *p, size_t n)
{
    (void)app, (void)c, (void)p;
    bytes += n;
    return n;
}

static void on_close(void *app, struct lr_dp_tcp_conn *c)
{
    (void)app, (void)c;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000;
    struct lr_dp_net_cfg nc = {
        .ip = SRV_IP, .prefix = 24, .neighbours = 64, .neighbour_ttl_ms = 60000
    };
    memcpy(nc.mac, srv_mac, 6);
    struct lr_dp_net_ops no = { .tx = on_tx, .ip_input = ip_in };
    static int app;
    struct lr_dp_tcp_cfg tc = { .local_ip = SRV_IP,
                                .port = PORT,
                                .max_conns = 16,
                                .syn_queue = 16,
                                .rcv_buf_bytes = 256 * 1024,
                                .snd_buf_bytes = 64 * 1024,
                                .mss = 1460,
                                .wscale = 7,
                                .idle_timeout_ms = 60000,
                                .secret = { 1, 2, 3, 4 } };
    struct lr_dp_tcp_ops to = {
        .output = tcp_out, .on_open = on_open, .on_data = on_data, .on_close = on_close, .ctx = &app
    };
    net = lr_dp_net_new(&nc, &no);
    stack = lr_dp_tcp_new(&tc, &to);
    if (!net || !stack)
        return 1;
    uint8_t *frames = malloc((size_t)n * 1600), f[1600];
    size_t *lens = malloc((size_t)n * sizeof(*lens));
    if (!frames || !lens)
        return 1;
    uint32_t seq = 1000, ts = 1;
    size_t len = frame(f, seq, 0, 0x02, ts, 0, 1);
    lr_dp_net_input(net, f, len, 1000);
    len = frame(f, seq + 1, srv_isn + 1, 0x10, ++ts, 0, 0);
    lr_dp_net_input(net, f, len, 2000);
    seq++;
    for (long i = 0; i < n; i++) {
        lens[i] = frame(frames + i * 1600, seq, srv_isn + 1, 0x10, ++ts, MSS, 0);
        seq += MSS;
    }
    uint64_t now = 3000;
    for (long i = 0; i < n; i++) {
        lr_dp_net_input(net, frames + i * 1600, lens[i], now);
        now += 1000;
    }
    printf("segments %ld bytes %llu acks %llu\n", n, (unsigned long long)bytes,
           (unsigned long long)acks);
    lr_dp_tcp_free(stack);
    lr_dp_net_free(net);
    free(frames);
    free(lens);
    return bytes == (uint64_t)n * MSS ? 0 : 2;
}
