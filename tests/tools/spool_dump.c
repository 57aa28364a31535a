/* spool_dump: what a spool segment file holds, as the spool's own scanner sees it, for tests
 * that damage segments on purpose and must know which records survive.
 *
 * For each FILE: one line per valid record, "rec SEQ SIGNAL ITEMS BYTES", and for a traces record
 * one line "span HEX" per span id in it (decoded with protobuf-c, independently of linerate's
 * walker); then "valid N of M bytes" and, when the file has damage past the valid prefix,
 * "damage: REASON". With --spans only the "span HEX" lines are printed.
 *
 * Usage: spool_dump [--spans] FILE...
 * Exit status: 0, or 2 when a file cannot be read. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linerate/spool.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    uint8_t *p = malloc(cap);
    while (p) {
        size_t k = fread(p + n, 1, cap - n, f);
        n += k;
        if (n < cap)
            break;
        uint8_t *q = realloc(p, cap *= 2);
        if (!q) {
            free(p);
            p = NULL;
        }
        p = q;
    }
    fclose(f);
    *len = n;
    return p;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void print_spans(const uint8_t *v, size_t len)
{
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len,
                                                                                         v);
    if (!req) {
        printf("undecodable\n");
        return;
    }
    for (size_t r = 0; r < req->n_resource_spans; r++)
        for (size_t s = 0; s < req->resource_spans[r]->n_scope_spans; s++) {
            Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
                req->resource_spans[r]->scope_spans[s];
            for (size_t i = 0; i < ss->n_spans; i++) {
                printf("span ");
                for (size_t b = 0; b < ss->spans[i]->span_id.len; b++)
                    printf("%02x", ss->spans[i]->span_id.data[b]);
                printf("\n");
            }
        }
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req,
                                                                                            NULL);
}

int main(int argc, char **argv)
{
    bool spans_only = false;
    int rc = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--spans") == 0) {
            spans_only = true;
            continue;
        }
        size_t len;
        uint8_t *p = slurp(argv[a], &len);
        if (!p) {
            fprintf(stderr, "spool_dump: %s: %s\n", argv[a], strerror(errno));
            rc = 2;
            continue;
        }
        uint64_t n, first, last;
        char why[256];
        size_t valid = lr_cp_spool_scan(p, len, 0, &n, &first, &last, why, sizeof(why));
        for (size_t off = LR_SPOOL_SEG_HDR; off + LR_SPOOL_REC_HDR <= valid;) {
            const uint8_t *h = p + off;
            uint32_t plen = get32(h + 4);
            unsigned sig = h[12], klen = h[13];
            uint64_t seq = get64(h + 16), items = get64(h + 24);
            if (!spans_only)
                printf("rec %" PRIu64 " %u %" PRIu64 " %u\n", seq, sig, items, plen);
            if (sig == LR_SIG_TRACES)
                print_spans(h + LR_SPOOL_REC_HDR + klen, plen - klen);
            off += LR_SPOOL_REC_HDR + plen;
        }
        if (!spans_only) {
            printf("valid %zu of %zu bytes\n", valid, len);
            if (valid < len)
                printf("damage: %s\n", why);
        }
        free(p);
    }
    return rc;
}
