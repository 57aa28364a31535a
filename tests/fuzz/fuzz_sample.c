/* Fuzz target for the tracestate parser and rewriter of dataplane/sample.c and the decision that
 * drives them (lr_dp_sample_ts_parse, lr_dp_sample_ts_set_th, lr_dp_sample_decide).
 *
 * Input: byte 0 picks the configuration (mode, percentage, precision, fail_closed, priority),
 * bytes 1..16 are the trace id (zero-padded when short), the rest is the tracestate.
 * Invariants: parse returns 0 or LR_E_MALFORMED and the rewriter fails exactly when parse does; a
 * rewritten tracestate fits LR_DP_SAMPLE_TS_MAX_OUT, parses again (unless the added ot entry or th
 * crosses a limit: 32 members, 256 bytes of ot value, 1024 bytes), keeps rv, carries the new th
 * (or a larger incoming one), and rewriting it again changes nothing; every buffer shorter than
 * the result gives LR_E_TOO_LARGE without writing past it; the decision keeps exactly when
 * threshold <= randomness, only rewrites a tracestate that parsed, and a kept span never carries
 * a th above its randomness. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/sample.h"
#include "linerate/error.h"

#define CHECK(cond)                                                                               \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "fuzz_sample: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

/* A rewritten tracestate may fail to parse again only by a limit the added th crosses: the
 * Collector writes it anyway and would then refuse it itself. The ot entry comes first. */
static bool over_limit(const char *p, size_t n)
{
    size_t members = n ? 1 : 0, ot = 0;
    for (size_t i = 0; i < n; i++)
        members += p[i] == ',';
    if (n > 3 && memcmp(p, "ot=", 3) == 0)
        while (3 + ot < n && p[3 + ot] != ',')
            ot++;
    return members >= 32 || ot > 256 || n > LR_DP_SAMPLE_TS_MAX_IN;
}

static const double pcts[8] = { 0, 0.01, 1, 25, 33.33, 50, 99.99, 100 };
static const int precs[4] = { 1, 3, 4, 14 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t id[16] = { 0 };
    struct lr_dp_sample_ts_info in = { 0 }, got;
    struct lr_dp_sample_cfg cfg = { 0 };
    struct lr_dp_sampler s;
    struct lr_dp_sample_result res, res2;
    static char out[LR_DP_SAMPLE_TS_MAX_OUT], again[LR_DP_SAMPLE_TS_MAX_OUT];
    uint8_t sel;
    const char *ts;
    size_t len;
    int rc;

    if (size < 1)
        return 0;
    sel = data[0];
    memcpy(id, data + 1, size - 1 < 16 ? size - 1 : 16);
    ts = size > 17 ? (const char *)data + 17 : "";
    len = size > 17 ? size - 17 : 0;

    rc = lr_dp_sample_ts_parse(ts, len, &in);
    CHECK(rc == 0 || rc == LR_E_MALFORMED);

    /* The rewriter, with a threshold drawn from the trace id. */
    uint64_t th = lr_dp_sample_trace_randomness(id) >> (sel & 7) * 4;
    if ((sel & 0x38) == 0x38)
        th = LR_DP_SAMPLE_TH_NEVER;
    ssize_t n = lr_dp_sample_ts_set_th(ts, len, th, out, sizeof(out));
    CHECK((n >= 0) == (rc == 0));
    CHECK(n < 0 ? n == LR_E_MALFORMED : (size_t)n <= sizeof(out));
    if (n >= 0 && lr_dp_sample_ts_parse(out, (size_t)n, &got) != 0) {
        CHECK(over_limit(out, (size_t)n));
    } else if (n >= 0) {
        CHECK(got.has_rv == in.has_rv && (!in.has_rv || got.rv == in.rv));
        if (in.has_th && in.th > th)
            CHECK(got.has_th && got.th == in.th);
        else
            CHECK(got.has_th == (th != LR_DP_SAMPLE_TH_NEVER) && (!got.has_th || got.th == th));
        CHECK(lr_dp_sample_ts_set_th(out, (size_t)n, th, again, sizeof(again)) == n);
        CHECK(memcmp(out, again, (size_t)n) == 0);
        if (n > 0) {
            /* A heap buffer of exactly n - 1 bytes: ASan sees any write past it. */
            char *small = malloc((size_t)n - 1 ? (size_t)n - 1 : 1);
            CHECK(small != NULL);
            CHECK(lr_dp_sample_ts_set_th(ts, len, th, small, (size_t)n - 1) == LR_E_TOO_LARGE);
            free(small);
        }
    }

    /* The decision. */
    cfg.mode = (enum lr_dp_sample_mode)(sel % 3);
    cfg.percentage = pcts[(sel >> 2) & 7];
    cfg.precision = precs[(sel >> 5) & 3];
    cfg.fail_closed = (sel & 0x80) != 0;
    cfg.hash_seed = (uint32_t)id[0] * 0x01010101u;
    CHECK(lr_dp_sampler_init(&s, &cfg) == 0);
    enum lr_dp_sample_priority prio = (enum lr_dp_sample_priority)(id[15] % 7 < 3 ? id[15] % 7 : 0);
    CHECK(lr_dp_sample_decide(&s, id, ts, len, prio, out, sizeof(out), &res) == 0);
    CHECK(res.keep == (res.threshold <= res.randomness));
    CHECK(res.randomness < LR_DP_SAMPLE_TH_NEVER && res.threshold <= LR_DP_SAMPLE_TH_NEVER);
    CHECK(!res.ts_rewritten || res.keep);
    CHECK(rc == 0 || (!res.ts_rewritten && res.err == LR_DP_SAMPLE_ERR_TRACESTATE));
    if (prio == LR_DP_SAMPLE_PRIO_DROP)
        CHECK(!res.keep);
    if (prio == LR_DP_SAMPLE_PRIO_KEEP)
        CHECK(res.keep);
    if (res.ts_rewritten) {
        CHECK(res.ts_len <= sizeof(out));
        if (lr_dp_sample_ts_parse(out, res.ts_len, &got) != 0) {
            CHECK(over_limit(out, res.ts_len));
        } else {
            CHECK(!got.has_th || got.th <= res.randomness);
            if (cfg.mode == LR_DP_SAMPLE_HASH_SEED && !s.never)
                CHECK(got.has_rv && got.rv == res.randomness);
        }
    }
    /* Deterministic. */
    CHECK(lr_dp_sample_decide(&s, id, ts, len, prio, again, sizeof(again), &res2) == 0);
    CHECK(res2.keep == res.keep && res2.ts_rewritten == res.ts_rewritten &&
          res2.threshold == res.threshold && res2.err == res.err);
    CHECK(!res.ts_rewritten || (res2.ts_len == res.ts_len && memcmp(out, again, res.ts_len) == 0));
    return 0;
}
