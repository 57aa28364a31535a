/* libFuzzer target for the HTTP/1.1 engine (dataplane/http1.c).
 *
 * Input: byte 0 picks the limits and modes (bits 0-1 header bytes, 2-3 header count, 4 no
 * on_headers, 5 small body limit, 6 one feed, 7 unread output), byte 1 seeds the chunk sizes and
 * clock steps, the rest is what the peer sends. The input goes to one connection in chunks of
 * varying size, with ticks on an advancing clock; the output is read in pieces of varying size or
 * left unread (backpressure, with the pause level lowered so pausing and resuming are reached), and
 * all that was sent must be a sequence of well-formed responses. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/http1_internal.h"
#include "linerate/error.h"
#include "linerate/http1.h"

struct fz {
    size_t max_body;
    uint32_t max_headers;
    uint64_t sink;
};

static void touch(struct fz *f, struct lr_slice s)
{
    /* Reads every byte so ASan checks the slice really is readable. */
    for (size_t i = 0; i < s.len; i++)
        f->sink += s.p[i];
}

static void touch_req(struct fz *f, const struct lr_http_req *q)
{
    assert(q->n_headers <= f->max_headers);
    assert(q->path.len <= q->target.len);
    assert(q->version_minor >= 0 && q->version_minor <= 9);
    touch(f, q->method);
    touch(f, q->target);
    touch(f, q->path);
    touch(f, q->content_type);
    touch(f, q->content_encoding);
    for (uint32_t i = 0; i < q->n_headers; i++) {
        assert(q->headers[i].name.len > 0);
        touch(f, q->headers[i].name);
        touch(f, q->headers[i].value);
    }
    touch(f, q->body);
}

static int on_headers(void *ctx, const struct lr_http_req *req, const char **reason)
{
    struct fz *f = ctx;
    touch_req(f, req);
    assert(req->body.len == 0);
    if (req->path.len >= 2 && req->path.p[1] == 'r') {
        static const int errs[] = { LR_E_NOT_FOUND, LR_E_METHOD, LR_E_MEDIA_TYPE, LR_E_TOO_LARGE };
        *reason = "refused";
        return errs[req->path.len % 4];
    }
    return 0;
}

static void on_request(void *ctx, const struct lr_http_req *req, struct lr_http_resp *resp)
{
    struct fz *f = ctx;
    touch_req(f, req);
    assert(req->body.len <= f->max_body);
    resp->status = req->path.len >= 2 && req->path.p[1] == 'n' ? 204 : 200;
    resp->content_type = "application/x-protobuf";
    resp->body = req->body; /* echo: exercises output growth */
    if (req->path.len >= 2 && req->path.p[1] == 'x')
        resp->extra_headers = "Retry-After: 1\r\n";
    resp->close = req->path.len >= 2 && req->path.p[1] == 'c';
}

static void on_error(void *ctx, const struct lr_http_req *req, int err, const char *reason,
                     struct lr_http_resp *resp)
{
    struct fz *f = ctx;
    assert(reason != NULL);
    assert(err < 0);
    if (req)
        touch_req(f, req);
    resp->content_type = "text/plain";
    resp->body = LR_SLICE_LIT("error");
}

/* Everything the transport "sent", checked at the end. */
struct sent {
    uint8_t *p;
    size_t len, cap;
};

static void sent_add(struct sent *s, struct lr_slice o)
{
    if (s->len + o.len > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + o.len)
            cap *= 2;
        uint8_t *p = realloc(s->p, cap);
        assert(p);
        s->p = p;
        s->cap = cap;
    }
    if (o.len)
        memcpy(s->p + s->len, o.p, o.len);
    s->len += o.len;
}

static size_t find(const uint8_t *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, needle, k) == 0)
            return i;
    return SIZE_MAX;
}

/* The output is whole responses, each "HTTP/1.1 " ... CRLF CRLF then Content-Length bytes. */
static void check_output(struct lr_slice o)
{
    size_t i = 0;
    while (i < o.len) {
        const uint8_t *p = o.p + i;
        size_t n = o.len - i;
        assert(n >= 9 && memcmp(p, "HTTP/1.1 ", 9) == 0);
        size_t end = find(p, n, "\r\n\r\n");
        assert(end != SIZE_MAX);
        size_t body = 0;
        size_t cl = find(p, end, "\r\nContent-Length: ");
        if (cl != SIZE_MAX)
            body = strtoul((const char *)p + cl + 18, NULL, 10);
        assert(end + 4 + body <= n);
        i += end + 4 + body;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t cfg = data[0];
    uint64_t rng = ((uint64_t)data[1] << 32) | 0x9e3779b9u;
    data += 2;
    size -= 2;

    struct lr_http1_limits lim = {
        .max_header_bytes = 64 + (size_t)(cfg & 3) * 300,
        .max_headers = 2 + 4 * (uint32_t)((cfg >> 2) & 3),
        .max_body_bytes = (cfg & 0x20) ? 64 : 8192,
        .header_timeout_ns = 1000,
        .idle_timeout_ns = 5000,
        .body_timeout_ns = 2000,
    };
    struct fz f = { .max_body = lim.max_body_bytes, .max_headers = lim.max_headers };
    struct lr_http_handler h = {
        .on_headers = (cfg & 0x10) ? NULL : on_headers,
        .on_request = on_request,
        .on_error = on_error,
        .ctx = &f,
    };
    uint64_t now = 0;
    struct lr_http1_conn *c = lr_http1_conn_new(&lim, &h, now);
    if (!c)
        return 0;

    if (cfg & 0x80)
        lr_http1_conn_set_out_pause(c, 100);
    struct sent out = { 0 };
    size_t pos = 0;
    int rc = 0;
    while (pos < size) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        size_t chunk = (cfg & 0x40) ? size - pos : 1 + (size_t)(rng % 97);
        if (chunk > size - pos)
            chunk = size - pos;
        ssize_t r = lr_http1_conn_feed(c, data + pos, chunk, now);
        pos += chunk;
        if (r < 0) {
            assert(lr_http1_conn_closing(c));
            assert(lr_http1_conn_feed(c, data, size, now) == r);
            rc = (int)r;
            break;
        }
        assert((size_t)r == chunk);
        now += (rng >> 8) % 400;
        if (((rng >> 20) & 3) == 0) {
            rc = lr_http1_conn_tick(c, now);
            if (rc < 0) {
                assert(lr_http1_conn_closing(c));
                break;
            }
        }
        /* Read all, a part, or (a client that does not read) nothing. */
        struct lr_slice o = lr_http1_conn_output(c);
        size_t take = o.len;
        switch ((rng >> 24) & 7) {
        case 0:
            take = (cfg & 0x80) ? 0 : o.len;
            break;
        case 1:
            take = o.len / 2;
            break;
        case 2:
            take = o.len ? (size_t)(rng >> 32) % o.len : 0;
            break;
        default:
            break;
        }
        o.len = take;
        sent_add(&out, o);
        lr_http1_conn_output_consumed(c, take);
    }
    if (rc == 0) {
        if (rng & 1)
            (void)lr_http1_conn_tick(c, now + 10000);
        else
            (void)lr_http1_conn_eof(c);
    }
    for (int i = 0; i < 1000; i++) {
        struct lr_slice o = lr_http1_conn_output(c);
        if (o.len == 0)
            break;
        sent_add(&out, o);
        lr_http1_conn_output_consumed(c, o.len);
    }
    check_output(lr_slice_make(out.p, out.len));
    free(out.p);
    /* The shortest request ("G / HTTP/1.0" CRLF CRLF) is 16 bytes. */
    assert(lr_http1_conn_requests(c) <= size / 16 + 1);
    lr_http1_conn_free(c);
    return 0;
}
