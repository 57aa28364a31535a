/* One worker's tail-sampling table (dataplane/tail.h).
 *
 * Traces live in a fixed ring of `capacity` entries in order of their first span. Both ways out
 * of the table take the oldest entry (the decision wait is the same for every trace, and an
 * eviction takes the oldest), so the ring's head is always what leaves next and no entry is ever
 * removed from the middle. A chained hash over entry indexes finds a trace by id. Each entry owns
 * one buffer with the trace's pieces back to back: protobuf concatenation of two
 * ExportTraceServiceRequest messages is their merge, so the buffer is itself a valid request.
 *
 * The decision caches are direct-mapped arrays of trace ids (a newer id overwrites an older one
 * in its slot), the Collector's LRU in effect for ids that collide. */
#include "tail.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct entry {
    uint8_t id[16];
    uint64_t first_ns;
    uint32_t next; /* hash chain */
    uint32_t n_spans;
    uint8_t *buf; /* owned */
    size_t len, cap;
};

struct cache {
    uint8_t (*ids)[16]; /* an all-zero id is an empty slot (such ids never reach the table) */
    size_t mask;        /* slots - 1; ids == NULL when off */
};

struct lr_dp_tail {
    struct lr_dp_tail_cfg cfg;
    struct entry *e; /* ring of cfg.capacity */
    uint32_t head, n;
    uint32_t *bucket; /* heads of the hash chains */
    size_t bmask;
    uint64_t bytes;
    struct cache keep, drop;
    struct lr_dp_tail_counts c;
};

static uint64_t hash_id(const uint8_t id[16])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

uint32_t lr_dp_tail_owner(const uint8_t trace_id[16], uint32_t n_workers)
{
    /* The high half picks the owner, the low half the bucket: independent bits. */
    return n_workers ? (uint32_t)((hash_id(trace_id) >> 32) % n_workers) : 0;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

static int cache_init(struct cache *c, uint32_t n)
{
    c->ids = NULL;
    c->mask = 0;
    if (n == 0)
        return 0;
    size_t slots = pow2_at_least(n);
    c->ids = calloc(slots, sizeof(*c->ids));
    if (!c->ids)
        return -ENOMEM;
    c->mask = slots - 1;
    return 0;
}

static bool cache_has(const struct cache *c, const uint8_t id[16])
{
    return c->ids && memcmp(c->ids[hash_id(id) & c->mask], id, 16) == 0;
}

static void cache_put(struct cache *c, const uint8_t id[16])
{
    if (c->ids)
        memcpy(c->ids[hash_id(id) & c->mask], id, 16);
}

struct lr_dp_tail *lr_dp_tail_new(const struct lr_dp_tail_cfg *cfg)
{
    if (!cfg || cfg->capacity == 0 || cfg->capacity >= NIL) {
        errno = EINVAL;
        return NULL;
    }
    struct lr_dp_tail *t = calloc(1, sizeof(*t));
    if (!t)
        goto oom;
    t->cfg = *cfg;
    t->e = calloc(cfg->capacity, sizeof(*t->e));
    size_t nb = pow2_at_least((size_t)cfg->capacity * 2);
    t->bucket = malloc(nb * sizeof(*t->bucket));
    if (!t->e || !t->bucket)
        goto oom;
    t->bmask = nb - 1;
    memset(t->bucket, 0xff, nb * sizeof(*t->bucket));
    if (cache_init(&t->keep, cfg->sampled_cache) < 0 ||
        cache_init(&t->drop, cfg->non_sampled_cache) < 0)
        goto oom;
    return t;
oom:
    lr_dp_tail_free(t);
    errno = ENOMEM;
    return NULL;
}

void lr_dp_tail_free(struct lr_dp_tail *t)
{
    if (!t)
        return;
    if (t->e)
        for (uint32_t i = 0; i < t->cfg.capacity; i++)
            free(t->e[i].buf);
    free(t->e);
    free(t->bucket);
    free(t->keep.ids);
    free(t->drop.ids);
    free(t);
}

static uint32_t find(const struct lr_dp_tail *t, const uint8_t id[16])
{
    for (uint32_t i = t->bucket[hash_id(id) & t->bmask]; i != NIL; i = t->e[i].next)
        if (memcmp(t->e[i].id, id, 16) == 0)
            return i;
    return NIL;
}

static int append(struct lr_dp_tail *t, struct entry *e, const uint8_t *p, size_t len)
{
    if (e->len + len > e->cap) {
        size_t cap = e->cap ? e->cap : 256;
        while (cap < e->len + len)
            cap *= 2;
        uint8_t *b = realloc(e->buf, cap);
        if (!b)
            return -ENOMEM;
        e->buf = b;
        e->cap = cap;
    }
    memcpy(e->buf + e->len, p, len);
    e->len += len;
    t->bytes += len;
    return 0;
}

/* Takes the oldest trace out of the table, decides it, emits it when kept. */
static void decide_head(struct lr_dp_tail *t, uint64_t now_ns, struct lr_tail_policies *pol,
                        lr_dp_tail_emit_fn emit, void *ctx)
{
    struct entry *e = &t->e[t->head];
    uint32_t *pp = &t->bucket[hash_id(e->id) & t->bmask];
    while (*pp != t->head)
        pp = &t->e[*pp].next;
    *pp = e->next;
    struct lr_tail_trace tr = { .body = e->buf, .len = e->len, .n_spans = e->n_spans };
    bool keep = pol ? lr_dp_tail_decide(pol, &tr, now_ns) : true;
    if (keep) {
        t->c.sampled++;
        t->c.spans_kept += e->n_spans;
        cache_put(&t->keep, e->id);
        emit(ctx, e->id, e->buf, e->len, e->n_spans);
    } else {
        t->c.not_sampled++;
        t->c.spans_dropped += e->n_spans;
        cache_put(&t->drop, e->id);
    }
    t->bytes -= e->len;
    /* Keep the buffer for the next trace unless it grew large. */
    if (e->cap > 4096) {
        free(e->buf);
        e->buf = NULL;
        e->cap = 0;
    }
    e->len = 0;
    t->head = (t->head + 1) % t->cfg.capacity;
    t->n--;
}

int lr_dp_tail_add(struct lr_dp_tail *t, const uint8_t trace_id[16], const uint8_t *p, size_t len,
                   uint32_t n_spans, uint64_t now_ns, struct lr_tail_policies *pol,
                   lr_dp_tail_emit_fn emit, void *ctx)
{
    uint32_t i = find(t, trace_id);
    if (i != NIL) {
        if (append(t, &t->e[i], p, len) < 0)
            return -ENOMEM;
        t->e[i].n_spans += n_spans;
        return LR_DP_TAIL_HELD;
    }
    /* A late span: the trace was decided and left the table. */
    if (cache_has(&t->keep, trace_id)) {
        t->c.late_kept += n_spans;
        t->c.spans_kept += n_spans;
        return LR_DP_TAIL_KEEP;
    }
    if (cache_has(&t->drop, trace_id)) {
        t->c.late_dropped += n_spans;
        t->c.spans_dropped += n_spans;
        return LR_DP_TAIL_DROP;
    }
    if (t->n == t->cfg.capacity) {
        t->c.early++;
        decide_head(t, now_ns, pol, emit, ctx);
    }
    i = (t->head + t->n) % t->cfg.capacity;
    struct entry *e = &t->e[i];
    if (append(t, e, p, len) < 0)
        return -ENOMEM;
    memcpy(e->id, trace_id, 16);
    e->first_ns = now_ns;
    e->n_spans = n_spans;
    uint32_t *b = &t->bucket[hash_id(trace_id) & t->bmask];
    e->next = *b;
    *b = i;
    t->n++;
    t->c.new_traces++;
    return LR_DP_TAIL_HELD;
}

size_t lr_dp_tail_expire(struct lr_dp_tail *t, uint64_t now_ns, bool all,
                         struct lr_tail_policies *pol, lr_dp_tail_emit_fn emit, void *ctx)
{
    size_t k = 0;
    while (t->n > 0 && (all || now_ns - t->e[t->head].first_ns >= t->cfg.wait_ns)) {
        decide_head(t, now_ns, pol, emit, ctx);
        k++;
    }
    return k;
}

uint32_t lr_dp_tail_held(const struct lr_dp_tail *t)
{
    return t->n;
}

uint64_t lr_dp_tail_held_bytes(const struct lr_dp_tail *t)
{
    return t->bytes;
}

const struct lr_dp_tail_counts *lr_dp_tail_counts(const struct lr_dp_tail *t)
{
    return &t->c;
}
