/* Head sampling decisions of the OpenTelemetry Collector's probabilistic sampler processor
 * (contrib processor/probabilisticsamplerprocessor), bit for bit (dataplane/sample.c).
 *
 * Three modes, as the processor's `mode` setting:
 *  - hash_seed: FNV-1a 32 over the 4 seed bytes (little endian) then the 16 trace id bytes; the
 *    low 14 bits are compared with the percentage scaled to 0x4000 buckets in float32 and
 *    truncated (keep when hash < scaled). The Collector also writes `ot=rv:..;th:..` into the
 *    tracestate of kept spans, and refuses (error) spans that already carry rv or th.
 *  - proportional: OTEP 235 consistent probability sampling. Randomness is the low 56 bits of
 *    the trace id (bytes 9..15, big endian) or the tracestate's `ot=rv:` (14 hex digits). The
 *    threshold is computed from incoming probability (from `ot=th:`, 1 when absent) times the
 *    configured ratio, rounded to `precision` hex digits; keep when randomness >= threshold.
 *  - equalizing: the threshold of the configured ratio, or the incoming one when that is larger.
 *
 * Thresholds are rejection thresholds in [0, 2^56]: 0 keeps everything (th "0"), 2^56 keeps
 * nothing (no th). Everything here is pure: no allocation, no global state, thread-safe; all
 * input strings are borrowed for the duration of the call only. */
#ifndef LINERATE_DP_SAMPLE_H
#define LINERATE_DP_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LR_DP_SAMPLE_TH_ALWAYS 0ull         /* threshold that keeps every span */
#define LR_DP_SAMPLE_TH_NEVER (1ull << 56)  /* threshold that keeps no span */
#define LR_DP_SAMPLE_TS_MAX_IN 1024         /* longest tracestate the Collector parses */
#define LR_DP_SAMPLE_TS_MAX_OUT (1024 + 64) /* an output buffer this large always suffices */

/* ---- hash_seed mode ------------------------------------------------------------------------ */

/* The Collector's scaled rate for `percentage` (sampling_percentage): the value is first rounded
 * to float32 (the config field is a float32), values above 100 count as 100, then
 * uint32(pct * float32(0x4000 / 100.0)) in float32 arithmetic, truncated. 0 for 0, negative or NaN
 * percentages (and for percentages too small to reach one bucket: the Collector then never
 * samples). At most 0x4000. */
uint32_t lr_dp_sample_hash_seed_rate(double percentage);

/* The legacy decision: FNV-1a 32 of seed (4 bytes, little endian) || trace_id, low 14 bits
 * < scaled_rate. Does not look at the tracestate (see lr_dp_sample_decide for the full rules). */
bool lr_dp_sample_hash_seed(const uint8_t trace_id[16], uint32_t seed, uint32_t scaled_rate);

/* The 56-bit randomness hash_seed mode derives from the same hash and writes as `ot=rv:`:
 * (0x3fff - h14) << 42 | (u18 ^ u18 << 10) << 14 | h14, where h14 is the low 14 bits of the hash
 * and u18 its high 18 bits. */
uint64_t lr_dp_sample_hash_seed_randomness(const uint8_t trace_id[16], uint32_t seed);

/* ---- thresholds and randomness -------------------------------------------------------------- */

/* sampling.ProbabilityToThresholdWithPrecision: the rejection threshold for `probability`,
 * rounded to `precision` significant hex digits (0 means 14; values outside 1..14 are clamped),
 * with one more digit for every 4 leading zero bits of p or of 1-p. Returns
 * LR_DP_SAMPLE_TH_ALWAYS for 1 and LR_DP_SAMPLE_TH_NEVER when `probability` lies outside
 * [2^-56, 1] or is NaN (the Collector reports an error there; proportional mode then never
 * samples). */
uint64_t lr_dp_sample_threshold(double probability, int precision);

/* Threshold.Probability(): (2^56 - th) / 2^56 in float64. */
double lr_dp_sample_threshold_probability(uint64_t th);

/* Threshold.TValue(): writes the `th` encoding of `th` to out (NUL-terminated): "0" for 0, the 14
 * lowercase hex digits of th with trailing zeros removed otherwise, "" for
 * LR_DP_SAMPLE_TH_NEVER (no th is written for it). Values above 2^56 also give "". Returns the
 * length (0..14). */
size_t lr_dp_sample_th_encode(uint64_t th, char out[15]);

/* TValueToThreshold: parses 1..14 hex digits (either case) of `s` (borrows), shifted left by 4
 * bits per digit short of 14. Returns 0 and sets *th, or LR_E_MALFORMED (empty, too long, not
 * hex). */
int lr_dp_sample_th_parse(const char *s, size_t len, uint64_t *th);

/* RValueToRandomness: exactly 14 hex digits (either case). Returns 0 and sets *rv, or
 * LR_E_MALFORMED. */
int lr_dp_sample_rv_parse(const char *s, size_t len, uint64_t *rv);

/* The W3C randomness of a trace id: bytes 9..15 as a big-endian 56-bit number. */
uint64_t lr_dp_sample_trace_randomness(const uint8_t trace_id[16]);

/* ---- tracestate ----------------------------------------------------------------------------- */

/* What the Collector's sampling.NewW3CTraceState finds in a tracestate. */
struct lr_dp_sample_ts_info {
    bool has_rv, has_th;
    uint64_t rv, th;
};

/* Parses `ts` (borrows; not NUL-terminated; "" is valid) exactly as the Collector does: at most
 * 1024 bytes; W3C list syntax with optional blanks and empty members; keys and values checked
 * (key <= 256, tenant <= 241, system id <= 14, value 1..256 bytes); fewer than 32 members counted
 * with the empty ones (the Collector rejects the 32nd, though W3C allows 32); the last `ot` entry
 * is parsed as `key:value` members joined by ';' (keys [a-z][a-z0-9]*, values [A-Za-z0-9._-]*,
 * at most 256 bytes), its `rv` must be 14 hex digits and its `th` 1..14 hex digits.
 * Returns 0 and fills *info (may be NULL), or LR_E_MALFORMED. */
int lr_dp_sample_ts_parse(const char *ts, size_t len, struct lr_dp_sample_ts_info *info);

/* The tracestate the Collector writes after updating the threshold of a kept span to `th`:
 * `ot=` first (rv as received, then th, then the other `ot` members in order), then every other
 * vendor entry in order, separated by ',' without blanks; empty members are dropped. Like
 * UpdateTValueWithSampling, an incoming th larger than `th` is kept as is (probability never
 * rises), and `th` = LR_DP_SAMPLE_TH_NEVER removes th. Writes into `out` (cap bytes; no NUL).
 * Returns the length; LR_E_MALFORMED when `ts` does not parse (lr_dp_sample_ts_parse; the
 * Collector then leaves the tracestate alone); LR_E_TOO_LARGE when `cap` is too small
 * (LR_DP_SAMPLE_TS_MAX_OUT always suffices). */
ssize_t lr_dp_sample_ts_set_th(const char *ts, size_t len, uint64_t th, char *out, size_t cap);

/* ---- the whole decision --------------------------------------------------------------------- */

enum lr_dp_sample_mode {
    LR_DP_SAMPLE_HASH_SEED = 0, /* what the Collector picks when `mode` is unset */
    LR_DP_SAMPLE_PROPORTIONAL,
    LR_DP_SAMPLE_EQUALIZING,
};

/* The processor's settings. */
struct lr_dp_sample_cfg {
    enum lr_dp_sample_mode mode;
    double percentage; /* sampling_percentage; rounded to float32 as the Collector stores it */
    uint32_t hash_seed;
    int precision;    /* sampling_precision, 1..14 (Collector default 4); 0 means 14 */
    bool fail_closed; /* fail_closed (Collector default true): drop spans with sampling errors */
};

/* A prepared sampler (what makeSampler builds); plain data, caller-owned, copyable. */
struct lr_dp_sampler {
    enum lr_dp_sample_mode mode;
    bool never; /* percentage 0 (or hash_seed rate 0): nothing is sampled */
    bool fail_closed;
    int precision;
    uint32_t hash_seed;
    double ratio;       /* proportional: float64(pct) / 100, at least 2^-56 */
    uint64_t threshold; /* hash_seed / equalizing: the fixed threshold */
};

/* Validates `cfg` like Config.Validate (percentage not NaN/inf, not negative, 0 or at least
 * 2^-56 as a ratio; precision 0..14) and prepares `s`. Returns 0 or -EINVAL. */
int lr_dp_sampler_init(struct lr_dp_sampler *s, const struct lr_dp_sample_cfg *cfg);

/* The OpenTracing "sampling.priority" span attribute, as the processor reads it. */
enum lr_dp_sample_priority {
    LR_DP_SAMPLE_PRIO_DEFER = 0, /* absent, negative or not a number */
    LR_DP_SAMPLE_PRIO_KEEP,      /* > 0: always keep */
    LR_DP_SAMPLE_PRIO_DROP,      /* == 0: always drop */
};

/* Why the Collector logged (and applied fail_closed); the span's fate is in `keep`. */
enum lr_dp_sample_err {
    LR_DP_SAMPLE_OK = 0,
    LR_DP_SAMPLE_ERR_TRACESTATE,   /* the tracestate does not parse */
    LR_DP_SAMPLE_ERR_MISSING_RND,  /* all-zero trace id and no rv */
    LR_DP_SAMPLE_ERR_INCONSISTENT, /* incoming th > randomness: th is erased */
    LR_DP_SAMPLE_ERR_RV_IN_USE,    /* hash_seed mode: the tracestate has rv */
    LR_DP_SAMPLE_ERR_TH_IN_USE,    /* hash_seed mode: the tracestate has th */
};

struct lr_dp_sample_result {
    bool keep;         /* forward the span */
    bool ts_rewritten; /* keep && the Collector rewrites the tracestate: out[0, ts_len) */
    size_t ts_len;
    uint64_t threshold;  /* the threshold the decision used */
    uint64_t randomness; /* the randomness it was compared with */
    enum lr_dp_sample_err err;
};

/* Decides one span as commonShouldSampleLogic does: randomness and incoming threshold from the
 * trace id and `ts` (borrows), the consistency check, fail_closed on errors (drop) or open (keep),
 * then `prio`, then keep when threshold <= randomness. For a kept span whose tracestate parsed,
 * writes the new tracestate into `out` (cap bytes, no NUL) and sets ts_rewritten; otherwise the
 * span keeps its tracestate. Returns 0 with *res filled, or LR_E_TOO_LARGE when the new tracestate
 * does not fit `cap` (res->keep is still valid; LR_DP_SAMPLE_TS_MAX_OUT always suffices).
 * Known difference: with percentage 0, a tracestate that fails to parse and a span still kept
 * (fail open or PRIO_KEEP), the Collector reserializes what it parsed before the error; here the
 * span keeps its tracestate unchanged. */
int lr_dp_sample_decide(const struct lr_dp_sampler *s, const uint8_t trace_id[16], const char *ts,
                        size_t ts_len, enum lr_dp_sample_priority prio, char *out, size_t cap,
                        struct lr_dp_sample_result *res);

#endif
