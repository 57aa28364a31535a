/* libFuzzer target for the link and network layer (dataplane/net.c).
 *
 * Input: byte 0 picks the configuration (VLAN or not, neighbour table size), then records of
 * [op][len hi][len lo][bytes]: op & 3 == 0 feeds the bytes as a received frame, 1 sends them as
 * an IPv4 datagram, 2 advances the clock by `len` ms and ticks, 3 feeds them as a frame with a
 * valid Ethernet header for us prepended (so the fuzzer spends its time past the MAC check).
 * Checks what the layer hands out: every datagram given to ip_input is a valid unfragmented IPv4
 * TCP datagram to our address within the frame; every transmitted frame is from our MAC, at least
 * 60 bytes and at most the MTU plus the link header. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/net.h"

#define OUR_IP 0x0a000001u
static const uint8_t our_mac[6] = { 2, 0, 0, 0, 0, 1 };

struct ctx {
    size_t last_frame_len;
    uint16_t vlan;
};

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    for (size_t i = 0; i < len; i += 2)
        s += (uint32_t)(p[i] << 8 | (i + 1 < len ? p[i + 1] : 0));
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void on_tx(void *vc, const uint8_t *f, size_t len)
{
    struct ctx *c = vc;
    assert(len >= 60 && len <= 1500 + 18u);
    assert(memcmp(f + 6, our_mac, 6) == 0);
    if (c->vlan)
        assert(f[12] == 0x81 && f[13] == 0x00 && ((f[14] << 8 | f[15]) & 0xfff) == c->vlan);
}

static void on_ip(void *vc, const uint8_t *p, size_t len, uint64_t now_ns)
{
    struct ctx *c = vc;
    (void)now_ns;
    assert(len >= 20 && len <= c->last_frame_len);
    assert(p[0] >> 4 == 4 && (p[0] & 0xf) >= 5 && (size_t)(p[0] & 0xf) * 4 <= len);
    assert((size_t)(p[2] << 8 | p[3]) == len);
    assert(csum(p, (size_t)(p[0] & 0xf) * 4) == 0);
    assert(p[9] == 6);
    assert((p[6] & 0x3f) == 0 && p[7] == 0 && !(p[6] & 0x20));
    uint32_t dst = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
    assert(dst == OUR_IP);
    /* Touch every byte: ASan catches a length past the buffer. */
    volatile uint8_t x = 0;
    for (size_t i = 0; i < len; i++)
        x ^= p[i];
    (void)x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct ctx c = { .vlan = (data[0] & 1) ? 9 : 0 };
    struct lr_dp_net_cfg cfg = { .ip = OUR_IP,
                                 .prefix = (uint8_t)(8 + (data[0] >> 1) % 25),
                                 .gateway = (data[0] & 2) ? 0x0a0000feu : 0,
                                 .vlan = c.vlan,
                                 .mtu = 1500,
                                 .neighbours = (data[0] & 4) ? 1 : 16,
                                 .neighbour_ttl_ms = 1000 };
    memcpy(cfg.mac, our_mac, 6);
    struct lr_dp_net_ops ops = { .tx = on_tx, .ip_input = on_ip, .ctx = &c };
    struct lr_dp_net *n = lr_dp_net_new(&cfg, &ops);
    assert(n);
    data++;
    size--;
    uint64_t now = 0;
    while (size >= 3) {
        uint8_t op = data[0];
        size_t len = (size_t)(data[1] << 8 | data[2]);
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        /* An exact-size copy, so that a read past the frame is a heap overflow. */
        size_t pre = (op & 3) == 3 ? (c.vlan ? 18 : 14) : 0;
        uint8_t *buf = malloc(pre + len ? pre + len : 1);
        if (pre) {
            memcpy(buf, our_mac, 6);
            memcpy(buf + 6, "\x02\x00\x00\x00\x00\x02", 6);
            if (c.vlan)
                memcpy(buf + 12, "\x81\x00\x00\x09", 4);
            memcpy(buf + pre - 2, "\x08\x00", 2);
            if (len > 0 && (data[0] & 1)) /* ARP now and then */
                buf[pre - 1] = 0x06;
        }
        memcpy(buf + pre, data, len);
        switch (op & 3) {
        case 0:
        case 3:
            c.last_frame_len = pre + len;
            lr_dp_net_input(n, buf, pre + len, now);
            break;
        case 1: {
            int rc = lr_dp_net_ip_output(n, buf, len, now);
            assert(rc == 0 || rc == -EHOSTUNREACH || rc == -EAGAIN || rc == -ENOBUFS ||
                   rc == -EMSGSIZE || rc == -EINVAL);
            break;
        }
        case 2:
            now += (uint64_t)len * 1000000u;
            lr_dp_net_tick(n, now);
            break;
        }
        free(buf);
        data += len;
        size -= len;
    }
    lr_dp_net_free(n);
    return 0;
}
