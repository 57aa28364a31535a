/* The DPDK port (dataplane/dpdk.h): the only file that includes rte_*.h.
 *
 * Layout follows DPDK's examples/l3fwd: one mbuf pool per NUMA socket in use, one RX/TX queue
 * pair per worker, frames moved in bursts of 32, a per-queue TX buffer flushed when full or at
 * the end of a loop iteration.
 *
 * Checksums: when the port offers RX IPv4 and TCP checksum offload, it is turned on, and a
 * frame whose mbuf says RTE_MBUF_F_RX_{IP,L4}_CKSUM_GOOD reaches the stack with
 * LR_DP_RX_CSUM_OK: tcp.c then does not sum the segment again (the sum over the payload was most
 * of the cost of a full segment, bench/tcp_segments.c). Anything else (BAD, UNKNOWN, NONE, a
 * port without the offload) is verified in software. On transmit, checksums are computed in
 * software: what linerate sends are ACKs and short answers, where the sum is small; the TX
 * offload (RTE_MBUF_F_TX_{IPV4,IP_CKSUM,TCP_CKSUM}, l2_len, l3_len and the pseudo-header sum in
 * the TCP field) is left for when a NIC shows it matters.
 *
 * Built with LR_NO_DPDK (the fuzz build, or a machine without libdpdk-dev) this file only holds
 * stubs that say so. */
#include "dpdk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifdef LR_NO_DPDK

struct lr_dp_dpdk *lr_dp_dpdk_start(const struct lr_config *cfg, uint16_t n_queues,
                                    const int *nodes, char *errstr, size_t errlen)
{
    (void)cfg;
    (void)nodes;
    (void)n_queues;
    snprintf(errstr, errlen,
             "dataplane.mode: dpdk: this linerate was built without DPDK (install dpdk-dev and "
             "libdpdk-dev, then rebuild)");
    errno = ENOTSUP;
    return NULL;
}
void lr_dp_dpdk_stop(struct lr_dp_dpdk *d)
{
    (void)d;
}
void lr_dp_dpdk_mac(const struct lr_dp_dpdk *d, uint8_t mac[6])
{
    (void)d;
    memset(mac, 0, 6);
}
bool lr_dp_dpdk_tx_csum_offload(const struct lr_dp_dpdk *d)
{
    (void)d;
    return false;
}
struct lr_dp_dpdk_q *lr_dp_dpdk_queue(struct lr_dp_dpdk *d, uint16_t i)
{
    (void)d;
    (void)i;
    return NULL;
}
int lr_dp_dpdk_thread_register(char *errstr, size_t errlen)
{
    snprintf(errstr, errlen, "built without DPDK");
    return -1;
}
void lr_dp_dpdk_thread_unregister(void) {}
size_t lr_dp_dpdk_rx(struct lr_dp_dpdk_q *q, lr_dp_dpdk_frame_fn fn, void *ctx)
{
    (void)q;
    (void)fn;
    (void)ctx;
    return 0;
}
int lr_dp_dpdk_tx(struct lr_dp_dpdk_q *q, const uint8_t *frame, size_t len)
{
    (void)q;
    (void)frame;
    (void)len;
    return -ENOBUFS;
}
void lr_dp_dpdk_flush(struct lr_dp_dpdk_q *q)
{
    (void)q;
}
const struct lr_dp_dpdk_q_stats *lr_dp_dpdk_q_stats(const struct lr_dp_dpdk_q *q)
{
    (void)q;
    static const struct lr_dp_dpdk_q_stats zero;
    return &zero;
}

#else /* DPDK */

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#define BURST 32
#define RX_DESC 1024
#define TX_DESC 1024
#define POOL_CACHE 256
#define TX_RETRIES 4
#define MAX_EAL_ARGS 64
#define MAX_FRAME (9000 + 18 + 4) /* dataplane.mtu's maximum, a tagged header and the FCS */

struct lr_dp_dpdk_q {
    uint16_t port, id;
    bool tx_csum; /* the port computes IPv4/TCP checksums of marked frames */
    struct rte_mempool *pool;
    uint16_t tx_n;
    struct rte_mbuf *tx[BURST];
    uint16_t tx_len[BURST];
    struct lr_dp_dpdk_q_stats st;
    uint8_t scratch[MAX_FRAME]; /* a multi-segment frame, made contiguous for fn */
} __rte_cache_aligned;

struct lr_dp_dpdk {
    uint16_t port, n_queues;
    bool port_started, port_configured;
    bool tx_csum;
    struct rte_ether_addr mac;
    struct rte_mempool *pools[RTE_MAX_NUMA_NODES];
    struct lr_dp_dpdk_q *q; /* n_queues, cache-aligned */
};

/* The EAL keeps pointers into argv: one copy for the life of the process. */
static char eal_argbuf[sizeof(((struct lr_config *)0)->dp.eal_args)];
static char *eal_argv[MAX_EAL_ARGS + 2];

static int build_argv(const char *args, char *errstr, size_t errlen)
{
    int argc = 0;
    snprintf(eal_argbuf, sizeof(eal_argbuf), "%s", args);
    eal_argv[argc++] = "linerate";
    for (char *save = NULL, *t = strtok_r(eal_argbuf, " \t", &save); t;
         t = strtok_r(NULL, " \t", &save)) {
        /* The EAL prints its usage and calls exit(0) on these. */
        if (strcmp(t, "-h") == 0 || strcmp(t, "--help") == 0) {
            snprintf(errstr, errlen, "dataplane.dpdk.eal_args: %s would make the EAL exit", t);
            return -1;
        }
        if (argc > MAX_EAL_ARGS) {
            snprintf(errstr, errlen, "dataplane.dpdk.eal_args: more than %d arguments",
                     MAX_EAL_ARGS);
            return -1;
        }
        eal_argv[argc++] = t;
    }
    eal_argv[argc] = NULL;
    return argc;
}

/* What an operator can do about an EAL failure, by the rte_errno rte_eal_init sets. */
static const char *eal_hint(int e)
{
    switch (e) {
    case EACCES:
        return " (no usable hugepages: mount hugetlbfs and reserve pages, or add --no-huge -m 256 "
               "--no-shconf; or not enough permissions)";
    case EINVAL:
        return " (an argument is wrong: see the EAL's message above, e.g. an unknown option or "
               "a core list naming cpus that do not exist)";
    case EALREADY:
        return " (the EAL was already initialised in this process)";
    case ENOMEM:
        return " (not enough memory: raise -m or reserve more hugepages)";
    case ENOTSUP:
        return " (a device could not be probed: check --vdev / -a and that its driver is "
               "installed)";
    case EBUSY:
        return " (another DPDK process holds the shared files: use --file-prefix or "
               "--no-shconf)";
    default:
        return "";
    }
}

/* rte_eal_init returns -1 on its errors; it exits only on -h/--help (refused above) and panics
 * only when it cannot create its own threads or pipes. */
static int eal_init(const struct lr_config *cfg, char *errstr, size_t errlen)
{
    int argc = build_argv(cfg->dp.eal_args, errstr, errlen);
    if (argc < 0)
        return -1;
    /* rte_eal_init pins the calling thread to the main lcore; threads the control plane
     * creates later would inherit that. Put the original affinity back. */
    cpu_set_t saved;
    bool have_saved = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
    int rc = rte_eal_init(argc, eal_argv);
    if (rc < 0) {
        int e = rte_errno;
        snprintf(errstr, errlen, "dataplane.dpdk.eal_args: EAL initialisation failed: %s%s",
                 rte_strerror(e), eal_hint(e));
        return -1;
    }
    if (have_saved)
        pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
    return 0;
}

/* Mbufs the queue pairs can hold at once: both rings, a burst in flight each way, and a
 * per-lcore cache each. */
static unsigned pool_size(unsigned queues, uint16_t rxd, uint16_t txd)
{
    unsigned n = queues * ((unsigned)rxd + txd + 2 * BURST + POOL_CACHE) + 1024;
    unsigned p = 1;
    while (p < n)
        p <<= 1;
    return p - 1; /* 2^k - 1: the optimum for the ring behind the pool */
}

/* Whether the port has no RSS of its own but its queues are fed by a kernel that keeps each TCP
 * flow on one queue. net_af_packet with qpairs=N opens one AF_PACKET socket per queue, all in one
 * PACKET_FANOUT group of type PACKET_FANOUT_HASH (DPDK 22.11 rte_eth_af_packet.c): the socket is
 * picked by the skb's flow hash, so every segment a client sends on one connection reaches the
 * same queue and worker (only that direction arrives here; symmetry does not matter). The PMD
 * also sets PACKET_FANOUT_FLAG_DEFRAG and PACKET_FANOUT_FLAG_ROLLOVER, which the 22.11 devargs
 * cannot turn off: once a socket's ring is more than 3/4 full (net/packet/af_packet.c,
 * ROOM_POW_OFF), packets of its busiest flows roll over to another queue, whose stack does not
 * know the connection and answers with RST. A worker that keeps up never gets there; framecnt=
 * gives it more headroom. Other drivers without RSS are refused. */
static bool kernel_spreads_flows(const struct rte_eth_dev_info *info)
{
    return info->driver_name && strcmp(info->driver_name, "net_af_packet") == 0;
}

static struct lr_dp_dpdk *fail(struct lr_dp_dpdk *d, char *errstr, size_t errlen, const char *fmt,
                               ...) __attribute__((format(printf, 4, 5)));
static struct lr_dp_dpdk *fail(struct lr_dp_dpdk *d, char *errstr, size_t errlen, const char *fmt,
                               ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errlen, fmt, ap);
    va_end(ap);
    lr_dp_dpdk_stop(d);
    return NULL;
}

struct lr_dp_dpdk *lr_dp_dpdk_start(const struct lr_config *cfg, uint16_t n_queues,
                                    const int *nodes, char *errstr, size_t errlen)
{
    if (n_queues == 0) {
        snprintf(errstr, errlen, "dataplane: no workers");
        return NULL;
    }
    if (eal_init(cfg, errstr, errlen) < 0)
        return NULL;
    struct lr_dp_dpdk *d = calloc(1, sizeof(*d));
    if (!d) {
        rte_eal_cleanup();
        snprintf(errstr, errlen, "dataplane: out of memory");
        return NULL;
    }
    uint16_t port = (uint16_t)cfg->dp.port_id;
    d->port = port;
    d->n_queues = n_queues;
    unsigned n_ports = rte_eth_dev_count_avail();
    if (cfg->dp.port_id > UINT16_MAX || !rte_eth_dev_is_valid_port(port))
        return fail(d, errstr, errlen,
                    "dataplane.dpdk.port_id: no port %u (the EAL found %u port%s%s; add one with "
                    "--vdev=net_af_packet0,iface=IFACE or -a PCI_ADDRESS in "
                    "dataplane.dpdk.eal_args)",
                    (unsigned)cfg->dp.port_id, n_ports, n_ports == 1 ? "" : "s",
                    n_ports == 0 ? ": a device that failed to probe is named in its messages above"
                                 : "");

    struct rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(port, &info);
    if (rc != 0)
        return fail(d, errstr, errlen, "dataplane.dpdk.port_id: port %u: device info: %s",
                    (unsigned)port, rte_strerror(-rc));
    if (n_queues > info.max_rx_queues || n_queues > info.max_tx_queues)
        return fail(d, errstr, errlen,
                    "workers.cores: %u workers need as many queue pairs; port %u (%s) has at most "
                    "%u RX and %u TX queues",
                    (unsigned)n_queues, (unsigned)port, info.driver_name,
                    (unsigned)info.max_rx_queues, (unsigned)info.max_tx_queues);

    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    /* RSS with a key of 0x6d5a repeated: Toeplitz is then symmetric (Woo and Park, "Scalable
     * TCP Session Monitoring with Symmetric Receive-side Scaling", 2012), so both directions of
     * a flow land on one queue, as the per-worker TCP stack needs. */
    uint8_t rss_key[64];
    if (n_queues > 1) {
        uint64_t hf =
            (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP) & info.flow_type_rss_offloads;
        if (hf == 0 && !kernel_spreads_flows(&info))
            return fail(d, errstr, errlen,
                        "workers.cores: port %u (%s) cannot spread TCP flows over queues (no "
                        "RSS); run one worker, e.g. workers.cores: 0",
                        (unsigned)port, info.driver_name);
        if (hf != 0) {
            size_t klen = info.hash_key_size ? info.hash_key_size : 40;
            if (klen > sizeof(rss_key))
                klen = sizeof(rss_key);
            for (size_t i = 0; i < klen; i++)
                rss_key[i] = (i & 1) ? 0x5a : 0x6d;
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_key = rss_key;
            conf.rx_adv_conf.rss_conf.rss_key_len = (uint8_t)klen;
            conf.rx_adv_conf.rss_conf.rss_hf = hf;
        }
    }
    if (cfg->dp.mtu > info.max_mtu || cfg->dp.mtu < info.min_mtu)
        return fail(d, errstr, errlen,
                    "dataplane.mtu: %u is outside what port %u (%s) takes (%u..%u)",
                    (unsigned)cfg->dp.mtu, (unsigned)port, info.driver_name, (unsigned)info.min_mtu,
                    (unsigned)info.max_mtu);
    conf.rxmode.mtu = cfg->dp.mtu;
    const uint64_t csum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
    if ((info.rx_offload_capa & csum) == csum)
        conf.rxmode.offloads |= csum;
    const uint64_t tx_csum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    if ((info.tx_offload_capa & tx_csum) == tx_csum) {
        conf.txmode.offloads |= tx_csum;
        d->tx_csum = true;
    }
    /* Every mbuf comes from the queue's own pool with refcount 1: the fast free applies. */
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;

    rc = rte_eth_dev_configure(port, n_queues, n_queues, &conf);
    if (rc != 0)
        return fail(d, errstr, errlen, "dataplane.dpdk.port_id: port %u (%s): configure: %s",
                    (unsigned)port, info.driver_name, rte_strerror(-rc));
    d->port_configured = true;
    uint16_t rxd = RX_DESC, txd = TX_DESC;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
    if (rc != 0)
        return fail(d, errstr, errlen, "dataplane.dpdk.port_id: port %u: descriptors: %s",
                    (unsigned)port, rte_strerror(-rc));

    /* One pool per NUMA node that polls a queue (DPDK's examples/l3fwd init_mem): a worker's
     * mbufs and descriptor rings are on its own node. Without the workers' nodes, the port's. */
    int port_sock = rte_eth_dev_socket_id(port);
    if (port_sock < 0 || port_sock >= RTE_MAX_NUMA_NODES)
        port_sock = 0;
    unsigned data_room = RTE_PKTMBUF_HEADROOM + RTE_MBUF_DEFAULT_DATAROOM;
    unsigned frame_max = cfg->dp.mtu + RTE_ETHER_HDR_LEN + 4 /* VLAN */ + RTE_ETHER_CRC_LEN;
    if (data_room < RTE_PKTMBUF_HEADROOM + frame_max)
        data_room = RTE_PKTMBUF_HEADROOM + frame_max;
    uint16_t per_node[RTE_MAX_NUMA_NODES] = { 0 };
    for (uint16_t i = 0; i < n_queues; i++) {
        int node = nodes && nodes[i] >= 0 && nodes[i] < RTE_MAX_NUMA_NODES ? nodes[i] : port_sock;
        per_node[node]++;
    }
    for (int node = 0; node < RTE_MAX_NUMA_NODES; node++) {
        if (!per_node[node])
            continue;
        char name[RTE_MEMPOOL_NAMESIZE];
        snprintf(name, sizeof(name), "lr_mbuf_s%d", node);
        unsigned n_mbufs = pool_size(per_node[node], rxd, txd);
        d->pools[node] =
            rte_pktmbuf_pool_create(name, n_mbufs, POOL_CACHE, 0, (uint16_t)data_room, node);
        if (!d->pools[node])
            return fail(d, errstr, errlen,
                        "dataplane: cannot allocate %u packet buffers of %u bytes on NUMA node "
                        "%d: %s (raise -m or --socket-mem in dataplane.dpdk.eal_args, or reserve "
                        "more hugepages on that node)",
                        n_mbufs, data_room, node, rte_strerror(rte_errno));
    }

    d->q = aligned_alloc(RTE_CACHE_LINE_SIZE, sizeof(*d->q) * n_queues);
    if (!d->q)
        return fail(d, errstr, errlen, "dataplane: out of memory");
    memset(d->q, 0, sizeof(*d->q) * n_queues);
    for (uint16_t i = 0; i < n_queues; i++) {
        struct lr_dp_dpdk_q *q = &d->q[i];
        q->port = port;
        q->id = i;
        q->tx_csum = d->tx_csum;
        int sock = nodes && nodes[i] >= 0 && nodes[i] < RTE_MAX_NUMA_NODES ? nodes[i] : port_sock;
        q->pool = d->pools[sock];
        struct rte_eth_rxconf rxc = info.default_rxconf;
        rxc.offloads = conf.rxmode.offloads;
        rc = rte_eth_rx_queue_setup(port, i, rxd, (unsigned)sock, &rxc, q->pool);
        if (rc != 0)
            return fail(d, errstr, errlen,
                        "dataplane.dpdk.port_id: port %u (%s): RX queue %u setup: %s",
                        (unsigned)port, info.driver_name, (unsigned)i, rte_strerror(-rc));
        struct rte_eth_txconf txc = info.default_txconf;
        txc.offloads = conf.txmode.offloads;
        rc = rte_eth_tx_queue_setup(port, i, txd, (unsigned)sock, &txc);
        if (rc != 0)
            return fail(d, errstr, errlen,
                        "dataplane.dpdk.port_id: port %u (%s): TX queue %u setup: %s",
                        (unsigned)port, info.driver_name, (unsigned)i, rte_strerror(-rc));
    }
    /* Only frames for our MAC (and broadcast, for ARP). Some PMDs (net_null, net_ring) cannot
     * change it: not an error. */
    (void)rte_eth_promiscuous_disable(port);
    rc = rte_eth_dev_start(port);
    if (rc != 0)
        return fail(d, errstr, errlen, "dataplane.dpdk.port_id: port %u (%s): start: %s",
                    (unsigned)port, info.driver_name, rte_strerror(-rc));
    d->port_started = true;
    rc = rte_eth_macaddr_get(port, &d->mac);
    if (rc != 0)
        return fail(d, errstr, errlen, "dataplane.dpdk.port_id: port %u: MAC address: %s",
                    (unsigned)port, rte_strerror(-rc));
    return d;
}

void lr_dp_dpdk_stop(struct lr_dp_dpdk *d)
{
    if (!d)
        return;
    if (d->port_started) {
        for (uint16_t i = 0; d->q && i < d->n_queues; i++)
            lr_dp_dpdk_flush(&d->q[i]);
        rte_eth_dev_stop(d->port);
    }
    if (d->port_configured)
        rte_eth_dev_close(d->port);
    for (size_t i = 0; i < RTE_MAX_NUMA_NODES; i++)
        rte_mempool_free(d->pools[i]);
    free(d->q);
    free(d);
    rte_eal_cleanup();
}

void lr_dp_dpdk_mac(const struct lr_dp_dpdk *d, uint8_t mac[6])
{
    memcpy(mac, d->mac.addr_bytes, 6);
}

bool lr_dp_dpdk_tx_csum_offload(const struct lr_dp_dpdk *d)
{
    return d->tx_csum;
}

struct lr_dp_dpdk_q *lr_dp_dpdk_queue(struct lr_dp_dpdk *d, uint16_t i)
{
    return i < d->n_queues ? &d->q[i] : NULL;
}

/* Since DPDK 20.08 a registered non-EAL thread gets a free lcore id (rte_lcore_id() is no longer
 * LCORE_ID_ANY), so rte_mempool's per-lcore cache applies to it; an unregistered thread would
 * still work, but every mbuf alloc and free would go to the pool's shared ring. Registration
 * fails when the lcore ids are exhausted (RTE_MAX_LCORE, minus those of the EAL's -l list), and
 * when a secondary process is attached (multi-process in use). */
int lr_dp_dpdk_thread_register(char *errstr, size_t errlen)
{
    if (rte_lcore_id() != LCORE_ID_ANY)
        return 0; /* an EAL thread, or already registered */
    if (rte_thread_register() != 0) {
        snprintf(errstr, errlen,
                 "dataplane: cannot register a worker thread with DPDK: %s (at most %d lcores, "
                 "the EAL's -l list included: give the EAL one core, e.g. -l 0)",
                 rte_strerror(rte_errno), RTE_MAX_LCORE);
        return -1;
    }
    return 0;
}

void lr_dp_dpdk_thread_unregister(void)
{
    rte_thread_unregister();
}

size_t lr_dp_dpdk_rx(struct lr_dp_dpdk_q *q, lr_dp_dpdk_frame_fn fn, void *ctx)
{
    struct rte_mbuf *m[BURST];
    uint16_t n = rte_eth_rx_burst(q->port, q->id, m, BURST);
    if (n == 0)
        return 0;
    q->st.rx_bursts++;
    for (uint16_t i = 0; i < n; i++) {
        uint32_t len = rte_pktmbuf_pkt_len(m[i]);
        q->st.rx_pkts++;
        q->st.rx_bytes += len;
        /* Frames fit one mbuf (the data room covers the MTU); a PMD that chains anyway is
         * copied into the scratch buffer. */
        const uint8_t *p =
            len <= sizeof(q->scratch) ? rte_pktmbuf_read(m[i], 0, len, q->scratch) : NULL;
        uint64_t ol = m[i]->ol_flags;
        unsigned flags = 0;
        if ((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
            (ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
            flags |= LR_DP_RX_CSUM_OK;
            q->st.rx_csum_ok++;
        }
        if (p)
            fn(ctx, p, len, flags);
        rte_pktmbuf_free(m[i]);
    }
    return n;
}

int lr_dp_dpdk_tx(struct lr_dp_dpdk_q *q, const uint8_t *frame, size_t len)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(q->pool);
    if (!m) {
        q->st.tx_dropped++;
        return -ENOBUFS;
    }
    char *p = len <= UINT16_MAX ? rte_pktmbuf_append(m, (uint16_t)len) : NULL;
    if (!p) {
        rte_pktmbuf_free(m);
        q->st.tx_dropped++;
        return -EMSGSIZE;
    }
    memcpy(p, frame, len);
    /* With TX checksum offload, the TCP stack left the IPv4 checksum 0 and the pseudo-header
     * sum in the TCP field: mark such frames (IPv4, TCP, untagged or one 802.1Q tag) for the
     * port. ARP and ICMP come checksummed from net.c and go unmarked. */
    if (q->tx_csum && len >= 14 + 20 + 20) {
        size_t l2 = 14;
        uint16_t et = (uint16_t)(frame[12] << 8 | frame[13]);
        if (et == 0x8100 && len >= 18 + 40) {
            l2 = 18;
            et = (uint16_t)(frame[16] << 8 | frame[17]);
        }
        if (et == 0x0800 && frame[l2 + 9] == 6) {
            m->l2_len = l2;
            m->l3_len = (frame[l2] & 15) * 4u;
            m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
            q->st.tx_csum_offloaded++;
        }
    }
    q->tx_len[q->tx_n] = (uint16_t)len;
    q->tx[q->tx_n++] = m;
    if (q->tx_n == BURST)
        lr_dp_dpdk_flush(q);
    return 0;
}

void lr_dp_dpdk_flush(struct lr_dp_dpdk_q *q)
{
    uint16_t sent = 0;
    for (int tries = 0; sent < q->tx_n && tries < TX_RETRIES; tries++) {
        /* Lengths come from tx_len: once tx_burst has an mbuf, the PMD may free it (or, for
         * net_ring, hand it to the receiver). */
        uint16_t k = rte_eth_tx_burst(q->port, q->id, q->tx + sent, (uint16_t)(q->tx_n - sent));
        for (uint16_t i = sent; i < sent + k; i++) {
            q->st.tx_pkts++;
            q->st.tx_bytes += q->tx_len[i];
        }
        sent = (uint16_t)(sent + k);
    }
    /* The ring stays full: the rest is dropped (TCP retransmits), never queued without bound. */
    for (uint16_t i = sent; i < q->tx_n; i++) {
        q->st.tx_dropped++;
        rte_pktmbuf_free(q->tx[i]);
    }
    q->tx_n = 0;
}

const struct lr_dp_dpdk_q_stats *lr_dp_dpdk_q_stats(const struct lr_dp_dpdk_q *q)
{
    return &q->st;
}

#endif /* DPDK */
