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
 * form, so it never exceeds the body length; one buffer of that size serves all records.
 *
 * lr_dp_otlp_splice_items() builds one record the same way from a keep mask instead of a trace
 * id (spans, or log records: ExportLogsServiceRequest nests with the same field numbers). It has no
 * scratch memory: a ScopeSpans' new length is the bytes between its spans plus the kept spans, a
 * ResourceSpans' new length the bytes between its scopes plus the kept scopes, so each is
 * recomputed where its header is written. A sizing pass checks the capacity first; in all, every
 * span's length is computed three times and every byte copied once. */
#include <errno.h>
#include <limits.h>
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

/* ---- splicing by a keep mask -------------------------------------------------------------- */

/* Reads a varint of at most 10 bytes from [*p, end). */
static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *x)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < 10 && *p < end; i++) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *x = v;
            return true;
        }
    }
    return false;
}

/* Reads the field at *p of a message the walker accepted; *p moves past it. false only when the
 * view was not made from these bytes. */
static bool field_next(const uint8_t **p, const uint8_t *end, uint64_t *tag)
{
    uint64_t x;

    if (!get_varint(p, end, tag))
        return false;
    switch (*tag & 7) {
    case 0:
        return get_varint(p, end, &x);
    case 1:
        x = 8;
        break;
    case 5:
        x = 4;
        break;
    case 2:
        if (!get_varint(p, end, &x))
            return false;
        break;
    default:
        return false;
    }
    if (x > (uint64_t)(end - *p))
        return false;
    *p += x;
    return true;
}

/* Span.trace_state: field 3, wire type 2. A non-minimal tag is still field 3. */
static bool is_trace_state(uint64_t tag)
{
    return tag == ((3u << 3) | 2);
}

/* The replacement for item i, NULL when its bytes stay. */
static const struct lr_slice *repl_of(const struct lr_slice *ts, uint32_t i)
{
    return ts && ts[i].p ? &ts[i] : NULL;
}

/* The trace_state field written for replacement *r (none for an empty string). */
static uint64_t ts_field_len(const struct lr_slice *r)
{
    return r->len ? 1 + varint_len(r->len) + r->len : 0;
}

static uint8_t *put_ts(uint8_t *o, const struct lr_slice *r)
{
    if (r->len) {
        *o++ = 0x1a; /* Span.trace_state, field 3, wire type 2 */
        o = put_varint(o, r->len);
        memcpy(o, r->p, r->len);
        o += r->len;
    }
    return o;
}

/* Payload length of kept span `it` with trace_state replaced by *r; UINT64_MAX when the view
 * does not match the body. */
static uint64_t span_plen(const uint8_t *body, const struct lr_otlp_item *it,
                          const struct lr_slice *r)
{
    uint64_t n = (uint64_t)it->f.body_len + ts_field_len(r);

    if (it->n_trace_state <= 1)
        return n - it->trace_state_len;
    /* Repeated trace_state: every occurrence goes, so find them all. */
    const uint8_t *p = body + it->f.body_off, *end = p + it->f.body_len, *at;
    uint64_t tag;
    while (p < end) {
        at = p;
        if (!field_next(&p, end, &tag))
            return UINT64_MAX;
        if (is_trace_state(tag))
            n -= (uint64_t)(p - at);
    }
    return n;
}

/* The whole field (tag, length, payload) that kept span `it` becomes. */
static uint64_t span_out_len(const uint8_t *body, const struct lr_otlp_item *it,
                             const struct lr_slice *r)
{
    uint64_t n;

    if (!r)
        return it->f.len;
    n = span_plen(body, it, r);
    return n == UINT64_MAX ? 0 : 1 + varint_len(n) + n;
}

/* Writes kept span `it`, whose payload becomes `plen` bytes (span_plen()) when r != NULL. */
static uint8_t *span_write(uint8_t *o, const uint8_t *body, const struct lr_otlp_item *it,
                           const struct lr_slice *r, uint64_t plen)
{
    const uint8_t *p = body + it->f.body_off, *end = p + it->f.body_len;

    if (!r) {
        memcpy(o, body + it->f.off, it->f.len);
        return o + it->f.len;
    }
    *o++ = 0x12; /* ScopeSpans.spans, field 2, wire type 2 */
    o = put_varint(o, plen);
    if (it->n_trace_state == 0) {
        memcpy(o, p, it->f.body_len);
        return put_ts(o + it->f.body_len, r);
    }
    if (it->n_trace_state == 1) {
        const uint8_t *ts = body + it->trace_state_off, *te = ts + it->trace_state_len;
        memcpy(o, p, (size_t)(ts - p));
        o = put_ts(o + (ts - p), r);
        memcpy(o, te, (size_t)(end - te));
        return o + (end - te);
    }
    /* The replacement takes the place of the last occurrence, the one protobuf keeps. */
    const uint8_t *run = p, *at, *last = body + it->trace_state_off;
    uint64_t tag;
    while (p < end) {
        at = p;
        if (!field_next(&p, end, &tag))
            break; /* not reached: span_plen() read the same bytes */
        if (!is_trace_state(tag))
            continue;
        memcpy(o, run, (size_t)(at - run));
        o += at - run;
        if (at == last)
            o = put_ts(o, r);
        run = p;
    }
    memcpy(o, run, (size_t)(p - run));
    return o + (p - run);
}

static bool kept(const uint8_t *keep, uint32_t i)
{
    return !keep || keep[i];
}

/* Payload length of scope `s` after the splice; *any tells whether it keeps a span. */
static uint64_t scope_out_len(const uint8_t *body, const struct lr_otlp_view *v,
                              const uint8_t *keep, const struct lr_slice *ts, uint32_t s, bool *any)
{
    const struct lr_otlp_scope *sc = &v->scopes[s];
    uint64_t n = sc->f.body_len;
    uint32_t i;

    *any = false;
    for (i = sc->first_item; i < sc->first_item + sc->n_items; i++) {
        n -= v->items[i].f.len;
        if (kept(keep, i)) {
            n += span_out_len(body, &v->items[i], repl_of(ts, i));
            *any = true;
        }
    }
    return n;
}

/* Payload length of resource `r` after the splice; *any tells whether it keeps a span. */
static uint64_t resource_out_len(const uint8_t *body, const struct lr_otlp_view *v,
                                 const uint8_t *keep, const struct lr_slice *ts, uint32_t r,
                                 bool *any)
{
    const struct lr_otlp_resource *res = &v->resources[r];
    uint64_t n = res->f.body_len, sl;
    uint32_t s;
    bool k;

    *any = false;
    for (s = res->first_scope; s < res->first_scope + res->n_scopes; s++) {
        n -= v->scopes[s].f.len;
        sl = scope_out_len(body, v, keep, ts, s, &k);
        if (k) {
            n += 1 + varint_len(sl) + sl;
            *any = true;
        }
    }
    return n;
}

/* Copies body[*at, to) and moves *at to `next`. `o` may be NULL when nothing is copied (an
 * empty output into a zero-capacity buffer). */
static uint8_t *copy_run(uint8_t *o, const uint8_t *body, uint32_t *at, uint32_t to, uint32_t next)
{
    if (to > *at) {
        memcpy(o, body + *at, to - *at);
        o += to - *at;
    }
    *at = next;
    return o;
}

ssize_t lr_dp_otlp_splice_spans(const uint8_t *body, size_t len, const struct lr_otlp_view *v,
                                const uint8_t *keep, const struct lr_slice *trace_state,
                                uint8_t *out, size_t cap)
{
    if (v->signal != LR_SIG_TRACES)
        return -EINVAL;
    return lr_dp_otlp_splice_items(body, len, v, keep, trace_state, out, cap);
}

/* The field numbers that matter here are the same for traces and logs: the request's resource
 * entries are field 1, a resource's scope entries field 2, a scope's items field 2. Only the
 * trace_state rewrite is span-specific. */
ssize_t lr_dp_otlp_splice_items(const uint8_t *body, size_t len, const struct lr_otlp_view *v,
                                const uint8_t *keep, const struct lr_slice *trace_state,
                                uint8_t *out, size_t cap)
{
    uint32_t ni = v->n_items, nr = v->n_resources, i, r, s, at;
    uint64_t total, n;
    bool identity = true, any;
    uint8_t *o = out;

    if (v->truncated || (v->signal != LR_SIG_TRACES && v->signal != LR_SIG_LOGS))
        return -EINVAL;
    if (v->signal == LR_SIG_LOGS && trace_state)
        return -EINVAL;
    for (i = 0; i < ni; i++) {
        const struct lr_slice *x = kept(keep, i) ? repl_of(trace_state, i) : NULL;
        if (x && x->len > UINT32_MAX)
            return -EINVAL;
        if (!kept(keep, i) || x)
            identity = false;
    }
    if (identity) {
        if (len > cap)
            return -ENOSPC;
        if (len)
            memcpy(out, body, len);
        return (ssize_t)len;
    }

    for (i = 0; i < ni; i++)
        if (kept(keep, i) && span_out_len(body, &v->items[i], repl_of(trace_state, i)) == 0)
            return -EINVAL;

    /* Sizing pass: the request's own bytes outside resource_spans, plus the kept resources. */
    total = len;
    for (r = 0; r < nr; r++) {
        total -= v->resources[r].f.len;
        n = resource_out_len(body, v, keep, trace_state, r, &any);
        if (any)
            total += 1 + varint_len(n) + n;
    }
    if (total > cap || total > SSIZE_MAX)
        return -ENOSPC;

    /* Write pass: the bytes between children of every level stay in place, dropped children
     * leave them joined. */
    at = 0;
    for (r = 0; r < nr; r++) {
        const struct lr_otlp_resource *res = &v->resources[r];
        uint32_t rat = res->f.body_off;

        o = copy_run(o, body, &at, res->f.off, res->f.off + res->f.len);
        n = resource_out_len(body, v, keep, trace_state, r, &any);
        if (!any)
            continue;
        *o++ = 0x0a; /* Export{Trace,Logs}ServiceRequest.resource_{spans,logs}: 1, wire type 2 */
        o = put_varint(o, n);
        for (s = res->first_scope; s < res->first_scope + res->n_scopes; s++) {
            const struct lr_otlp_scope *sc = &v->scopes[s];
            uint32_t sat = sc->f.body_off;

            o = copy_run(o, body, &rat, sc->f.off, sc->f.off + sc->f.len);
            n = scope_out_len(body, v, keep, trace_state, s, &any);
            if (!any)
                continue;
            *o++ = 0x12; /* Resource{Spans,Logs}.scope_{spans,logs}: field 2, wire type 2 */
            o = put_varint(o, n);
            for (i = sc->first_item; i < sc->first_item + sc->n_items; i++) {
                const struct lr_otlp_item *it = &v->items[i];
                const struct lr_slice *x = repl_of(trace_state, i);

                o = copy_run(o, body, &sat, it->f.off, it->f.off + it->f.len);
                if (!kept(keep, i))
                    continue;
                o = span_write(o, body, it, x, x ? span_plen(body, it, x) : 0);
            }
            o = copy_run(o, body, &sat, sc->f.body_off + sc->f.body_len, 0);
        }
        o = copy_run(o, body, &rat, res->f.body_off + res->f.body_len, 0);
    }
    o = copy_run(o, body, &at, (uint32_t)len, 0);
    return (ssize_t)(o - out);
}

size_t lr_dp_otlp_splice_bound(size_t len, const struct lr_otlp_view *v,
                               const struct lr_slice *trace_state)
{
    uint64_t grow = 0;
    bool any = false;
    uint32_t i;

    for (i = 0; trace_state && i < v->n_items; i++) {
        if (!trace_state[i].p)
            continue;
        any = true;
        /* The new field (tag, at most 5 bytes of length, the string) and at most 4 more bytes
         * of the span's length prefix. Longer strings are refused anyway. */
        grow += (trace_state[i].len > UINT32_MAX ? 0 : trace_state[i].len) + 16;
    }
    if (!any)
        return len;
    /* Every scope and resource header may grow by at most 9 bytes (2 to 11). */
    grow += 10 * ((uint64_t)v->n_scopes + v->n_resources);
    return grow > SIZE_MAX - len ? SIZE_MAX : len + (size_t)grow;
}
