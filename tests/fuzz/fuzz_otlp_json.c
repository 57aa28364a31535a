/* Fuzz target for lr_dp_otlp_json_to_proto() (dataplane/otlp_json.c).
 *
 * Input: byte 0 picks the signal (mod 3), the rest is an OTLP/JSON body. Whenever the transcoder
 * accepts, its output must unpack with protobuf-c 1.4.1 as the signal's Export*ServiceRequest,
 * every string field (walked through protobuf-c's own descriptors) must be valid UTF-8, and a
 * second transcoding into the reused buffer must give the same bytes, and linerate's own walker
 * (lr_dp_otlp_walk, stricter than protobuf-c) must accept it. A refusal must come with a
 * NUL-terminated, non-empty message. The answer helpers are fed the message too. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/otlp_json.h"
#include "linerate/error.h"
#include "linerate/otlp.h"

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

static const ProtobufCMessageDescriptor *const req_desc[LR_SIG_COUNT] = {
    &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
    &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
    &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
};

/* RFC 3629 UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t j = 2; j <= k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
        i += k + 1;
    }
    return true;
}

/* Checks every string in a decoded message tree. protobuf-c NUL-terminates strings, so an
 * embedded NUL (valid UTF-8) hides the rest; the transcoder copies json-c's validated strings. */
static void check_strings(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t c;
            memcpy(&c, base + f->quantifier_offset, sizeof c);
            if (c != f->id)
                continue;
        }
        size_t n = 1;
        const char *p = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            memcpy(&n, base + f->quantifier_offset, sizeof n);
            memcpy(&p, base + f->offset, sizeof p);
        }
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            for (size_t j = 0; j < n; j++) {
                const char *s;
                memcpy(&s, p + j * sizeof(char *), sizeof s);
                if (s && !utf8_ok((const unsigned char *)s, strlen(s)))
                    abort();
            }
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            for (size_t j = 0; j < n; j++) {
                const ProtobufCMessage *sub;
                memcpy(&sub, p + j * sizeof(void *), sizeof sub);
                if (sub)
                    check_strings(sub);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum lr_signal sig = (enum lr_signal)(data[0] % LR_SIG_COUNT);
    const uint8_t *body = data + 1;
    size_t len = size - 1;

    struct lr_dp_json_out out = { 0 };
    char err[160];
    memset(err, 'x', sizeof err);
    int rc = lr_dp_otlp_json_to_proto(sig, body, len, &out, err, sizeof err);
    if (!memchr(err, 0, sizeof err))
        abort();
    if (rc == 0) {
        ProtobufCMessage *m = protobuf_c_message_unpack(req_desc[sig], NULL, out.len, out.p);
        if (!m)
            abort();
        check_strings(m);
        protobuf_c_message_free_unpacked(m, NULL);
        /* The pipeline walks what we produce (dataplane/otlp_walk.c): it must accept it. */
        struct lr_otlp_view v;
        memset(&v, 0, sizeof v);
        if (!out.p || lr_dp_otlp_walk(sig, out.p, out.len, &v) != 0)
            abort();
        /* Deterministic, and the reused buffer gives the same bytes. */
        uint8_t *copy = malloc(out.len ? out.len : 1);
        if (!copy)
            abort();
        size_t n = out.len;
        if (n)
            memcpy(copy, out.p, n);
        if (lr_dp_otlp_json_to_proto(sig, body, len, &out, err, sizeof err) != 0 || out.len != n ||
            (n && memcmp(copy, out.p, n) != 0))
            abort();
        free(copy);
    } else {
        if (rc != LR_E_MALFORMED || err[0] == '\0' || out.len != 0)
            abort();
        char ans[512];
        size_t a = lr_dp_rpc_status_json(ans, sizeof ans, 3, err);
        if (a < sizeof ans && strlen(ans) != a)
            abort();
        a = lr_dp_otlp_json_response(ans, sizeof ans, sig, 1, err);
        if (a < sizeof ans && strlen(ans) != a)
            abort();
    }
    lr_dp_json_out_free(&out);
    return 0;
}
