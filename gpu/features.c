/* Anomaly features: the latency histogram and the per-window series table (linerate/features.h).
 *
 * Workers call lr_gpu_feat_add once per span on the request path, so the table is an
 * open-addressing index of 32-bit entry numbers (linear probing, at most half full) in front of a
 * dense entry array: a hit costs one hash compare and the name compares, no allocation. The entry
 * array is calloc'd for max_series entries up front; its pages are only touched as series appear.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linerate/features.h"

void lr_gpu_hist_range(uint32_t b, double *lo, double *hi)
{
    if (b < LR_FEAT_HIST_SUB) {
        *lo = b;
        *hi = b + 1;
        return;
    }
    uint32_t e = 3 + (b - LR_FEAT_HIST_SUB) / LR_FEAT_HIST_SUB;
    uint32_t sub = (b - LR_FEAT_HIST_SUB) % LR_FEAT_HIST_SUB;
    double w = ldexp(1.0, (int)e - 3);
    *lo = ldexp(1.0, (int)e) + sub * w;
    *hi = *lo + w;
}

double lr_gpu_hist_quantile_ms(const struct lr_feat_hist *h, uint64_t n, double q)
{
    if (n == 0)
        return NAN;
    uint64_t rank = (uint64_t)ceil(q * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    uint64_t below = 0;
    uint32_t b = 0;
    for (; b < LR_FEAT_HIST_BUCKETS; b++) {
        if (below + h->b[b] >= rank)
            break;
        below += h->b[b];
    }
    if (b == LR_FEAT_HIST_BUCKETS)
        b = LR_FEAT_HIST_BUCKETS - 1; /* n larger than the histogram's total: the top */
    double lo, hi;
    lr_gpu_hist_range(b, &lo, &hi);
    if (b < LR_FEAT_HIST_SUB)
        return lo / 1000.0; /* below 8 us a bucket is one integer microsecond */
    /* The rank's place among the bucket's values, spread evenly over it (what Prometheus'
     * histogram_quantile does): the estimate moves with the distribution inside the bucket
     * instead of sticking to the bucket's middle, which a detector would read as no variance. */
    uint64_t in = h->b[b] ? h->b[b] : 1;
    double frac = ((double)(rank - below) - 0.5) / (double)in;
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    return (lo + (hi - lo) * frac) / 1000.0;
}

int lr_gpu_feat_table_init(struct lr_feat_table *t, uint32_t max_series)
{
    memset(t, 0, sizeof(*t));
    if (max_series == 0)
        max_series = 1;
    uint32_t slots = 4;
    while (slots < 2 * max_series)
        slots <<= 1;
    t->index = calloc(slots, sizeof(*t->index));
    t->e = calloc(max_series, sizeof(*t->e));
    if (!t->index || !t->e) {
        lr_gpu_feat_table_fini(t);
        return -ENOMEM;
    }
    t->mask = slots - 1;
    t->max_series = max_series;
    return 0;
}

void lr_gpu_feat_table_fini(struct lr_feat_table *t)
{
    free(t->index);
    free(t->e);
    memset(t, 0, sizeof(*t));
}

/* The bytes of a name kept: at most LR_FEAT_NAME_MAX, cut before a UTF-8 continuation byte so
 * that the kept prefix is still valid UTF-8 (the walker checked the whole name). */
static size_t cut_len(struct lr_slice s)
{
    if (s.len <= LR_FEAT_NAME_MAX)
        return s.len;
    size_t n = LR_FEAT_NAME_MAX;
    while (n > 0 && (s.p[n] & 0xc0) == 0x80)
        n--;
    return n;
}

static void key_set(struct lr_feat_key *k, uint64_t hash, struct lr_slice service,
                    struct lr_slice name, uint32_t kind)
{
    size_t sl = cut_len(service), nl = cut_len(name);
    k->hash = hash;
    k->kind = kind;
    k->service_len = (uint32_t)service.len;
    k->name_len = (uint32_t)name.len;
    k->service_kept = (uint16_t)sl;
    k->name_kept = (uint16_t)nl;
    k->host = 0;
    if (sl)
        memcpy(k->service, service.p, sl);
    k->service[sl] = 0;
    if (nl)
        memcpy(k->name, name.p, nl);
    k->name[nl] = 0;
}

static bool key_eq(const struct lr_feat_key *k, uint64_t hash, const char *service,
                   size_t service_len, const char *name, size_t name_len, uint32_t kind)
{
    /* The kept prefixes: the stored key's own (a cut may end before LR_FEAT_NAME_MAX). */
    size_t sl = k->service_kept, nl = k->name_kept;
    return k->hash == hash && k->kind == kind && k->service_len == service_len &&
           k->name_len == name_len && memcmp(k->service, service, sl) == 0 &&
           memcmp(k->name, name, nl) == 0;
}

/* The index slot of the series: its entry's, or the empty one where it would go. */
static uint32_t *slot_of(const struct lr_feat_table *t, uint64_t hash, const char *service,
                         size_t service_len, const char *name, size_t name_len, uint32_t kind)
{
    for (uint32_t h = (uint32_t)hash & t->mask;; h = (h + 1) & t->mask) {
        uint32_t i = t->index[h];
        if (i == 0 || key_eq(&t->e[i - 1].key, hash, service, service_len, name, name_len, kind))
            return &t->index[h];
    }
}

int lr_gpu_feat_add(struct lr_feat_table *t, uint64_t hash, struct lr_slice service,
                    struct lr_slice name, uint32_t kind, uint64_t dur_ns, bool error)
{
    uint32_t *s = slot_of(t, hash, (const char *)service.p, service.len, (const char *)name.p,
                          name.len, kind);
    struct lr_feat_entry *e;
    if (*s) {
        e = &t->e[*s - 1];
    } else {
        if (t->n == t->max_series) {
            t->overflow++;
            return -ENOSPC;
        }
        e = &t->e[t->n++];
        *s = t->n;
        key_set(&e->key, hash, service, name, kind);
    }
    e->count++;
    e->errors += error;
    e->lat.b[lr_feat_hist_bucket(dur_ns / 1000)]++;
    return 0;
}

int lr_gpu_feat_merge(struct lr_feat_table *t, const struct lr_feat_entry *src)
{
    const struct lr_feat_key *k = &src->key;
    uint32_t *s = slot_of(t, k->hash, k->service, k->service_len, k->name, k->name_len, k->kind);
    struct lr_feat_entry *e;
    if (*s) {
        e = &t->e[*s - 1];
    } else {
        if (t->n == t->max_series) {
            t->overflow += src->count;
            return -ENOSPC;
        }
        e = &t->e[t->n++];
        *s = t->n;
        e->key = *k;
    }
    e->count += src->count;
    e->errors += src->errors;
    for (uint32_t b = 0; b < LR_FEAT_HIST_BUCKETS; b++)
        e->lat.b[b] += src->lat.b[b];
    return 0;
}

const struct lr_feat_entry *lr_gpu_feat_find(const struct lr_feat_table *t,
                                             const struct lr_feat_key *key)
{
    uint32_t *s =
        slot_of(t, key->hash, key->service, key->service_len, key->name, key->name_len, key->kind);
    return *s ? &t->e[*s - 1] : NULL;
}

void lr_gpu_feat_table_clear(struct lr_feat_table *t)
{
    /* Clear the index slots of the entries in use, not the whole index, when a window touched
     * few series compared with the table's size. Newest first: an entry's probe path only
     * crosses slots of entries made before it, which are still in place when it is looked up. */
    if ((uint64_t)t->n * 8 > t->mask) {
        memset(t->index, 0, ((size_t)t->mask + 1) * sizeof(*t->index));
    } else {
        for (uint32_t i = t->n; i-- > 0;) {
            const struct lr_feat_key *k = &t->e[i].key;
            *slot_of(t, k->hash, k->service, k->service_len, k->name, k->name_len, k->kind) = 0;
        }
    }
    /* Entries cleared after the slots: slot_of compared their keys above. */
    memset(t->e, 0, (size_t)t->n * sizeof(*t->e));
    t->n = 0;
    t->overflow = 0;
}

struct lr_feat_window *lr_gpu_feat_take(struct lr_feat_table *t, uint32_t worker, uint64_t window)
{
    struct lr_feat_window *w = malloc(sizeof(*w) + (size_t)t->n * sizeof(w->e[0]));
    if (w) {
        w->worker = worker;
        w->window = window;
        w->overflow = t->overflow;
        w->n = t->n;
        memcpy(w->e, t->e, (size_t)t->n * sizeof(w->e[0]));
    }
    lr_gpu_feat_table_clear(t);
    return w;
}

void lr_gpu_feat_host_key(struct lr_feat_key *k, const char *name)
{
    struct lr_slice svc = lr_slice_make(LR_FEAT_HOST_SERVICE, strlen(LR_FEAT_HOST_SERVICE));
    struct lr_slice n = lr_slice_make(name, strlen(name));
    memset(k, 0, sizeof(*k));
    key_set(k, lr_gpu_feat_hash(svc, n, LR_FEAT_KIND_HOST), svc, n, LR_FEAT_KIND_HOST);
    k->host = 1;
}
