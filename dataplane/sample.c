/* Head sampling compatible with the Collector's probabilistic sampler (dataplane/sample.h).
 *
 * Sources (opentelemetry-collector-contrib, main):
 *  - processor/probabilisticsamplerprocessor/sampler_mode.go: makeSampler (percentage clamping,
 *    float32 scaling for hash_seed, ratio = float64(pct) / 100, minimum 2^-56),
 * randomnessFromBytes, the three decide() methods, consistencyCheck and commonShouldSampleLogic
 * (fail_closed, then priority, then ShouldSample, then UpdateTValueWithSampling + reserialize for
 * kept spans).
 *  - processor/probabilisticsamplerprocessor/fnvhasher.go: FNV-1a 32 over the seed's 4 bytes,
 *    least significant first, then the trace id.
 *  - processor/probabilisticsamplerprocessor/tracesprocessor.go: randomnessFromSpan per mode.
 *  - pkg/sampling/probability.go: ProbabilityToThresholdWithPrecision, Threshold.Probability.
 *  - pkg/sampling/threshold.go, randomness.go: th / rv encodings, ShouldSample (T <= R).
 *  - pkg/sampling/w3ctracestate.go, oteltracestate.go, common.go: the tracestate grammar, limits,
 *    member scanner and Serialize order (ot first: rv, th, extras; then other vendors).
 *
 * Floating point: the Collector computes in IEEE binary64 (and binary32 for the hash_seed rate)
 * without fused operations; C on x86-64/aarch64 with FLT_EVAL_METHOD 0 gives the same results, and
 * nothing here is written so that a compiler may contract a multiply-add. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "linerate/error.h"
#include "sample.h"

#define NUM_HEX_DIGITS 14
#define MAX_ADJ (1ull << 56)
#define ALL_RANDOMNESS (MAX_ADJ - 1) /* sampling.AllProbabilitiesRandomness */
#define HASH_BUCKETS 0x4000u
#define HASH_MASK (HASH_BUCKETS - 1)

/* ---- hash_seed ------------------------------------------------------------------------------- */

static uint32_t fnv1a32(uint32_t seed, const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 4; i++) {
        h ^= (seed >> (8 * i)) & 0xff; /* i32tob: little endian */
        h *= 16777619u;
    }
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

uint32_t lr_dp_sample_hash_seed_rate(double percentage)
{
    float pct = (float)percentage;

    if (!(pct > 0)) /* also NaN */
        return 0;
    if (pct > 100)
        pct = 100;
    /* uint32(pct * percentageScaleFactor): the untyped constant 16384/100 becomes a float32 and
     * the product is rounded to float32 before truncation. */
    float scaled = pct * 163.84f;
    return (uint32_t)scaled;
}

bool lr_dp_sample_hash_seed(const uint8_t trace_id[16], uint32_t seed, uint32_t scaled_rate)
{
    return (fnv1a32(seed, trace_id, 16) & HASH_MASK) < scaled_rate;
}

uint64_t lr_dp_sample_hash_seed_randomness(const uint8_t trace_id[16], uint32_t seed)
{
    uint32_t h32 = fnv1a32(seed, trace_id, 16);
    uint64_t h14 = h32 & HASH_MASK;
    uint64_t u18 = h32 >> 14;
    uint64_t mixed28 = u18 ^ (u18 << 10);
    return ((HASH_BUCKETS - 1 - h14) << 42) | (mixed28 << 14) | h14;
}

/* ---- thresholds ------------------------------------------------------------------------------ */

uint64_t lr_dp_sample_threshold(double p, int precision)
{
    int exp_f, exp_r;

    if (precision <= 0 || precision > NUM_HEX_DIGITS)
        precision = precision == 0 ? NUM_HEX_DIGITS : precision < 0 ? 1 : NUM_HEX_DIGITS;
    if (!(p >= 0x1p-56 && p <= 1)) /* probabilityInRange; NaN fails too */
        return LR_DP_SAMPLE_TH_NEVER;
    if (p == 1)
        return LR_DP_SAMPLE_TH_ALWAYS;

    /* One more digit per 4 leading 0 (or f) bits; Go's integer division truncates like C's. */
    (void)frexp(p, &exp_f);
    (void)frexp(1 - p, &exp_r);
    int a = precision + exp_f / -4, b = precision + exp_r / -4;
    precision = a > b ? a : b;
    if (precision > NUM_HEX_DIGITS)
        precision = NUM_HEX_DIGITS;

    /* math.Round rounds half away from zero, as round() does; p * 2^56 is exact. */
    uint64_t scaled = (uint64_t)round(p * 0x1p56);
    uint64_t th = MAX_ADJ - scaled;
    unsigned shift = 4u * (unsigned)(NUM_HEX_DIGITS - precision);
    if (shift != 0) {
        th += 1ull << (shift - 1);
        th >>= shift;
        th <<= shift;
    }
    return th;
}

double lr_dp_sample_threshold_probability(uint64_t th)
{
    return (double)(MAX_ADJ - th) / (double)MAX_ADJ;
}

static const char hexdig[] = "0123456789abcdef";

size_t lr_dp_sample_th_encode(uint64_t th, char out[15])
{
    size_t n = NUM_HEX_DIGITS;

    if (th == 0) {
        out[0] = '0';
        out[1] = 0;
        return 1;
    }
    if (th >= MAX_ADJ) {
        out[0] = 0;
        return 0;
    }
    for (int i = NUM_HEX_DIGITS - 1; i >= 0; i--, th >>= 4)
        out[i] = hexdig[th & 15];
    while (n > 0 && out[n - 1] == '0')
        n--;
    out[n] = 0;
    return n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* strconv.ParseUint(s, 16, 64) for at most 14 digits: no sign, no prefix, no underscores. */
static int parse_hex(const char *s, size_t len, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        int d = hexval(s[i]);
        if (d < 0)
            return LR_E_MALFORMED;
        x = x << 4 | (uint64_t)d;
    }
    *v = x;
    return 0;
}

int lr_dp_sample_th_parse(const char *s, size_t len, uint64_t *th)
{
    uint64_t v;
    if (len == 0 || len > NUM_HEX_DIGITS || parse_hex(s, len, &v) != 0)
        return LR_E_MALFORMED;
    *th = v << (4 * (NUM_HEX_DIGITS - len));
    return 0;
}

int lr_dp_sample_rv_parse(const char *s, size_t len, uint64_t *rv)
{
    if (len != NUM_HEX_DIGITS)
        return LR_E_MALFORMED;
    return parse_hex(s, len, rv);
}

uint64_t lr_dp_sample_trace_randomness(const uint8_t trace_id[16])
{
    uint64_t r = 0;
    for (int i = 9; i < 16; i++)
        r = r << 8 | trace_id[i];
    return r;
}

/* ---- tracestate parsing ---------------------------------------------------------------------- */

struct span {
    const char *p;
    size_t n;
};

/* One step of keyValueScanner.scanKeyValues: the member up to the next `sep` (or the end).
 * Returns false when the rest is empty, so a trailing separator ends the list. */
static bool next_member(struct span *rest, char sep, struct span *m)
{
    if (rest->n == 0)
        return false;
    const char *e = memchr(rest->p, sep, rest->n);
    m->p = rest->p;
    if (e) {
        m->n = (size_t)(e - rest->p);
        rest->n -= m->n + 1;
        rest->p = e + 1;
    } else {
        m->n = rest->n;
        rest->p += rest->n;
        rest->n = 0;
    }
    return true;
}

static struct span trim_ows(struct span s) /* strings.Trim(s, " \t") */
{
    while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.n--;
    }
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

static bool span_is(struct span s, const char *z)
{
    size_t n = strlen(z);
    return s.n == n && memcmp(s.p, z, n) == 0;
}

/* strings.Cut: splits at the first `c`; false (a = s, b empty) when absent. */
static bool cut(struct span s, char c, struct span *a, struct span *b)
{
    const char *e = s.n ? memchr(s.p, c, s.n) : NULL;
    if (!e) {
        *a = s;
        *b = (struct span){ s.p + s.n, 0 };
        return false;
    }
    *a = (struct span){ s.p, (size_t)(e - s.p) };
    *b = (struct span){ e + 1, s.n - a->n - 1 };
    return true;
}

static bool lc_alpha(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool lc_alnum(char c)
{
    return lc_alpha(c) || (c >= '0' && c <= '9');
}

static bool key_chars(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(lc_alnum(p[i]) || p[i] == '_' || p[i] == '-' || p[i] == '*' || p[i] == '/'))
            return false;
    return true;
}

static bool nblk_chr(unsigned char c)
{
    return (c >= 0x21 && c <= 0x2b) || (c >= 0x2d && c <= 0x3c) || (c >= 0x3e && c <= 0x7e);
}

/* isValidW3CKey (syntax only; sizes are checked while scanning, as in the Collector). */
static bool w3c_key_ok(struct span k)
{
    struct span tenant, system;
    if (k.n == 0)
        return false;
    if (cut(k, '@', &tenant, &system)) {
        if (tenant.n == 0 || system.n == 0 || !lc_alnum(tenant.p[0]) || !lc_alpha(system.p[0]))
            return false;
        return key_chars(tenant.p + 1, tenant.n - 1) && key_chars(system.p + 1, system.n - 1);
    }
    return lc_alpha(k.p[0]) && key_chars(k.p + 1, k.n - 1);
}

static bool w3c_value_ok(struct span v) /* isValidW3CValue */
{
    if (v.n == 0 || v.n > 256 || !nblk_chr((unsigned char)v.p[v.n - 1]))
        return false;
    for (size_t i = 0; i + 1 < v.n; i++)
        if (v.p[i] != ' ' && !nblk_chr((unsigned char)v.p[i]))
            return false;
    return true;
}

static bool otel_value_chr(char c)
{
    return lc_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
}

/* isValidOTelTraceState: non-empty `key:value` members joined by ';'. */
static bool otel_syntax_ok(struct span in)
{
    struct span m, k, v;
    if (in.n == 0 || in.p[in.n - 1] == ';')
        return false;
    while (next_member(&in, ';', &m)) {
        if (!cut(m, ':', &k, &v) || k.n == 0 || !lc_alpha(k.p[0]))
            return false;
        for (size_t i = 1; i < k.n; i++)
            if (!lc_alnum(k.p[i]))
                return false;
        for (size_t i = 0; i < v.n; i++)
            if (!otel_value_chr(v.p[i]))
                return false;
    }
    return true;
}

/* The parsed state: borrowed views into the input. */
struct ts_state {
    struct span in;
    struct span ot; /* value of the last `ot` member; p == NULL when none */
    bool has_rv, has_th;
    uint64_t rv, th;
    struct span rv_s, th_s; /* as received */
};

static int parse_otel(struct span in, struct ts_state *st)
{
    struct span m, k, v;

    st->has_rv = st->has_th = false;
    if (in.n > 256 || !otel_syntax_ok(in))
        return LR_E_MALFORMED;
    while (next_member(&in, ';', &m)) {
        (void)cut(m, ':', &k, &v);
        if (span_is(k, "rv")) {
            if (lr_dp_sample_rv_parse(v.p, v.n, &st->rv) != 0)
                return LR_E_MALFORMED;
            st->has_rv = true;
            st->rv_s = v;
        } else if (span_is(k, "th")) {
            if (lr_dp_sample_th_parse(v.p, v.n, &st->th) != 0)
                return LR_E_MALFORMED;
            st->has_th = true;
            st->th_s = v;
        }
    }
    return 0;
}

/* NewW3CTraceState. Any error fails the whole tracestate, as the Collector's callers treat it. */
static int parse_w3c(const char *ts, size_t len, struct ts_state *st)
{
    struct span rest = { ts, len }, m, k, v, tenant, system;
    int items = 0;

    memset(st, 0, sizeof(*st));
    st->in = rest;
    if (len == 0)
        return 0;
    if (len > LR_DP_SAMPLE_TS_MAX_IN)
        return LR_E_MALFORMED;

    /* isValidW3CTraceState, over the whole input first. */
    while (next_member(&rest, ',', &m)) {
        m = trim_ows(m);
        if (m.n == 0)
            continue;
        if (!cut(m, '=', &k, &v) || !w3c_key_ok(k) || !w3c_value_ok(v))
            return LR_E_MALFORMED;
    }

    rest = st->in;
    while (next_member(&rest, ',', &m)) {
        /* scanKeyValues counts empty members too and stops at the 32nd (items >= maxItems). */
        if (++items >= 32)
            return LR_E_MALFORMED;
        m = trim_ows(m);
        if (m.n == 0)
            continue;
        (void)cut(m, '=', &k, &v);
        if (k.n > 256)
            return LR_E_MALFORMED;
        if (cut(k, '@', &tenant, &system) && (tenant.n > 241 || system.n > 14))
            return LR_E_MALFORMED;
        if (span_is(k, "ot")) {
            st->ot = v;
            if (parse_otel(v, st) != 0)
                return LR_E_MALFORMED;
        }
    }
    return 0;
}

int lr_dp_sample_ts_parse(const char *ts, size_t len, struct lr_dp_sample_ts_info *info)
{
    struct ts_state st;
    int rc = parse_w3c(ts, len, &st);
    if (rc == 0 && info)
        *info = (struct lr_dp_sample_ts_info){ st.has_rv, st.has_th, st.rv, st.th };
    return rc;
}

/* ---- tracestate serialization ---------------------------------------------------------------- */

struct out {
    char *p;
    size_t len, cap;
    bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || n > o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *z)
{
    put(o, z, strlen(z));
}

/* What the span's OTel entry holds after the sampler's changes. */
struct ot_out {
    const char *rv;
    size_t rv_n;
    const char *th;
    size_t th_n;
};

/* W3CTraceState.Serialize after a successful parse of st->in. */
static void serialize(const struct ts_state *st, const struct ot_out *ot, struct out *o)
{
    struct span rest, m, k, v;
    bool extras = false, first = true;

    if (st->ot.p) {
        rest = st->ot;
        while (!extras && next_member(&rest, ';', &m)) {
            (void)cut(m, ':', &k, &v);
            extras = !span_is(k, "rv") && !span_is(k, "th");
        }
    }
    if (ot->rv_n || ot->th_n || extras) {
        int cnt = 0;
        puts_(o, "ot=");
        if (ot->rv_n) {
            puts_(o, "rv:");
            put(o, ot->rv, ot->rv_n);
            cnt++;
        }
        if (ot->th_n) {
            puts_(o, cnt++ ? ";th:" : "th:");
            put(o, ot->th, ot->th_n);
        }
        if (extras) {
            rest = st->ot;
            while (next_member(&rest, ';', &m)) {
                (void)cut(m, ':', &k, &v);
                if (span_is(k, "rv") || span_is(k, "th"))
                    continue;
                if (cnt++)
                    put(o, ";", 1);
                put(o, m.p, m.n);
            }
        }
        first = false;
    }
    rest = st->in;
    while (next_member(&rest, ',', &m)) {
        m = trim_ows(m);
        if (m.n == 0)
            continue;
        (void)cut(m, '=', &k, &v);
        if (span_is(k, "ot"))
            continue;
        if (!first)
            put(o, ",", 1);
        first = false;
        put(o, m.p, m.n);
    }
}

/* UpdateTValueWithSampling, then Serialize. `rv` overrides the received rv when non-NULL.
 * `th_cleared`: ClearTValue ran (inconsistent arriving th). Returns length or LR_E_TOO_LARGE. */
static ssize_t rewrite(const struct ts_state *st, bool th_cleared, const char *rv, uint64_t th,
                       char *buf, size_t cap)
{
    struct ot_out ot = { 0 };
    struct out o = { buf, 0, cap, false };
    char th_s[15];
    bool has_th = st->has_th && !th_cleared;

    if (rv) {
        ot.rv = rv;
        ot.rv_n = NUM_HEX_DIGITS;
    } else if (st->has_rv) {
        ot.rv = st->rv_s.p;
        ot.rv_n = st->rv_s.n;
    }
    if (has_th && st->th > th) {
        /* ErrInconsistentSampling: the th stays as received. */
        ot.th = st->th_s.p;
        ot.th_n = st->th_s.n;
    } else {
        ot.th_n = lr_dp_sample_th_encode(th, th_s);
        ot.th = th_s;
    }
    serialize(st, &ot, &o);
    return o.overflow ? LR_E_TOO_LARGE : (ssize_t)o.len;
}

ssize_t lr_dp_sample_ts_set_th(const char *ts, size_t len, uint64_t th, char *out, size_t cap)
{
    struct ts_state st;
    if (parse_w3c(ts, len, &st) != 0)
        return LR_E_MALFORMED;
    return rewrite(&st, false, NULL, th, out, cap);
}

/* ---- the decision ------------------------------------------------------------------------------
 */

int lr_dp_sampler_init(struct lr_dp_sampler *s, const struct lr_dp_sample_cfg *cfg)
{
    float pct = (float)cfg->percentage;
    double ratio = (double)pct / 100.0;

    /* Config.Validate */
    if (isnan(pct) || isinf(pct) || ratio < 0 || (ratio > 0 && ratio < 0x1p-56))
        return -EINVAL;
    if (cfg->precision < 0 || cfg->precision > NUM_HEX_DIGITS)
        return -EINVAL;
    if (cfg->mode != LR_DP_SAMPLE_HASH_SEED && cfg->mode != LR_DP_SAMPLE_PROPORTIONAL &&
        cfg->mode != LR_DP_SAMPLE_EQUALIZING)
        return -EINVAL;

    /* makeSampler */
    memset(s, 0, sizeof(*s));
    s->mode = cfg->mode;
    s->fail_closed = cfg->fail_closed;
    s->precision = cfg->precision;
    s->hash_seed = cfg->hash_seed;
    if (pct > 100)
        pct = 100;
    if (pct == 0) {
        s->never = true;
        return 0;
    }
    s->ratio = (double)pct / 100;
    if (s->ratio < 0x1p-56)
        s->ratio = 0x1p-56;
    switch (cfg->mode) {
    case LR_DP_SAMPLE_EQUALIZING:
        s->threshold = lr_dp_sample_threshold(s->ratio, s->precision);
        break;
    case LR_DP_SAMPLE_PROPORTIONAL:
        break;
    case LR_DP_SAMPLE_HASH_SEED: {
        uint32_t rate = lr_dp_sample_hash_seed_rate(pct);
        if (rate == 0)
            s->never = true;
        /* The accept rate becomes a reject threshold in the top 14 of 56 bits. */
        s->threshold = (uint64_t)(HASH_BUCKETS - rate) << 42;
        break;
    }
    }
    return 0;
}

static bool id_empty(const uint8_t id[16])
{
    for (int i = 0; i < 16; i++)
        if (id[i])
            return false;
    return true;
}

int lr_dp_sample_decide(const struct lr_dp_sampler *s, const uint8_t trace_id[16], const char *ts,
                        size_t ts_len, enum lr_dp_sample_priority prio, char *out, size_t cap,
                        struct lr_dp_sample_result *res)
{
    struct ts_state st;
    bool parsed = parse_w3c(ts, ts_len, &st) == 0;
    bool carrier = parsed, missing = false, th_cleared = false;
    uint64_t rnd = ALL_RANDOMNESS, th;
    char rv_s[15];
    const char *set_rv = NULL;
    enum lr_dp_sample_err err = parsed ? LR_DP_SAMPLE_OK : LR_DP_SAMPLE_ERR_TRACESTATE;

    memset(res, 0, sizeof(*res));

    /* randomnessFromSpan */
    if (s->never) {
        /* neverSampler: a stand-in randomness that passes the consistency check. The Collector
         * keeps its partly parsed carrier on a parse error; we keep the tracestate as is. */
    } else if (s->mode == LR_DP_SAMPLE_HASH_SEED) {
        missing = id_empty(trace_id);
        if (!missing)
            rnd = lr_dp_sample_hash_seed_randomness(trace_id, s->hash_seed);
        if (!parsed) {
            carrier = false;
        } else if (st.has_rv) {
            err = LR_DP_SAMPLE_ERR_RV_IN_USE;
            carrier = false;
        } else if (st.has_th) {
            err = LR_DP_SAMPLE_ERR_TH_IN_USE;
            carrier = false;
        } else {
            /* setExplicitRandomness: even AllProbabilitiesRandomness for an empty trace id. */
            for (int i = NUM_HEX_DIGITS - 1, j = 0; i >= 0; i--, j++)
                rv_s[i] = hexdig[(rnd >> (4 * j)) & 15];
            rv_s[NUM_HEX_DIGITS] = 0;
            set_rv = rv_s;
        }
    } else if (parsed) {
        if (st.has_rv)
            rnd = st.rv;
        else if (!id_empty(trace_id))
            rnd = lr_dp_sample_trace_randomness(trace_id);
        else
            missing = true;
    }

    /* consistencyCheck */
    if (err == LR_DP_SAMPLE_OK) {
        if (missing) {
            err = LR_DP_SAMPLE_ERR_MISSING_RND;
        } else if (carrier && st.has_th && st.th > rnd) {
            th_cleared = true;
            err = LR_DP_SAMPLE_ERR_INCONSISTENT;
        }
    }

    if (err != LR_DP_SAMPLE_OK) {
        th = s->fail_closed ? LR_DP_SAMPLE_TH_NEVER : LR_DP_SAMPLE_TH_ALWAYS;
    } else if (s->never) {
        th = LR_DP_SAMPLE_TH_NEVER;
    } else if (s->mode == LR_DP_SAMPLE_PROPORTIONAL) {
        double incoming = st.has_th ? lr_dp_sample_threshold_probability(st.th) : 1.0;
        /* An underflow below 2^-56 is a range error: never sample. */
        th = lr_dp_sample_threshold(incoming * s->ratio, s->precision);
    } else if (s->mode == LR_DP_SAMPLE_EQUALIZING && st.has_th && s->threshold < st.th) {
        th = st.th;
    } else {
        th = s->threshold;
    }

    if (prio == LR_DP_SAMPLE_PRIO_DROP)
        th = LR_DP_SAMPLE_TH_NEVER;
    else if (prio == LR_DP_SAMPLE_PRIO_KEEP)
        th = LR_DP_SAMPLE_TH_ALWAYS;

    res->keep = th <= rnd;
    res->threshold = th;
    res->randomness = rnd;
    res->err = err;
    if (res->keep && carrier) {
        ssize_t n = rewrite(&st, th_cleared, set_rv, th, out, cap);
        if (n < 0)
            return (int)n;
        res->ts_rewritten = true;
        res->ts_len = (size_t)n;
    }
    return 0;
}
