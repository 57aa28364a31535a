/* Tail-sampling policies with the OpenTelemetry Collector's vocabulary and decision semantics
 * (dataplane/tail_policy.h).
 *
 * Sources (opentelemetry-collector-contrib, processor/tailsamplingprocessor), read at the
 * releases from v0.141.0 (bytes_limiting added, #42509) up to the release before #48226 (May
 * 2026, rate_limiting became a token bucket with burst_capacity; here it is still the per-second
 * counter of those releases):
 *  - processor.go loadSamplingPolicies: names required and unique; `drop` policies evaluated
 *    first. makeDecision: every policy is evaluated in that order, stopping at the first Dropped;
 *    then Dropped > InvertNotSampled (not sampled) > Sampled > InvertSampled with no NotSampled
 *    at all (sampled) > not sampled. Per-policy counters count each evaluated policy's own
 *    decision (Sampled/InvertSampled as sampled, the rest as not sampled).
 *  - internal/sampling/util.go: hasResourceOrSpanWithCondition (any resource or span matches),
 *    invertHasResourceOrSpanWithCondition (InvertNotSampled as soon as one matches, else
 *    InvertSampled), hasSpanWithCondition (spans only, in order, stop at the first match).
 *  - latency.go: a running min(start)/max(end) over the spans visited so far, compared after each
 *    span, so the first span at which the running duration qualifies decides (with
 *    upper_threshold_ms a later, longer span does not undo it). 0 is "not set yet" for both
 *    running values; durations are time.Time.Sub of the int64 casts (saturating), truncated to ms.
 *    Without upper_threshold_ms: d >= threshold_ms; with it: threshold_ms < d <= upper.
 *  - status_code.go: any span whose status code is listed.
 *  - string_tag_filter.go: resource attribute value Str() ("" when not a string) or span
 *    attribute Str() when not "", exact (empty values ignored) or regex (unanchored search, any
 *    of the expressions; Go RE2 there, POSIX ERE here: see regex_compile).
 *  - numeric_tag_filter.go + processor.go: Int() (0 when not an int, so a double attribute reads
 *    as 0, as in the Collector); min_value / max_value of 0 mean "not set" (MinInt64/MaxInt64).
 *  - boolean_tag_filter.go: Bool() (false when not a bool) == value.
 *  - span_count_sampler.go: max_spans 0: count >= min_spans; else min_spans <= count <= max_spans.
 *  - trace_state_filter.go + go.opentelemetry.io/otel/trace tracestate.go (ParseTraceState):
 *    the span's tracestate must parse as a whole; its value for key must be one of values
 *    (values that are empty or with len(key)+len(value) >= 256 never match).
 *  - probabilistic.go: FNV-1a 64 (hash/fnv New64a) over hash_salt ("default-hash-seed" when
 *    empty) then the 16 trace id bytes; sampled when hash <= threshold, threshold =
 *    big.Float(MaxUint64, 64-bit precision) * (percentage / 100) rounded to nearest even, then
 *    truncated to uint64.
 *  - rate_limiting.go: per wall second, sampled while spans-this-second + trace spans <
 *    spans_per_second (strictly less).
 *  - bytes_limiting.go: golang.org/x/time/rate Limiter(bytes_per_second, burst_capacity or
 *    2 x bytes_per_second), AllowN(now, trace size); the bucket starts full. The trace size here
 *    is lr_tail_trace.len (the Collector estimates the marshaled size).
 *  - and.go / drop.go: NotSampled or InvertNotSampled from a sub-policy makes it NotSampled
 *    (stop there), else Sampled / Dropped. composite.go + composite_helper.go: sub-policies in
 *    composite_sub_policy order (policy_order is not used by the Collector either); the first
 *    Sampled or InvertSampled one decides: sampled when its spans this second plus the trace's
 *    stay within its allocation (percent/100 of max_total_spans_per_second, or
 *    max_total_spans_per_second / number of sub-policies for a percent of 0) and within
 *    max_total_spans_per_second, else NotSampled without trying the next one.
 *  - config.go: and/drop take only leaf policies; composite takes leaf policies and `and`.
 *
 * The trace body is scanned in place (never decoded into objects). It is checked once per
 * decision against the shapes below; a body that does not parse makes every policy that reads it
 * say NotSampled (never an inverted decision). Protobuf merge rules apply: the last occurrence of
 * a scalar field wins, repeated Resource / Status messages merge. A ResourceSpans without spans is
 * not part of the trace (the Collector only keeps resources with the trace's spans).
 *
 * Known differences from the Collector:
 *  - regexes are POSIX ERE (glibc regcomp), not RE2; glibc's regexec takes a lock per compiled
 *    expression, so workers matching the same expression serialize on it;
 *  - the per-second windows are whole seconds of CLOCK_MONOTONIC (now_ns), not of wall time; the
 *    token bucket rounds the refill time of each trace up to whole nanoseconds;
 *  - bytes_limiting charges the trace's wire size, not the Collector's size estimate;
 *  - stricter configuration: sampling_percentage outside 0..100 (the Collector clamps), rates of
 *    0, upper_threshold_ms <= threshold_ms, min above max, unknown names in policy_order or
 *    rate_allocation (the Collector ignores them), keys of another policy type's block and
 *    duplicate sibling names are errors;
 *  - not supported: ottl_condition, trace_flags, not, extension policies, sample_on_first_match.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tail_policy.h"

#define MAX_DEPTH 4           /* policy nesting, top level = 1 */
#define PATH_LEN 256          /* error path */
#define REGEX_MAX_LEN 4096    /* one expression */
#define REGEX_MAX_COST 20000  /* estimated compiled size, see regex_too_big */
#define RATE_MAX 0xffffffffll /* spans per second: counts live in 32 bits */
#define BYTES_MAX (1ll << 53)
#define TIME_CAP (1ll << 62) /* ns: bucket arithmetic stays far from int64 overflow */
#define DEFAULT_HASH_SALT "default-hash-seed"

/* ---- policies -------------------------------------------------------------------------------- */

enum ptype {
    T_ALWAYS,
    T_LATENCY,
    T_NUMERIC,
    T_PROB,
    T_STATUS,
    T_STRING,
    T_RATE,
    T_BYTES,
    T_SPAN_COUNT,
    T_TRACE_STATE,
    T_BOOL,
    T_AND,
    T_DROP,
    T_COMPOSITE,
    T_COUNT,
};

#define LEAF_TYPES ((1u << T_AND) - 1)
#define ALL_TYPES ((1u << T_COUNT) - 1)

/* The Collector's samplingpolicy.Decision values that matter here. */
enum decision {
    D_NOT_SAMPLED,
    D_SAMPLED,
    D_INV_SAMPLED,
    D_INV_NOT_SAMPLED,
    D_DROPPED,
    D_COUNT,
};

struct strlist {
    char **v;
    size_t n;
};

struct alloc_cfg {
    char *policy;
    double percent;
};

struct allocs {
    struct alloc_cfg *v;
    size_t n;
};

struct subs {
    struct policy *v;
    size_t n;
};

struct policy {
    char *name; /* owned; NULL for an unnamed sub-policy */
    enum ptype type;
    /* configuration as parsed (the JSON writer prints these back through the same tables) */
    int64_t threshold_ms, upper_threshold_ms;
    char *key;
    int64_t min_value, max_value;
    bool invert_match;
    char *hash_salt;
    double sampling_percentage;
    struct strlist status_codes;
    struct strlist values;
    bool enabled_regex_matching;
    int64_t cache_max_size;
    int64_t spans_per_second;
    int64_t bytes_per_second, burst_capacity;
    int64_t min_spans, max_spans;
    bool value;
    int64_t max_total_spans_per_second;
    struct strlist policy_order;
    struct allocs rate_allocation;
    struct subs sub;
    /* derived at parse time */
    regex_t *re;
    size_t n_re; /* compiled so far */
    unsigned status_mask;
    uint64_t prob_threshold;
    int64_t alloc_sps; /* as a composite sub-policy */
    int64_t burst_ns;  /* bytes_limiting: a full bucket in ns of refill */
    /* shared state, updated by every worker with CAS */
    _Atomic uint64_t window;      /* rate_limiting: second << 32 | spans */
    _Atomic uint64_t comp_window; /* as a composite sub-policy: second << 32 | spans */
    _Atomic int64_t bucket_ns;    /* bytes_limiting: the instant the bucket was (will be) empty */
    _Atomic uint64_t n_sampled, n_not_sampled;
};

struct lr_tail_policies {
    struct policy *v;
    size_t n;
    size_t *order; /* evaluation order: drop policies first */
};

/* ---- the configuration tables ---------------------------------------------------------------- */

enum fkind { F_I64, F_F64, F_BOOL, F_STR, F_STRS, F_STATUS, F_SUBS, F_ALLOCS };

#define REQ 1u
#define NONEMPTY 2u

struct field {
    const char *name;
    enum fkind kind;
    size_t off;
    unsigned flags;
    int64_t min, max;  /* F_I64 */
    double dmin, dmax; /* F_F64 */
};

struct parser {
    yaml_document_t *doc;
    char *err;
    size_t errlen;
};

struct tdesc {
    const char *name;
    const struct field *f;
    size_t nf;
    unsigned sub_allowed; /* F_SUBS: the types a sub-policy may have */
    int (*finish)(struct parser *P, struct policy *p, const yaml_node_t *at, const char *path,
                  uint32_t seen);
};

#define OFF(m) offsetof(struct policy, m)
#define I64(n, m, fl, lo, hi)              \
    {                                      \
        n, F_I64, OFF(m), fl, lo, hi, 0, 0 \
    }

static const struct field f_latency[] = {
    I64("threshold_ms", threshold_ms, REQ, 0, INT64_MAX),
    I64("upper_threshold_ms", upper_threshold_ms, 0, 0, INT64_MAX),
};
static const struct field f_numeric[] = {
    { "key", F_STR, OFF(key), REQ | NONEMPTY, 0, 0, 0, 0 },
    I64("min_value", min_value, 0, INT64_MIN, INT64_MAX),
    I64("max_value", max_value, 0, INT64_MIN, INT64_MAX),
    { "invert_match", F_BOOL, OFF(invert_match), 0, 0, 0, 0, 0 },
};
static const struct field f_prob[] = {
    { "hash_salt", F_STR, OFF(hash_salt), 0, 0, 0, 0, 0 },
    { "sampling_percentage", F_F64, OFF(sampling_percentage), REQ, 0, 0, 0, 100 },
};
static const struct field f_status[] = {
    { "status_codes", F_STATUS, OFF(status_codes), REQ | NONEMPTY, 0, 0, 0, 0 },
};
static const struct field f_string[] = {
    { "key", F_STR, OFF(key), REQ | NONEMPTY, 0, 0, 0, 0 },
    { "values", F_STRS, OFF(values), REQ | NONEMPTY, 0, 0, 0, 0 },
    { "enabled_regex_matching", F_BOOL, OFF(enabled_regex_matching), 0, 0, 0, 0, 0 },
    I64("cache_max_size", cache_max_size, 0, 0, INT32_MAX),
    { "invert_match", F_BOOL, OFF(invert_match), 0, 0, 0, 0, 0 },
};
static const struct field f_rate[] = {
    I64("spans_per_second", spans_per_second, REQ, 1, RATE_MAX),
};
static const struct field f_bytes[] = {
    I64("bytes_per_second", bytes_per_second, REQ, 1, BYTES_MAX),
    I64("burst_capacity", burst_capacity, 0, 0, BYTES_MAX),
};
static const struct field f_span_count[] = {
    I64("min_spans", min_spans, 0, 0, INT32_MAX),
    I64("max_spans", max_spans, 0, 0, INT32_MAX),
};
static const struct field f_trace_state[] = {
    { "key", F_STR, OFF(key), REQ | NONEMPTY, 0, 0, 0, 0 },
    { "values", F_STRS, OFF(values), REQ | NONEMPTY, 0, 0, 0, 0 },
};
static const struct field f_bool[] = {
    { "key", F_STR, OFF(key), REQ | NONEMPTY, 0, 0, 0, 0 },
    { "value", F_BOOL, OFF(value), REQ, 0, 0, 0, 0 },
    { "invert_match", F_BOOL, OFF(invert_match), 0, 0, 0, 0, 0 },
};
static const struct field f_and[] = {
    { "and_sub_policy", F_SUBS, OFF(sub), REQ | NONEMPTY, 0, 0, 0, 0 },
};
static const struct field f_drop[] = {
    { "drop_sub_policy", F_SUBS, OFF(sub), REQ | NONEMPTY, 0, 0, 0, 0 },
};
static const struct field f_composite[] = {
    I64("max_total_spans_per_second", max_total_spans_per_second, REQ, 1, RATE_MAX),
    { "policy_order", F_STRS, OFF(policy_order), 0, 0, 0, 0, 0 },
    { "composite_sub_policy", F_SUBS, OFF(sub), REQ | NONEMPTY, 0, 0, 0, 0 },
    { "rate_allocation", F_ALLOCS, OFF(rate_allocation), 0, 0, 0, 0, 0 },
};

static int fin_latency(struct parser *, struct policy *, const yaml_node_t *, const char *,
                       uint32_t);
static int fin_numeric(struct parser *, struct policy *, const yaml_node_t *, const char *,
                       uint32_t);
static int fin_prob(struct parser *, struct policy *, const yaml_node_t *, const char *, uint32_t);
static int fin_string(struct parser *, struct policy *, const yaml_node_t *, const char *,
                      uint32_t);
static int fin_bytes(struct parser *, struct policy *, const yaml_node_t *, const char *, uint32_t);
static int fin_span_count(struct parser *, struct policy *, const yaml_node_t *, const char *,
                          uint32_t);
static int fin_composite(struct parser *, struct policy *, const yaml_node_t *, const char *,
                         uint32_t);

#define N(a) (sizeof(a) / sizeof((a)[0]))
static const struct tdesc types[T_COUNT] = {
    [T_ALWAYS] = { "always_sample", NULL, 0, 0, NULL },
    [T_LATENCY] = { "latency", f_latency, N(f_latency), 0, fin_latency },
    [T_NUMERIC] = { "numeric_attribute", f_numeric, N(f_numeric), 0, fin_numeric },
    [T_PROB] = { "probabilistic", f_prob, N(f_prob), 0, fin_prob },
    [T_STATUS] = { "status_code", f_status, N(f_status), 0, NULL },
    [T_STRING] = { "string_attribute", f_string, N(f_string), 0, fin_string },
    [T_RATE] = { "rate_limiting", f_rate, N(f_rate), 0, NULL },
    [T_BYTES] = { "bytes_limiting", f_bytes, N(f_bytes), 0, fin_bytes },
    [T_SPAN_COUNT] = { "span_count", f_span_count, N(f_span_count), 0, fin_span_count },
    [T_TRACE_STATE] = { "trace_state", f_trace_state, N(f_trace_state), 0, NULL },
    [T_BOOL] = { "boolean_attribute", f_bool, N(f_bool), 0, NULL },
    [T_AND] = { "and", f_and, N(f_and), LEAF_TYPES, NULL },
    [T_DROP] = { "drop", f_drop, N(f_drop), LEAF_TYPES, NULL },
    [T_COMPOSITE] = { "composite", f_composite, N(f_composite), LEAF_TYPES | 1u << T_AND,
                      fin_composite },
};

/* Status.StatusCode names, by value. */
static const char *const status_names[3] = { "UNSET", "OK", "ERROR" };

/* ---- freeing --------------------------------------------------------------------------------- */

static void strlist_free(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static void policy_free(struct policy *p)
{
    free(p->name);
    free(p->key);
    free(p->hash_salt);
    strlist_free(&p->status_codes);
    strlist_free(&p->values);
    strlist_free(&p->policy_order);
    for (size_t i = 0; i < p->rate_allocation.n; i++)
        free(p->rate_allocation.v[i].policy);
    free(p->rate_allocation.v);
    for (size_t i = 0; i < p->sub.n; i++)
        policy_free(&p->sub.v[i]);
    free(p->sub.v);
    for (size_t i = 0; i < p->n_re; i++)
        regfree(&p->re[i]);
    free(p->re);
}

void lr_dp_tail_policies_free(struct lr_tail_policies *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        policy_free(&p->v[i]);
    free(p->v);
    free(p->order);
    free(p);
}

/* ---- YAML helpers ---------------------------------------------------------------------------- */

static size_t line_of(const yaml_node_t *n)
{
    return n ? n->start_mark.line + 1 : 1;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A plain null: absent value, "~" or null. */
static bool is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
    for (size_t i = 0; i < N(nulls); i++)
        if (strcmp(scalar(n), nulls[i]) == 0)
            return true;
    return false;
}

static void pathf(char out[PATH_LEN], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An error path, cut at PATH_LEN. */
static void pathf(char out[PATH_LEN], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, PATH_LEN, fmt, ap);
    va_end(ap);
}

static int fail(struct parser *P, const yaml_node_t *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct parser *P, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
    char why[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (P->errlen)
        snprintf(P->err, P->errlen, "%zu: %s: %s", line_of(n), path, why);
    errno = EINVAL;
    return -1;
}

static int fail_oom(struct parser *P, const yaml_node_t *n, const char *path)
{
    fail(P, n, path, "out of memory");
    errno = ENOMEM;
    return -1;
}

static yaml_node_t *node(struct parser *P, int id)
{
    return yaml_document_get_node(P->doc, id);
}

/* The value of `key` in mapping `map`, or NULL. */
static const yaml_node_t *map_get(struct parser *P, const yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < map->data.mapping.pairs.top;
         q++) {
        const yaml_node_t *k = node(P, q->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp(scalar(k), key) == 0)
            return node(P, q->value);
    }
    return NULL;
}

/* Every key a scalar, none twice. */
static int check_keys(struct parser *P, const yaml_node_t *map, const char *path)
{
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < map->data.mapping.pairs.top;
         q++) {
        const yaml_node_t *k = node(P, q->key);
        if (!k || k->type != YAML_SCALAR_NODE)
            return fail(P, k ? k : map, path, "keys must be strings");
        for (yaml_node_pair_t *r = map->data.mapping.pairs.start; r < q; r++) {
            const yaml_node_t *e = node(P, r->key);
            if (strcmp(scalar(e), scalar(k)) == 0)
                return fail(P, k, path, "duplicate key '%s'", scalar(k));
        }
    }
    return 0;
}

/* Go's yaml accepts '_' between digits (100_000, as in the Collector's README). */
static int get_i64(struct parser *P, const yaml_node_t *n, const char *path, int64_t *out)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return fail(P, n, path, "expected an integer, got %s",
                    n->type == YAML_SCALAR_NODE ? "a quoted string" : node_kind(n));
    const char *s = scalar(n);
    bool neg = false;
    uint64_t v = 0, lim;
    size_t digits = 0;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        if (*s == '_' && digits && s[1] >= '0' && s[1] <= '9')
            continue;
        if (*s < '0' || *s > '9')
            return fail(P, n, path, "expected an integer, got '%s'", scalar(n));
        unsigned d = (unsigned)(*s - '0');
        if (v > (lim - d) / 10)
            return fail(P, n, path, "'%s' is out of range", scalar(n));
        v = v * 10 + d;
        digits++;
    }
    if (!digits)
        return fail(P, n, path, "expected an integer, got '%s'", scalar(n));
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int get_f64(struct parser *P, const yaml_node_t *n, const char *path, double *out)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return fail(P, n, path, "expected a number, got %s",
                    n->type == YAML_SCALAR_NODE ? "a quoted string" : node_kind(n));
    const char *s = scalar(n);
    char buf[64], *end;
    size_t k = 0;
    for (const char *c = s; *c; c++) {
        if (*c == '_' && c > s && c[-1] >= '0' && c[-1] <= '9' && c[1] >= '0' && c[1] <= '9')
            continue; /* 12_500.5, as for integers */
        if (k + 1 >= sizeof(buf))
            return fail(P, n, path, "expected a number, got '%.40s...'", s);
        buf[k++] = *c;
    }
    buf[k] = '\0';
    double v = strtod(buf, &end);
    if (end == buf || *end || !isfinite(v) || strpbrk(buf, "xXnN"))
        return fail(P, n, path, "expected a number, got '%s'", s);
    *out = v;
    return 0;
}

/* true / false, and yes / no / on / off like the rest of the configuration (any case). */
static int get_bool(struct parser *P, const yaml_node_t *n, const char *path, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        for (size_t i = 0; i < N(yes); i++) {
            if (strcasecmp(scalar(n), yes[i]) == 0 || strcasecmp(scalar(n), no[i]) == 0) {
                *out = strcasecmp(scalar(n), yes[i]) == 0;
                return 0;
            }
        }
    return fail(P, n, path, "expected true or false, got %s",
                n->type == YAML_SCALAR_NODE ? scalar(n) : node_kind(n));
}

static int get_str(struct parser *P, const yaml_node_t *n, const char *path, char **out)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail(P, n, path, "expected a string, got %s",
                    n->type == YAML_SCALAR_NODE ? "null" : node_kind(n));
    if (strlen(scalar(n)) != n->data.scalar.length)
        return fail(P, n, path, "contains a NUL character");
    *out = strdup(scalar(n));
    return *out ? 0 : fail_oom(P, n, path);
}

static int get_strs(struct parser *P, const yaml_node_t *n, const char *path, struct strlist *l,
                    bool status)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(P, n, path, "expected a sequence of strings, got %s", node_kind(n));
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    l->v = calloc(cnt ? cnt : 1, sizeof(*l->v));
    if (!l->v)
        return fail_oom(P, n, path);
    for (size_t i = 0; i < cnt; i++) {
        char ipath[PATH_LEN];
        const yaml_node_t *it = node(P, n->data.sequence.items.start[i]);
        pathf(ipath, "%s[%zu]", path, i);
        if (get_str(P, it, ipath, &l->v[i]) < 0)
            return -1;
        l->n++;
        if (status) {
            size_t c = 0;
            while (c < N(status_names) && strcmp(l->v[i], status_names[c]) != 0)
                c++;
            if (c == N(status_names))
                return fail(P, it, ipath, "unknown status code '%s' (OK, ERROR or UNSET)", l->v[i]);
        }
    }
    return 0;
}

/* ---- regular expressions --------------------------------------------------------------------- */

/* glibc compiles a bounded repetition x{m,n} by copying x (posix/regcomp.c duplicate_tree), so
 * (a{1000}){1000} is a million nodes: a policy set from PUT /sampling must not make the process
 * allocate gigabytes. This estimates the expanded size (atoms times repetition bounds) and lets
 * regcomp see only expressions below REGEX_MAX_COST. */
static bool regex_too_big(const char *re)
{
    double stack[64], sum = 0, atom = 0;
    int depth = 0;
    for (const char *s = re; *s; s++) {
        switch (*s) {
        case '(':
            if (depth == (int)N(stack))
                return true;
            stack[depth++] = sum;
            sum = 0;
            atom = 0;
            continue;
        case ')':
            if (depth == 0) {
                atom = 1;
                sum += 1;
                break;
            }
            atom = sum + 1;
            sum = stack[--depth] + atom;
            break;
        case '[':
            s++;
            if (*s == '^')
                s++;
            if (*s == ']')
                s++;
            while (*s && *s != ']')
                s++;
            if (!*s)
                return false; /* regcomp reports it */
            atom = 1;
            sum += 1;
            break;
        case '\\':
            if (s[1])
                s++;
            atom = 1;
            sum += 1;
            break;
        case '*':
        case '+':
        case '?':
            sum += atom;
            atom *= 2;
            break;
        case '{': {
            char *e;
            unsigned long lo = strtoul(s + 1, &e, 10), hi = lo;
            if (e == s + 1) {
                atom = 1;
                sum += 1;
                break;
            }
            if (*e == ',')
                hi = e[1] == '}' ? lo + 1 : strtoul(e + 1, NULL, 10);
            while (*s && *s != '}')
                s++;
            if (!*s)
                return false;
            double k = (double)(hi > lo ? hi : lo) + 1;
            sum += atom * (k - 1);
            atom *= k;
            break;
        }
        case '|':
            atom = 0;
            sum += 1;
            break;
        default:
            atom = 1;
            sum += 1;
            break;
        }
        double total = sum;
        for (int i = 0; i < depth; i++)
            total += stack[i];
        if (total > REGEX_MAX_COST)
            return true;
    }
    return false;
}

/* POSIX extended regular expressions (regcomp REG_EXTENDED | REG_NOSUB), not Go's RE2: the
 * common syntax (., [], *, +, ?, {m,n}, |, (), ^, $) means the same, but \d \w \s, non-greedy
 * quantifiers, (?i) flags and \pL classes do not exist, and glibc takes back-references. Matching
 * is a search, like Go's MatchString (neither anchors the expression). */
static int regex_compile(struct parser *P, struct policy *p, const yaml_node_t *at,
                         const char *path)
{
    const yaml_node_t *vals = map_get(P, at, "values");
    p->re = calloc(p->values.n, sizeof(*p->re));
    if (!p->re)
        return fail_oom(P, at, path);
    for (size_t i = 0; i < p->values.n; i++) {
        char ipath[PATH_LEN];
        const yaml_node_t *it = vals && vals->type == YAML_SEQUENCE_NODE
                                    ? node(P, vals->data.sequence.items.start[i])
                                    : at;
        pathf(ipath, "%s.values[%zu]", path, i);
        if (strlen(p->values.v[i]) > REGEX_MAX_LEN)
            return fail(P, it, ipath, "regular expression longer than %d bytes", REGEX_MAX_LEN);
        if (regex_too_big(p->values.v[i]))
            return fail(P, it, ipath, "regular expression too large once repetitions expand");
        int rc = regcomp(&p->re[i], p->values.v[i], REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[128];
            regerror(rc, &p->re[i], why, sizeof(why));
            return fail(P, it, ipath, "bad regular expression '%s' (POSIX ERE): %s", p->values.v[i],
                        why);
        }
        p->n_re++;
    }
    return 0;
}

/* ---- finishing (cross-field checks and derived values) --------------------------------------- */

static int fin_latency(struct parser *P, struct policy *p, const yaml_node_t *at, const char *path,
                       uint32_t seen)
{
    (void)seen;
    if (p->upper_threshold_ms != 0 && p->upper_threshold_ms <= p->threshold_ms)
        return fail(P, at, path,
                    "upper_threshold_ms (%" PRId64 ") must be greater than threshold_ms (%" PRId64
                    ")",
                    p->upper_threshold_ms, p->threshold_ms);
    return 0;
}

static int fin_numeric(struct parser *P, struct policy *p, const yaml_node_t *at, const char *path,
                       uint32_t seen)
{
    (void)seen;
    if (p->min_value == 0 && p->max_value == 0)
        return fail(P, at, path,
                    "min_value or max_value must be set to a non-zero value (the Collector "
                    "reads 0 as not set)");
    if (p->min_value != 0 && p->max_value != 0 && p->min_value > p->max_value)
        return fail(P, at, path, "min_value (%" PRId64 ") is greater than max_value (%" PRId64 ")",
                    p->min_value, p->max_value);
    return 0;
}

/* big.Float(MaxUint64) (precision 64) * ratio, rounded to nearest even at 64 bits, then
 * truncated to uint64 (MaxUint64 above it, 0 below 0): calculateThreshold in probabilistic.go. */
static uint64_t prob_threshold(double percentage)
{
    double ratio = percentage / 100;
    if (!(ratio > 0))
        return 0;
    int e;
    double m = frexp(ratio, &e);                              /* ratio = m * 2^e, 0.5 <= m < 1 */
    uint64_t mi = (uint64_t)ldexp(m, 53);                     /* exact */
    e -= 53;                                                  /* ratio = mi * 2^e */
    unsigned __int128 v = (unsigned __int128)UINT64_MAX * mi; /* exact, < 2^117 */
    int bits = 0;
    for (unsigned __int128 x = v; x; x >>= 1)
        bits++;
    if (bits > 64) {
        int s = bits - 64;
        unsigned __int128 rem = v & (((unsigned __int128)1 << s) - 1);
        unsigned __int128 half = (unsigned __int128)1 << (s - 1);
        v >>= s;
        if (rem > half || (rem == half && (v & 1)))
            v++;
        if (v >> 64) {
            v >>= 1;
            s++;
        }
        e += s;
    }
    if (e >= 0) {
        if (e >= 64 || (v << e) >> 64)
            return UINT64_MAX;
        return (uint64_t)(v << e);
    }
    return -e >= 128 ? 0 : (uint64_t)(v >> -e);
}

static int fin_prob(struct parser *P, struct policy *p, const yaml_node_t *at, const char *path,
                    uint32_t seen)
{
    (void)P, (void)at, (void)path, (void)seen;
    p->prob_threshold = prob_threshold(p->sampling_percentage);
    return 0;
}

static int fin_string(struct parser *P, struct policy *p, const yaml_node_t *at, const char *path,
                      uint32_t seen)
{
    (void)seen;
    return p->enabled_regex_matching ? regex_compile(P, p, at, path) : 0;
}

static int64_t ceil_ns(int64_t amount, int64_t per_second)
{
    unsigned __int128 ns =
        ((unsigned __int128)amount * 1000000000u + (uint64_t)per_second - 1) / (uint64_t)per_second;
    return ns > (unsigned __int128)TIME_CAP ? TIME_CAP : (int64_t)ns;
}

static int fin_bytes(struct parser *P, struct policy *p, const yaml_node_t *at, const char *path,
                     uint32_t seen)
{
    (void)P, (void)at, (void)path, (void)seen;
    if (p->burst_capacity == 0)
        p->burst_capacity = 2 * p->bytes_per_second; /* NewBytesLimiting */
    p->burst_ns = ceil_ns(p->burst_capacity, p->bytes_per_second);
    return 0;
}

static int fin_span_count(struct parser *P, struct policy *p, const yaml_node_t *at,
                          const char *path, uint32_t seen)
{
    if (!(seen & 3u))
        return fail(P, at, path, "min_spans or max_spans: required");
    if (p->max_spans != 0 && p->max_spans < p->min_spans)
        return fail(P, at, path, "max_spans (%" PRId64 ") is less than min_spans (%" PRId64 ")",
                    p->max_spans, p->min_spans);
    return 0;
}

static const struct policy *sub_named(const struct policy *p, const char *name)
{
    for (size_t i = 0; i < p->sub.n; i++)
        if (p->sub.v[i].name && strcmp(p->sub.v[i].name, name) == 0)
            return &p->sub.v[i];
    return NULL;
}

/* Unlike the Collector, names in policy_order and rate_allocation must name a sub-policy: the
 * Collector silently gives an unknown name nothing. */
static int fin_composite(struct parser *P, struct policy *p, const yaml_node_t *at,
                         const char *path, uint32_t seen)
{
    (void)seen;
    const yaml_node_t *order = map_get(P, at, "policy_order");
    const yaml_node_t *alloc = map_get(P, at, "rate_allocation");
    for (size_t i = 0; i < p->policy_order.n; i++)
        if (!sub_named(p, p->policy_order.v[i]))
            return fail(P, order ? node(P, order->data.sequence.items.start[i]) : at, path,
                        "policy_order[%zu]: '%s' names no composite_sub_policy", i,
                        p->policy_order.v[i]);
    for (size_t i = 0; i < p->rate_allocation.n; i++)
        if (!sub_named(p, p->rate_allocation.v[i].policy))
            return fail(P, alloc ? node(P, alloc->data.sequence.items.start[i]) : at, path,
                        "rate_allocation[%zu].policy: '%s' names no composite_sub_policy", i,
                        p->rate_allocation.v[i].policy);
    /* getRateAllocationMap: later entries for a name replace earlier ones. */
    double max_total = (double)p->max_total_spans_per_second;
    for (size_t s = 0; s < p->sub.n; s++) {
        struct policy *sp = &p->sub.v[s];
        sp->alloc_sps = 0;
        for (size_t i = 0; sp->name && i < p->rate_allocation.n; i++) {
            const struct alloc_cfg *a = &p->rate_allocation.v[i];
            if (strcmp(a->policy, sp->name) != 0)
                continue;
            sp->alloc_sps = a->percent > 0 ? (int64_t)(a->percent / 100 * max_total)
                                           : (int64_t)(max_total / (double)p->sub.n);
        }
    }
    return 0;
}

/* ---- parsing --------------------------------------------------------------------------------- */

static int parse_policy(struct parser *P, const yaml_node_t *n, struct policy *pol,
                        const char *where, unsigned allowed, bool top, int depth);

static int unique_names(struct parser *P, const struct policy *v, size_t n, const yaml_node_t *seq,
                        const char *path)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; v[i].name && j < i; j++)
            if (v[j].name && strcmp(v[i].name, v[j].name) == 0)
                return fail(P, node(P, seq->data.sequence.items.start[i]), path,
                            "[%zu]: duplicate policy name '%s'", i, v[i].name);
    return 0;
}

static int parse_subs(struct parser *P, const yaml_node_t *n, const char *path, struct subs *s,
                      unsigned allowed, int depth)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(P, n, path, "expected a sequence of policies, got %s", node_kind(n));
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    s->v = calloc(cnt ? cnt : 1, sizeof(*s->v));
    if (!s->v)
        return fail_oom(P, n, path);
    for (size_t i = 0; i < cnt; i++) {
        char ipath[PATH_LEN];
        pathf(ipath, "%s[%zu]", path, i);
        s->n++; /* so that a half-parsed one is freed */
        atomic_init(&s->v[i].bucket_ns, INT64_MIN);
        if (parse_policy(P, node(P, n->data.sequence.items.start[i]), &s->v[i], ipath, allowed,
                         false, depth + 1) < 0)
            return -1;
    }
    return unique_names(P, s->v, s->n, n, path);
}

static int parse_allocs(struct parser *P, const yaml_node_t *n, const char *path, struct allocs *a)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(P, n, path, "expected a sequence of {policy, percent}, got %s", node_kind(n));
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    a->v = calloc(cnt ? cnt : 1, sizeof(*a->v));
    if (!a->v)
        return fail_oom(P, n, path);
    for (size_t i = 0; i < cnt; i++) {
        char ipath[PATH_LEN], kpath[PATH_LEN];
        const yaml_node_t *it = node(P, n->data.sequence.items.start[i]);
        pathf(ipath, "%s[%zu]", path, i);
        if (it->type != YAML_MAPPING_NODE)
            return fail(P, it, ipath, "expected a mapping {policy, percent}, got %s",
                        node_kind(it));
        if (check_keys(P, it, ipath) < 0)
            return -1;
        a->n++;
        bool have_policy = false;
        for (yaml_node_pair_t *q = it->data.mapping.pairs.start; q < it->data.mapping.pairs.top;
             q++) {
            const yaml_node_t *k = node(P, q->key), *v = node(P, q->value);
            pathf(kpath, "%s.%s", ipath, scalar(k));
            if (strcmp(scalar(k), "policy") == 0) {
                if (get_str(P, v, kpath, &a->v[i].policy) < 0)
                    return -1;
                if (!*a->v[i].policy)
                    return fail(P, v, kpath, "must not be empty");
                have_policy = true;
            } else if (strcmp(scalar(k), "percent") == 0) {
                if (is_null(v))
                    continue;
                if (get_f64(P, v, kpath, &a->v[i].percent) < 0)
                    return -1;
                if (!(a->v[i].percent >= 0 && a->v[i].percent <= 100))
                    return fail(P, v, kpath, "%g is out of range (0 to 100)", a->v[i].percent);
            } else {
                return fail(P, k, ipath, "unknown key '%s' (policy, percent)", scalar(k));
            }
        }
        if (!have_policy)
            return fail(P, it, ipath, "policy: required");
    }
    return 0;
}

static int parse_field(struct parser *P, const struct tdesc *d, const struct field *f,
                       const yaml_node_t *v, struct policy *pol, const char *path, int depth)
{
    void *at = (char *)pol + f->off;
    switch (f->kind) {
    case F_I64: {
        int64_t x = 0;
        if (get_i64(P, v, path, &x) < 0)
            return -1;
        if (x < f->min || x > f->max)
            return fail(P, v, path, "%" PRId64 " is out of range (%" PRId64 " to %" PRId64 ")", x,
                        f->min, f->max);
        *(int64_t *)at = x;
        return 0;
    }
    case F_F64: {
        double x = 0;
        if (get_f64(P, v, path, &x) < 0)
            return -1;
        if (!(x >= f->dmin && x <= f->dmax))
            return fail(P, v, path, "%g is out of range (%g to %g)", x, f->dmin, f->dmax);
        *(double *)at = x;
        return 0;
    }
    case F_BOOL:
        return get_bool(P, v, path, (bool *)at);
    case F_STR:
        if (get_str(P, v, path, (char **)at) < 0)
            return -1;
        if ((f->flags & NONEMPTY) && !**(char **)at)
            return fail(P, v, path, "must not be empty");
        return 0;
    case F_STRS:
    case F_STATUS:
        if (get_strs(P, v, path, at, f->kind == F_STATUS) < 0)
            return -1;
        if (f->kind == F_STATUS)
            for (size_t i = 0; i < pol->status_codes.n; i++)
                for (unsigned c = 0; c < N(status_names); c++)
                    if (strcmp(pol->status_codes.v[i], status_names[c]) == 0)
                        pol->status_mask |= 1u << c;
        if ((f->flags & NONEMPTY) && ((struct strlist *)at)->n == 0)
            return fail(P, v, path, "must not be empty");
        return 0;
    case F_SUBS:
        if (parse_subs(P, v, path, at, d->sub_allowed, depth) < 0)
            return -1;
        if (((struct subs *)at)->n == 0)
            return fail(P, v, path, "must not be empty");
        return 0;
    case F_ALLOCS:
        return parse_allocs(P, v, path, at);
    }
    return fail(P, v, path, "internal error");
}

static void list_keys(const struct tdesc *d, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d->nf && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "", d->f[i].name);
}

static int parse_block(struct parser *P, const struct tdesc *d, const yaml_node_t *block,
                       const yaml_node_t *pnode, struct policy *pol, const char *path, int depth)
{
    uint32_t seen = 0;
    char kpath[PATH_LEN], keys[256];
    if (block) {
        if (block->type != YAML_MAPPING_NODE)
            return fail(P, block, path, "expected a mapping, got %s", node_kind(block));
        if (check_keys(P, block, path) < 0)
            return -1;
        for (yaml_node_pair_t *q = block->data.mapping.pairs.start;
             q < block->data.mapping.pairs.top; q++) {
            const yaml_node_t *k = node(P, q->key), *v = node(P, q->value);
            size_t i = 0;
            while (i < d->nf && strcmp(d->f[i].name, scalar(k)) != 0)
                i++;
            if (i == d->nf) {
                list_keys(d, keys, sizeof(keys));
                return fail(P, k, path, "unknown key '%s' (%s takes %s)", scalar(k), d->name, keys);
            }
            if (is_null(v))
                continue;
            seen |= 1u << i;
            pathf(kpath, "%s.%s", path, d->f[i].name);
            if (parse_field(P, d, &d->f[i], v, pol, kpath, depth) < 0)
                return -1;
        }
    }
    for (size_t i = 0; i < d->nf; i++)
        if ((d->f[i].flags & REQ) && !(seen & 1u << i)) {
            pathf(kpath, "%s.%s", path, d->f[i].name);
            return fail(P, block ? block : pnode, kpath, "required");
        }
    return d->finish ? d->finish(P, pol, block ? block : pnode, path, seen) : 0;
}

static int parse_policy(struct parser *P, const yaml_node_t *n, struct policy *pol,
                        const char *where, unsigned allowed, bool top, int depth)
{
    char path[PATH_LEN], bpath[PATH_LEN], supported[320];
    const yaml_node_t *name = NULL, *type = NULL, *block = NULL;

    pathf(path, "%s", where);
    if (depth > MAX_DEPTH)
        return fail(P, n, path, "policies nested more than %d levels deep", MAX_DEPTH);
    if (n->type != YAML_MAPPING_NODE)
        return fail(P, n, path, "expected a policy mapping (name, type, ...), got %s",
                    node_kind(n));
    if (check_keys(P, n, path) < 0)
        return -1;
    name = map_get(P, n, "name");
    type = map_get(P, n, "type");
    if (name && name->type == YAML_SCALAR_NODE && !is_null(name))
        pathf(path, "%s(%s)", where, scalar(name));
    if (is_null(name)) {
        if (top)
            return fail(P, n, path, "name: required");
    } else {
        if (get_str(P, name, path, &pol->name) < 0)
            return -1;
        if (!*pol->name) {
            if (top)
                return fail(P, name, path, "name: must not be empty");
            free(pol->name);
            pol->name = NULL;
        }
    }
    if (is_null(type))
        return fail(P, n, path, "type: required");
    if (type->type != YAML_SCALAR_NODE)
        return fail(P, type, path, "type: expected a string, got %s", node_kind(type));
    size_t t = 0, len = 0;
    while (t < T_COUNT && strcmp(types[t].name, scalar(type)) != 0)
        t++;
    supported[0] = '\0';
    for (size_t i = 0; i < T_COUNT && len < sizeof(supported); i++)
        if (allowed & 1u << i)
            len += (size_t)snprintf(supported + len, sizeof(supported) - len, "%s%s",
                                    len ? ", " : "", types[i].name);
    if (t == T_COUNT)
        return fail(P, type, path, "type: unknown policy type '%s' (supported: %s)", scalar(type),
                    supported);
    if (!(allowed & 1u << t))
        return fail(P, type, path,
                    "type: a '%s' policy is not allowed here (the Collector takes %s here)",
                    scalar(type), supported);
    pol->type = (enum ptype)t;
    const struct tdesc *d = &types[t];
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
        const char *k = scalar(node(P, q->key));
        if (strcmp(k, "name") == 0 || strcmp(k, "type") == 0)
            continue;
        if (d->nf && strcmp(k, d->name) == 0) {
            block = node(P, q->value);
            continue;
        }
        size_t o = 0;
        while (o < T_COUNT && strcmp(types[o].name, k) != 0)
            o++;
        if (o == t)
            return fail(P, node(P, q->key), path, "unknown key '%s' (%s takes no settings)", k,
                        d->name);
        if (o < T_COUNT)
            return fail(P, node(P, q->key), path, "'%s' does not belong to a policy of type '%s'",
                        k, d->name);
        return fail(P, node(P, q->key), path, "unknown key '%s' (name, type%s%s)", k,
                    d->nf ? ", " : "", d->nf ? d->name : "");
    }
    pathf(bpath, "%s.%s", path, d->name);
    if (is_null(block))
        block = NULL;
    return parse_block(P, d, block, n, pol, bpath, depth);
}

/* Drop policies first (loadSamplingPolicies), each group in configuration order. */
static int build_order(struct lr_tail_policies *p)
{
    size_t k = 0;
    p->order = calloc(p->n ? p->n : 1, sizeof(*p->order));
    if (!p->order)
        return -1;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < p->n; i++)
            if ((p->v[i].type == T_DROP) == (pass == 0))
                p->order[k++] = i;
    return 0;
}

struct lr_tail_policies *lr_dp_tail_policies_parse(yaml_document_t *doc, yaml_node_t *seq,
                                                   char *err, size_t errlen)
{
    struct parser P = { doc, err, errlen };
    struct lr_tail_policies *p = NULL;

    if (errlen)
        err[0] = '\0';
    if (!seq || seq->type != YAML_SEQUENCE_NODE) {
        fail(&P, seq, "policies", "expected a sequence of policies, got %s",
             seq ? node_kind(seq) : "nothing");
        return NULL;
    }
    size_t cnt = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (cnt == 0) {
        fail(&P, seq, "policies", "must not be empty");
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (!p || !(p->v = calloc(cnt, sizeof(*p->v))))
        goto oom;
    for (size_t i = 0; i < cnt; i++) {
        char path[PATH_LEN];
        struct policy *pol = &p->v[i];
        pathf(path, "policies[%zu]", i);
        p->n++;
        atomic_init(&pol->bucket_ns, INT64_MIN);
        if (parse_policy(&P, node(&P, seq->data.sequence.items.start[i]), pol, path, ALL_TYPES,
                         true, 1) < 0)
            goto fail;
    }
    if (unique_names(&P, p->v, p->n, seq, "policies") < 0)
        goto fail;
    if (build_order(p) < 0)
        goto oom;
    return p;

oom:
    fail_oom(&P, seq, "policies");
fail : {
    int e = errno;
    lr_dp_tail_policies_free(p);
    errno = e;
    return NULL;
}
}

struct lr_tail_policies *lr_dp_tail_policies_parse_text(const char *text, size_t len, char *err,
                                                        size_t errlen)
{
    yaml_parser_t yp;
    yaml_document_t doc, extra;
    struct parser P = { &doc, err, errlen };
    struct lr_tail_policies *p = NULL;
    int e = EINVAL;

    if (errlen)
        err[0] = '\0';
    if (!yaml_parser_initialize(&yp)) {
        if (errlen)
            snprintf(err, errlen, "1: policies: out of memory");
        errno = ENOMEM;
        return NULL;
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    if (!yaml_parser_load(&yp, &doc)) {
        if (errlen)
            snprintf(err, errlen, "%zu: YAML: %s", yp.problem_mark.line + 1,
                     yp.problem ? yp.problem : "cannot be parsed");
        goto out_parser;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *seq = root;
    if (!root) {
        fail(&P, NULL, "policies", "empty document");
        goto out_doc;
    }
    if (root->type == YAML_MAPPING_NODE) {
        if (check_keys(&P, root, "(root)") < 0)
            goto out_doc;
        for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < root->data.mapping.pairs.top;
             q++)
            if (strcmp(scalar(node(&P, q->key)), "policies") != 0) {
                fail(&P, node(&P, q->key), "(root)", "unknown key '%s' (policies)",
                     scalar(node(&P, q->key)));
                goto out_doc;
            }
        seq = (yaml_node_t *)map_get(&P, root, "policies");
        if (!seq) {
            fail(&P, root, "policies", "required");
            goto out_doc;
        }
    }
    p = lr_dp_tail_policies_parse(&doc, seq, err, errlen);
    if (!p) {
        e = errno;
        goto out_doc;
    }
    if (!yaml_parser_load(&yp, &extra)) {
        if (errlen)
            snprintf(err, errlen, "%zu: YAML: %s", yp.problem_mark.line + 1,
                     yp.problem ? yp.problem : "cannot be parsed");
        goto out_bad;
    }
    if (yaml_document_get_root_node(&extra)) {
        fail(&P, yaml_document_get_root_node(&extra), "(root)", "more than one YAML document");
        yaml_document_delete(&extra);
        goto out_bad;
    }
    yaml_document_delete(&extra);
    goto out_doc;
out_bad:
    lr_dp_tail_policies_free(p);
    p = NULL;
out_doc:
    yaml_document_delete(&doc);
out_parser:
    yaml_parser_delete(&yp);
    if (!p)
        errno = e;
    return p;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

struct jw {
    char *out;
    size_t cap, len;
};

static void jw_put(struct jw *w, const char *s, size_t n)
{
    if (w->len < w->cap) {
        size_t room = w->cap - w->len;
        memcpy(w->out + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static void jw_lit(struct jw *w, const char *s)
{
    jw_put(w, s, strlen(s));
}

/* The decoded code point of the UTF-8 sequence at s (libyaml only hands out valid UTF-8). */
static uint32_t utf8_cp(const unsigned char *s, size_t *n)
{
    if (s[0] < 0xe0 && s[1]) {
        *n = 2;
        return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
    }
    if (s[0] < 0xf0 && s[1] && s[2]) {
        *n = 3;
        return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    }
    if (s[1] && s[2] && s[3]) {
        *n = 4;
        return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
               (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
    }
    *n = 1;
    return 0xfffd;
}

/* A JSON string that libyaml reads back: control characters, the code points YAML does not
 * allow raw (C1 controls, BOM, U+FFFE/FFFF) and YAML 1.1's line breaks beyond ASCII (NEL,
 * U+2028, U+2029: a raw one inside a quoted scalar is folded into a space when read back) are
 * written as \u escapes. */
static void jw_str(struct jw *w, const char *s)
{
    char esc[8];
    jw_put(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\', esc[1] = (char)*p;
            jw_put(w, esc, 2);
            p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            jw_put(w, esc, 6);
            p++;
        } else if (*p < 0x80) {
            jw_put(w, (const char *)p, 1);
            p++;
        } else {
            size_t n;
            uint32_t cp = utf8_cp(p, &n);
            if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff ||
                cp == 0xfffe || cp == 0xffff) {
                snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
                jw_put(w, esc, 6);
            } else {
                jw_put(w, (const char *)p, n);
            }
            p += n;
        }
    }
    jw_put(w, "\"", 1);
}

static void jw_i64(struct jw *w, int64_t v)
{
    char b[32];
    jw_put(w, b, (size_t)snprintf(b, sizeof(b), "%" PRId64, v));
}

/* The shortest of %.15g and %.17g that reads back as the same double. */
static void jw_f64(struct jw *w, double v)
{
    char b[40];
    int n = snprintf(b, sizeof(b), "%.15g", v);
    if (strtod(b, NULL) != v)
        n = snprintf(b, sizeof(b), "%.17g", v);
    jw_put(w, b, (size_t)n);
}

static void jw_strs(struct jw *w, const struct strlist *l)
{
    jw_put(w, "[", 1);
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            jw_put(w, ",", 1);
        jw_str(w, l->v[i]);
    }
    jw_put(w, "]", 1);
}

static void jw_policy(struct jw *w, const struct policy *p)
{
    const struct tdesc *d = &types[p->type];
    jw_lit(w, "{\"name\":");
    jw_str(w, p->name ? p->name : "");
    jw_lit(w, ",\"type\":");
    jw_str(w, d->name);
    if (d->nf) {
        jw_lit(w, ",");
        jw_str(w, d->name);
        jw_lit(w, ":{");
        for (size_t i = 0; i < d->nf; i++) {
            const struct field *f = &d->f[i];
            const void *at = (const char *)p + f->off;
            if (i)
                jw_lit(w, ",");
            jw_str(w, f->name);
            jw_lit(w, ":");
            switch (f->kind) {
            case F_I64:
                jw_i64(w, *(const int64_t *)at);
                break;
            case F_F64:
                jw_f64(w, *(const double *)at);
                break;
            case F_BOOL:
                jw_lit(w, *(const bool *)at ? "true" : "false");
                break;
            case F_STR:
                jw_str(w, *(char *const *)at ? *(char *const *)at : "");
                break;
            case F_STRS:
            case F_STATUS:
                jw_strs(w, at);
                break;
            case F_SUBS: {
                const struct subs *s = at;
                jw_lit(w, "[");
                for (size_t k = 0; k < s->n; k++) {
                    if (k)
                        jw_lit(w, ",");
                    jw_policy(w, &s->v[k]);
                }
                jw_lit(w, "]");
                break;
            }
            case F_ALLOCS: {
                const struct allocs *a = at;
                jw_lit(w, "[");
                for (size_t k = 0; k < a->n; k++) {
                    jw_lit(w, k ? ",{\"policy\":" : "{\"policy\":");
                    jw_str(w, a->v[k].policy);
                    jw_lit(w, ",\"percent\":");
                    jw_f64(w, a->v[k].percent);
                    jw_lit(w, "}");
                }
                jw_lit(w, "]");
                break;
            }
            }
        }
        jw_lit(w, "}");
    }
    jw_lit(w, "}");
}

size_t lr_dp_tail_policies_json(const struct lr_tail_policies *p, char *out, size_t cap)
{
    struct jw w = { out, cap, 0 };
    jw_lit(&w, "[");
    for (size_t i = 0; p && i < p->n; i++) {
        if (i)
            jw_lit(&w, ",");
        jw_policy(&w, &p->v[i]);
    }
    jw_lit(&w, "]");
    if (cap)
        out[w.len < cap ? w.len : cap - 1] = '\0';
    return w.len;
}

/* ---- counters -------------------------------------------------------------------------------- */

size_t lr_dp_tail_policies_count(const struct lr_tail_policies *p)
{
    return p ? p->n : 0;
}

const char *lr_dp_tail_policy_name(const struct lr_tail_policies *p, size_t i)
{
    return p && i < p->n ? p->v[i].name : NULL;
}

void lr_dp_tail_policy_counts(const struct lr_tail_policies *p, size_t i, uint64_t *sampled,
                              uint64_t *not_sampled)
{
    struct policy *pol = p && i < p->n ? &p->v[i] : NULL;
    if (sampled)
        *sampled = pol ? atomic_load_explicit(&pol->n_sampled, memory_order_relaxed) : 0;
    if (not_sampled)
        *not_sampled = pol ? atomic_load_explicit(&pol->n_not_sampled, memory_order_relaxed) : 0;
}

/* ---- the wire: bounds-checked protobuf reading ----------------------------------------------- */

struct fld {
    uint32_t num, wt;
    uint64_t v;       /* VARINT, I64, I32 */
    const uint8_t *p; /* LEN payload */
    size_t len;
};

static bool rd_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (p >= end)
            return false;
        uint8_t b = *p++;
        if (i == 9 && b > 1)
            return false;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *pp = p;
            *v = x;
            return true;
        }
    }
    return false;
}

/* The next field of the message [*pp, end): 1 and *f filled, 0 at the end, -1 when malformed
 * (nothing is read beyond end). */
static int next_field(const uint8_t **pp, const uint8_t *end, struct fld *f)
{
    const uint8_t *p = *pp;
    uint64_t tag, n;
    f->v = 0;
    f->p = NULL;
    f->len = 0;
    if (p >= end)
        return 0;
    if (!rd_varint(&p, end, &tag) || tag > 0xffffffffu)
        return -1;
    f->num = (uint32_t)(tag >> 3);
    f->wt = (uint32_t)(tag & 7);
    if (f->num == 0 || f->num > 0x1fffffff)
        return -1;
    switch (f->wt) {
    case 0:
        if (!rd_varint(&p, end, &f->v))
            return -1;
        break;
    case 1:
        if (end - p < 8)
            return -1;
        f->v = 0;
        for (int i = 7; i >= 0; i--)
            f->v = f->v << 8 | p[i];
        p += 8;
        break;
    case 2:
        if (!rd_varint(&p, end, &n) || n > (uint64_t)(end - p))
            return -1;
        f->p = p;
        f->len = (size_t)n;
        p += n;
        break;
    case 5:
        if (end - p < 4)
            return -1;
        f->v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        p += 4;
        break;
    default: /* groups are not used by OTLP */
        return -1;
    }
    *pp = p;
    return 1;
}

/* Iterates the fields of [p, p + n): for (FIELDS(p, n, f)) ... */
#define FOR_FIELDS(it, end, p, n, f) \
    for (const uint8_t *it = (p), *end = (p) + (n); next_field(&it, end, &(f)) > 0;)

/* The shapes the policies read, checked once per decision. */
enum msg { M_NONE, M_REQ, M_RS, M_RES, M_SS, M_SPAN, M_KV, M_ANY, M_STATUS };

static const struct rule {
    uint8_t msg, num, wt, child;
} rules[] = {
    { M_REQ, 1, 2, M_RS },    { M_RS, 1, 2, M_RES },       { M_RS, 2, 2, M_SS },
    { M_RES, 1, 2, M_KV },    { M_SS, 2, 2, M_SPAN },      { M_SPAN, 1, 2, M_NONE },
    { M_SPAN, 3, 2, M_NONE }, { M_SPAN, 7, 1, M_NONE },    { M_SPAN, 8, 1, M_NONE },
    { M_SPAN, 9, 2, M_KV },   { M_SPAN, 15, 2, M_STATUS }, { M_KV, 1, 2, M_NONE },
    { M_KV, 2, 2, M_ANY },    { M_ANY, 1, 2, M_NONE },     { M_ANY, 2, 0, M_NONE },
    { M_ANY, 3, 0, M_NONE },  { M_ANY, 4, 1, M_NONE },     { M_ANY, 5, 2, M_NONE },
    { M_ANY, 6, 2, M_NONE },  { M_ANY, 7, 2, M_NONE },     { M_STATUS, 3, 0, M_NONE },
};

static bool valid(const uint8_t *p, size_t n, enum msg m)
{
    const uint8_t *end = p + n;
    struct fld f;
    int r;
    while ((r = next_field(&p, end, &f)) > 0) {
        for (size_t i = 0; i < N(rules); i++) {
            if (rules[i].msg != m || rules[i].num != f.num)
                continue;
            if (f.wt != rules[i].wt)
                return false;
            if (rules[i].child != M_NONE && !valid(f.p, f.len, (enum msg)rules[i].child))
                return false;
            break;
        }
    }
    return r == 0;
}

/* ---- reading a trace ------------------------------------------------------------------------- */

struct tctx {
    const uint8_t *body;
    size_t len;
    uint32_t n_spans;
    int64_t now_ns;
    bool bad;     /* the body does not parse: every policy reading it says NotSampled */
    bool has_tid; /* the first span's trace id is empty or 16 bytes */
    uint8_t tid[16];
};

typedef bool (*visit_fn)(void *arg, const uint8_t *p, size_t n);

static bool rs_has_span(const uint8_t *p, size_t n)
{
    struct fld f, g;
    FOR_FIELDS(it, end, p, n, f)
    {
        if (f.num != 2 || f.wt != 2)
            continue;
        FOR_FIELDS(jt, jend, f.p, f.len, g)
        {
            if (g.num == 2 && g.wt == 2)
                return true;
        }
    }
    return false;
}

/* For each ResourceSpans that holds a span, in body order: res(arg, ResourceSpans), then
 * span(arg, Span) for each of its spans in order. True as soon as one returns true. */
static bool visit(const struct tctx *c, visit_fn res, visit_fn span, void *arg)
{
    struct fld f, g, h;
    FOR_FIELDS(it, end, c->body, c->len, f)
    {
        if (f.num != 1 || f.wt != 2 || !rs_has_span(f.p, f.len))
            continue;
        if (res && res(arg, f.p, f.len))
            return true;
        if (!span)
            continue;
        FOR_FIELDS(jt, jend, f.p, f.len, g)
        {
            if (g.num != 2 || g.wt != 2)
                continue;
            FOR_FIELDS(kt, kend, g.p, g.len, h)
            {
                if (h.num == 2 && h.wt == 2 && span(arg, h.p, h.len))
                    return true;
            }
        }
    }
    return false;
}

enum { V_EMPTY, V_STR, V_BOOL, V_INT, V_DOUBLE, V_ARRAY, V_KVLIST, V_BYTES };

struct anyval {
    int type;
    const uint8_t *s;
    size_t n;
    uint64_t u;
};

/* Merges one AnyValue occurrence into v: the last oneof member set wins. */
static void any_merge(const uint8_t *p, size_t n, struct anyval *v)
{
    struct fld f;
    FOR_FIELDS(it, end, p, n, f)
    {
        if (f.num < 1 || f.num > 7)
            continue;
        v->type = (int)f.num; /* V_STR .. V_BYTES follow the field numbers */
        v->s = f.p;
        v->n = f.wt == 2 ? f.len : 0;
        v->u = f.v;
    }
}

/* The first KeyValue among the `num` fields of [p, p + n) whose key is `key` (pcommon Map.Get). */
static bool attr_get(const uint8_t *p, size_t n, uint32_t num, const char *key, size_t klen,
                     struct anyval *out)
{
    struct fld f, g;
    FOR_FIELDS(it, end, p, n, f)
    {
        if (f.num != num || f.wt != 2)
            continue;
        const uint8_t *k = NULL;
        size_t kn = 0;
        FOR_FIELDS(jt, jend, f.p, f.len, g)
        {
            if (g.num == 1 && g.wt == 2)
                k = g.p, kn = g.len;
        }
        if (kn != klen || (klen && memcmp(k, key, klen) != 0))
            continue;
        memset(out, 0, sizeof(*out));
        FOR_FIELDS(jt, jend, f.p, f.len, g)
        {
            if (g.num == 2 && g.wt == 2)
                any_merge(g.p, g.len, out);
        }
        return true;
    }
    return false;
}

/* Resource attributes: every Resource occurrence of the ResourceSpans, merged in order. */
static bool res_attr_get(const uint8_t *rs, size_t n, const char *key, size_t klen,
                         struct anyval *out)
{
    struct fld f;
    FOR_FIELDS(it, end, rs, n, f)
    {
        if (f.num == 1 && f.wt == 2 && attr_get(f.p, f.len, 1, key, klen, out))
            return true;
    }
    return false;
}

/* regexec wants a NUL-terminated string, and sanitizers check it with strlen even under
 * REG_STARTEND, so the value is copied: on the stack when short, else into a heap buffer (a regex
 * policy on values over 512 bytes is rare). REG_STARTEND keeps an embedded NUL an ordinary
 * character, as it is for Go's regexp. */
static bool regex_hit(const regex_t *re, const uint8_t *s, size_t n)
{
    char small[512], *z = small;
    bool hit;
    if (n > 0x7fffffff)
        return false;
    if (n >= sizeof(small) && !(z = malloc(n + 1)))
        return false;
    if (n)
        memcpy(z, s, n);
    z[n] = '\0';
#ifdef REG_STARTEND
    regmatch_t m = { .rm_so = 0, .rm_eo = (regoff_t)n };
    hit = regexec(re, z, 1, &m, REG_STARTEND) == 0;
#else
    hit = regexec(re, z, 0, NULL, 0) == 0;
#endif
    if (z != small)
        free(z);
    return hit;
}

static bool str_match(const struct policy *p, const uint8_t *s, size_t n)
{
    if (p->enabled_regex_matching) {
        for (size_t i = 0; i < p->n_re; i++)
            if (regex_hit(&p->re[i], s, n))
                return true;
        return false;
    }
    for (size_t i = 0; i < p->values.n; i++) {
        size_t vn = strlen(p->values.v[i]);
        if (vn && vn == n && memcmp(p->values.v[i], s, n) == 0)
            return true;
    }
    return false;
}

/* The attribute predicate of string/numeric/boolean_attribute before inversion. */
static bool attr_hit(const struct policy *p, const struct anyval *v, bool span)
{
    switch (p->type) {
    case T_STRING: {
        const uint8_t *s = v->type == V_STR ? v->s : (const uint8_t *)"";
        size_t n = v->type == V_STR ? v->n : 0;
        if (span && n == 0) /* span attributes: only a non-empty Str() is looked at */
            return false;
        return str_match(p, s, n);
    }
    case T_NUMERIC: {
        int64_t x = v->type == V_INT ? (int64_t)v->u : 0;
        int64_t lo = p->min_value ? p->min_value : INT64_MIN;
        int64_t hi = p->max_value ? p->max_value : INT64_MAX;
        return x >= lo && x <= hi;
    }
    case T_BOOL:
        return (v->type == V_BOOL && v->u != 0) == p->value;
    default:
        return false;
    }
}

static bool attr_res_fn(void *arg, const uint8_t *rs, size_t n)
{
    const struct policy *p = arg;
    struct anyval v;
    return res_attr_get(rs, n, p->key, strlen(p->key), &v) && attr_hit(p, &v, false);
}

static bool attr_span_fn(void *arg, const uint8_t *sp, size_t n)
{
    const struct policy *p = arg;
    struct anyval v;
    return attr_get(sp, n, 9, p->key, strlen(p->key), &v) && attr_hit(p, &v, true);
}

struct lat {
    const struct policy *p;
    uint64_t lo, hi;
};

static bool latency_fn(void *arg, const uint8_t *sp, size_t n)
{
    struct lat *L = arg;
    struct fld f;
    uint64_t start = 0, end_ns = 0;
    FOR_FIELDS(it, end, sp, n, f)
    {
        if (f.num == 7 && f.wt == 1)
            start = f.v;
        else if (f.num == 8 && f.wt == 1)
            end_ns = f.v;
    }
    if (L->lo == 0 || start < L->lo)
        L->lo = start;
    if (L->hi == 0 || end_ns > L->hi)
        L->hi = end_ns;
    /* time.Unix(0, int64(ts)): Sub saturates at the int64 range. */
    int64_t d;
    if (__builtin_sub_overflow((int64_t)L->hi, (int64_t)L->lo, &d))
        d = (int64_t)L->hi < (int64_t)L->lo ? INT64_MIN : INT64_MAX;
    int64_t ms = d / 1000000;
    if (L->p->upper_threshold_ms == 0)
        return ms >= L->p->threshold_ms;
    return L->p->threshold_ms < ms && ms <= L->p->upper_threshold_ms;
}

static bool status_fn(void *arg, const uint8_t *sp, size_t n)
{
    const struct policy *p = arg;
    struct fld f, g;
    uint64_t code = 0;
    FOR_FIELDS(it, end, sp, n, f)
    {
        if (f.num != 15 || f.wt != 2)
            continue;
        FOR_FIELDS(jt, jend, f.p, f.len, g)
        {
            if (g.num == 3 && g.wt == 0)
                code = g.v;
        }
    }
    int32_t c = (int32_t)(uint32_t)code; /* an int32 enum: the low 32 bits */
    return c >= 0 && c <= 2 && (p->status_mask >> c & 1);
}

/* ---- W3C tracestate as go.opentelemetry.io/otel/trace ParseTraceState reads it --------------- */

/* utf8.DecodeRuneInString: (U+FFFD, 1) for anything not a valid, shortest UTF-8 sequence. */
static uint32_t go_rune(const uint8_t *s, size_t n, size_t *w)
{
    *w = 1;
    if (s[0] < 0x80)
        return s[0];
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
    if (s[0] < 0xc2 || s[0] > 0xf4 || n < len)
        return 0xfffd;
    uint32_t cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0xfffd;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0xfffd;
    *w = len;
    return cp;
}

static bool ts_alnum(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* checkKeyRemain ranges over runes and tests byte(rune): the low byte of the code point. */
static bool ts_key_remain(const uint8_t *s, size_t n)
{
    for (size_t i = 0, w; i < n; i += w) {
        uint8_t b = (uint8_t)go_rune(s + i, n - i, &w);
        if (!ts_alnum(b) && b != '_' && b != '-' && b != '*' && b != '/')
            return false;
    }
    return true;
}

static bool ts_key_part(const uint8_t *s, size_t n, size_t max_rest)
{
    return n > 0 && n - 1 <= max_rest && s[0] >= 'a' && s[0] <= 'z' && ts_key_remain(s + 1, n - 1);
}

static bool ts_key(const uint8_t *s, size_t n)
{
    const uint8_t *at = memchr(s, '@', n);
    if (!at)
        return ts_key_part(s, n, 255);
    size_t tn = (size_t)(at - s);
    return tn > 0 && ts_alnum(s[0]) && tn - 1 <= 240 && ts_key_remain(s + 1, tn - 1) &&
           ts_key_part(at + 1, n - tn - 1, 13);
}

static bool ts_value(const uint8_t *s, size_t n)
{
    if (n == 0 || n > 256)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c > 0x7e || c == ',' || c == '=' || c < (i + 1 == n ? 0x21 : 0x20))
            return false;
    }
    return true;
}

/* The value of `key` in tracestate [s, s + n): false when absent or when the whole tracestate does
 * not parse (bad member, duplicate key, more than 32 members). */
static bool ts_get(const uint8_t *s, size_t n, const char *key, size_t klen, const uint8_t **vp,
                   size_t *vn)
{
    struct {
        const uint8_t *p;
        size_t n;
    } keys[32];
    size_t members = 0, i = 0;
    bool found = false;
    while (i < n) {
        size_t b = i, e = i;
        while (e < n && s[e] != ',')
            e++;
        i = e < n ? e + 1 : n;
        if (e == b)
            continue;
        const uint8_t *eq = memchr(s + b, '=', e - b);
        if (!eq)
            return false;
        const uint8_t *k = s + b, *v = eq + 1;
        size_t kn = (size_t)(eq - k), vlen = (size_t)(s + e - v);
        while (kn && (*k == ' ' || *k == '\t'))
            k++, kn--;
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        if (!ts_key(k, kn) || !ts_value(v, vlen))
            return false;
        for (size_t j = 0; j < members; j++)
            if (keys[j].n == kn && memcmp(keys[j].p, k, kn) == 0)
                return false;
        if (members == N(keys))
            return false;
        keys[members].p = k;
        keys[members++].n = kn;
        if (!found && kn == klen && memcmp(k, key, kn) == 0) {
            *vp = v;
            *vn = vlen;
            found = true;
        }
    }
    return found;
}

static bool trace_state_fn(void *arg, const uint8_t *sp, size_t n)
{
    const struct policy *p = arg;
    struct fld f;
    const uint8_t *ts = NULL, *v;
    size_t tn = 0, vn, kn = strlen(p->key);
    FOR_FIELDS(it, end, sp, n, f)
    {
        if (f.num == 3 && f.wt == 2)
            ts = f.p, tn = f.len;
    }
    if (!tn || !ts_get(ts, tn, p->key, kn, &v, &vn))
        return false;
    for (size_t i = 0; i < p->values.n; i++) {
        size_t len = strlen(p->values.v[i]);
        if (len && kn + len < 256 && len == vn && memcmp(p->values.v[i], v, vn) == 0)
            return true;
    }
    return false;
}

/* ---- limiting state -------------------------------------------------------------------------- */

/* Per-second span budget: (second, spans) in one word. A different second starts from zero (the
 * Collector resets on any change of second, too). `strict`: rate_limiting admits while the new
 * total stays below the limit, composite while it stays at or below. */
static bool window_take(_Atomic uint64_t *w, int64_t now_ns, uint64_t spans, uint64_t limit,
                        bool strict)
{
    uint64_t sec = (uint64_t)now_ns / 1000000000u & 0xffffffffu;
    uint64_t old = atomic_load_explicit(w, memory_order_relaxed);
    for (;;) {
        uint64_t used = (old >> 32) == sec ? (old & 0xffffffffu) : 0;
        uint64_t next = used + spans;
        if (strict ? next >= limit : next > limit)
            return false;
        if (atomic_compare_exchange_weak_explicit(w, &old, sec << 32 | next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    }
}

/* The token bucket of golang.org/x/time/rate kept as the instant it was (or will be) empty:
 * tokens(now) = min(burst, (now - empty) * rate). Taking n tokens moves that instant by n / rate
 * and is allowed when it stays at or before now, and n <= burst (AllowN). Rounded up to whole ns.
 */
static bool bucket_take(_Atomic int64_t *b, int64_t now_ns, int64_t cost_ns, int64_t burst_ns)
{
    int64_t old = atomic_load_explicit(b, memory_order_relaxed);
    for (;;) {
        int64_t base = old > now_ns - burst_ns ? old : now_ns - burst_ns;
        int64_t next = base + cost_ns;
        if (next > now_ns)
            return false;
        if (atomic_compare_exchange_weak_explicit(b, &old, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    }
}

/* ---- evaluation ------------------------------------------------------------------------------ */

static uint64_t fnv1a64(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static enum decision eval(struct policy *p, const struct tctx *c)
{
    switch (p->type) {
    case T_ALWAYS:
        return D_SAMPLED;
    case T_LATENCY: {
        struct lat L = { p, 0, 0 };
        return !c->bad && visit(c, NULL, latency_fn, &L) ? D_SAMPLED : D_NOT_SAMPLED;
    }
    case T_STATUS:
        return !c->bad && visit(c, NULL, status_fn, p) ? D_SAMPLED : D_NOT_SAMPLED;
    case T_TRACE_STATE:
        return !c->bad && visit(c, NULL, trace_state_fn, p) ? D_SAMPLED : D_NOT_SAMPLED;
    case T_STRING:
    case T_NUMERIC:
    case T_BOOL: {
        if (c->bad)
            return D_NOT_SAMPLED;
        bool hit = visit(c, attr_res_fn, attr_span_fn, p);
        if (!p->invert_match)
            return hit ? D_SAMPLED : D_NOT_SAMPLED;
        return hit ? D_INV_NOT_SAMPLED : D_INV_SAMPLED;
    }
    case T_PROB: {
        if (c->bad || !c->has_tid)
            return D_NOT_SAMPLED;
        const char *salt = p->hash_salt && *p->hash_salt ? p->hash_salt : DEFAULT_HASH_SALT;
        uint64_t h = fnv1a64(14695981039346656037ull, (const uint8_t *)salt, strlen(salt));
        h = fnv1a64(h, c->tid, 16);
        return h <= p->prob_threshold ? D_SAMPLED : D_NOT_SAMPLED;
    }
    case T_SPAN_COUNT: {
        int64_t n = c->n_spans;
        if (p->max_spans == 0)
            return n >= p->min_spans ? D_SAMPLED : D_NOT_SAMPLED;
        return n >= p->min_spans && n <= p->max_spans ? D_SAMPLED : D_NOT_SAMPLED;
    }
    case T_RATE:
        return window_take(&p->window, c->now_ns, c->n_spans, (uint64_t)p->spans_per_second, true)
                   ? D_SAMPLED
                   : D_NOT_SAMPLED;
    case T_BYTES:
        if ((uint64_t)c->len > (uint64_t)p->burst_capacity)
            return D_NOT_SAMPLED;
        return bucket_take(&p->bucket_ns, c->now_ns, ceil_ns((int64_t)c->len, p->bytes_per_second),
                           p->burst_ns)
                   ? D_SAMPLED
                   : D_NOT_SAMPLED;
    case T_AND:
    case T_DROP:
        for (size_t i = 0; i < p->sub.n; i++) {
            enum decision d = eval(&p->sub.v[i], c);
            if (d == D_NOT_SAMPLED || d == D_INV_NOT_SAMPLED)
                return D_NOT_SAMPLED;
        }
        return p->type == T_AND ? D_SAMPLED : D_DROPPED;
    case T_COMPOSITE:
        for (size_t i = 0; i < p->sub.n; i++) {
            struct policy *s = &p->sub.v[i];
            enum decision d = eval(s, c);
            if (d != D_SAMPLED && d != D_INV_SAMPLED)
                continue;
            int64_t lim = s->alloc_sps < p->max_total_spans_per_second
                              ? s->alloc_sps
                              : p->max_total_spans_per_second;
            return lim >= 0 &&
                           window_take(&s->comp_window, c->now_ns, c->n_spans, (uint64_t)lim, false)
                       ? D_SAMPLED
                       : D_NOT_SAMPLED;
        }
        return D_NOT_SAMPLED;
    case T_COUNT:
        break;
    }
    return D_NOT_SAMPLED;
}

/* The first span's trace id (the Collector decides per trace id; an empty one is all zeros). */
static void find_trace_id(struct tctx *c)
{
    struct fld f, g, h, s;
    FOR_FIELDS(it, end, c->body, c->len, f)
    {
        if (f.num != 1 || f.wt != 2)
            continue;
        FOR_FIELDS(jt, jend, f.p, f.len, g)
        {
            if (g.num != 2 || g.wt != 2)
                continue;
            FOR_FIELDS(kt, kend, g.p, g.len, h)
            {
                if (h.num != 2 || h.wt != 2)
                    continue;
                const uint8_t *id = NULL;
                size_t n = 0;
                FOR_FIELDS(lt, lend, h.p, h.len, s)
                {
                    if (s.num == 1 && s.wt == 2)
                        id = s.p, n = s.len;
                }
                memset(c->tid, 0, sizeof(c->tid));
                if (n == 16)
                    memcpy(c->tid, id, 16);
                c->has_tid = n == 0 || n == 16;
                return;
            }
        }
    }
}

bool lr_dp_tail_decide(struct lr_tail_policies *p, const struct lr_tail_trace *t, uint64_t now_ns)
{
    struct tctx c = { 0 };
    bool seen[D_COUNT] = { false };

    if (!p || !t)
        return true;
    static const uint8_t none[1];
    c.body = t->body ? t->body : none; /* never NULL + 0 in the scanners */
    c.len = t->body ? t->len : 0;
    c.n_spans = t->n_spans;
    c.now_ns = now_ns > (uint64_t)TIME_CAP ? TIME_CAP : (int64_t)now_ns;
    c.bad = (!t->body && t->len) || !valid(c.body, c.len, M_REQ);
    if (!c.bad)
        find_trace_id(&c);
    for (size_t k = 0; k < p->n; k++) {
        struct policy *pol = &p->v[p->order[k]];
        enum decision d = eval(pol, &c);
        if (d == D_SAMPLED || d == D_INV_SAMPLED)
            atomic_fetch_add_explicit(&pol->n_sampled, 1, memory_order_relaxed);
        else
            atomic_fetch_add_explicit(&pol->n_not_sampled, 1, memory_order_relaxed);
        seen[d] = true;
        if (d == D_DROPPED) /* makeDecision stops at the first Dropped */
            break;
    }
    if (seen[D_DROPPED] || seen[D_INV_NOT_SAMPLED])
        return false;
    if (seen[D_SAMPLED])
        return true;
    return seen[D_INV_SAMPLED] && !seen[D_NOT_SAMPLED];
}
