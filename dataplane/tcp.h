/* linerate's userspace TCP stack (dataplane/tcp.c): passive opens only (a server), one stack per
 * lcore, shared-nothing, no locks, no threads, no I/O of its own. The caller hands it IPv4
 * packets addressed to it (lr_dp_tcp_input) and a clock (lr_dp_tcp_tick); it hands back IPv4
 * packets to transmit through the `output` callback and the byte streams of its connections to
 * the application through `on_open` / `on_data` / `on_close`.
 *
 * What it implements: SYN queue with SYN cookies when full; MSS, window scaling, SACK-permitted
 * and timestamps (with PAWS) negotiated from the SYN; in-order delivery with bounded out-of-order
 * reassembly and SACK blocks reporting what it holds (as a receiver); delayed ACKs (every second
 * full segment or 40 ms) and quick ACKs (out of order, window updates); a receive window that
 * shrinks to zero while the application does not consume (backpressure) and a window update when
 * it resumes; zero-window probes answered; FIN and RST handling with RFC 5961 challenge ACKs;
 * idle timeouts; retransmission of its own sent bytes with an RFC 6298 RTO, and a congestion
 * window (RFC 5681 slow start / congestion avoidance) for what it sends.
 *
 * Single-threaded: every call for one stack comes from one thread.
 *
 * Policies (details and RFC references at the top of tcp.c): a SYN that finds the table full gets
 * RST (conns_refused_full); when the SYN queue is full SYNs get SYN cookies; an idle connection
 * (no acceptable segment, send or resume for idle_timeout_ms) is reset with RST; TIME_WAIT lasts
 * 2 s; FIN_WAIT_2 at most 60 s; our data is given up after 12 retransmission timeouts (RST).
 *
 * Re-entrancy: the callbacks on_open / on_data / on_fin / on_close may call lr_dp_tcp_send,
 * _resume, _shutdown and _abort on any connection of the stack; a connection closed inside a call
 * stays valid memory until the outermost stack call returns, and it gets no callback after its
 * on_close. `output` must not call back into the stack. */
#ifndef LINERATE_DP_TCP_H
#define LINERATE_DP_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lr_dp_tcp;      /* one stack (opaque) */
struct lr_dp_tcp_conn; /* one connection (opaque) */

struct lr_dp_tcp_ops {
    /* A packet to send: a complete IPv4 datagram (header with checksum, TCP header with
     * checksum, payload), borrowed for the call. The caller adds the link layer. */
    void (*output)(void *ctx, const uint8_t *ip_pkt, size_t len);
    /* A connection reached ESTABLISHED. Returns the application's handle for it (NULL refuses
     * it: the stack sends RST and no on_close follows). If the application aborts `c` inside
     * on_open, on_close(NULL, c) is called from the abort and the return value is ignored. */
    void *(*on_open)(void *ctx, struct lr_dp_tcp_conn *c);
    /* In-order bytes (borrowed for the call). Returns how many the application took (0..n);
     * what it leaves stays buffered in the stack, the advertised window shrinks accordingly,
     * and it is offered again after lr_dp_tcp_resume(). */
    size_t (*on_data)(void *app, struct lr_dp_tcp_conn *c, const uint8_t *p, size_t n);
    /* The peer sent FIN after all its data was taken (half close): the application may still
     * send; NULL to ignore. */
    void (*on_fin)(void *app, struct lr_dp_tcp_conn *c);
    /* The connection is gone for the application (closed, reset, timed out, or entered
     * TIME_WAIT); `c` must not be used after the call. Always the last callback for `c`. */
    void (*on_close)(void *app, struct lr_dp_tcp_conn *c);
    void *ctx;
};

struct lr_dp_tcp_cfg {
    uint32_t local_ip;      /* host byte order; packets to other addresses are ignored */
    uint16_t port;          /* the listening port (host byte order) */
    uint16_t port2;         /* a second listening port, 0: none */
    uint32_t max_conns;     /* connection table size (established + SYN queue) */
    uint32_t syn_queue;     /* half-open connections before SYN cookies take over */
    uint32_t rcv_buf_bytes; /* per connection: in-order bytes not yet taken + out of order */
    uint32_t snd_buf_bytes; /* per connection: bytes sent and not acknowledged + queued */
    uint16_t mss;           /* our MSS (the link MTU - 40) */
    uint8_t wscale;         /* our window scale shift (0..14) */
    uint32_t idle_timeout_ms;
    uint32_t secret[4]; /* SYN cookie key (random at start) */
    /* The port computes the IPv4 and TCP checksums of what the stack sends (TX offload): the
     * stack leaves the IP checksum 0 and puts the pseudo-header sum (not complemented) in the
     * TCP checksum field, as DPDK's TX checksum offload takes them. */
    bool tx_csum_offload;
};

struct lr_dp_tcp_stats {
    uint64_t segs_in, segs_out, bytes_in, bytes_out;
    uint64_t conns_opened, conns_closed, conns_reset, conns_refused_full;
    uint64_t syn_cookies_sent, syn_cookies_ok, syn_cookies_bad;
    uint64_t retransmits, rto_fired, dup_acks;
    uint64_t ooo_segs, ooo_dropped_mem, challenge_acks, zero_windows, window_probes;
    uint64_t bad_checksum, bad_header, not_ours, out_of_window, paws_dropped;
    uint64_t persist_probes, idle_timeouts;
    /* window_probes counts segments received while our window was zero (each answered with an
     * ACK carrying the window); persist_probes the probes we sent to a peer's zero window;
     * zero_windows how often our advertised window went to zero. */
};

/* Returns owned (lr_dp_tcp_free), or NULL (errno EINVAL or ENOMEM). Allocates every table up
 * front: max_conns connection slots, the 4-tuple hash, and max_conns receive + send buffers as
 * one MAP_NORESERVE mapping (pages are backed when first used). EINVAL: a missing callback
 * (output, on_open, on_data), max_conns 0 or above 2^24, port 0, mss outside 88..9000, wscale
 * above 14, buffers below 1 KiB or above 1 GiB. */
struct lr_dp_tcp *lr_dp_tcp_new(const struct lr_dp_tcp_cfg *cfg, const struct lr_dp_tcp_ops *ops);
/* Frees the stack; connections are dropped without sending anything (on_close is called). */
void lr_dp_tcp_free(struct lr_dp_tcp *s);

/* One received IPv4 datagram (header first; borrowed). Checks the IP and TCP checksums and
 * headers and drops (counting) what is invalid. */
void lr_dp_tcp_input(struct lr_dp_tcp *s, const uint8_t *ip_pkt, size_t len, uint64_t now_ns);

/* The same for a datagram whose IPv4 and TCP checksums the port already verified
 * (LR_DP_TCP_IN_CSUM_OK in `flags`): the stack does not sum it again. */
#define LR_DP_TCP_IN_CSUM_OK 1u
void lr_dp_tcp_input_flags(struct lr_dp_tcp *s, const uint8_t *ip_pkt, size_t len, uint64_t now_ns,
                           unsigned flags);

/* Timers: delayed ACKs, retransmissions, persist, TIME_WAIT, idle timeouts. Call at least every
 * 10 ms. Costs O(connections in the table). */
void lr_dp_tcp_tick(struct lr_dp_tcp *s, uint64_t now_ns);

/* Queues bytes to send (copied). Returns how many were taken (less than n when the send buffer
 * is full; the rest must be offered again later). */
size_t lr_dp_tcp_send(struct lr_dp_tcp_conn *c, const uint8_t *p, size_t n, uint64_t now_ns);
/* Room left in the send buffer. */
size_t lr_dp_tcp_send_room(const struct lr_dp_tcp_conn *c);
/* The application can take data again: offers what is buffered, and sends a window update. */
void lr_dp_tcp_resume(struct lr_dp_tcp_conn *c, uint64_t now_ns);
/* Sends FIN once everything queued was sent; on_close follows once the connection is done. */
void lr_dp_tcp_shutdown(struct lr_dp_tcp_conn *c, uint64_t now_ns);
/* Sends RST and closes at once (on_close is called before this returns). */
void lr_dp_tcp_abort(struct lr_dp_tcp_conn *c);

/* The peer's address (host byte order). */
void lr_dp_tcp_peer(const struct lr_dp_tcp_conn *c, uint32_t *ip, uint16_t *port);
/* The local port the connection arrived on. */
uint16_t lr_dp_tcp_local_port(const struct lr_dp_tcp_conn *c);
/* Connections holding a slot: SYN_RCVD, established, closing and TIME_WAIT. */
uint32_t lr_dp_tcp_conns(const struct lr_dp_tcp *s);
const struct lr_dp_tcp_stats *lr_dp_tcp_stats(const struct lr_dp_tcp *s);

/* The Internet checksum (RFC 1071) of `p` added to `sum`: a partial sum (congruent modulo
 * 0xffff to the 16-bit big-endian sum, not necessarily folded). An odd `n`
 * pads with a zero byte, so only the last piece of a checksum may have an odd length. */
uint32_t lr_dp_tcp_csum_add(uint32_t sum, const uint8_t *p, size_t n);
/* Folds and complements a partial sum. */
uint16_t lr_dp_tcp_csum_fold(uint32_t sum);

#endif
