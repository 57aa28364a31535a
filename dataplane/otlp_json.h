/* OTLP/HTTP JSON: transcoding request bodies to protobuf, and the JSON answers
 * (dataplane/otlp_json.c).
 *
 * Kafka always carries the protobuf encoding, so an OTLP/HTTP JSON body (the OTLP specification,
 * "JSON Protobuf Encoding") is transcoded once, at ingest, into the serialized
 * Export{Trace,Metrics,Logs}ServiceRequest it stands for. Thread-safe: no global state. */
#ifndef LINERATE_DP_OTLP_JSON_H
#define LINERATE_DP_OTLP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "linerate/otlp.h"

/* Maximum JSON nesting (objects + arrays) the parser accepts. The deepest OTLP path without
 * AnyValue nesting is 9 levels; each nested AnyValue array/kvlist costs 3 more, so this bounds
 * AnyValue nesting at about 18, below LR_OTLP_MAX_DEPTH. */
#define LR_DP_JSON_MAX_DEPTH 64

/* A growable output buffer owned by the caller. Start it zeroed; every call resets len to 0 and
 * reuses the storage, growing it with realloc when needed. Free with lr_dp_json_out_free(). */
struct lr_dp_json_out {
    uint8_t *p;
    size_t len, cap;
};

/* Frees the storage of `out` and zeroes it. Accepts NULL. */
void lr_dp_json_out_free(struct lr_dp_json_out *out);

/* Transcodes `json` (borrows, `len` bytes, need not be NUL-terminated) holding an OTLP/JSON
 * Export{Trace,Metrics,Logs}ServiceRequest of signal `sig` into the serialized protobuf message,
 * written to out->p[0 .. out->len) (out->p is non-NULL after a success, even when len is 0).
 * Returns 0; LR_E_MALFORMED when the body is not valid OTLP/JSON (invalid JSON, a wrong type, an
 * id that is not 32/16 hex characters, bad base64, a number out of range, an unknown enum name,
 * a field given twice, two members of one oneof); LR_E_TOO_LARGE when len > INT_MAX (the JSON
 * parser's limit); -ENOMEM. On every error out->len is 0 and, when errlen > 0, `err` holds a
 * NUL-terminated reason naming the JSON path, e.g.
 * "resourceSpans[0].scopeSpans[1].spans[3].traceId: not 32 hex characters", or the byte offset
 * for a syntax error ("invalid JSON at byte 17: unexpected character"). */
int lr_dp_otlp_json_to_proto(enum lr_signal sig, const uint8_t *json, size_t len,
                             struct lr_dp_json_out *out, char *err, size_t errlen);

/* Writes the OTLP/HTTP JSON success answer for `sig` into `out` (NUL-terminated when cap > 0):
 * `{}` when rejected == 0 and message is NULL, else
 * `{"partialSuccess":{"rejectedSpans":"N","errorMessage":"..."}}` with rejectedDataPoints /
 * rejectedLogRecords for metrics / logs ("rejected..." is left out when 0, errorMessage when
 * NULL; the count is a string, as int64 is in protobuf JSON). `message` is borrowed; invalid UTF-8
 * in it is replaced by U+FFFD. Returns the answer's length without the NUL, like snprintf: when
 * the result is >= cap, `out` holds a truncated, unusable prefix. */
size_t lr_dp_otlp_json_response(char *out, size_t cap, enum lr_signal sig, int64_t rejected,
                                const char *message);

/* Writes a google.rpc.Status in JSON, `{"code":3,"message":"..."}` ("message" left out when
 * NULL), into `out`. Same escaping and return value as lr_dp_otlp_json_response(). */
size_t lr_dp_rpc_status_json(char *out, size_t cap, int code, const char *message);

#endif
