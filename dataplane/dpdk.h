/* The DPDK port (dataplane/dpdk.c): EAL, one mbuf pool per NUMA socket, one RX/TX queue pair
 * per worker, RSS with a symmetric key so that both directions of a flow hash to one queue,
 * and checksum offloads when the port has them. The only file that includes rte_*.h: the rest of
 * the dataplane sees frames as byte buffers.
 *
 * Threads: lr_dp_dpdk_start() from the main thread before the workers start; each worker then
 * calls lr_dp_dpdk_thread_register() once and uses only its own queue. */
#ifndef LINERATE_DP_DPDK_H
#define LINERATE_DP_DPDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linerate/config.h"

struct lr_dp_dpdk;   /* the port (opaque) */
struct lr_dp_dpdk_q; /* one queue pair (opaque) */

/* Initialises the EAL from the configuration's arguments, configures and starts the port with
 * `n_queues` queue pairs. `nodes` (borrowed; NULL: the port's) gives the NUMA node of the worker
 * that will poll each queue: each queue's descriptor rings and mbufs come from that node, one
 * mbuf pool per node in use. Returns owned (lr_dp_dpdk_stop), or NULL with `errstr` saying what is
 * wrong in operator terms (no hugepages, no such device, wrong core list...). Never exits the
 * process. */
struct lr_dp_dpdk *lr_dp_dpdk_start(const struct lr_config *cfg, uint16_t n_queues,
                                    const int *nodes, char *errstr, size_t errlen);
/* Stops the port and releases what start took (the EAL cleanup). Accepts NULL. */
void lr_dp_dpdk_stop(struct lr_dp_dpdk *d);

void lr_dp_dpdk_mac(const struct lr_dp_dpdk *d, uint8_t mac[6]);
/* Whether the port computes IPv4 and TCP checksums on transmit (TX offload on): the TCP stack
 * then leaves them to it (lr_dp_tcp_cfg.tx_csum_offload), and lr_dp_dpdk_tx marks its IPv4/TCP
 * frames for it. */
bool lr_dp_dpdk_tx_csum_offload(const struct lr_dp_dpdk *d);
/* The queue pair of worker `i` (0..n_queues-1). */
struct lr_dp_dpdk_q *lr_dp_dpdk_queue(struct lr_dp_dpdk *d, uint16_t i);

/* Called once by each worker thread before it touches its queue (rte_thread_register). Returns
 * 0 or -1 with errstr. */
int lr_dp_dpdk_thread_register(char *errstr, size_t errlen);

/* Gives the thread's lcore id back (rte_thread_unregister); call when a worker that registered
 * exits, before lr_dp_dpdk_stop. */
void lr_dp_dpdk_thread_unregister(void);

/* Receives up to a burst (32) of frames and calls fn for each (borrowed for the call; freed
 * after). Returns how many. */
/* `flags`: LR_DP_RX_CSUM_OK when the port verified the frame's IPv4 header and TCP checksums
 * (RX checksum offload, used when the port has it), so software need not sum them again. */
#define LR_DP_RX_CSUM_OK 1u
typedef void (*lr_dp_dpdk_frame_fn)(void *ctx, const uint8_t *frame, size_t len, unsigned flags);
size_t lr_dp_dpdk_rx(struct lr_dp_dpdk_q *q, lr_dp_dpdk_frame_fn fn, void *ctx);
/* Copies a frame (borrowed) into an mbuf and queues it for transmission (sent when the burst of
 * 32 is full or at lr_dp_dpdk_flush). Returns 0, or -ENOBUFS (no mbuf) or -EMSGSIZE (longer than
 * an mbuf holds), both counted in tx_dropped. */
int lr_dp_dpdk_tx(struct lr_dp_dpdk_q *q, const uint8_t *frame, size_t len);
/* Sends what tx queued; what the TX ring still refuses after a few tries is dropped (counted in
 * tx_dropped). Call at the end of every loop iteration. */
void lr_dp_dpdk_flush(struct lr_dp_dpdk_q *q);

struct lr_dp_dpdk_q_stats {
    uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes, tx_dropped, rx_bursts;
    uint64_t rx_csum_ok;        /* frames whose checksums the port verified (LR_DP_RX_CSUM_OK) */
    uint64_t tx_csum_offloaded; /* frames whose checksums the port computes */
};
const struct lr_dp_dpdk_q_stats *lr_dp_dpdk_q_stats(const struct lr_dp_dpdk_q *q);

#endif
