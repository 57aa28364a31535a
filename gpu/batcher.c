/* The anomaly batcher (linerate/batcher.h).
 *
 * Windows are numbered CLOCK_MONOTONIC ns / anomaly.window_ms, the same clock the workers use, so
 * every worker's window N covers the same time. Window N is scored as soon as every worker has
 * handed over N (each sends one message per window, empty or not), or anomaly.batch_max_wait_ms
 * after N ended, whichever comes first; a share that comes later is counted and dropped. The
 * batcher holds two windows being filled (N and N + 1); a message for a later one means it fell
 * behind, and N is scored at once with what it has.
 *
 * Every series with a slot gets a row each window: its features, or a count of 0 (and no
 * latency) when it had no span: a service that goes quiet is news too. A series idle for
 * anomaly.idle_windows windows (and not open) is forgotten: its slot is reset and freed.
 *
 * Host-metric series (linerate/features.h) come from the control thread's ring, one message per
 * read of the probes' maps, into the window of the read. The control thread is not counted as a
 * worker for a window's completeness: it reads every host_metrics.interval_ms (10 s by default,
 * against 1 s windows), so it has nothing to hand over for most windows, and sending an empty
 * message per window would tie span scoring to a thread that also serves the admin API and
 * Kafka's callbacks. A window is therefore scored without waiting for host samples. A read lands
 * in the window it was made in when that window is still being filled; one that comes after its
 * window was scored (read in the last moments of a window, pushed after the workers' shares came
 * in) goes into the next window to be scored, counted in host_late; one for a window beyond the
 * two being filled waits on the ring (it never makes the batcher score early). A host series
 * without a sample in a window gets an all-NaN row (its state untouched), and is forgotten after
 * anomaly.idle_windows windows plus one host interval without a sample. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "linerate/anomaly.h"
#include "linerate/batcher.h"
#include "linerate/clock.h"
#include "linerate/features.h"
#include "linerate/msg.h"

#define OUT_RING 1024 /* event records waiting for the output thread */

/* The host samples of one window being filled, merged per series (an index in front of a dense
 * array, like struct lr_feat_table). */
struct host_tab {
    uint32_t n, cap, mask;
    uint32_t *index; /* entry + 1; 0 empty */
    struct lr_feat_host_entry *e;
};

struct slot {
    struct lr_feat_key key;
    uint64_t last_window; /* the last window with spans (a host series: with a read) */
    bool used, open;
    struct lr_anom_open o; /* while open: what the snapshot and GET /anomalies show */
};

struct lr_gpu_batcher {
    const struct lr_config *cfg;
    struct lr_ring *const *in;
    uint32_t n_workers;
    struct lr_anom_rt *rt;
    struct lr_ring *out;
    struct lr_gpu_anom *det;
    uint64_t window_ns, wait_ns;

    uint64_t next;                         /* the window to score next */
    uint64_t *worker_last;                 /* per worker: the latest window it handed over */
    struct lr_feat_table pend[2];          /* windows next and next + 1 */
    struct lr_ring *host;                  /* host samples from the control thread; NULL: none */
    struct lr_feat_host_window *host_held; /* popped, for a window beyond next + 1 */
    struct host_tab hpend[2];              /* host samples of windows next and next + 1 */
    uint64_t host_idle;                    /* windows without a sample before a host series goes */

    uint32_t max_series, n_used, n_open;
    struct slot *slots;
    uint32_t *free_ids, n_free;
    uint32_t *index, mask; /* series hash -> slot + 1 */
    float *feat;           /* per slot: this window's row (LR_ANOM_N_FEATURES floats) */
    uint32_t *ids;         /* rows of a window, for the detector */
    float *rows;
    struct lr_anom_out *outs;
    struct lr_gpu_anom_event *events;
    char host_name[256]; /* host series' events carry it, as the host metrics' resource does */

    uint64_t generation;
    struct lr_anom_snap **retired;
    size_t n_retired, retired_cap;

    struct lr_gpu_batcher_stats stats;
    pthread_t thread;
    bool started;
    _Atomic bool stop;
};

/* ---- slots ---------------------------------------------------------------------------------- */

static bool key_same(const struct lr_feat_key *a, const struct lr_feat_key *b)
{
    return a->hash == b->hash && a->kind == b->kind && a->host == b->host &&
           a->service_len == b->service_len && a->name_len == b->name_len &&
           a->service_kept == b->service_kept && a->name_kept == b->name_kept &&
           memcmp(a->service, b->service, a->service_kept) == 0 &&
           memcmp(a->name, b->name, a->name_kept) == 0;
}

static uint32_t *index_slot(struct lr_gpu_batcher *b, const struct lr_feat_key *k)
{
    for (uint32_t h = (uint32_t)k->hash & b->mask;; h = (h + 1) & b->mask) {
        uint32_t i = b->index[h];
        if (i == 0 || key_same(&b->slots[i - 1].key, k))
            return &b->index[h];
    }
}

static void index_rebuild(struct lr_gpu_batcher *b)
{
    memset(b->index, 0, ((size_t)b->mask + 1) * sizeof(*b->index));
    for (uint32_t i = 0; i < b->max_series; i++)
        if (b->slots[i].used)
            *index_slot(b, &b->slots[i].key) = i + 1;
}

/* The slot of a series, given one when it has none (its detector state reset). UINT32_MAX when
 * every slot is taken. */
static uint32_t slot_get(struct lr_gpu_batcher *b, const struct lr_feat_key *k)
{
    uint32_t *ix = index_slot(b, k);
    if (*ix)
        return *ix - 1;
    if (b->n_free == 0)
        return UINT32_MAX;
    uint32_t id = b->free_ids[--b->n_free];
    struct slot *s = &b->slots[id];
    memset(s, 0, sizeof(*s));
    s->key = *k;
    s->used = true;
    lr_gpu_anom_reset(b->det, id);
    *ix = id + 1;
    b->n_used++;
    return id;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

static struct lr_anom_snap *snap_build(struct lr_gpu_batcher *b, uint64_t window)
{
    uint32_t slots = 4;
    while (slots < 2 * b->n_open)
        slots <<= 1;
    size_t sz = sizeof(struct lr_anom_snap) + (size_t)b->n_open * sizeof(struct lr_anom_open) +
                (size_t)slots * sizeof(uint32_t);
    struct lr_anom_snap *s = calloc(1, sz);
    if (!s)
        return NULL;
    s->generation = ++b->generation;
    s->window = window;
    s->mask = slots - 1;
    s->open = (struct lr_anom_open *)(s + 1);
    s->index = (uint32_t *)(s->open + b->n_open);
    for (uint32_t i = 0; i < b->max_series; i++) {
        const struct slot *sl = &b->slots[i];
        if (!sl->used || !sl->open)
            continue;
        s->open[s->n++] = sl->o;
        if (sl->key.host)
            continue; /* listed, never boosted: no span belongs to it */
        uint32_t h = (uint32_t)sl->key.hash & s->mask;
        while (s->index[h])
            h = (h + 1) & s->mask;
        s->index[h] = s->n;
    }
    return s;
}

/* Frees the replaced snapshots every reader has moved past. */
static void reclaim(struct lr_gpu_batcher *b)
{
    uint64_t min = UINT64_MAX;
    for (uint32_t r = 0; r <= b->n_workers && r < LR_ANOM_MAX_READERS; r++) {
        uint64_t g = atomic_load_explicit(&b->rt->seen[r], memory_order_acquire);
        if (g < min)
            min = g;
    }
    size_t k = 0;
    for (size_t i = 0; i < b->n_retired; i++) {
        if (b->retired[i]->generation < min)
            free(b->retired[i]);
        else
            b->retired[k++] = b->retired[i];
    }
    b->n_retired = k;
}

static void publish(struct lr_gpu_batcher *b, uint64_t window)
{
    struct lr_anom_snap *s = snap_build(b, window);
    if (!s)
        return; /* out of memory: readers keep the previous one */
    if (b->n_retired == b->retired_cap) {
        size_t cap = b->retired_cap ? b->retired_cap * 2 : 16;
        struct lr_anom_snap **r = realloc(b->retired, cap * sizeof(*r));
        if (!r) {
            free(s);
            return;
        }
        b->retired = r;
        b->retired_cap = cap;
    }
    struct lr_anom_snap *old = atomic_exchange_explicit(&b->rt->cur, s, memory_order_acq_rel);
    if (old)
        b->retired[b->n_retired++] = old;
    reclaim(b);
}

/* ---- scoring one window --------------------------------------------------------------------- */

static void feat_row(float *f, const struct lr_feat_entry *e)
{
    f[LR_ANOM_F_COUNT] = (float)e->count;
    f[LR_ANOM_F_ERRORS] = (float)e->errors;
    f[LR_ANOM_F_P50_MS] = (float)lr_gpu_hist_quantile_ms(&e->lat, e->count, 0.50);
    f[LR_ANOM_F_P95_MS] = (float)lr_gpu_hist_quantile_ms(&e->lat, e->count, 0.95);
    f[LR_ANOM_F_P99_MS] = (float)lr_gpu_hist_quantile_ms(&e->lat, e->count, 0.99);
}

static uint32_t *host_slot(struct host_tab *t, const struct lr_feat_key *k)
{
    for (uint32_t h = (uint32_t)k->hash & t->mask;; h = (h + 1) & t->mask) {
        uint32_t i = t->index[h];
        if (i == 0 || key_same(&t->e[i - 1].key, k))
            return &t->index[h];
    }
}

/* Adds one host sample to a window's table. false: the table is full (max_series series). */
static bool host_merge(struct host_tab *t, const struct lr_feat_host_entry *src)
{
    uint32_t *ix = host_slot(t, &src->key);
    if (*ix) {
        struct lr_feat_host_entry *e = &t->e[*ix - 1];
        e->delta += src->delta;
        e->sum_delta += src->sum_delta;
        e->elapsed_s += src->elapsed_s;
        return true;
    }
    if (t->n == t->cap)
        return false;
    t->e[t->n++] = *src;
    *ix = t->n;
    return true;
}

static void host_clear(struct host_tab *t)
{
    /* Newest first, as lr_gpu_feat_table_clear: an entry's probe path only crosses the slots of
     * entries made before it, still in place when it is looked up. */
    for (uint32_t i = t->n; i-- > 0;)
        *host_slot(t, &t->e[i].key) = 0;
    t->n = 0;
}

/* A host series' row (linerate/features.h): the rate per second in slot 0, the histogram's mean
 * observation in slot 1 (NaN for counters and for an interval without observations). */
static void host_row(float *f, const struct lr_feat_host_entry *e)
{
    for (uint32_t i = 0; i < LR_ANOM_N_FEATURES; i++)
        f[i] = NAN;
    if (e->elapsed_s > 0)
        f[LR_ANOM_F_HOST_RATE] = (float)(e->delta / e->elapsed_s);
    if (!isnan(e->sum_delta) && e->delta > 0)
        f[LR_ANOM_F_HOST_MEAN] = (float)(e->sum_delta / e->delta);
}

static uint32_t log2_bucket(uint64_t v, uint32_t n)
{
    uint32_t k = 0;
    while (k + 1 < n && v >= (1ull << k))
        k++;
    return k;
}

static void score(struct lr_gpu_batcher *b, uint64_t w, struct lr_feat_table *t,
                  const struct host_tab *ht)
{
    const uint32_t nf = LR_ANOM_N_FEATURES;
    /* Series with spans this window: their slot and row. */
    for (uint32_t i = 0; i < t->n; i++) {
        const struct lr_feat_entry *e = &t->e[i];
        uint32_t id = slot_get(b, &e->key);
        if (id == UINT32_MAX) {
            lr_stat_add(&b->stats.overflow_series, 1);
            continue;
        }
        b->slots[id].last_window = w;
        feat_row(&b->feat[(size_t)id * nf], e);
    }
    /* Host series with a sample this window. */
    for (uint32_t i = 0; i < ht->n; i++) {
        const struct lr_feat_host_entry *e = &ht->e[i];
        uint32_t id = slot_get(b, &e->key);
        if (id == UINT32_MAX) {
            lr_stat_add(&b->stats.overflow_series, 1);
            continue;
        }
        b->slots[id].last_window = w;
        host_row(&b->feat[(size_t)id * nf], e);
    }
    /* Every series with a slot gets a row. */
    size_t n = 0;
    for (uint32_t id = 0; id < b->max_series; id++) {
        struct slot *s = &b->slots[id];
        if (!s->used)
            continue;
        float *row = &b->rows[n * nf];
        if (s->last_window == w) {
            memcpy(row, &b->feat[(size_t)id * nf], nf * sizeof(float));
        } else if (s->key.host) {
            for (uint32_t f = 0; f < nf; f++)
                row[f] = NAN; /* no read in this window: nothing to learn */
        } else {
            row[LR_ANOM_F_COUNT] = 0;
            row[LR_ANOM_F_ERRORS] = 0;
            for (uint32_t f = LR_ANOM_F_P50_MS; f < nf; f++)
                row[f] = NAN;
        }
        b->ids[n++] = id;
    }
    size_t batch = b->cfg->anomaly.batch_max_size;
    for (size_t off = 0; off < n; off += batch) {
        size_t k = n - off < batch ? n - off : batch;
        uint64_t t0 = lr_mono_ns();
        int rc = lr_gpu_anom_step(b->det, &b->ids[off], &b->rows[off * nf], k, &b->outs[off]);
        uint64_t dt = lr_mono_ns() - t0;
        lr_stat_add(&b->stats.launches, 1);
        lr_stat_add(&b->stats.step_ns, dt);
        lr_stat_add(&b->stats.batch_size[log2_bucket(k, LR_GPU_BATCH_BUCKETS)], 1);
        lr_stat_add(&b->stats.step_us[log2_bucket(dt / 1000, LR_GPU_STEP_BUCKETS)], 1);
        if (rc < 0) {
            lr_stat_add(&b->stats.step_errors, 1);
            memset(&b->outs[off], 0, k * sizeof(b->outs[0]));
            for (size_t i = off; i < off + k; i++)
                b->outs[i].open = b->slots[b->ids[i]].open; /* unchanged */
            continue;
        }
        lr_stat_add(&b->stats.rows, k);
    }
    /* Openings and closings. The window's end, in Unix time, dates the events. */
    uint64_t mono = lr_mono_ns(), real = lr_real_ns(), end = (w + 1) * b->window_ns;
    uint64_t when = real - (mono > end ? mono - end : 0);
    size_t n_ev = 0;
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        const struct lr_anom_out *o = &b->outs[i];
        struct slot *s = &b->slots[b->ids[i]];
        if (o->opened || (o->open && !s->open)) {
            s->open = true;
            s->o =
                (struct lr_anom_open){ .key = s->key, .opened_unix_ns = when, .opened_window = w };
            b->n_open++;
            lr_stat_add(&b->stats.opened, 1);
            changed = true;
        }
        if (s->open && o->open) {
            s->o.feature = o->feature;
            s->o.score = o->score;
            s->o.value = o->value;
            s->o.expected_lo = o->expected_lo;
            s->o.expected_hi = o->expected_hi;
        }
        bool closing = s->open && (o->closed || !o->open);
        if (o->opened || closing)
            b->events[n_ev++] = (struct lr_gpu_anom_event){
                .key = &s->key,
                .opened = !closing,
                .feature = o->feature,
                .score = o->score,
                .value = o->value,
                .expected_lo = o->expected_lo,
                .expected_hi = o->expected_hi,
                .time_unix_ns = when,
                .window_ms = b->cfg->anomaly.window_ms,
                .host_name = s->key.host ? b->host_name : NULL,
            };
        if (closing) {
            s->open = false;
            b->n_open--;
            lr_stat_add(&b->stats.closed, 1);
            changed = true;
        }
    }
    if (n_ev) {
        struct lr_msg *m = lr_gpu_anom_events_encode(b->events, n_ev, b->n_workers);
        if (!m || !lr_ring_push(b->out, m)) {
            lr_msg_free(m);
            lr_stat_add(&b->stats.events_lost, n_ev);
        }
    }
    /* Idle series leave (never an open one: it closes first). */
    bool evicted = false;
    for (uint32_t id = 0; id < b->max_series; id++) {
        struct slot *s = &b->slots[id];
        uint64_t idle = b->cfg->anomaly.idle_windows + (s->key.host ? b->host_idle : 0);
        if (s->used && !s->open && w - s->last_window >= idle) {
            s->used = false;
            lr_gpu_anom_reset(b->det, id);
            b->free_ids[b->n_free++] = id;
            b->n_used--;
            lr_stat_add(&b->stats.evicted, 1);
            evicted = true;
        }
    }
    if (evicted)
        index_rebuild(b);
    atomic_store_explicit(&b->stats.series, b->n_used, memory_order_relaxed);
    atomic_store_explicit(&b->stats.open, b->n_open, memory_order_relaxed);
    lr_stat_add(&b->stats.ticks, 1);
    /* Scores of open series move every window: republish while any is open. */
    if (changed || b->n_open)
        publish(b, w);
    else
        reclaim(b);
}

/* Scores window b->next with what arrived for it, and moves on. */
static void advance(struct lr_gpu_batcher *b)
{
    score(b, b->next, &b->pend[0], &b->hpend[0]);
    lr_gpu_feat_table_clear(&b->pend[0]);
    struct lr_feat_table t = b->pend[0];
    b->pend[0] = b->pend[1];
    b->pend[1] = t;
    host_clear(&b->hpend[0]);
    struct host_tab ht = b->hpend[0];
    b->hpend[0] = b->hpend[1];
    b->hpend[1] = ht;
    b->next++;
}

static void take(struct lr_gpu_batcher *b, struct lr_feat_window *m)
{
    if (m->worker < b->n_workers && m->window > b->worker_last[m->worker])
        b->worker_last[m->worker] = m->window;
    lr_stat_add(&b->stats.worker_overflow, m->overflow);
    if (m->window < b->next) {
        /* An empty one carries nothing (workers start before the batcher's first window). */
        if (m->n)
            lr_stat_add(&b->stats.late_windows, 1);
        return;
    }
    while (m->window > b->next + 1)
        advance(b); /* behind: the older window is scored with what it has */
    struct lr_feat_table *t = &b->pend[m->window - b->next];
    for (uint32_t i = 0; i < m->n; i++)
        if (lr_gpu_feat_merge(t, &m->e[i]) < 0)
            lr_stat_add(&b->stats.overflow_series, 1);
}

/* Takes in a read of the host maps. false: its window is beyond the two being filled (keep it). */
static bool take_host(struct lr_gpu_batcher *b, const struct lr_feat_host_window *m)
{
    if (m->window > b->next + 1)
        return false;
    struct host_tab *t = &b->hpend[0];
    if (m->window < b->next)
        lr_stat_add(&b->stats.host_late, 1);
    else
        t = &b->hpend[m->window - b->next];
    for (uint32_t i = 0; i < m->n; i++)
        if (!host_merge(t, &m->e[i]))
            lr_stat_add(&b->stats.overflow_series, 1);
    lr_stat_add(&b->stats.host_samples, m->n);
    return true;
}

static void take_host_all(struct lr_gpu_batcher *b)
{
    for (;;) {
        if (!b->host_held && !(b->host && (b->host_held = lr_ring_pop(b->host))))
            return;
        if (!take_host(b, b->host_held))
            return;
        free(b->host_held);
        b->host_held = NULL;
    }
}

/* One pass: takes in every queued window, then scores the windows that are complete or whose
 * wait is over. Returns the time (CLOCK_MONOTONIC ns) the next window's wait is over. */
static uint64_t poll_once(struct lr_gpu_batcher *b, uint64_t now)
{
    for (uint32_t w = 0; w < b->n_workers; w++) {
        struct lr_feat_window *m;
        while ((m = lr_ring_pop(b->in[w]))) {
            take(b, m);
            free(m);
        }
    }
    take_host_all(b);
    for (;;) {
        bool all = true;
        for (uint32_t w = 0; w < b->n_workers && all; w++)
            all = b->worker_last[w] >= b->next;
        uint64_t due = (b->next + 1) * b->window_ns + b->wait_ns;
        if (!all && now < due)
            return due;
        advance(b);
        take_host_all(b); /* one held for a later window may fit now */
    }
}

static void *batcher_main(void *arg)
{
    struct lr_gpu_batcher *b = arg;
    pthread_setname_np(pthread_self(), "lr-anomaly");
    while (!atomic_load(&b->stop)) {
        uint64_t now = lr_mono_ns();
        uint64_t due = poll_once(b, now);
        /* Workers hand windows over at a window's end: look every 5 ms until it is due. */
        uint64_t nap = due > now ? due - now : 0;
        if (nap > 5000000)
            nap = 5000000;
        struct timespec ts = { 0, (long)nap };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* ---- the handle ----------------------------------------------------------------------------- */

static int host_tab_init(struct host_tab *t, uint32_t cap)
{
    uint32_t slots = 4;
    while (slots < 2 * cap)
        slots <<= 1;
    t->cap = cap;
    t->mask = slots - 1;
    t->index = calloc(slots, sizeof(*t->index));
    t->e = calloc(cap, sizeof(*t->e)); /* touched only as used */
    return t->index && t->e ? 0 : -ENOMEM;
}

static void host_tab_fini(struct host_tab *t)
{
    free(t->index);
    free(t->e);
}

struct lr_gpu_batcher *lr_gpu_batcher_new(const struct lr_config *cfg, struct lr_ring *const *in,
                                          uint32_t n_workers, struct lr_ring *host,
                                          struct lr_anom_rt *rt, uint64_t start_ns, char *errstr,
                                          size_t errlen)
{
    if (n_workers + 1 > LR_ANOM_MAX_READERS) {
        snprintf(errstr, errlen, "anomaly: at most %d workers", LR_ANOM_MAX_READERS - 1);
        return NULL;
    }
    struct lr_gpu_batcher *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(errstr, errlen, "anomaly: out of memory");
        return NULL;
    }
    uint32_t ms = cfg->anomaly.max_series, nf = LR_ANOM_N_FEATURES;
    b->cfg = cfg;
    b->in = in;
    b->n_workers = n_workers;
    b->host = host;
    b->rt = rt;
    if (gethostname(b->host_name, sizeof(b->host_name) - 1) != 0)
        snprintf(b->host_name, sizeof(b->host_name), "localhost"); /* as control/hostmetrics.c */
    b->max_series = ms;
    b->window_ns = (uint64_t)cfg->anomaly.window_ms * 1000000ull;
    b->wait_ns = (uint64_t)cfg->anomaly.batch_max_wait_ms * 1000000ull;
    b->host_idle =
        (cfg->host_metrics.interval_ms + cfg->anomaly.window_ms - 1) / cfg->anomaly.window_ms;
    b->det = lr_gpu_anom_new((enum lr_anom_device)cfg->anomaly.device, ms, nf, errstr, errlen);
    if (!b->det)
        goto fail_quiet;
    uint32_t slots = 4;
    while (slots < 2 * ms)
        slots <<= 1;
    b->mask = slots - 1;
    b->out = lr_ring_new(OUT_RING);
    b->worker_last = calloc(n_workers ? n_workers : 1, sizeof(*b->worker_last));
    b->slots = calloc(ms, sizeof(*b->slots));
    b->free_ids = malloc(ms * sizeof(*b->free_ids));
    b->index = calloc(slots, sizeof(*b->index));
    b->feat = calloc((size_t)ms * nf, sizeof(*b->feat));
    b->ids = malloc(ms * sizeof(*b->ids));
    b->rows = malloc((size_t)ms * nf * sizeof(*b->rows));
    b->outs = malloc(ms * sizeof(*b->outs));
    b->events = malloc(ms * sizeof(*b->events));
    if (!b->out || !b->worker_last || !b->slots || !b->free_ids || !b->index || !b->feat ||
        !b->ids || !b->rows || !b->outs || !b->events ||
        lr_gpu_feat_table_init(&b->pend[0], ms) < 0 ||
        lr_gpu_feat_table_init(&b->pend[1], ms) < 0 || host_tab_init(&b->hpend[0], ms) < 0 ||
        host_tab_init(&b->hpend[1], ms) < 0)
        goto fail;
    for (uint32_t i = 0; i < ms; i++)
        b->free_ids[i] = ms - 1 - i; /* slot 0 first */
    b->n_free = ms;
    /* The window before this one: the workers started their first one a moment ago. */
    b->next = start_ns / b->window_ns;
    if (b->next)
        b->next--;
    publish(b, b->next); /* generation 1: nothing open */
    if (!atomic_load(&rt->cur))
        goto fail;
    return b;
fail:
    snprintf(errstr, errlen, "anomaly: out of memory");
fail_quiet:
    lr_gpu_batcher_free(b);
    return NULL;
}

struct lr_gpu_batcher *lr_gpu_batcher_start(const struct lr_config *cfg, struct lr_ring *const *in,
                                            uint32_t n_workers, struct lr_ring *host,
                                            struct lr_anom_rt *rt, char *errstr, size_t errlen)
{
    struct lr_gpu_batcher *b =
        lr_gpu_batcher_new(cfg, in, n_workers, host, rt, lr_mono_ns(), errstr, errlen);
    if (!b)
        return NULL;
    if (pthread_create(&b->thread, NULL, batcher_main, b) != 0) {
        snprintf(errstr, errlen, "anomaly: cannot start the batcher thread");
        lr_gpu_batcher_free(b);
        return NULL;
    }
    b->started = true;
    return b;
}

uint64_t lr_gpu_batcher_poll(struct lr_gpu_batcher *b, uint64_t now_ns)
{
    return poll_once(b, now_ns);
}

struct lr_ring *lr_gpu_batcher_out(struct lr_gpu_batcher *b)
{
    return b->out;
}

const char *lr_gpu_batcher_device(const struct lr_gpu_batcher *b)
{
    return lr_gpu_anom_device(b->det);
}

const struct lr_gpu_batcher_stats *lr_gpu_batcher_stats(const struct lr_gpu_batcher *b)
{
    return &b->stats;
}

static void json_str(FILE *f, const char *z)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)z; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

void lr_gpu_batcher_write_open(struct lr_gpu_batcher *b, FILE *f)
{
    const struct lr_anom_snap *s = lr_anom_rt_load(b->rt, b->n_workers);
    uint64_t real = lr_real_ns(), mono = lr_mono_ns();
    fprintf(f, "{\"device\":");
    json_str(f, lr_gpu_anom_device(b->det));
    uint64_t end = s ? (s->window + 1) * b->window_ns : mono;
    uint64_t end_unix = real - (mono > end ? mono - end : 0);
    fprintf(f, ",\"window_ms\":%u,\"scored_window_end_unix_ms\":%llu,\"open\":[",
            (unsigned)b->cfg->anomaly.window_ms, (unsigned long long)(end_unix / 1000000ull));
    for (uint32_t i = 0; s && i < s->n; i++) {
        const struct lr_anom_open *o = &s->open[i];
        fprintf(f, "%s{\"service\":", i ? "," : "");
        json_str(f, o->key.service);
        fprintf(f, ",\"operation\":");
        json_str(f, o->key.name);
        fprintf(f, ",\"span_kind\":\"%s\",\"feature\":\"%s\",\"score\":",
                lr_gpu_series_kind_name(&o->key), lr_gpu_anom_feature_name(&o->key, o->feature));
        json_num(f, o->score);
        fprintf(f, ",\"value\":");
        json_num(f, o->value);
        fprintf(f, ",\"expected_low\":");
        json_num(f, o->expected_lo);
        fprintf(f, ",\"expected_high\":");
        json_num(f, o->expected_hi);
        fprintf(f, ",\"opened_unix_ms\":%llu}", (unsigned long long)(o->opened_unix_ns / 1000000));
    }
    fprintf(f, "]}\n");
    /* Done with s: the next snapshot may replace it. */
    lr_gpu_batcher_quiesce(b);
}

void lr_gpu_batcher_quiesce(struct lr_gpu_batcher *b)
{
    lr_anom_rt_load(b->rt, b->n_workers);
}

void lr_gpu_batcher_stop(struct lr_gpu_batcher *b)
{
    if (!b || !b->started)
        return;
    atomic_store(&b->stop, true);
    pthread_join(b->thread, NULL);
    b->started = false;
}

void lr_gpu_batcher_free(struct lr_gpu_batcher *b)
{
    if (!b)
        return;
    lr_gpu_batcher_stop(b);
    if (b->rt) {
        struct lr_anom_snap *cur = atomic_exchange(&b->rt->cur, NULL);
        free(cur);
    }
    for (size_t i = 0; i < b->n_retired; i++)
        free(b->retired[i]);
    free(b->retired);
    if (b->out) {
        struct lr_msg *m;
        while ((m = lr_ring_pop(b->out)))
            lr_msg_free(m);
        lr_ring_free(b->out);
    }
    lr_gpu_feat_table_fini(&b->pend[0]);
    lr_gpu_feat_table_fini(&b->pend[1]);
    host_tab_fini(&b->hpend[0]);
    host_tab_fini(&b->hpend[1]);
    free(b->host_held);
    lr_gpu_anom_free(b->det);
    free(b->worker_last);
    free(b->slots);
    free(b->free_ids);
    free(b->index);
    free(b->feat);
    free(b->ids);
    free(b->rows);
    free(b->outs);
    free(b->events);
    free(b);
}
