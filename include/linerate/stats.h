/* Counters that one thread writes and others read (the admin endpoint, the status line).
 * Each counter has exactly one writer, which uses lr_stat_add (a relaxed load and store, no
 * read-modify-write bus lock); readers use lr_stat_get. */
#ifndef LINERATE_STATS_H
#define LINERATE_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "linerate/otlp.h"

typedef _Atomic uint64_t lr_counter;

static inline void lr_stat_add(lr_counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t lr_stat_get(const lr_counter *c)
{
    return atomic_load_explicit((lr_counter *)c, memory_order_relaxed);
}

/* The transport a request came over (the `transport` label of the Collector's receiver metrics). */
enum lr_transport {
    LR_TR_HTTP = 0, /* OTLP/HTTP, protobuf or JSON */
    LR_TR_GRPC = 1, /* OTLP/gRPC, on either port */
};
#define LR_TR_COUNT 2

/* Latency histograms: bucket b counts values below 2^b microseconds (the last: everything
 * above); bucket 0 is below 1 us. */
#define LR_LAT_BUCKETS 28

/* The userspace TCP path's counters per worker (dataplane.mode dpdk), copied from its port
 * queue, link layer and TCP stack every few milliseconds (dataplane/sock.c). */
enum lr_dp_counter {
    LR_DPC_RX_PKTS,
    LR_DPC_RX_BYTES,
    LR_DPC_TX_PKTS,
    LR_DPC_TX_BYTES,
    LR_DPC_RX_CSUM_OFFLOADED, /* frames whose checksums the port verified */
    LR_DPC_TX_CSUM_OFFLOADED, /* frames whose checksums the port computed */
    LR_DPC_ARP_REQUESTS_IN,
    LR_DPC_ARP_REPLIES_OUT,
    LR_DPC_ICMP_ECHO,
    LR_DPC_TCP_SEGS_IN,
    LR_DPC_TCP_SEGS_OUT,
    LR_DPC_CONNS_OPENED,
    LR_DPC_CONNS_CLOSED,
    LR_DPC_CONNS_RESET,
    LR_DPC_CONNS_OPEN,
    LR_DPC_RETRANSMITS,
    LR_DPC_SYN_COOKIES_SENT,
    LR_DPC_SYN_COOKIES_OK,
    LR_DPC_ZERO_WINDOWS,
    LR_DPC_CHALLENGE_ACKS,
    LR_DPC_BUSY_CYCLES, /* TSC cycles of the loop passes that received or ran timers */
    LR_DPC_BUSY_PASSES,
    /* drops, by reason */
    LR_DPC_DROP_TX_NO_MBUF,
    LR_DPC_DROP_NOT_OURS,
    LR_DPC_DROP_BAD_FRAME,
    LR_DPC_DROP_IPV6,
    LR_DPC_DROP_IP_HEADER,
    LR_DPC_DROP_IP_CHECKSUM,
    LR_DPC_DROP_IP_FRAGMENT,
    LR_DPC_DROP_OTHER_PROTOCOL,
    LR_DPC_DROP_NO_ROUTE,
    LR_DPC_DROP_ARP,
    LR_DPC_DROP_TCP_CHECKSUM,
    LR_DPC_DROP_TCP_HEADER,
    LR_DPC_DROP_TCP_OUT_OF_WINDOW,
    LR_DPC_DROP_TCP_PAWS,
    LR_DPC_DROP_TCP_OOO_MEMORY,
    LR_DPC_DROP_TCP_TABLE_FULL,
    LR_DPC_COUNT
};
#define LR_DPC_FIRST_DROP LR_DPC_DROP_TX_NO_MBUF

/* One worker's counters (written by that worker only). Items are spans, metric data points and
 * log records, indexed by enum lr_transport, then enum lr_signal. */
struct lr_worker_stats {
    lr_counter requests[LR_TR_COUNT][LR_SIG_COUNT]; /* OTLP export requests answered OK */
    lr_counter accepted[LR_TR_COUNT][LR_SIG_COUNT]; /* items in those requests */
    lr_counter refused[LR_TR_COUNT][LR_SIG_COUNT];  /* items refused: rejected or overloaded */
    lr_counter records[LR_SIG_COUNT];               /* Kafka records queued for the output thread */
    lr_counter sampled[2];      /* spans the head sampler dropped [0] and kept [1] */
    lr_counter logs_sampled[2]; /* log records the head sampler dropped [0] and kept [1] */
    lr_counter force_kept;   /* spans the sampler dropped and the adaptive always-keep rule kept */
    lr_counter bad_requests; /* answered 4xx (malformed, limits, routing) */
    lr_counter overloaded;   /* answered 503: output queue or spool full, or out of memory */
    lr_counter spool_full;   /* ... of which: the spool was at its high watermark */
    lr_counter spool_errors; /* ... of which: the spool write failed (disk full, I/O error) */
    /* Tail sampling, the Collector's names where they exist (otelcol_processor_tail_sampling_*):
     * traces this worker owns and decided, pieces routed to other workers, and gauges. */
    lr_counter tail_new_traces, tail_sampled, tail_not_sampled, tail_early;
    lr_counter tail_late_kept, tail_late_dropped, tail_spans_kept, tail_spans_dropped;
    lr_counter tail_routed;                /* trace pieces sent to the worker owning their trace */
    lr_counter tail_route_full;            /* requests refused: a ring to another worker was full */
    lr_counter tail_held, tail_held_bytes; /* gauges: traces waiting for a decision, their bytes */
    lr_counter dp[LR_DPC_COUNT];           /* dataplane.mode dpdk only */
    /* Anomaly features (anomaly.enabled). */
    lr_counter anom_spans;        /* spans counted into a series */
    lr_counter anom_overflow;     /* spans not counted: the worker's table was full */
    lr_counter anom_windows;      /* windows handed to the batcher */
    lr_counter anom_windows_lost; /* windows dropped: the batcher's ring was full, or no memory */
    lr_counter anom_kept;         /* spans the head sampler dropped and an open anomaly kept */
    lr_counter conns_accepted;
    lr_counter conns_open;
    lr_counter bytes_in, bytes_out;
    /* From a request's records appended to the spool to its answer being released: [0] spool
     * mode (group-commit fdatasync), [1] kafka mode (delivery reports). */
    lr_counter ack_latency[2][LR_LAT_BUCKETS];
};

/* The output thread's counters (written by it only). */
struct lr_output_stats {
    lr_counter sent[LR_SIG_COUNT];        /* items Kafka acknowledged */
    lr_counter send_failed[LR_SIG_COUNT]; /* items whose records failed permanently */
    lr_counter records_sent, records_failed;
    lr_counter produced; /* records handed to librdkafka */
    lr_counter retried;  /* records produced again after a retryable delivery error */
};

#endif
