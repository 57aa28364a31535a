/* Tail-sampling policies with the OpenTelemetry Collector's vocabulary (contrib
 * processor/tailsamplingprocessor), parsed from YAML (the config file, or a PUT /sampling body in
 * YAML or JSON) and evaluated over one whole trace (dataplane/tail_policy.c).
 *
 * Policy types: always_sample, latency, status_code, probabilistic, rate_limiting,
 * bytes_limiting, string_attribute (exact and regex), numeric_attribute, boolean_attribute,
 * span_count, trace_state, and, drop, composite. Each policy is a mapping with `name`, `type` and
 * the type's own block, as in the Collector:
 *
 *   - name: errors
 *     type: status_code
 *     status_code: { status_codes: [ERROR] }
 *
 * Semantics follow contrib v0.141 (bytes_limiting added) and later releases; rate_limiting is
 * the per-second span counter of the releases before contrib #48226 (May 2026), which turned it
 * into a token bucket with a burst_capacity. Details and sources: dataplane/tail_policy.c.
 *
 * A policy set is immutable once parsed, except for the state of the limiting policies
 * (rate_limiting, bytes_limiting, composite) and the per-policy decision counters, which are C11
 * atomics: one set is shared by every worker, and lr_dp_tail_decide() may run on several
 * threads at once. */
#ifndef LINERATE_DP_TAIL_POLICY_H
#define LINERATE_DP_TAIL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

struct lr_tail_policies; /* opaque */

/* Parses the YAML sequence node `seq` of document `doc` (borrows both) into a policy set.
 * Returns owned (free with lr_dp_tail_policies_free), or NULL with errno EINVAL (ENOMEM) and `err`
 * set to "LINE: POLICY-PATH: REASON", e.g. "7: policies[1](slow).latency.threshold_ms: expected an
 * integer, got 'soon'": unknown type or key, a key of another type's block, missing or duplicate
 * name, wrong type or out-of-range value, bad or oversized regex, an empty sequence. As in the
 * Collector, and_sub_policy / drop_sub_policy take leaf policies only and composite_sub_policy
 * takes leaf policies and `and` (so policies nest at most three levels). Top-level names are
 * required; names are unique among siblings. Regexes are POSIX extended (regcomp), not RE2.
 * Not supported: ottl_condition, trace_flags, not, extension policies. */
struct lr_tail_policies *lr_dp_tail_policies_parse(yaml_document_t *doc, yaml_node_t *seq,
                                                   char *err, size_t errlen);

/* The same from text (borrows `text`, which need not be NUL-terminated): one YAML or JSON
 * document whose root is either the sequence itself or a mapping with only a `policies` sequence
 * (what GET /sampling writes). A YAML syntax error reads "LINE: YAML: PROBLEM". */
struct lr_tail_policies *lr_dp_tail_policies_parse_text(const char *text, size_t len, char *err,
                                                        size_t errlen);

void lr_dp_tail_policies_free(struct lr_tail_policies *p);

/* Writes the set as JSON (`[{"name":..,"type":..,"<type>":{..}}, ...]`, the shape the parser
 * takes back: parsing it gives an equivalent set and the same JSON) into `out` (cap bytes,
 * NUL-terminated when cap > 0; out may be NULL when cap is 0). Every setting of each policy's type
 * is written, defaults included (burst_capacity as applied). Returns the length the whole text
 * needs (without the NUL), like snprintf. */
size_t lr_dp_tail_policies_json(const struct lr_tail_policies *p, char *out, size_t cap);

/* Top-level policies in configuration order, their names, and how many traces each decided
 * sampled / not sampled so far (the Collector's
 * otelcol_processor_tail_sampling_count_traces_sampled{policy,sampled}: a policy's own decision,
 * Sampled and InvertSampled counting as sampled; a policy that was not evaluated because a drop
 * policy dropped the trace first counts nothing). All three accept NULL (0 policies); the name is
 * NULL for i out of range. Any thread. */
size_t lr_dp_tail_policies_count(const struct lr_tail_policies *p);
const char *lr_dp_tail_policy_name(const struct lr_tail_policies *p, size_t i);
void lr_dp_tail_policy_counts(const struct lr_tail_policies *p, size_t i, uint64_t *sampled,
                              uint64_t *not_sampled);

/* One trace as the tail sampler holds it: `body` is the concatenation of one or more complete,
 * already validated ExportTraceServiceRequest messages (a concatenation of protobuf messages is
 * their merge: the resource_spans of all of them), all spans of one trace id. `len` is the size
 * bytes_limiting charges; `n_spans` is what span_count, rate_limiting and composite count. */
struct lr_tail_trace {
    const uint8_t *body; /* borrows */
    size_t len;
    uint32_t n_spans;
};

/* Decides one trace, as the Collector's makeDecision does (contrib v0.141 and later): the `drop`
 * policies are evaluated first, then the others, each in configuration order, stopping at the
 * first drop policy that matches (later policies, limiters included, are then not evaluated).
 * Then: a Dropped decision drops the trace; else an InvertNotSampled (an invert_match policy whose
 * key/value matched) drops it; else any Sampled keeps it; else an InvertSampled keeps it when no
 * policy said NotSampled; else it is dropped. The body is only read (bounds-checked, never beyond
 * len); a body that does not parse makes every policy that reads it say NotSampled. `now_ns`
 * (CLOCK_MONOTONIC) drives the limiting policies: rate_limiting and composite count spans per
 * whole second of now_ns, bytes_limiting refills its bucket continuously. Updates the per-policy
 * counters. Returns true to keep (also for p == NULL). Thread-safe: limiter state and counters
 * are C11 atomics updated without locks. */
bool lr_dp_tail_decide(struct lr_tail_policies *p, const struct lr_tail_trace *t, uint64_t now_ns);

#endif
