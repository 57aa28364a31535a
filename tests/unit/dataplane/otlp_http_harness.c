/* The C side of tests/unit/dataplane/otlp_http_harness.h. */
#include "otlp_http_harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../../dataplane/otlp_http.h"

#define MAX_SETS 64

struct lr_t_otlp {
    struct lr_dp_otlp_ctx x;
    struct lr_worker_stats stats;
    struct lr_ring *ring;
    struct lr_sampling_rt *rt; /* NULL without with_rt */
    struct lr_sampling_set *sets[MAX_SETS];
    size_t n_sets;
    struct lr_ring *feat_ring; /* anomaly features (lr_t_otlp_anomaly) */
    struct lr_anom_rt *anom;
    struct lr_anom_snap *snap;
};

struct lr_t_otlp *lr_t_otlp_new(const struct lr_config *cfg, uint32_t worker, bool with_rt)
{
    struct lr_t_otlp *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->ring = lr_ring_new(4096);
    if (!h->ring || lr_dp_otlp_ctx_init(&h->x, cfg, h->ring, &h->stats, worker) < 0) {
        lr_ring_free(h->ring);
        free(h);
        return NULL;
    }
    if (with_rt) {
        h->rt = calloc(1, sizeof(*h->rt));
        if (!h->rt) {
            lr_t_otlp_free(h);
            return NULL;
        }
        lr_sampling_scale_set(h->rt, 1.0);
        h->x.rt = h->rt;
    }
    return h;
}

void lr_t_otlp_free(struct lr_t_otlp *h)
{
    if (!h)
        return;
    lr_t_otlp_drain(h, NULL, NULL);
    lr_dp_otlp_ctx_fini(&h->x);
    lr_ring_free(h->ring);
    for (size_t i = 0; i < h->n_sets; i++)
        free(h->sets[i]);
    free(h->rt);
    if (h->feat_ring) {
        void *m;
        while ((m = lr_ring_pop(h->feat_ring)))
            free(m);
        lr_ring_free(h->feat_ring);
    }
    if (h->anom)
        free((void *)h->anom->boost);
    free(h->anom);
    free(h->snap);
    free(h);
}

int lr_t_otlp_anomaly(struct lr_t_otlp *h, const char *const *service, const char *const *name,
                      const uint32_t *kind, size_t n)
{
    uint32_t slots = 4;
    while (slots < 2 * n)
        slots <<= 1;
    h->feat_ring = lr_ring_new(64);
    h->anom = calloc(1, sizeof(*h->anom));
    if (h->anom)
        h->anom->boost = calloc(LR_ANOM_BOOST_SLOTS, sizeof(*h->anom->boost));
    h->snap =
        calloc(1, sizeof(*h->snap) + n * sizeof(struct lr_anom_open) + slots * sizeof(uint32_t));
    if (!h->feat_ring || !h->anom || !h->anom->boost || !h->snap)
        return -ENOMEM;
    struct lr_anom_snap *s = h->snap;
    s->generation = 1;
    s->mask = slots - 1;
    s->open = (struct lr_anom_open *)(s + 1);
    s->index = (uint32_t *)(s->open + n);
    for (size_t i = 0; i < n; i++) {
        struct lr_slice sv = lr_slice_make(service[i], strlen(service[i]));
        struct lr_slice nm = lr_slice_make(name[i], strlen(name[i]));
        s->open[i].key.hash = lr_gpu_feat_hash(sv, nm, kind[i]);
        uint32_t j = (uint32_t)s->open[i].key.hash & s->mask;
        while (s->index[j])
            j = (j + 1) & s->mask;
        s->index[j] = (uint32_t)++s->n;
    }
    atomic_store(&h->anom->cur, s);
    return lr_dp_otlp_anom_init(&h->x, h->feat_ring, h->anom);
}

void lr_t_otlp_boost_put(struct lr_t_otlp *h, uint64_t hash, uint64_t now_s)
{
    lr_anom_boost_put(h->anom, hash, now_s);
}

bool lr_t_otlp_boost_has(struct lr_t_otlp *h, uint64_t hash, uint64_t now_s)
{
    return lr_anom_boost_active(h->anom, now_s) && lr_anom_boost_has(h->anom, hash, now_s);
}

uint64_t lr_t_otlp_boost_hold_s(void)
{
    return LR_ANOM_BOOST_HOLD_S;
}

int lr_t_otlp_feat(struct lr_t_otlp *h, const char *service, const char *name, uint32_t kind,
                   uint32_t *count, uint32_t *errors)
{
    struct lr_feat_table t;
    if (lr_gpu_feat_table_init(&t, 1) < 0)
        return -1;
    struct lr_slice sv = lr_slice_make(service, strlen(service));
    struct lr_slice nm = lr_slice_make(name, strlen(name));
    lr_gpu_feat_add(&t, lr_gpu_feat_hash(sv, nm, kind), sv, nm, kind, 0, false);
    const struct lr_feat_entry *e = lr_gpu_feat_find(&h->x.feat, &t.e[0].key);
    lr_gpu_feat_table_fini(&t);
    if (!e)
        return -1;
    *count = e->count;
    *errors = e->errors;
    return 0;
}

int lr_t_otlp_post(struct lr_t_otlp *h, enum lr_signal sig, const uint8_t *body, size_t len)
{
    static const char *const paths[] = { "/v1/traces", "/v1/metrics", "/v1/logs" };
    static const char ct[] = "application/x-protobuf";
    struct lr_http_handler hd = lr_dp_otlp_handler(&h->x);
    struct lr_http_req req = { .method = lr_slice_make("POST", 4),
                               .target = lr_slice_make(paths[sig], strlen(paths[sig])),
                               .path = lr_slice_make(paths[sig], strlen(paths[sig])),
                               .version_minor = 1,
                               .content_type = lr_slice_make(ct, sizeof(ct) - 1),
                               .has_content_length = true,
                               .content_length = len,
                               .keep_alive = true,
                               .body = lr_slice_make(body, len) };
    struct lr_http_resp resp = { 0 };
    hd.on_request(hd.ctx, &req, &resp);
    return resp.status;
}

size_t lr_t_otlp_drain(struct lr_t_otlp *h, lr_t_rec_fn fn, void *ctx)
{
    struct lr_msg *m;
    size_t n = 0;
    while ((m = lr_ring_pop(h->ring)) != NULL) {
        if (fn)
            fn(ctx, m->value, m->len, m->n_items, m->key, m->key_len);
        lr_msg_free(m);
        n++;
    }
    return n;
}

void lr_t_otlp_publish(struct lr_t_otlp *h, uint64_t generation, bool head, double traces_pct,
                       bool logs, double logs_pct)
{
    struct lr_sampling_set *s;
    if (!h->rt || h->n_sets == MAX_SETS || !(s = calloc(1, sizeof(*s))))
        abort();
    *s = (struct lr_sampling_set){ .generation = generation,
                                   .head = head,
                                   .traces_percentage = traces_pct,
                                   .logs = logs,
                                   .logs_percentage = logs_pct };
    h->sets[h->n_sets++] = s;
    atomic_store_explicit(&h->rt->cur, s, memory_order_release);
}

void lr_t_otlp_set_scale(struct lr_t_otlp *h, double scale)
{
    lr_sampling_scale_set(h->rt, scale);
}

void lr_t_otlp_set_lowered(struct lr_t_otlp *h, bool lowered)
{
    atomic_store_explicit(&h->rt->lowered, lowered, memory_order_relaxed);
}

uint64_t lr_t_otlp_seen(const struct lr_t_otlp *h)
{
    return atomic_load_explicit(&h->rt->seen[h->x.worker], memory_order_acquire);
}

void lr_t_otlp_get_stats(const struct lr_t_otlp *h, struct lr_t_otlp_stats *out)
{
    const struct lr_worker_stats *s = &h->stats;
    for (int k = 0; k < 2; k++) {
        out->spans_sampled[k] = lr_stat_get(&s->sampled[k]);
        out->logs_sampled[k] = lr_stat_get(&s->logs_sampled[k]);
    }
    out->force_kept = lr_stat_get(&s->force_kept);
    out->anom_kept = lr_stat_get(&s->anom_kept);
    out->anom_spans = lr_stat_get(&s->anom_spans);
    out->accepted_spans = lr_stat_get(&s->accepted[LR_TR_HTTP][LR_SIG_TRACES]);
    out->accepted_logs = lr_stat_get(&s->accepted[LR_TR_HTTP][LR_SIG_LOGS]);
}
