/* Fuzz target for dataplane/tail_policy.c: the policy parser (lr_dp_tail_policies_parse_text),
 * the JSON writer, and lr_dp_tail_decide over arbitrary trace bodies.
 *
 * Input: byte 0 picks the mode (mod 4).
 *  0..2: a fixed policy set (0 and 2 without limiting policies, 1 with rate, bytes and composite
 *        limits); byte 1 is the trace's span count, the rest the trace body (the concatenation of
 *        ExportTraceServiceRequest messages, here any bytes). Invariants: no crash, no read
 *        outside the body (ASan: libFuzzer's buffer ends where the body does), the same decision
 *        twice for sets 0 and 2, and set 2 (a drop that always matches) never keeps a trace.
 *  3:    the rest is policy YAML/JSON (at most 8 KiB). When it parses: its JSON parses again and
 *        writes the same JSON, names and counts agree, and a few fixed bodies are decided with
 *        both sets (the same decisions for sets without limiting policies). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/tail_policy.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_tail_policy: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                                    \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

static const char *const set_text[3] = {
    /* 0: every non-limiting type */
    ("[{name: slow, type: latency, latency: {threshold_ms: 100}},"
     " {name: band, type: latency, latency: {threshold_ms: 1, upper_threshold_ms: 50}},"
     " {name: err, type: status_code, status_code: {status_codes: [ERROR, OK]}},"
     " {name: route, type: string_attribute, string_attribute: {key: http.route,"
     "   values: [/a, /b]}},"
     " {name: rx, type: string_attribute, string_attribute: {key: http.route,"
     "   values: ['^/api/(v[0-9]+)?/', 'x*y$'], enabled_regex_matching: true}},"
     " {name: team, type: string_attribute, string_attribute: {key: team, values: [team_a],"
     "   invert_match: true}},"
     " {name: code, type: numeric_attribute, numeric_attribute: {key: code, min_value: 500}},"
     " {name: dbg, type: boolean_attribute, boolean_attribute: {key: debug, value: true,"
     "   invert_match: true}},"
     " {name: ts, type: trace_state, trace_state: {key: vendor, values: [x, y]}},"
     " {name: prob, type: probabilistic, probabilistic: {sampling_percentage: 25}},"
     " {name: spans, type: span_count, span_count: {min_spans: 2, max_spans: 100}},"
     " {name: both, type: and, and: {and_sub_policy: ["
     "   {name: a, type: status_code, status_code: {status_codes: [UNSET]}},"
     "   {name: b, type: numeric_attribute, numeric_attribute: {key: n, max_value: 5,"
     "    invert_match: true}}]}},"
     " {name: health, type: drop, drop: {drop_sub_policy: ["
     "   {name: h, type: string_attribute, string_attribute: {key: url.path,"
     "    values: [/health]}}]}}]"),
    /* 1: limiting policies */
    ("[{name: rate, type: rate_limiting, rate_limiting: {spans_per_second: 50}},"
     " {name: bytes, type: bytes_limiting, bytes_limiting: {bytes_per_second: 4096,"
     "   burst_capacity: 8192}},"
     " {name: comp, type: composite, composite: {max_total_spans_per_second: 40,"
     "   composite_sub_policy: ["
     "     {name: e, type: status_code, status_code: {status_codes: [ERROR]}},"
     "     {name: s, type: and, and: {and_sub_policy: ["
     "       {type: span_count, span_count: {min_spans: 3}},"
     "       {type: rate_limiting, rate_limiting: {spans_per_second: 20}}]}},"
     "     {name: r, type: always_sample}],"
     "   rate_allocation: [{policy: e, percent: 50}, {policy: r, percent: 0}]}}]"),
    /* 2: only drop-side decisions: this set never keeps a trace */
    ("[{name: never, type: drop, drop: {drop_sub_policy: [{type: always_sample}]}},"
     " {name: lat, type: latency, latency: {threshold_ms: 0}}]"),
};

static struct lr_tail_policies *sets[3];

/* Two concatenated requests: a span with attributes, status and tracestate, then another resource
 * with one span. */
static const uint8_t fixed_body[] = {
    0x0a, 0x4c, 0x0a, 0x0f, 0x0a, 0x0d, 0x0a, 0x04, 0x74, 0x65, 0x61, 0x6d, 0x12, 0x05, 0x0a, 0x03,
    0x74, 0x5f, 0x61, 0x12, 0x39, 0x12, 0x37, 0x0a, 0x10, 0xab, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x12, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05,
    0x06, 0x07, 0x08, 0x1a, 0x08, 0x76, 0x65, 0x6e, 0x64, 0x6f, 0x72, 0x3d, 0x78, 0x2a, 0x02, 0x6f,
    0x70, 0x39, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7a, 0x02, 0x18, 0x02, 0x0a, 0x2d,
    0x12, 0x2b, 0x12, 0x29, 0x0a, 0x10, 0xab, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x12, 0x08, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0x2a, 0x02, 0x6f, 0x70, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    for (int i = 0; i < 3; i++) {
        char err[512];
        sets[i] =
            lr_dp_tail_policies_parse_text(set_text[i], strlen(set_text[i]), err, sizeof(err));
        if (!sets[i]) {
            fprintf(stderr, "fuzz_tail_policy: set %d: %s\n", i, err);
            abort();
        }
    }
    return 0;
}

static bool has_limits(const char *json)
{
    return strstr(json, "\"type\":\"rate_limiting\"") ||
           strstr(json, "\"type\":\"bytes_limiting\"") || strstr(json, "\"type\":\"composite\"");
}

static void yaml_mode(const uint8_t *data, size_t size)
{
    char err[512];
    if (size > 8192)
        return;
    struct lr_tail_policies *p =
        lr_dp_tail_policies_parse_text((const char *)data, size, err, sizeof(err));
    if (!p) {
        CHECK(err[0] >= '0' && err[0] <= '9'); /* "LINE: PATH: REASON" */
        return;
    }
    size_t n = lr_dp_tail_policies_json(p, NULL, 0);
    char *j1 = malloc(n + 1), *j2 = NULL;
    CHECK(j1 != NULL);
    CHECK(lr_dp_tail_policies_json(p, j1, n + 1) == n && strlen(j1) == n);
    struct lr_tail_policies *q = lr_dp_tail_policies_parse_text(j1, n, err, sizeof(err));
    if (!q)
        fprintf(stderr, "fuzz_tail_policy: JSON does not parse back: %s\n%s\n", err, j1);
    CHECK(q != NULL);
    CHECK(lr_dp_tail_policies_json(q, NULL, 0) == n);
    j2 = malloc(n + 1);
    CHECK(j2 != NULL);
    lr_dp_tail_policies_json(q, j2, n + 1);
    CHECK(memcmp(j1, j2, n + 1) == 0);
    CHECK(lr_dp_tail_policies_count(p) == lr_dp_tail_policies_count(q));
    for (size_t i = 0; i < lr_dp_tail_policies_count(p); i++)
        CHECK(strcmp(lr_dp_tail_policy_name(p, i), lr_dp_tail_policy_name(q, i)) == 0);
    bool limits = has_limits(j1);
    for (size_t len = 0; len <= sizeof(fixed_body); len += 23) {
        struct lr_tail_trace t = { fixed_body, len, (uint32_t)len % 5 };
        bool a = lr_dp_tail_decide(p, &t, len * 1000000000ull);
        bool b = lr_dp_tail_decide(q, &t, len * 1000000000ull);
        if (!limits)
            CHECK(a == b);
    }
    free(j1);
    free(j2);
    lr_dp_tail_policies_free(p);
    lr_dp_tail_policies_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t now_ns;
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 4;
    if (mode == 3) {
        yaml_mode(data + 1, size - 1);
        return 0;
    }
    uint32_t n_spans = size > 1 ? data[1] : 0;
    struct lr_tail_trace t = {
        size > 2 ? data + 2 : NULL,
        size > 2 ? size - 2 : 0,
        n_spans,
    };
    now_ns += 7000000; /* the limiting set sees time move */
    bool a = lr_dp_tail_decide(sets[mode], &t, now_ns);
    if (mode != 1)
        CHECK(lr_dp_tail_decide(sets[mode], &t, now_ns) == a);
    if (mode == 2)
        CHECK(!a);
    return 0;
}
