/* The transport-agnostic HTTP/1.1 server engine (include/linerate/http1.h).
 *
 * Shape: lr_http1_conn_feed() runs one parse loop (run()) over a contiguous buffer. When nothing
 * is buffered that buffer is the caller's own chunk (no copy); only the unfinished tail of a
 * request's framing (a partial header block, chunk-size line or trailer line) is copied into
 * `in`. Body bytes go straight from the chunk into the body buffer (or are handed to the handler
 * in place when a Content-Length body is complete in the chunk), through zlib when the request is
 * gzip/deflate/zlib. Bodies in the other codings the Collector accepts (zstd, snappy, lz4) are
 * kept compressed (at most max_body_bytes on the wire) and decoded once complete with
 * lr_dp_codec_decode (dataplane/codec.c), bounded by max_body_bytes as well.
 *
 * The header block is scanned line by line with memchr, resuming where the previous feed stopped
 * (`scan`, `scan_lf`), and parsed positions are kept as offsets from the request start so the
 * block may move between feeds. When a request's body spans feeds the header block is copied once
 * into `hdr` and the request's slices are rebound there.
 *
 * Strictness follows RFC 9112: CRLF only (a bare LF is rejected, §2.2 allows either), no obs-fold
 * (§5.2), no whitespace between field name and colon (§5.1), Content-Length and Transfer-Encoding
 * together are rejected (§6.1, §6.3 rule 3), differing Content-Lengths too (§6.3 rule 5). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "codec.h"
#include "http1_internal.h"
#include "linerate/error.h"
#include "linerate/http1.h"

/* Stop parsing further pipelined requests while this much output is unsent: a client that sends
 * but never reads must not make us queue responses without bound. */
#define OUT_PAUSE_BYTES ((size_t)1 << 20)
/* Buffers that grew past this are freed once their request is done, so one large request does not
 * pin memory on a long-lived keep-alive connection. */
#define SHRINK_BYTES ((size_t)1 << 20)
/* A chunk-size line with its extensions (RFC 9112 §7.1.1); extensions are ignored anyway. */
#define CHUNK_LINE_MAX 4096
/* Input kept while paused: one full request of each limit, plus framing slack. */
#define PAUSE_SLACK_BYTES ((size_t)64 << 10)
#define BODY_MIN_ALLOC ((size_t)4096)
/* Named in the 415 answer to an unsupported Content-Encoding. */
#define ACCEPTED_CODINGS "accepted: gzip, deflate, zlib, zstd, snappy, lz4"
/* How much of the refused coding's name the reason repeats. */
#define REASON_TOKEN_MAX 40

enum state {
    ST_HEAD,       /* request line and header fields */
    ST_BODY_CL,    /* Content-Length body, `left` bytes to go */
    ST_CHUNK_SIZE, /* chunk-size line */
    ST_CHUNK_DATA, /* chunk data, `left` bytes to go */
    ST_CHUNK_CRLF, /* CRLF after chunk data */
    ST_TRAILER,    /* trailer section after the last chunk */
    ST_DISCARD,    /* the body of a refused request, `left` bytes to skip */
};

/* COD_BUFFERED: kept compressed until the body is complete, then decoded with `codec`. */
enum coding { COD_IDENTITY, COD_GZIP, COD_DEFLATE, COD_BUFFERED, COD_UNKNOWN };

struct span {
    uint32_t off, len;
};

struct hspan {
    struct span name, value;
};

/* Everything about the request being parsed; zeroed at each request start. */
struct reqstate {
    size_t scan;    /* offset of the next header line to parse */
    size_t scan_lf; /* memchr for the next LF resumes here */
    size_t lead;    /* bytes of empty lines before the request line (RFC 9112 §2.2) */
    size_t blk_len; /* header block length once complete */
    bool started;   /* at least one byte of this request arrived */
    bool have_line; /* request line parsed */
    bool hdr_saved; /* the header block lives in c->hdr */
    bool has_cl;
    bool te_seen, te_unknown, te_bad;
    uint32_t te_chunked; /* how many times chunked was listed */
    bool te_last_chunked;
    bool conn_close, conn_keep;
    bool expect_continue;
    uint32_t host_count, ce_count;
    bool ct_seen;
    int minor;
    uint64_t cl;
    uint32_t n_headers;
    struct span method, target, path, ctype, cenc;
    enum coding coding;
    enum lr_dp_codec codec; /* COD_BUFFERED */
    uint64_t left;          /* body bytes or chunk bytes still to come */
    uint64_t wire_bytes;    /* body bytes as received (before decompression) */
    size_t trailer_bytes;
    uint8_t crlf_got; /* bytes of a chunk's trailing CRLF seen */
    bool z_end;       /* inflate reached the end of the stream */
    uint8_t zhead[2]; /* deflate: first bytes, to tell zlib-wrapped from raw */
    uint8_t zhead_len;
    bool z_ready;            /* inflate initialised for this request */
    const uint8_t *body_ref; /* body handed over in place (Content-Length, complete in one feed) */
};

struct lr_http1_conn {
    struct lr_http1_limits lim;
    struct lr_http_handler h;
    uint64_t now_ns, last_active_ns, req_start_ns, body_progress_ns;
    uint64_t requests;
    enum state st;
    int close_err; /* why we close (feed's negative return) */
    bool closing, paused, peer_eof;

    uint8_t *in; /* unparsed input; in[0] is the start of what run() has not consumed */
    size_t in_len, in_cap;
    size_t in_window; /* most `in` holds while not paused */

    struct reqstate r;
    struct hspan *hspans;
    struct lr_http_header *headers;
    struct lr_http_req req;
    uint8_t *hdr; /* header block of a request whose body spans feeds */
    size_t hdr_cap;

    uint8_t *body;
    size_t body_len, body_cap;
    z_stream *zs;
    size_t z_mem, mem_peak;
    struct lr_dp_buf dec; /* decoded body of a COD_BUFFERED request */
    char reason[sizeof("unsupported Content-Encoding \"\"; " ACCEPTED_CODINGS) + REASON_TOKEN_MAX +
                3];

    uint8_t *out;
    size_t out_off, out_len, out_cap;
    size_t out_pause_bytes; /* OUT_PAUSE_BYTES; tests lower it */
};

/* ---- character classes (RFC 9110 §5.6.2 token, §5.5 field-value) --------------------------- */

/* tchar (RFC 9110 §5.6.2) */
static const uint8_t tchar[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* field-value octets: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5) */
static const uint8_t fvchar[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* ASCII lowercase */
static const uint8_t lower[256] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
    0x40, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
    0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
    0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
    0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
};

static bool ieq(const uint8_t *a, size_t n, const char *lit, size_t litn)
{
    if (n != litn)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower[a[i]] != (uint8_t)lit[i])
            return false;
    return true;
}

#define IEQ(p, n, lit) ieq((p), (n), lit, sizeof(lit) - 1)

/* Time since `since`; a clock that stepped back counts as no time. */
static uint64_t elapsed(uint64_t now, uint64_t since)
{
    return now > since ? now - since : 0;
}

static bool ows(uint8_t ch)
{
    return ch == ' ' || ch == '\t';
}

static struct span span_trim(const uint8_t *b, size_t off, size_t end)
{
    while (off < end && ows(b[off]))
        off++;
    while (end > off && ows(b[end - 1]))
        end--;
    return (struct span){ (uint32_t)off, (uint32_t)(end - off) };
}

static struct lr_slice sl(const uint8_t *base, struct span s)
{
    return (struct lr_slice){ base + s.off, s.len };
}

/* ---- memory ---------------------------------------------------------------------------------- */

static size_t mem_now(const struct lr_http1_conn *c)
{
    return c->in_cap + c->hdr_cap + c->body_cap + c->out_cap + c->z_mem + c->dec.cap;
}

static void mem_note(struct lr_http1_conn *c)
{
    size_t m = mem_now(c);
    if (m > c->mem_peak)
        c->mem_peak = m;
}

/* Grows *buf to hold at least `need` bytes, doubling, never past `max`. */
static bool grow(struct lr_http1_conn *c, uint8_t **buf, size_t *cap, size_t need, size_t max)
{
    if (need <= *cap)
        return true;
    if (need > max)
        return false;
    size_t n = *cap ? *cap : BODY_MIN_ALLOC;
    while (n < need)
        n = n > SIZE_MAX / 2 ? SIZE_MAX : n * 2;
    if (n > max)
        n = max;
    uint8_t *p = realloc(*buf, n);
    if (!p)
        return false;
    *buf = p;
    *cap = n;
    mem_note(c);
    return true;
}

/* zlib allocations are counted so the bomb test can see the whole footprint. */
static voidpf zalloc_count(voidpf opaque, uInt items, uInt size)
{
    struct lr_http1_conn *c = opaque;
    size_t n = (size_t)items * size;
    size_t *p = malloc(n + sizeof(max_align_t));
    if (!p)
        return Z_NULL;
    p[0] = n;
    c->z_mem += n;
    mem_note(c);
    return (uint8_t *)p + sizeof(max_align_t);
}

static void zfree_count(voidpf opaque, voidpf addr)
{
    struct lr_http1_conn *c = opaque;
    if (!addr)
        return;
    size_t *p = (size_t *)(void *)((uint8_t *)addr - sizeof(max_align_t));
    c->z_mem -= p[0];
    free(p);
}

/* ---- output ---------------------------------------------------------------------------------- */

static size_t out_pending(const struct lr_http1_conn *c)
{
    return c->out_len - c->out_off;
}

static uint8_t *out_reserve(struct lr_http1_conn *c, size_t n)
{
    if (c->out_cap - c->out_len >= n)
        return c->out + c->out_len;
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_cap - c->out_len >= n)
            return c->out + c->out_len;
    }
    if (n > SIZE_MAX / 2 - c->out_len)
        return NULL;
    if (!grow(c, &c->out, &c->out_cap, c->out_len + n, SIZE_MAX))
        return NULL;
    return c->out + c->out_len;
}

static char *put(char *w, const char *s, size_t n)
{
    memcpy(w, s, n);
    return w + n;
}

#define PUT(w, lit) put((w), lit, sizeof(lit) - 1)

static char *put_u64(char *w, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *w++ = tmp[--n];
    return w;
}

/* RFC 9110 §15 reason phrases; the phrase is optional on the wire (RFC 9112 §4), so an unknown
 * status gets an empty one. */
static const char *reason_phrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

static void set_closing(struct lr_http1_conn *c, int err)
{
    if (!c->closing) {
        c->closing = true;
        c->close_err = err;
    }
}

/* Queues one response. `minor` is the request's HTTP/1.x minor version (0 → say keep-alive
 * explicitly, RFC 9112 §9.3). */
static void queue_resp(struct lr_http1_conn *c, const struct lr_http_resp *resp, int minor,
                       bool close)
{
    int status = resp->status;
    if (status < 100 || status > 999)
        status = 500;
    const char *rp = reason_phrase(status);
    size_t rp_len = strlen(rp);
    size_t ct_len = resp->content_type ? strlen(resp->content_type) : 0;
    size_t ex_len = resp->extra_headers ? strlen(resp->extra_headers) : 0;
    /* RFC 9110 §8.6: no Content-Length (and no content) in 1xx, 204 and 304 responses. */
    bool no_body = status < 200 || status == 204 || status == 304;
    size_t body_len = no_body ? 0 : resp->body.len;
    if (body_len && !resp->body.p)
        body_len = 0;
    size_t need = 64 + rp_len + 40 + ct_len + 16 + ex_len + 32 + body_len;
    char *w0 = (char *)out_reserve(c, need);
    if (!w0) {
        set_closing(c, LR_E_INTERNAL);
        return;
    }
    char *w = PUT(w0, "HTTP/1.1 ");
    w = put_u64(w, (uint64_t)status);
    *w++ = ' ';
    w = put(w, rp, rp_len);
    w = PUT(w, "\r\n");
    if (!no_body) {
        w = PUT(w, "Content-Length: ");
        w = put_u64(w, body_len);
        w = PUT(w, "\r\n");
    }
    if (ct_len) {
        w = PUT(w, "Content-Type: ");
        w = put(w, resp->content_type, ct_len);
        w = PUT(w, "\r\n");
    }
    if (ex_len)
        w = put(w, resp->extra_headers, ex_len);
    if (close)
        w = PUT(w, "Connection: close\r\n");
    else if (minor == 0)
        w = PUT(w, "Connection: keep-alive\r\n");
    w = PUT(w, "\r\n");
    if (body_len)
        w = put(w, (const char *)resp->body.p, body_len);
    c->out_len += (size_t)(w - w0);
}

/* ---- request binding ------------------------------------------------------------------------- */

/* Points the request's slices at `base`, where the header block (or its parsed part) now is. */
static void bind_req(struct lr_http1_conn *c, const uint8_t *base)
{
    struct lr_http_req *q = &c->req;
    q->method = sl(base, c->r.method);
    q->target = sl(base, c->r.target);
    q->path = sl(base, c->r.path);
    q->version_minor = c->r.minor;
    for (uint32_t i = 0; i < c->r.n_headers; i++) {
        c->headers[i].name = sl(base, c->hspans[i].name);
        c->headers[i].value = sl(base, c->hspans[i].value);
    }
    q->headers = c->headers;
    q->n_headers = c->r.n_headers;
    q->content_type = c->r.ct_seen ? sl(base, c->r.ctype) : lr_slice_make("", 0);
    q->content_encoding = c->r.ce_count ? sl(base, c->r.cenc) : lr_slice_make("", 0);
    q->has_content_length = c->r.has_cl;
    q->content_length = c->r.has_cl ? c->r.cl : 0;
    q->chunked = c->r.te_chunked > 0;
    q->keep_alive = c->r.minor >= 1 ? !c->r.conn_close : (c->r.conn_keep && !c->r.conn_close);
    q->body = lr_slice_make("", 0);
}

/* Answers an error through on_error. `req` may be NULL. The connection closes when `close`. */
static void respond_error(struct lr_http1_conn *c, const struct lr_http_req *req, int err,
                          const char *reason, bool close)
{
    struct lr_http_resp resp;
    memset(&resp, 0, sizeof(resp));
    resp.status = lr_err_lookup(err)->http_status;
    resp.close = close;
    if (c->h.on_error)
        c->h.on_error(c->h.ctx, req, err, reason ? reason : lr_err_name(err), &resp);
    close = close || resp.close;
    queue_resp(c, &resp, req ? req->version_minor : 1, close);
    if (close)
        set_closing(c, err);
}

/* A framing error while parsing the head: answer and close. */
static void head_error(struct lr_http1_conn *c, const uint8_t *base, int err, const char *reason)
{
    if (c->r.have_line) {
        bind_req(c, base);
        c->req.keep_alive = false;
        respond_error(c, &c->req, err, reason, true);
    } else {
        respond_error(c, NULL, err, reason, true);
    }
}

/* An error once the request is bound (body phase): answer and close, because the rest of the body
 * can no longer be framed or is not worth reading. */
static void body_error(struct lr_http1_conn *c, int err, const char *reason)
{
    c->req.keep_alive = false;
    respond_error(c, &c->req, err, reason, true);
}

static void req_reset(struct lr_http1_conn *c)
{
    memset(&c->r, 0, sizeof(c->r));
    c->st = ST_HEAD;
    c->body_len = 0;
    if (c->body_cap > SHRINK_BYTES) {
        free(c->body);
        c->body = NULL;
        c->body_cap = 0;
    }
    if (c->hdr_cap > SHRINK_BYTES) {
        free(c->hdr);
        c->hdr = NULL;
        c->hdr_cap = 0;
    }
    c->dec.len = 0;
    if (c->dec.cap > SHRINK_BYTES) {
        free(c->dec.p);
        c->dec = (struct lr_dp_buf){ NULL, 0, 0 };
    }
}

/* ---- head parsing ---------------------------------------------------------------------------- */

/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3). Returns 0 or -1. */
static int parse_reqline(struct lr_http1_conn *c, const uint8_t *b, size_t off, size_t end)
{
    size_t i = off;
    while (i < end && tchar[b[i]])
        i++;
    if (i == off || i >= end || b[i] != ' ')
        return -1;
    c->r.method = (struct span){ (uint32_t)off, (uint32_t)(i - off) };
    size_t t = ++i;
    size_t q = SIZE_MAX;
    /* request-target (§3.2): visible ASCII only; whitespace or controls inside are fatal (§3). */
    while (i < end && b[i] > 0x20 && b[i] < 0x7f) {
        if (b[i] == '?' && q == SIZE_MAX)
            q = i;
        i++;
    }
    if (i == t || i >= end || b[i] != ' ')
        return -1;
    c->r.target = (struct span){ (uint32_t)t, (uint32_t)(i - t) };
    c->r.path = (struct span){ (uint32_t)t, (uint32_t)((q == SIZE_MAX ? i : q) - t) };
    i++;
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT (§2.3); only major version 1 is spoken here. */
    if (end - i != 8 || memcmp(b + i, "HTTP/1.", 7) != 0 || b[i + 7] < '0' || b[i + 7] > '9')
        return -1;
    c->r.minor = b[i + 7] - '0';
    c->r.have_line = true;
    return 0;
}

/* Walks a comma-separated list (RFC 9110 §5.6.1), calling `fn` for each non-empty element. */
static void list_each(struct lr_http1_conn *c, const uint8_t *b, struct span v,
                      void (*fn)(struct lr_http1_conn *, const uint8_t *, size_t))
{
    size_t i = v.off, end = (size_t)v.off + v.len;
    while (i < end) {
        size_t j = i;
        while (j < end && b[j] != ',')
            j++;
        struct span e = span_trim(b, i, j);
        if (e.len)
            fn(c, b + e.off, e.len);
        i = j + 1;
    }
}

static void te_elem(struct lr_http1_conn *c, const uint8_t *p, size_t n)
{
    if (c->r.te_last_chunked)
        c->r.te_bad = true; /* chunked must be the final coding, applied once (RFC 9112 §6.1) */
    if (IEQ(p, n, "chunked")) {
        c->r.te_chunked++;
        c->r.te_last_chunked = true;
    } else {
        c->r.te_unknown = true;
        c->r.te_last_chunked = false;
    }
}

static void conn_elem(struct lr_http1_conn *c, const uint8_t *p, size_t n)
{
    if (IEQ(p, n, "close"))
        c->r.conn_close = true;
    else if (IEQ(p, n, "keep-alive"))
        c->r.conn_keep = true;
}

/* Whether p[0..n) holds only field-value octets. Values are most of a header block, so eight
 * bytes are checked at once for a control or DEL (the per-byte loop was the largest cost of a
 * small request); only words that hold one (HTAB, or an actual error) take the slow path. */
static bool fv_valid(const uint8_t *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        uint64_t lt20 = (x - ones * 0x20) & ~x & highs; /* some byte < 0x20 (Mycroft) */
        uint64_t y = x ^ (ones * 0x7f);
        uint64_t del = (y - ones) & ~y & highs; /* some byte == 0x7f */
        if ((lt20 | del) == 0)
            continue;
        for (size_t j = i; j < i + 8; j++)
            if (!fvchar[p[j]])
                return false;
    }
    for (; i < n; i++)
        if (!fvchar[p[i]])
            return false;
    return true;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5). Returns 0 or an LR_E_*, with
 * *why set. */
static int parse_field(struct lr_http1_conn *c, const uint8_t *b, size_t off, size_t end,
                       const char **why)
{
    /* §5.2: obs-fold is rejected (a line starting with whitespace). */
    size_t i = off;
    while (i < end && tchar[b[i]])
        i++;
    if (i == off || i >= end || b[i] != ':') {
        /* §5.1: no whitespace between the field name and the colon. */
        *why = b[off] == ' ' || b[off] == '\t' ? "obs-fold" : "bad header field name";
        return LR_E_MALFORMED;
    }
    size_t name_len = i - off;
    if (!fv_valid(b + i + 1, end - i - 1)) {
        *why = "control character in header field value";
        return LR_E_MALFORMED;
    }
    if (c->r.n_headers >= c->lim.max_headers) {
        *why = "too many header fields";
        return LR_E_HEADERS;
    }
    struct span v = span_trim(b, i + 1, end);
    struct hspan *hs = &c->hspans[c->r.n_headers++];
    hs->name = (struct span){ (uint32_t)off, (uint32_t)name_len };
    hs->value = v;
    const uint8_t *n = b + off;
    const uint8_t *vp = b + v.off;

    switch (name_len) {
    case 4:
        if (IEQ(n, 4, "host"))
            c->r.host_count++;
        break;
    case 6:
        if (IEQ(n, 6, "expect") && IEQ(vp, v.len, "100-continue"))
            c->r.expect_continue = true;
        break;
    case 10:
        if (IEQ(n, 10, "connection"))
            list_each(c, b, v, conn_elem);
        break;
    case 12:
        if (IEQ(n, 12, "content-type") && !c->r.ct_seen) {
            size_t e = v.off;
            while (e < (size_t)v.off + v.len && b[e] != ';')
                e++;
            c->r.ctype = span_trim(b, v.off, e);
            c->r.ct_seen = true;
        }
        break;
    case 14:
        if (IEQ(n, 14, "content-length")) {
            /* Content-Length = 1*DIGIT (RFC 9110 §8.6); a list or a sign is rejected. */
            uint64_t x = 0;
            if (v.len == 0) {
                *why = "empty Content-Length";
                return LR_E_MALFORMED;
            }
            for (size_t j = 0; j < v.len; j++) {
                unsigned d = (unsigned)vp[j] - '0';
                if (d > 9 || x > (UINT64_MAX - d) / 10) {
                    *why = "bad Content-Length";
                    return LR_E_MALFORMED;
                }
                x = x * 10 + d;
            }
            if (c->r.has_cl && c->r.cl != x) {
                *why = "differing Content-Length values"; /* RFC 9112 §6.3 rule 5 */
                return LR_E_MALFORMED;
            }
            c->r.has_cl = true;
            c->r.cl = x;
        }
        break;
    case 16:
        if (IEQ(n, 16, "content-encoding")) {
            if (c->r.ce_count++ == 0)
                c->r.cenc = v;
        }
        break;
    case 17:
        if (IEQ(n, 17, "transfer-encoding")) {
            c->r.te_seen = true;
            list_each(c, b, v, te_elem);
        }
        break;
    default:
        break;
    }
    return 0;
}

/* gzip and deflate/zlib stream through zlib as the body arrives; the others are buffered. */
static enum coding coding_of(enum lr_dp_codec k)
{
    switch (k) {
    case LR_CODEC_IDENTITY:
        return COD_IDENTITY;
    case LR_CODEC_GZIP:
        return COD_GZIP;
    case LR_CODEC_DEFLATE:
    case LR_CODEC_ZLIB:
        return COD_DEFLATE;
    case LR_CODEC_ZSTD:
    case LR_CODEC_SNAPPY:
    case LR_CODEC_SNAPPY_FRAMED:
    case LR_CODEC_LZ4:
        return COD_BUFFERED;
    default:
        return COD_UNKNOWN;
    }
}

/* The 415 reason names the coding (printable ASCII, cut at REASON_TOKEN_MAX) and what is
 * accepted. It is written into the connection's reason buffer, valid during on_error. */
static const char *unsupported_reason(struct lr_http1_conn *c, const uint8_t *p, size_t n,
                                      uint32_t ce_count)
{
    if (ce_count > 1)
        return "more than one Content-Encoding field; " ACCEPTED_CODINGS;
    char *w = c->reason;
    w = PUT(w, "unsupported Content-Encoding \"");
    for (size_t i = 0; i < n && i < REASON_TOKEN_MAX; i++)
        *w++ = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\' ? (char)p[i] : '?';
    if (n > REASON_TOKEN_MAX)
        w = PUT(w, "...");
    w = PUT(w, "\"; " ACCEPTED_CODINGS);
    *w = '\0';
    return c->reason;
}

static const char *malformed_reason(enum lr_dp_codec k)
{
    switch (k) {
    case LR_CODEC_ZSTD:
        return "bad zstd body";
    case LR_CODEC_SNAPPY:
        return "bad snappy body";
    case LR_CODEC_SNAPPY_FRAMED:
        return "bad x-snappy-framed body";
    case LR_CODEC_LZ4:
        return "bad lz4 body";
    default:
        return "bad compressed body";
    }
}

/* Whether the body of a refused request can be skipped with the connection kept: its length is
 * known and bounded, and the client is not waiting for a 100 (RFC 9110 §10.1.1: after a final
 * status the client may or may not send the content, so we cannot frame what follows). */
static bool can_skip(const struct lr_http1_conn *c)
{
    if (!c->req.keep_alive || c->r.te_chunked)
        return false;
    if (!c->r.has_cl || c->r.cl == 0)
        return true;
    return c->r.cl <= c->lim.max_body_bytes && !c->r.expect_continue;
}

static void refuse(struct lr_http1_conn *c, int err, const char *reason)
{
    bool skip = can_skip(c);
    if (!skip)
        c->req.keep_alive = false;
    respond_error(c, &c->req, err, reason, !skip);
    if (c->closing)
        return;
    if (c->r.has_cl && c->r.cl > 0) {
        c->st = ST_DISCARD;
        c->r.left = c->r.cl;
        c->body_progress_ns = c->now_ns;
    } else {
        req_reset(c);
    }
}

static void finish(struct lr_http1_conn *c);

/* The header block is complete at `b` (length r.blk_len); `after` bytes already follow it in
 * this buffer. Decides framing, asks the handler, enters the body state. */
static void head_done(struct lr_http1_conn *c, const uint8_t *b, size_t after)
{
    bool more = after > 0;
    bind_req(c, b);
    struct reqstate *r = &c->r;

    /* RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one in HTTP/1.0. */
    if (r->host_count > 1 || (r->minor >= 1 && r->host_count == 0)) {
        head_error(c, b, LR_E_MALFORMED, "missing or repeated Host");
        return;
    }
    if (r->te_seen) {
        /* §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; §6.3 rule 3: with a
         * Content-Length it is a smuggling attempt. Both are rejected. */
        if (r->minor == 0 || r->has_cl) {
            head_error(c, b, LR_E_MALFORMED, "Transfer-Encoding with Content-Length or HTTP/1.0");
            return;
        }
        if (r->te_unknown) {
            head_error(c, b, LR_E_NOT_IMPLEMENTED, "unsupported transfer coding");
            return;
        }
        if (r->te_bad || r->te_chunked != 1) {
            head_error(c, b, LR_E_MALFORMED, "chunked is not the final transfer coding");
            return;
        }
    }
    if (r->has_cl && r->cl > c->lim.max_body_bytes) {
        head_error(c, b, LR_E_TOO_LARGE, "Content-Length over the body limit");
        return;
    }
    r->codec = r->ce_count > 1 ? LR_CODEC_UNKNOWN
                               : lr_dp_codec_from_name(lr_slice_make(b + r->cenc.off, r->cenc.len));
    r->coding = coding_of(r->codec);
    if (r->coding == COD_UNKNOWN) {
        refuse(c, LR_E_MEDIA_TYPE,
               unsupported_reason(c, b + r->cenc.off, r->cenc.len, r->ce_count));
        return;
    }
    if (c->h.on_headers) {
        const char *why = NULL;
        int rc = c->h.on_headers(c->h.ctx, &c->req, &why);
        if (rc != 0) {
            refuse(c, rc, why);
            return;
        }
    }
    bool has_body = r->te_chunked || (r->has_cl && r->cl > 0);
    /* RFC 9110 §10.1.1: 100-continue is ignored for HTTP/1.0, and may be skipped once content
     * has started to arrive. */
    if (r->expect_continue && r->minor >= 1 && has_body && !more) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        uint8_t *w = out_reserve(c, sizeof(cont) - 1);
        if (!w) {
            set_closing(c, LR_E_INTERNAL);
            return;
        }
        memcpy(w, cont, sizeof(cont) - 1);
        c->out_len += sizeof(cont) - 1;
    }
    c->body_progress_ns = c->now_ns;
    if (r->te_chunked) {
        c->st = ST_CHUNK_SIZE;
    } else if (has_body) {
        c->st = ST_BODY_CL;
        r->left = r->cl;
        /* The size is known: one allocation of exactly that, unless the body streams through
         * zlib or is all here already (then it is handed over in place). */
        if ((r->coding == COD_IDENTITY || r->coding == COD_BUFFERED) && after < r->cl &&
            !grow(c, &c->body, &c->body_cap, (size_t)r->cl, (size_t)r->cl)) {
            body_error(c, LR_E_INTERNAL, "out of memory");
        }
    } else {
        finish(c);
    }
}

/* Parses the head at b[0..len). Returns the block length when complete (head_done has run), 0
 * when more bytes are needed, or SIZE_MAX after an error (answered). */
static size_t parse_head(struct lr_http1_conn *c, const uint8_t *b, size_t len, bool *complete)
{
    struct reqstate *r = &c->r;
    size_t lim = c->lim.max_header_bytes;
    size_t window = len < lim ? len : lim;
    *complete = false;
    for (;;) {
        size_t from = r->scan_lf > r->scan ? r->scan_lf : r->scan;
        const uint8_t *lf = from < window ? memchr(b + from, '\n', window - from) : NULL;
        if (!lf) {
            r->scan_lf = window;
            if (len > lim) {
                head_error(c, b, LR_E_HEADERS, "header section too large");
                return SIZE_MAX;
            }
            return 0;
        }
        size_t eol = (size_t)(lf - b);
        /* §2.2: lines end in CRLF; a bare LF (or CR) is not accepted here. */
        if (eol == r->scan || b[eol - 1] != '\r') {
            head_error(c, b, LR_E_MALFORMED, "bare LF");
            return SIZE_MAX;
        }
        size_t start = r->scan, end = eol - 1;
        r->scan = eol + 1;
        if (!r->have_line) {
            if (end == start) {
                r->lead = r->scan; /* §2.2: empty lines before the request line are ignored */
                continue;
            }
            if (parse_reqline(c, b, start, end) != 0) {
                head_error(c, b, LR_E_MALFORMED, "bad request line");
                return SIZE_MAX;
            }
            continue;
        }
        if (end == start) {
            /* head_done may finish or refuse the request, which resets r: keep the length. */
            size_t bl = r->scan;
            r->blk_len = bl;
            *complete = true;
            head_done(c, b, len - bl);
            return bl;
        }
        const char *why = NULL;
        int rc = parse_field(c, b, start, end, &why);
        if (rc != 0) {
            head_error(c, b, rc, why);
            return SIZE_MAX;
        }
    }
}

/* ---- body ------------------------------------------------------------------------------------ */

static bool z_setup(struct lr_http1_conn *c, int wbits)
{
    if (!c->zs) {
        c->zs = calloc(1, sizeof(*c->zs));
        if (!c->zs)
            return false;
        c->zs->zalloc = zalloc_count;
        c->zs->zfree = zfree_count;
        c->zs->opaque = c;
        if (inflateInit2(c->zs, wbits) != Z_OK) {
            free(c->zs);
            c->zs = NULL;
            return false;
        }
    } else if (inflateReset2(c->zs, wbits) != Z_OK) {
        return false;
    }
    c->r.z_ready = true;
    return true;
}

/* Inflates p[0..n) into the body buffer. The buffer grows geometrically but never past
 * max_body_bytes + 1: the byte past the limit is how we learn the limit was exceeded, so a
 * bomb costs at most the limit (plus zlib's ~40 KiB state). Returns 0 or an LR_E_* (answered). */
static int inflate_in(struct lr_http1_conn *c, const uint8_t *p, size_t n)
{
    struct reqstate *r = &c->r;
    size_t limit = c->lim.max_body_bytes;
    size_t cap_max = limit == SIZE_MAX ? SIZE_MAX : limit + 1;
    if (!r->z_ready) {
        int wbits = 16 + MAX_WBITS;
        if (r->coding == COD_DEFLATE) {
            /* "deflate" is zlib-wrapped (RFC 9110 §8.4.1.2) but some senders send raw deflate;
             * the first two bytes tell (RFC 1950 §2.2: CM = 8, FCHECK makes a multiple of 31). */
            while (n > 0 && r->zhead_len < 2) {
                r->zhead[r->zhead_len++] = *p++;
                n--;
            }
            if (r->zhead_len < 2)
                return 0;
            unsigned h = ((unsigned)r->zhead[0] << 8) | r->zhead[1];
            bool zlib = (r->zhead[0] & 0x0f) == 8 && (r->zhead[0] >> 4) <= 7 && h % 31 == 0;
            wbits = zlib ? MAX_WBITS : -MAX_WBITS;
        }
        if (!z_setup(c, wbits)) {
            body_error(c, LR_E_INTERNAL, "inflate init failed");
            return LR_E_INTERNAL;
        }
        if (r->coding == COD_DEFLATE) {
            int rc = inflate_in(c, r->zhead, 2);
            if (rc != 0)
                return rc;
        }
    }
    z_stream *zs = c->zs;
    while (n > 0) {
        /* avail_in is 32-bit. */
        size_t take = n > (UINT_MAX >> 1) ? (UINT_MAX >> 1) : n;
        zs->next_in = (Bytef *)(uintptr_t)p;
        zs->avail_in = (uInt)take;
        p += take;
        n -= take;
        for (;;) {
            if (r->z_end) {
                if (zs->avail_in == 0)
                    break;
                /* RFC 1952 §2.2: a gzip file is a series of members. Raw/zlib data after the end
                 * of the stream is garbage. */
                if (r->coding != COD_GZIP || inflateReset(zs) != Z_OK) {
                    body_error(c, LR_E_MALFORMED, "data after the end of the compressed body");
                    return LR_E_MALFORMED;
                }
                r->z_end = false;
            }
            if (c->body_len == c->body_cap) {
                size_t want = c->body_cap ? c->body_cap * 2 : BODY_MIN_ALLOC;
                if (!grow(c, &c->body, &c->body_cap, want < cap_max ? want : cap_max, cap_max)) {
                    body_error(c, LR_E_INTERNAL, "out of memory");
                    return LR_E_INTERNAL;
                }
            }
            size_t room = c->body_cap - c->body_len;
            if (room > (UINT_MAX >> 1))
                room = UINT_MAX >> 1;
            zs->next_out = c->body + c->body_len;
            zs->avail_out = (uInt)room;
            int zr = inflate(zs, Z_NO_FLUSH);
            c->body_len = (size_t)(zs->next_out - c->body);
            if (c->body_len > limit) {
                body_error(c, LR_E_TOO_LARGE, "decompressed body over the limit");
                return LR_E_TOO_LARGE;
            }
            if (zr == Z_STREAM_END) {
                r->z_end = true;
                continue;
            }
            if (zr == Z_BUF_ERROR)
                break; /* no progress possible: needs more input */
            if (zr != Z_OK) {
                int e = zr == Z_MEM_ERROR ? LR_E_INTERNAL : LR_E_MALFORMED;
                body_error(c, e, "bad compressed body");
                return e;
            }
            if (zs->avail_in == 0 && zs->avail_out > 0)
                break; /* input used up and nothing pending inside zlib */
        }
    }
    return 0;
}

/* Body bytes as received (de-chunked). Returns 0 or an LR_E_* (answered). */
static int body_in(struct lr_http1_conn *c, const uint8_t *p, size_t n)
{
    c->r.wire_bytes += n;
    c->body_progress_ns = c->now_ns;
    if (c->r.coding == COD_GZIP || c->r.coding == COD_DEFLATE)
        return inflate_in(c, p, n);
    /* Identity and buffered bodies are bounded on the wire (head_done, ST_CHUNK_SIZE), so the
     * buffer never needs to double past the limit. */
    if (!grow(c, &c->body, &c->body_cap, c->body_len + n, c->lim.max_body_bytes)) {
        body_error(c, LR_E_INTERNAL, "out of memory");
        return LR_E_INTERNAL;
    }
    memcpy(c->body + c->body_len, p, n);
    c->body_len += n;
    return 0;
}

/* The request is complete: hand it over and queue the answer. */
static void finish(struct lr_http1_conn *c)
{
    struct reqstate *r = &c->r;
    struct lr_slice body;
    if (r->coding == COD_BUFFERED && r->wire_bytes > 0) {
        /* The compressed body is complete (in place, or in the body buffer, at most
         * max_body_bytes either way): decode it once, bounded by the same limit. */
        const uint8_t *src = r->body_ref ? r->body_ref : c->body;
        size_t n = r->body_ref ? (size_t)r->cl : c->body_len;
        int rc = lr_dp_codec_decode(r->codec, src, n, c->lim.max_body_bytes, &c->dec);
        mem_note(c);
        if (rc != 0) {
            if (rc == LR_E_TOO_LARGE)
                body_error(c, rc, "decompressed body over the limit");
            else if (rc == LR_E_MALFORMED)
                body_error(c, rc, malformed_reason(r->codec));
            else
                body_error(c, LR_E_INTERNAL, "out of memory");
            return;
        }
        body = lr_slice_make(c->dec.len ? c->dec.p : (const uint8_t *)"", c->dec.len);
    } else if (r->body_ref) {
        body = lr_slice_make(r->body_ref, (size_t)r->cl);
    } else {
        if (r->coding != COD_IDENTITY && r->coding != COD_BUFFERED && r->wire_bytes > 0 &&
            !r->z_end) {
            body_error(c, LR_E_MALFORMED, "truncated compressed body");
            return;
        }
        body = lr_slice_make(c->body_len ? c->body : (const uint8_t *)"", c->body_len);
    }
    c->req.body = body;
    struct lr_http_resp resp;
    memset(&resp, 0, sizeof(resp));
    resp.status = 200;
    c->h.on_request(c->h.ctx, &c->req, &resp);
    c->requests++;
    bool close = !c->req.keep_alive || resp.close;
    queue_resp(c, &resp, r->minor, close);
    if (close)
        set_closing(c, LR_E_UNAVAILABLE);
    c->last_active_ns = c->now_ns;
    req_reset(c);
}

/* chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1). Returns 0 or -1. */
static int parse_chunk_size(const uint8_t *b, size_t n, uint64_t *size)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < n; i++) {
        uint8_t ch = b[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (lower[ch] >= 'a' && lower[ch] <= 'f')
            d = lower[ch] - 'a' + 10;
        else
            break;
        if (v >> 60)
            return -1; /* §7.1: guard against integer overflow */
        v = (v << 4) | d;
    }
    if (i == 0)
        return -1;
    /* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) (§7.1.1): ignored, but
     * it must start with ";" and hold no control characters. */
    while (i < n && ows(b[i]))
        i++;
    if (i < n && b[i] != ';')
        return -1;
    for (; i < n; i++)
        if (!fvchar[b[i]])
            return -1;
    *size = v;
    return 0;
}

/* Finds the CRLF-terminated line at b[0..len). Returns its length without CRLF, SIZE_MAX when
 * incomplete, or SIZE_MAX - 1 for a bare LF. */
static size_t line_at(const uint8_t *b, size_t len)
{
    const uint8_t *lf = memchr(b, '\n', len);
    if (!lf)
        return SIZE_MAX;
    size_t eol = (size_t)(lf - b);
    if (eol == 0 || b[eol - 1] != '\r')
        return SIZE_MAX - 1;
    return eol - 1;
}

/* Parses as much of src[0..len) as it can; returns the bytes consumed. Unconsumed bytes are the
 * start of unfinished framing and must be presented again, with more, on the next call. */
static size_t run(struct lr_http1_conn *c, const uint8_t *src, size_t len)
{
    size_t pos = 0;
    const uint8_t *blk = NULL; /* the current request's header block, when it is in src */
    while (!c->closing) {
        struct reqstate *r = &c->r;
        const uint8_t *b = src + pos;
        size_t avail = len - pos;
        switch (c->st) {
        case ST_HEAD: {
            if (avail == 0)
                goto out;
            if (out_pending(c) > c->out_pause_bytes) {
                c->paused = true;
                goto out;
            }
            if (!r->started) {
                r->started = true;
                c->req_start_ns = c->now_ns;
            }
            bool complete;
            size_t used = parse_head(c, b, avail, &complete);
            if (used == SIZE_MAX)
                goto out;
            if (!complete)
                goto out;
            blk = b;
            pos += used;
            break;
        }
        case ST_BODY_CL:
        case ST_CHUNK_DATA:
        case ST_DISCARD: {
            if (avail == 0)
                goto out;
            size_t take = avail < r->left ? avail : (size_t)r->left;
            if (c->st == ST_DISCARD) {
                c->body_progress_ns = c->now_ns;
            } else if (c->st == ST_BODY_CL && take == r->left && c->body_len == 0 &&
                       (r->coding == COD_IDENTITY || r->coding == COD_BUFFERED)) {
                /* The whole body is here: hand it over (or decode it) in place. */
                r->body_ref = b;
                r->wire_bytes = take;
            } else if (body_in(c, b, take) != 0) {
                goto out;
            }
            pos += take;
            r->left -= take;
            if (r->left > 0)
                goto out;
            if (c->st == ST_BODY_CL)
                finish(c);
            else if (c->st == ST_CHUNK_DATA)
                c->st = ST_CHUNK_CRLF;
            else
                req_reset(c);
            break;
        }
        case ST_CHUNK_CRLF:
            while (r->crlf_got < 2 && pos < len) {
                if (src[pos] != "\r\n"[r->crlf_got]) {
                    body_error(c, LR_E_MALFORMED, "chunk data not followed by CRLF");
                    goto out;
                }
                r->crlf_got++;
                pos++;
            }
            if (r->crlf_got < 2)
                goto out;
            r->crlf_got = 0;
            c->st = ST_CHUNK_SIZE;
            break;
        case ST_CHUNK_SIZE: {
            size_t ll = line_at(b, avail < CHUNK_LINE_MAX + 2 ? avail : CHUNK_LINE_MAX + 2);
            if (ll == SIZE_MAX) {
                if (avail > CHUNK_LINE_MAX)
                    body_error(c, LR_E_MALFORMED, "chunk-size line too long");
                goto out;
            }
            uint64_t size;
            if (ll == SIZE_MAX - 1 || parse_chunk_size(b, ll, &size) != 0) {
                body_error(c, LR_E_MALFORMED, "bad chunk size");
                goto out;
            }
            pos += ll + 2;
            c->body_progress_ns = c->now_ns;
            /* Identity bodies count the bytes themselves; compressed ones are also bounded on
             * the wire so a stream that inflates to nothing cannot run forever. */
            uint64_t room =
                c->lim.max_body_bytes - (r->coding == COD_IDENTITY ? c->body_len : r->wire_bytes);
            if (size > room) {
                body_error(c, LR_E_TOO_LARGE, "chunked body over the limit");
                goto out;
            }
            if (size == 0) {
                c->st = ST_TRAILER;
            } else {
                r->left = size;
                c->st = ST_CHUNK_DATA;
            }
            break;
        }
        case ST_TRAILER: {
            /* trailer-section = *( field-line CRLF ) (§7.1.2): parsed and discarded. */
            size_t ll = line_at(b, avail);
            if (ll == SIZE_MAX) {
                if (r->trailer_bytes + avail > c->lim.max_header_bytes)
                    body_error(c, LR_E_HEADERS, "trailer section too large");
                goto out;
            }
            if (ll == SIZE_MAX - 1) {
                body_error(c, LR_E_MALFORMED, "bare LF in trailer");
                goto out;
            }
            r->trailer_bytes += ll + 2;
            if (r->trailer_bytes > c->lim.max_header_bytes) {
                body_error(c, LR_E_HEADERS, "trailer section too large");
                goto out;
            }
            pos += ll + 2;
            c->body_progress_ns = c->now_ns;
            if (ll == 0) {
                finish(c);
                break;
            }
            size_t i = 0;
            while (i < ll && tchar[b[i]])
                i++;
            bool ok = i > 0 && i < ll && b[i] == ':';
            for (size_t j = i + 1; ok && j < ll; j++)
                ok = fvchar[b[j]] != 0;
            if (!ok) {
                body_error(c, LR_E_MALFORMED, "bad trailer field");
                goto out;
            }
            break;
        }
        }
    }
out:
    /* The body continues in a later feed: keep the header block the request's slices point at. */
    if (blk && !c->closing && c->st != ST_HEAD && c->st != ST_DISCARD && !c->r.hdr_saved) {
        size_t bl = c->r.blk_len;
        if (!grow(c, &c->hdr, &c->hdr_cap, bl ? bl : 1, SIZE_MAX)) {
            set_closing(c, LR_E_INTERNAL);
        } else {
            memcpy(c->hdr, blk, bl);
            c->r.hdr_saved = true;
            bind_req(c, c->hdr);
        }
    }
    return pos;
}

/* ---- input buffer ---------------------------------------------------------------------------- */

static bool in_append(struct lr_http1_conn *c, const uint8_t *p, size_t n, size_t max)
{
    if (n > max || c->in_len > max - n)
        return false;
    if (!grow(c, &c->in, &c->in_cap, c->in_len + n, max))
        return false;
    memcpy(c->in + c->in_len, p, n);
    c->in_len += n;
    return true;
}

static void in_consume(struct lr_http1_conn *c, size_t used)
{
    if (used == 0)
        return;
    c->in_len -= used;
    if (c->in_len)
        memmove(c->in, c->in + used, c->in_len);
    else if (c->in_cap > SHRINK_BYTES) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
}

static size_t pause_max(const struct lr_http1_conn *c)
{
    size_t m = c->in_window;
    if (c->lim.max_body_bytes > SIZE_MAX - m - PAUSE_SLACK_BYTES)
        return SIZE_MAX;
    return m + c->lim.max_body_bytes + PAUSE_SLACK_BYTES;
}

/* Keeps bytes run() did not consume. */
static void stash(struct lr_http1_conn *c, const uint8_t *p, size_t n)
{
    size_t max = c->paused ? pause_max(c) : c->in_window;
    if (!in_append(c, p, n, max))
        set_closing(c, c->paused ? LR_E_OVERLOADED : LR_E_INTERNAL);
}

/* A peer that half-closed with a request unfinished: nothing is answered for it. */
static int eof_check(struct lr_http1_conn *c)
{
    bool partial = c->st != ST_HEAD || (c->in_len > 0 && c->in_len != c->r.lead);
    set_closing(c, partial ? LR_E_MALFORMED : LR_E_UNAVAILABLE);
    return partial ? LR_E_MALFORMED : 0;
}

/* ---- API ------------------------------------------------------------------------------------- */

struct lr_http1_conn *lr_http1_conn_new(const struct lr_http1_limits *limits,
                                        const struct lr_http_handler *handler, uint64_t now_ns)
{
    if (!limits || !handler || !handler->on_request || limits->max_header_bytes == 0 ||
        limits->max_header_bytes > UINT32_MAX || limits->max_headers > (1u << 20)) {
        errno = EINVAL;
        return NULL;
    }
    struct lr_http1_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->lim = *limits;
    c->h = *handler;
    c->now_ns = c->last_active_ns = now_ns;
    c->in_window = c->lim.max_header_bytes + CHUNK_LINE_MAX + 16;
    c->out_pause_bytes = OUT_PAUSE_BYTES;
    size_t nh = c->lim.max_headers ? c->lim.max_headers : 1;
    c->hspans = calloc(nh, sizeof(*c->hspans));
    c->headers = calloc(nh, sizeof(*c->headers));
    if (!c->hspans || !c->headers) {
        lr_http1_conn_free(c);
        errno = ENOMEM;
        return NULL;
    }
    return c;
}

void lr_http1_conn_free(struct lr_http1_conn *c)
{
    if (!c)
        return;
    if (c->zs) {
        inflateEnd(c->zs);
        free(c->zs);
    }
    free(c->hspans);
    free(c->headers);
    free(c->in);
    free(c->hdr);
    free(c->body);
    free(c->dec.p);
    free(c->out);
    free(c);
}

ssize_t lr_http1_conn_feed(struct lr_http1_conn *c, const uint8_t *p, size_t n, uint64_t now_ns)
{
    if (c->closing)
        return c->close_err;
    if (n == 0)
        return 0;
    c->now_ns = now_ns;
    c->last_active_ns = now_ns;
    /* Any byte of a body, framing included, is progress for the body timeout. */
    if (c->st != ST_HEAD)
        c->body_progress_ns = now_ns;
    size_t total = n;
    /* Finish the buffered framing first, taking only what fits the window: the buffered part is
     * at most one header block or framing line, so each round completes it or fails a limit. */
    while (n > 0 && c->in_len > 0 && !c->paused && !c->closing) {
        size_t room = c->in_window - c->in_len;
        size_t take = n < room ? n : room;
        if (take == 0 || !in_append(c, p, take, c->in_window)) {
            set_closing(c, LR_E_INTERNAL);
            break;
        }
        p += take;
        n -= take;
        in_consume(c, run(c, c->in, c->in_len));
    }
    if (n > 0 && !c->closing) {
        if (!c->paused && c->in_len == 0) {
            size_t used = run(c, p, n);
            p += used;
            n -= used;
        }
        if (n > 0 && !c->closing)
            stash(c, p, n);
    }
    return c->closing ? c->close_err : (ssize_t)total;
}

int lr_http1_conn_eof(struct lr_http1_conn *c)
{
    if (c->closing)
        return c->close_err == LR_E_MALFORMED ? LR_E_MALFORMED : 0;
    if (c->paused) {
        /* Buffered requests are still answered as output drains (output_consumed). */
        c->peer_eof = true;
        return 0;
    }
    return eof_check(c);
}

struct lr_slice lr_http1_conn_output(const struct lr_http1_conn *c)
{
    if (c->out_len == c->out_off)
        return lr_slice_make("", 0);
    return lr_slice_make(c->out + c->out_off, c->out_len - c->out_off);
}

void lr_http1_conn_output_consumed(struct lr_http1_conn *c, size_t n)
{
    if (n > out_pending(c))
        n = out_pending(c);
    c->out_off += n;
    if (n)
        c->last_active_ns = c->now_ns;
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->out_cap > SHRINK_BYTES) {
            free(c->out);
            c->out = NULL;
            c->out_cap = 0;
        }
    }
    if (c->paused && !c->closing && out_pending(c) <= c->out_pause_bytes) {
        /* Resume the requests buffered while output was backed up. */
        c->paused = false;
        in_consume(c, run(c, c->in, c->in_len));
        if (!c->paused && !c->closing && c->in_len > c->in_window)
            set_closing(c, LR_E_INTERNAL);
        if (c->peer_eof && !c->paused && !c->closing)
            eof_check(c);
    }
}

int lr_http1_conn_tick(struct lr_http1_conn *c, uint64_t now_ns)
{
    if (c->closing)
        return c->close_err;
    if (now_ns > c->now_ns)
        c->now_ns = now_ns;
    const struct lr_http1_limits *l = &c->lim;
    if (c->paused) {
        if (l->idle_timeout_ns && elapsed(now_ns, c->last_active_ns) >= l->idle_timeout_ns)
            set_closing(c, LR_E_TIMEOUT);
        return c->closing ? LR_E_TIMEOUT : 0;
    }
    switch (c->st) {
    case ST_HEAD:
        if (c->in_len == 0) {
            if (l->idle_timeout_ns && elapsed(now_ns, c->last_active_ns) >= l->idle_timeout_ns)
                set_closing(c, LR_E_TIMEOUT);
        } else if (c->in_len == c->r.lead) {
            /* Only empty lines so far: idle, counted from the first of them so a trickle of CRLFs
             * does not hold the connection. */
            if (l->idle_timeout_ns && elapsed(now_ns, c->req_start_ns) >= l->idle_timeout_ns)
                set_closing(c, LR_E_TIMEOUT);
        } else if (l->header_timeout_ns &&
                   elapsed(now_ns, c->req_start_ns) >= l->header_timeout_ns) {
            /* This is what stops a slowloris client: the clock runs from the first byte. */
            head_error(c, c->in, LR_E_TIMEOUT, "header timeout");
        }
        break;
    case ST_DISCARD:
        /* The refused request was already answered: close without a second response. */
        if (l->body_timeout_ns && elapsed(now_ns, c->body_progress_ns) >= l->body_timeout_ns)
            set_closing(c, LR_E_TIMEOUT);
        break;
    default:
        if (l->body_timeout_ns && elapsed(now_ns, c->body_progress_ns) >= l->body_timeout_ns)
            body_error(c, LR_E_TIMEOUT, "body timeout");
        break;
    }
    return c->closing ? LR_E_TIMEOUT : 0;
}

bool lr_http1_conn_closing(const struct lr_http1_conn *c)
{
    return c->closing;
}

bool lr_http1_conn_idle(const struct lr_http1_conn *c)
{
    return c->st == ST_HEAD && c->in_len == 0 && !c->paused;
}

uint64_t lr_http1_conn_requests(const struct lr_http1_conn *c)
{
    return c->requests;
}

size_t lr_http1_conn_mem_bytes(const struct lr_http1_conn *c)
{
    return mem_now(c);
}

size_t lr_http1_conn_mem_peak(const struct lr_http1_conn *c)
{
    return c->mem_peak;
}

void lr_http1_conn_set_out_pause(struct lr_http1_conn *c, size_t bytes)
{
    c->out_pause_bytes = bytes;
}
