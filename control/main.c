/* linerate: start-up, the control thread's loop, shutdown.
 *
 * Order: configuration (defaults → file → flags → finalize) → workers (listeners bound, so a port
 * in use fails before anything else starts) → the spools (recovered: a torn tail is cut, what
 * Kafka does not have yet is replayed) → Kafka output (embedded broker when none is configured)
 * → workers running → admin endpoint → the start-up block → status lines until SIGTERM/SIGINT →
 * drain: stop accepting, finish requests in flight, fdatasync the spools, flush Kafka (what it
 * does not take stays in the spool for the next start), exit 0. */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adapt.h"
#include "admin.h"
#include "fsutil.h"
#include "hostmetrics.h"
#include "kafka.h"
#include "linerate/batcher.h"
#include "linerate/clock.h"
#include "linerate/config.h"
#include "linerate/msg.h"
#include "linerate/spool.h"
#include "linerate/workers.h"
#include "sampling_api.h"

#ifndef LR_VERSION
#define LR_VERSION "0.1.0"
#endif

struct sig_src {
    struct lr_cp_ev ev;
    int fd;
    int got; /* the signal number received, 0 while none */
};

static void on_signal(struct lr_cp_ev *self, uint32_t events)
{
    (void)events;
    struct sig_src *s = (struct sig_src *)self;
    struct signalfd_siginfo si;
    if (read(s->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        s->got = (int)si.ssi_signo;
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char path[LR_CFG_PATH_MAX + 64], tmp[LR_CFG_PATH_MAX + 80];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", text);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

struct totals {
    uint64_t accepted[LR_SIG_COUNT], sent[LR_SIG_COUNT], failed, bad, overloaded, conns;
};

static void totals_read(const struct lr_cp_state *st, struct totals *t)
{
    memset(t, 0, sizeof(*t));
    for (uint32_t i = 0; i < lr_dp_workers_count(st->workers); i++) {
        const struct lr_worker_stats *ws = lr_dp_workers_info(st->workers, i)->stats;
        for (int s = 0; s < LR_SIG_COUNT; s++)
            for (int tr = 0; tr < LR_TR_COUNT; tr++)
                t->accepted[s] += lr_stat_get(&ws->accepted[tr][s]);
        t->bad += lr_stat_get(&ws->bad_requests);
        t->overloaded += lr_stat_get(&ws->overloaded);
        t->conns += lr_stat_get(&ws->conns_open);
    }
    const struct lr_output_stats *os = lr_cp_kafka_stats(st->kafka);
    for (int s = 0; s < LR_SIG_COUNT; s++) {
        t->sent[s] = lr_stat_get(&os->sent[s]);
        t->failed += lr_stat_get(&os->send_failed[s]);
    }
}

static void print_banner(const struct lr_config *cfg, const struct lr_cp_state *st)
{
    uint32_t n = lr_dp_workers_count(st->workers);
    char cpus[512] = "", nodes[256] = "";
    size_t cl = 0, nl = 0;
    uint64_t seen_nodes = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct lr_dp_worker_info *wi = lr_dp_workers_info(st->workers, i);
        if (cl < sizeof(cpus) - 16)
            cl += (size_t)snprintf(cpus + cl, sizeof(cpus) - cl, "%s%d", i ? "," : "", wi->cpu);
        if (wi->numa_node < 64 && !(seen_nodes & (1ull << wi->numa_node))) {
            seen_nodes |= 1ull << wi->numa_node;
            if (nl < sizeof(nodes) - 16)
                nl += (size_t)snprintf(nodes + nl, sizeof(nodes) - nl, "%s%d", nl ? "," : "",
                                       wi->numa_node);
        }
    }
    const char *b = lr_cp_kafka_brokers(st->kafka);
    printf("linerate %s\n", LR_VERSION);
    printf("  otlp/grpc   %s:%u  h2c; also on the otlp/http port\n", cfg->grpc.host,
           cfg->grpc.port);
    printf("  otlp/http   http://%s:%u  POST /v1/traces /v1/metrics /v1/logs "
           "(application/x-protobuf, application/json)\n",
           cfg->http.host, cfg->http.port);
    printf("  admin       http://%s:%u  /health /ready /metrics\n", cfg->admin.host,
           cfg->admin.port);
    printf("  workers     %u, pinned to cpu %s (numa node %s)\n", n, cpus, nodes);
    printf("  kafka       %s%s\n", b,
           lr_cp_kafka_embedded(st->kafka) ? "  (embedded broker: no brokers configured)" : "");
    if (cfg->kafka.null_sink)
        printf("  exporter    NULL SINK (exporters.null.enabled): records are dropped, not "
               "produced\n");
    printf("  topics      %s %s %s\n", lr_cp_kafka_topic(st->kafka, LR_SIG_TRACES),
           lr_cp_kafka_topic(st->kafka, LR_SIG_METRICS), lr_cp_kafka_topic(st->kafka, LR_SIG_LOGS));
    if (st->batcher)
        printf("  anomaly     %s%s, window %u ms, up to %u series, open series' traces kept at "
               "%.3g%%  GET /anomalies\n",
               lr_gpu_batcher_device(st->batcher),
               cfg->anomaly.device == 0 ? " (anomaly.device auto)" : "",
               (unsigned)cfg->anomaly.window_ms, (unsigned)cfg->anomaly.max_series,
               cfg->anomaly.keep_percent);
    else
        printf("  anomaly     off (anomaly.enabled)\n");
    printf("  run dir     %s (kafka.addr, linerate.pid)\n", cfg->service.run_dir);
    printf("  read back   kcat -C -b %s -t %s\n", b, lr_cp_kafka_topic(st->kafka, LR_SIG_TRACES));
    fflush(stdout);
}

static void print_status(const struct lr_cp_state *st, const struct totals *now,
                         const struct totals *prev, double secs)
{
    static const char *const states[] = { "connected", "backing off", "open (brokers down)" };
    if (secs <= 0)
        return;
    uint64_t spool = 0;
    for (uint32_t i = 0; i < st->n_spools; i++)
        spool += lr_cp_spool_used_bytes(st->spools[i]);
    int ks = lr_cp_kafka_state(st->kafka);
    /* The effective traces rate while head sampling is on (lowered by the adaptive controller
     * under backpressure). */
    char rate[48] = "";
    bool head;
    double pct = lr_cp_sampling_rate_pct(lr_dp_workers_sampling(st->workers), &head);
    if (head)
        snprintf(rate, sizeof(rate), " | rate %.3g%%", pct);
    printf("linerate: accepted/s spans %.0f points %.0f logs %.0f | sent/s %.0f | queue %llu | "
           "spool %.1f MiB | kafka %s | failed %llu | refused %llu | bad %llu | conns %llu%s\n",
           (double)(now->accepted[0] - prev->accepted[0]) / secs,
           (double)(now->accepted[1] - prev->accepted[1]) / secs,
           (double)(now->accepted[2] - prev->accepted[2]) / secs,
           (double)(now->sent[0] + now->sent[1] + now->sent[2] - prev->sent[0] - prev->sent[1] -
                    prev->sent[2]) /
               secs,
           (unsigned long long)lr_cp_kafka_queue_size(st->kafka), (double)spool / 1048576.0,
           ks >= 0 && ks < 3 ? states[ks] : "?", (unsigned long long)now->failed,
           (unsigned long long)now->overloaded, (unsigned long long)now->bad,
           (unsigned long long)now->conns, rate);
    fflush(stdout);
}

#define MAX_SPOOLS 1024

/* Folders DIR/w<N> a previous run left: a run with more workers than this one leaves spools
 * that no worker writes to any more but that must still be replayed. Returns 1 + the highest N
 * found (0 when none). */
static uint32_t spool_folders(const char *dir)
{
    DIR *d = opendir(dir);
    uint32_t n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        if (e->d_name[0] != 'w')
            continue;
        unsigned long i = strtoul(e->d_name + 1, &end, 10);
        if (end != e->d_name + 1 && *end == 0 && i < MAX_SPOOLS && i + 1 > n)
            n = (uint32_t)i + 1;
    }
    closedir(d);
    return n;
}

/* Opens the workers' spools (and any extra ones left by an earlier run), recovering each.
 * Returns the count, or -1 with the error printed. */
static int open_spools(const struct lr_config *cfg, struct lr_dp_workers *ws,
                       struct lr_cp_spool **spools, struct lr_cp_spool_recovery *total, char *dir,
                       size_t dirlen)
{
    char err[512];
    if (cfg->spool.dir[0])
        snprintf(dir, dirlen, "%s", cfg->spool.dir);
    else
        snprintf(dir, dirlen, "%s/spool", cfg->service.run_dir);
    uint32_t nw = lr_dp_workers_count(ws), n = spool_folders(dir);
    if (n < nw)
        n = nw;
    memset(total, 0, sizeof(*total));
    uint64_t share = cfg->spool.max_bytes / nw;
    for (uint32_t i = 0; i < n; i++) {
        struct lr_cp_spool_opts o = {
            .dir = dir,
            .worker = i,
            .segment_bytes = cfg->spool.segment_bytes,
            .commit_interval_us = cfg->spool.commit_interval_us,
            .high_bytes = share / 100 * cfg->spool.high_watermark_pct,
            .low_bytes = share / 100 * cfg->spool.low_watermark_pct,
            .notify_fd = i < nw ? lr_dp_workers_info(ws, i)->notify_fd : -1,
        };
        struct lr_cp_spool_recovery r;
        if (lr_cp_spool_open(&o, &spools[i], &r, err, sizeof(err)) < 0) {
            fprintf(stderr, "linerate: spool: %s\n", err);
            for (uint32_t j = 0; j < i; j++)
                lr_cp_spool_close(spools[j]);
            return -1;
        }
        total->segments += r.segments;
        total->records += r.records;
        total->bytes += r.bytes;
        total->pending += r.pending;
        total->damaged += r.damaged;
        total->cut_bytes += r.cut_bytes;
        if (r.damaged)
            fprintf(stderr, "linerate: spool w%u: damaged: %s (%llu bytes cut)\n", i, r.damage,
                    (unsigned long long)r.cut_bytes);
    }
    return (int)n;
}

int main(int argc, char **argv)
{
    static struct lr_config cfg;
    char err[1024];
    int rc = 1, epfd = -1;
    struct lr_cp_state st = { .cfg = &cfg, .start_ns = lr_mono_ns() };
    struct lr_cp_admin *admin = NULL;
    struct sig_src sig = { .ev.on_event = on_signal, .fd = -1 };
    struct lr_ring *host_ring = NULL; /* host metrics: control thread -> Kafka output */
    struct lr_ring *host_anom = NULL; /* host-metric samples: control thread -> anomaly batcher */

    /* Keep freed memory in the heaps. Each request's record (~30 KB) is allocated by a worker and
     * freed by the output thread; with glibc's default 128 KiB trim threshold the worker's arena
     * shrank and grew again around them, and perf showed page faults and madvise in 10 % of the
     * process's samples. A fixed trim threshold took one worker from 0.7-1.0 to 1.6-1.9 million
     * spans/s on the bench's HTTP/1.1 load into the null sink. Setting it also freezes glibc's
     * mmap threshold at 128 KiB, which sent librdkafka's and the embedded broker's large buffers
     * to mmap and cut the Kafka path to a third: so that threshold is raised too (32 MiB, glibc's
     * largest). The cost: RSS stays at its high mark. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    lr_cp_config_defaults(&cfg);
    int c = lr_cp_cli_parse(&cfg, argc, argv, err, sizeof(err));
    if (c == 1) {
        rc = 0;
        goto out;
    }
    if (c < 0 || lr_cp_config_finalize(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "linerate: %s\n", err);
        rc = 2;
        goto out;
    }
    int mk = lr_cp_mkdir_p(cfg.service.run_dir);
    if (mk != 0) {
        fprintf(stderr, "linerate: service.run_dir: cannot create %s: %s\n", cfg.service.run_dir,
                strerror(-mk));
        goto out;
    }

    /* Signals go to the control thread only, through a signalfd: block them before any thread
     * starts so every thread inherits the mask. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGPIPE);
    /* DPDK's tap PMD signals packet arrival with a real-time signal (F_SETSIG on its queue
     * fds); only the DPDK workers take those (they unblock them), or a blocking call in another
     * thread fails with EINTR, which made the embedded broker close its sockets. */
    sigaddset(&mask, SIGIO);
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
        sigaddset(&mask, s);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    sigdelset(&mask, SIGPIPE);
    sigdelset(&mask, SIGIO);
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
        sigdelset(&mask, s);
    sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &sig.ev };
    if (sig.fd < 0 || epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, sig.fd, &sev) != 0) {
        fprintf(stderr, "linerate: signalfd/epoll: %s\n", strerror(errno));
        goto out;
    }

    st.workers = lr_dp_workers_new(&cfg, err, sizeof(err));
    if (!st.workers) {
        fprintf(stderr, "linerate: %s\n", err);
        goto out;
    }
    uint32_t nw = lr_dp_workers_count(st.workers);
    st.sampling = lr_cp_sampling_new(lr_dp_workers_sampling(st.workers), &cfg, nw);
    if (!st.sampling) {
        fprintf(stderr, "linerate: out of memory\n");
        goto out;
    }
    if (nw > MAX_SPOOLS) {
        fprintf(stderr, "linerate: workers.cores: at most %d workers\n", MAX_SPOOLS);
        goto out;
    }
    /* One ring per worker, then the host-metrics ring (the control thread produces into it)
     * and the anomaly batcher's event records. */
    static struct lr_ring *rings[MAX_SPOOLS + 2];
    static int notify_fds[MAX_SPOOLS + 2];
    static struct lr_cp_spool *spools[MAX_SPOOLS];
    for (uint32_t i = 0; i < nw; i++) {
        rings[i] = lr_dp_workers_info(st.workers, i)->ring;
        notify_fds[i] = lr_dp_workers_info(st.workers, i)->notify_fd;
    }
    struct lr_cp_spool_recovery rec = { 0 };
    char spool_dir[LR_CFG_PATH_MAX + 16] = "";
    if (cfg.http.ack != LR_ACK_MEMORY || cfg.grpc.ack != LR_ACK_MEMORY) {
        int n = open_spools(&cfg, st.workers, spools, &rec, spool_dir, sizeof(spool_dir));
        if (n < 0)
            goto out;
        st.spools = spools;
        st.n_spools = (uint32_t)n;
    }
    uint32_t n_rings = nw;
    if (cfg.host_metrics.enabled) {
        host_ring = lr_ring_new(64);
        if (!host_ring) {
            fprintf(stderr, "linerate: out of memory\n");
            goto out;
        }
        rings[n_rings] = host_ring;
        notify_fds[n_rings++] = -1;
    }
    if (cfg.anomaly.enabled && cfg.host_metrics.enabled) {
        host_anom = lr_ring_new(64);
        if (!host_anom) {
            fprintf(stderr, "linerate: out of memory\n");
            goto out;
        }
    }
    if (cfg.anomaly.enabled) {
        static struct lr_ring *feat_rings[MAX_SPOOLS];
        for (uint32_t i = 0; i < nw; i++)
            feat_rings[i] = lr_dp_workers_info(st.workers, i)->feat_ring;
        st.batcher = lr_gpu_batcher_start(&cfg, feat_rings, nw, host_anom,
                                          lr_dp_workers_anomaly(st.workers), err, sizeof(err));
        if (!st.batcher) {
            fprintf(stderr, "linerate: %s\n", err);
            goto out;
        }
        rings[n_rings] = lr_gpu_batcher_out(st.batcher);
        notify_fds[n_rings++] = -1; /* no worker waits on it */
    }
    st.kafka = lr_cp_kafka_start(&cfg, rings, n_rings, st.spools, st.n_spools, notify_fds, err,
                                 sizeof(err));
    if (!st.kafka) {
        fprintf(stderr, "linerate: %s\n", err);
        goto out;
    }
    if (cfg.host_metrics.enabled) {
        st.host = lr_cp_host_start(&cfg, host_ring, host_anom);
        if (!st.host) {
            fprintf(stderr, "linerate: host probes: out of memory\n");
            goto out;
        }
    }
    if (lr_dp_workers_run(st.workers, st.spools, err, sizeof(err)) < 0) {
        fprintf(stderr, "linerate: %s\n", err);
        goto out;
    }
    admin = lr_cp_admin_start(&st, epfd, err, sizeof(err));
    if (!admin) {
        fprintf(stderr, "linerate: %s\n", err);
        goto out;
    }
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    if (write_file(cfg.service.run_dir, "kafka.addr", lr_cp_kafka_brokers(st.kafka)) != 0 ||
        write_file(cfg.service.run_dir, "linerate.pid", pid) != 0)
        fprintf(stderr, "linerate: cannot write to %s: %s\n", cfg.service.run_dir, strerror(errno));
    atomic_store(&st.ready, true);
    print_banner(&cfg, &st);
    if (st.spools)
        printf("  spool       %s: %u worker folders, %u segments, %llu bytes; replaying %llu "
               "records; %u damaged segments (%llu bytes cut)\n",
               spool_dir, st.n_spools, rec.segments, (unsigned long long)rec.bytes,
               (unsigned long long)rec.pending, rec.damaged, (unsigned long long)rec.cut_bytes);
    else
        printf("  spool       off (every receiver acknowledges from memory)\n");
    if (st.host)
        lr_cp_host_banner(st.host, stdout);
    else
        printf("  host probes off (host_metrics.enabled is false)\n");
    fflush(stdout);

    static struct lr_cp_adapt adapt;
    if (cfg.adaptive.enabled) {
        lr_cp_adapt_init(&adapt, &cfg, lr_dp_workers_sampling(st.workers));
        st.adapt = &adapt;
    }
    struct totals prev, cur;
    totals_read(&st, &prev);
    uint64_t last_status = lr_mono_ns();
    while (!sig.got) {
        struct epoll_event evs[64];
        int wait_ms = 200;
        if (st.adapt) {
            int due = lr_cp_adapt_wait_ms(st.adapt, lr_mono_ns());
            wait_ms = due < wait_ms ? due : wait_ms;
        }
        if (st.host)
            wait_ms = lr_cp_host_wait_ms(st.host, lr_mono_ns(), wait_ms);
        int n = epoll_wait(epfd, evs, 64, wait_ms);
        for (int i = 0; i < n; i++) {
            struct lr_cp_ev *e = evs[i].data.ptr;
            e->on_event(e, evs[i].events);
        }
        uint64_t t = lr_mono_ns();
        lr_cp_admin_tick(admin, t);
        lr_cp_sampling_reclaim(st.sampling);
        if (st.batcher)
            lr_gpu_batcher_quiesce(st.batcher);
        if (st.adapt)
            lr_cp_adapt_tick(st.adapt, &st, t);
        if (st.host)
            lr_cp_host_tick(st.host, t);
        if (cfg.service.status_interval_ms &&
            t - last_status >= (uint64_t)cfg.service.status_interval_ms * 1000000ull) {
            totals_read(&st, &cur);
            print_status(&st, &cur, &prev, (double)(t - last_status) / 1e9);
            prev = cur;
            last_status = t;
        }
    }

    printf("linerate: %s: draining (grace %u ms), then flushing kafka (up to %u ms)\n",
           strsignal(sig.got), cfg.service.shutdown_grace_ms, cfg.kafka.flush_timeout_ms);
    fflush(stdout);
    atomic_store(&st.ready, false);
    lr_dp_workers_stop(st.workers, cfg.service.shutdown_grace_ms);
    lr_gpu_batcher_stop(st.batcher); /* its last events go out with the rest */
    uint64_t left = lr_cp_kafka_stop(st.kafka, cfg.kafka.flush_timeout_ms);
    uint64_t spooled = 0;
    for (uint32_t i = 0; i < st.n_spools; i++) {
        uint64_t w = lr_cp_spool_written_seq(st.spools[i]);
        uint64_t d = lr_cp_spool_delivered_below(st.spools[i]);
        if (w + 1 > d)
            spooled += w + 1 - d;
    }
    totals_read(&st, &cur);
    printf("linerate: stopped: accepted spans %llu points %llu logs %llu; sent spans %llu points "
           "%llu logs %llu; failed %llu; unflushed records %llu; left in the spool for the next "
           "start %llu\n",
           (unsigned long long)cur.accepted[0], (unsigned long long)cur.accepted[1],
           (unsigned long long)cur.accepted[2], (unsigned long long)cur.sent[0],
           (unsigned long long)cur.sent[1], (unsigned long long)cur.sent[2],
           (unsigned long long)cur.failed, (unsigned long long)left, (unsigned long long)spooled);
    fflush(stdout);
    rc = 0;
out:
    /* Workers first: they append to the spools until they stop. */
    if (st.workers)
        lr_dp_workers_stop(st.workers, 0);
    lr_gpu_batcher_stop(st.batcher);
    lr_cp_admin_free(admin);
    lr_cp_host_free(st.host);
    lr_cp_kafka_free(st.kafka);
    if (host_ring) {
        struct lr_msg *m;
        while ((m = lr_ring_pop(host_ring)))
            lr_msg_free(m);
        lr_ring_free(host_ring);
    }
    if (host_anom) {
        void *m;
        while ((m = lr_ring_pop(host_anom)))
            free(m); /* struct lr_feat_host_window: one malloc */
        lr_ring_free(host_anom);
    }
    lr_gpu_batcher_free(st.batcher); /* after the output thread (it pops the event ring), before
                                        the workers' handle (it holds the snapshots' rt) */
    for (uint32_t i = 0; i < st.n_spools; i++)
        lr_cp_spool_close(st.spools[i]);
    lr_dp_workers_free(st.workers);
    lr_cp_sampling_free(st.sampling); /* after the workers: they read the sets */
    if (sig.fd >= 0)
        close(sig.fd);
    if (epfd >= 0)
        close(epfd);
    lr_cp_config_free(&cfg);
    return rc;
}
