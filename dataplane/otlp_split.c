/* Per-trace splitting of an ExportTraceServiceRequest by splicing (dataplane/otlp_split.h).
 *
 * The walker's view gives the byte range of every ResourceSpans, ScopeSpans and Span. A record
 * for one trace is the request with every span of another trace cut out, every ScopeSpans and
 * ResourceSpans left empty by that cut dropped, and the length prefixes of the kept ScopeSpans
 * and ResourceSpans rewritten. Everything else (resource, scope, schema_url, unknown fields) is
 * copied in its original order.
 *
 * Cost: spans are grouped by trace id with an open-addressing hash and a stable counting sort,
 * O(n). Building one record touches only the spans of its trace, the scopes and resources that
 * hold them, and the non-empty byte runs ("gaps") between children of those parents; the gaps
 * are copied into that record anyway, so the total work is O(n + output bytes).
 *
 * Output size: every record is a sub-selection of the body whose headers are written in minimal
 * form, so it never exceeds the body length; one buffer of that size serves all records. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_split.h"

/* A non-empty byte run of a parent between its children: it precedes child `idx` (local index;
 * idx == n_children for the run after the last child). */
struct gap {
    uint32_t off, len, idx;
};

/* Gaps of one level: parents [0, n), parent i's children [child_first(i), +n_children(i)). */
struct level {
    struct gap *gaps;
    uint32_t *first_gap; /* n + 1 entries */
    uint32_t *base_len;  /* payload bytes of a parent outside its children */
};

static size_t varint_len(uint64_t x)
{
    size_t n = 1;
    while (x >= 0x80) {
        x >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *o, uint64_t x)
{
    while (x >= 0x80) {
        *o++ = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    *o++ = (uint8_t)x;
    return o;
}

/* Records the gaps of parent `i` whose payload is [off, off+len) and whose children are the
 * fields `child` (count n), in order. */
static void level_add(struct level *l, uint32_t *ngaps, uint32_t i, uint32_t off, uint32_t len,
                      const struct lr_otlp_field *(*child)(const void *, uint32_t), const void *ctx,
                      uint32_t first, uint32_t n)
{
    uint32_t at = off, end = off + len, k, base = 0;

    l->first_gap[i] = *ngaps;
    for (k = 0; k <= n; k++) {
        uint32_t stop = end;
        const struct lr_otlp_field *c = NULL;
        if (k < n) {
            c = child(ctx, first + k);
            stop = c->off;
        }
        if (stop > at) {
            l->gaps[*ngaps] = (struct gap){ at, stop - at, k };
            (*ngaps)++;
            base += stop - at;
        }
        if (c)
            at = c->off + c->len;
    }
    l->first_gap[i + 1] = *ngaps;
    l->base_len[i] = base;
}

static const struct lr_otlp_field *scope_field(const void *v, uint32_t i)
{
    return &((const struct lr_otlp_view *)v)->scopes[i].f;
}

static const struct lr_otlp_field *item_field(const void *v, uint32_t i)
{
    return &((const struct lr_otlp_view *)v)->items[i].f;
}

static const struct lr_otlp_field *resource_field(const void *v, uint32_t i)
{
    return &((const struct lr_otlp_view *)v)->resources[i].f;
}

static const uint8_t zero_id[16];

static const uint8_t *key_of(const struct lr_otlp_item *it)
{
    return it->has_trace_id ? it->trace_id : zero_id;
}

static uint64_t hash_id(const uint8_t *id)
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    /* Trace ids are random; a multiplicative mix guards against crafted low-entropy ids. */
    a ^= b * 0x9e3779b97f4a7c15ull;
    a ^= a >> 29;
    a *= 0xbf58476d1ce4e5b9ull;
    return a ^ (a >> 32);
}

/* Aligns an offset for the carve-up of the scratch buffer. */
static size_t al8(size_t x)
{
    return (x + 7) & ~(size_t)7;
}

/* Copies gaps of a parent with local index < `upto` from *g (advanced). */
static uint8_t *copy_gaps(uint8_t *o, const uint8_t *body, const struct gap **g,
                          const struct gap *gend, uint32_t upto)
{
    while (*g < gend && (*g)->idx <= upto) {
        memcpy(o, body + (*g)->off, (*g)->len);
        o += (*g)->len;
        (*g)++;
    }
    return o;
}

int lr_dp_otlp_split_traces(const uint8_t *body, size_t len, const struct lr_otlp_view *v,
                            lr_dp_split_emit_fn emit, void *ctx)
{
    uint32_t ni = v->n_items, ns = v->n_scopes, nr = v->n_resources;
    uint32_t i, g, ngroups = 0, ngaps;
    size_t hcap, sz, o_grp, o_hash, o_gstart, o_order, o_slen, o_rlen, o_gaps_r, o_gaps_s, o_fg_r,
        o_fg_s, o_top, o_fg_top, o_base_r, o_base_s, o_base_top, o_out;
    uint32_t *grp, *hash, *gstart, *order, *slen, *rlen;
    struct level lr, ls, lt;
    uint8_t *mem;
    int rc = 0;

    if (v->truncated || v->signal != LR_SIG_TRACES)
        return -EINVAL;
    if (ni == 0)
        return 0;

    /* One trace (the common case for a client flushing one request per trace): the body as is. */
    for (i = 1; i < ni; i++)
        if (memcmp(key_of(&v->items[i]), key_of(&v->items[0]), 16) != 0)
            break;
    if (i == ni)
        return emit(ctx, key_of(&v->items[0]), ni, body, len);

    for (hcap = 16; hcap < (size_t)ni * 2; hcap <<= 1)
        ;
    sz = 0;
    o_grp = sz, sz = al8(sz + sizeof(uint32_t) * ni);
    o_hash = sz, sz = al8(sz + sizeof(uint32_t) * hcap);
    o_gstart = sz, sz = al8(sz + sizeof(uint32_t) * ((size_t)ni + 2));
    o_order = sz, sz = al8(sz + sizeof(uint32_t) * ni);
    o_slen = sz, sz = al8(sz + sizeof(uint32_t) * ns);
    o_rlen = sz, sz = al8(sz + sizeof(uint32_t) * nr);
    o_gaps_r = sz, sz = al8(sz + sizeof(struct gap) * ((size_t)ns + nr));
    o_gaps_s = sz, sz = al8(sz + sizeof(struct gap) * ((size_t)ni + ns));
    o_top = sz, sz = al8(sz + sizeof(struct gap) * ((size_t)nr + 1));
    o_fg_r = sz, sz = al8(sz + sizeof(uint32_t) * ((size_t)nr + 1));
    o_fg_s = sz, sz = al8(sz + sizeof(uint32_t) * ((size_t)ns + 1));
    o_fg_top = sz, sz = al8(sz + sizeof(uint32_t) * 2);
    o_base_r = sz, sz = al8(sz + sizeof(uint32_t) * nr);
    o_base_s = sz, sz = al8(sz + sizeof(uint32_t) * ns);
    o_base_top = sz, sz = al8(sz + sizeof(uint32_t));
    o_out = sz, sz += len + 16;
    mem = malloc(sz);
    if (!mem)
        return -ENOMEM;
    grp = (uint32_t *)(mem + o_grp);
    hash = (uint32_t *)(mem + o_hash);
    gstart = (uint32_t *)(mem + o_gstart);
    order = (uint32_t *)(mem + o_order);
    slen = (uint32_t *)(mem + o_slen);
    rlen = (uint32_t *)(mem + o_rlen);
    lr = (struct level){ (struct gap *)(mem + o_gaps_r), (uint32_t *)(mem + o_fg_r),
                         (uint32_t *)(mem + o_base_r) };
    ls = (struct level){ (struct gap *)(mem + o_gaps_s), (uint32_t *)(mem + o_fg_s),
                         (uint32_t *)(mem + o_base_s) };
    lt = (struct level){ (struct gap *)(mem + o_top), (uint32_t *)(mem + o_fg_top),
                         (uint32_t *)(mem + o_base_top) };

    /* Group ids in order of first appearance; gstart[g+1] counts group g's spans. */
    memset(hash, 0xff, sizeof(uint32_t) * hcap);
    memset(gstart, 0, sizeof(uint32_t) * ((size_t)ni + 2));
    for (i = 0; i < ni; i++) {
        const uint8_t *k = key_of(&v->items[i]);
        size_t h = (size_t)hash_id(k) & (hcap - 1);
        while (hash[h] != UINT32_MAX && memcmp(key_of(&v->items[hash[h]]), k, 16) != 0)
            h = (h + 1) & (hcap - 1);
        if (hash[h] == UINT32_MAX) {
            hash[h] = i;
            grp[i] = ngroups++;
        } else {
            grp[i] = grp[hash[h]];
        }
        gstart[grp[i] + 1]++;
    }
    for (g = 0; g < ngroups; g++)
        gstart[g + 1] += gstart[g];
    /* Stable counting sort: each group's spans stay in body order. `hash` is reused as the
     * per-group fill cursor. */
    memcpy(hash, gstart, sizeof(uint32_t) * ngroups);
    for (i = 0; i < ni; i++)
        order[hash[grp[i]]++] = i;

    /* Gaps of the request, of every resource and of every scope. */
    ngaps = 0;
    level_add(&lt, &ngaps, 0, 0, (uint32_t)len, resource_field, v, 0, nr);
    ngaps = 0;
    for (i = 0; i < nr; i++)
        level_add(&lr, &ngaps, i, v->resources[i].f.body_off, v->resources[i].f.body_len,
                  scope_field, v, v->resources[i].first_scope, v->resources[i].n_scopes);
    ngaps = 0;
    for (i = 0; i < ns; i++)
        level_add(&ls, &ngaps, i, v->scopes[i].f.body_off, v->scopes[i].f.body_len, item_field, v,
                  v->scopes[i].first_item, v->scopes[i].n_items);

    for (g = 0; g < ngroups && rc == 0; g++) {
        const uint32_t *sp = order + gstart[g], *se = order + gstart[g + 1], *q;
        uint8_t *out = mem + o_out, *o = out;
        const struct gap *tg = lt.gaps, *tge = lt.gaps + lt.first_gap[1];

        /* Pass 1: payload lengths of the scopes and resources this trace touches. Spans are
         * in body order, so each scope's and each resource's spans are contiguous here. */
        for (q = sp; q < se; q++) {
            const struct lr_otlp_item *it = &v->items[*q];
            uint32_t s = it->scope, r = v->scopes[s].resource;
            if (q == sp || v->items[q[-1]].scope != s) {
                slen[s] = ls.base_len[s];
                if (q == sp || v->scopes[v->items[q[-1]].scope].resource != r)
                    rlen[r] = lr.base_len[r];
            }
            slen[s] += it->f.len;
            if (q + 1 == se || v->items[q[1]].scope != s)
                rlen[r] += (uint32_t)(1 + varint_len(slen[s]) + slen[s]);
        }

        /* Pass 2: write. */
        for (q = sp; q < se;) {
            uint32_t r = v->scopes[v->items[*q].scope].resource;
            const struct gap *rg = lr.gaps + lr.first_gap[r], *rge = lr.gaps + lr.first_gap[r + 1];

            o = copy_gaps(o, body, &tg, tge, r);
            *o++ = 0x0a; /* ExportTraceServiceRequest.resource_spans, field 1, wire type 2 */
            o = put_varint(o, rlen[r]);
            while (q < se && v->scopes[v->items[*q].scope].resource == r) {
                uint32_t s = v->items[*q].scope;
                const struct gap *sg = ls.gaps + ls.first_gap[s],
                                 *sge = ls.gaps + ls.first_gap[s + 1];

                o = copy_gaps(o, body, &rg, rge, s - v->resources[r].first_scope);
                *o++ = 0x12; /* ResourceSpans.scope_spans, field 2, wire type 2 */
                o = put_varint(o, slen[s]);
                while (q < se && v->items[*q].scope == s) {
                    const struct lr_otlp_item *it = &v->items[*q];
                    o = copy_gaps(o, body, &sg, sge, *q - v->scopes[s].first_item);
                    memcpy(o, body + it->f.off, it->f.len);
                    o += it->f.len;
                    q++;
                }
                o = copy_gaps(o, body, &sg, sge, UINT32_MAX);
            }
            o = copy_gaps(o, body, &rg, rge, UINT32_MAX);
        }
        o = copy_gaps(o, body, &tg, tge, UINT32_MAX);
        rc = emit(ctx, key_of(&v->items[*sp]), (uint64_t)(se - sp), out, (size_t)(o - out));
    }
    free(mem);
    return rc;
}
