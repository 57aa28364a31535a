/* The transport-agnostic HTTP/2 + gRPC engine (include/linerate/h2.h) on nghttp2 (>= 1.52).
 *
 * Shape: nghttp2 owns the HTTP/2 state machine (framing, HPACK, flow control, stream states,
 * RFC 9113 §8 message checks). Received bytes go in with nghttp2_session_mem_recv, produced
 * bytes come out with nghttp2_session_mem_send into `out`, which is refilled only while less than
 * OUT_HIGH_BYTES is unsent, so a peer that does not read makes nghttp2 hold its frames (and its
 * own max_outbound_ack bound then trips) instead of us queueing without bound.
 *
 * Before nghttp2 sees a byte, track() walks the frame headers of the input itself (9 bytes each,
 * RFC 9113 §4.1) and counts what nghttp2 does not rate-limit per second: RST_STREAM (rapid reset,
 * CVE-2023-44487), SETTINGS/PING/WINDOW_UPDATE/PRIORITY/unknown frames, DATA carrying no data
 * and no END_STREAM, empty CONTINUATION (CVE-2019-9511..9518 family), and the wire size of a
 * header block across CONTINUATION frames (CVE-2024-27316 family). The offending frame never
 * reaches nghttp2: the bytes before it are processed, then GOAWAY(ENHANCE_YOUR_CALM).
 *
 * Memory per connection: each stream body is bounded by max_message_bytes + 5 (the declared
 * Message-Length is checked as soon as the 5-byte prefix arrives). Bodies buffered at once are
 * bounded by flow control: the automatic WINDOW_UPDATE is off, and received DATA is consumed
 * (credited back to the peer) only while all buffered bodies stay under 2 x (max_message_bytes +
 * 5), except for the oldest receiving stream, which is always credited so one call can finish.
 * Worst case buffered: 2 x (max + 5) + max + 5 + connection_window_bytes. */
#include <errno.h>
#include <limits.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "grpc_frame.h"
#include "linerate/error.h"
#include "linerate/h2.h"

#define NS_PER_S 1000000000ull
/* Stop pulling frames from nghttp2 while this much output is unsent. */
#define OUT_HIGH_BYTES ((size_t)64 << 10)
/* A header block's wire size may exceed the decoded list size by padding, priority and HPACK
 * table size updates only; this is generous for those. */
#define HDR_BLOCK_SLACK_BYTES 1024
/* grpc-message is truncated to this many bytes before percent-encoding. */
#define GRPC_MESSAGE_MAX 1024
/* grpc-status-details-bin larger than this (serialized) is omitted. */
#define GRPC_DETAILS_MAX ((size_t)8 << 10)
/* Responses' header blocks; details (8 KiB -> ~11 KiB base64) fit. */
#define SEND_HEADER_BLOCK_MAX ((size_t)64 << 10)
/* PING/SETTINGS ACKs nghttp2 may queue when the peer does not read. */
#define MAX_OUTBOUND_ACK 256
/* Entries per SETTINGS frame (nghttp2's default, stated). */
#define MAX_SETTINGS_ENTRIES 32
/* Time between the shutdown notice (GOAWAY 2^31-1) and the final GOAWAY, one RTT or more. */
#define SHUTDOWN_GRACE_NS (1 * NS_PER_S)

#define ACCEPT_ENCODING "identity,gzip,deflate,zstd,snappy"

/* --------------------------------------------------------------------------------------------
 * gRPC wire helpers (grpc_frame.h) */

int lr_dp_grpc_msg_parse(const uint8_t *p, size_t n, size_t max_bytes, struct lr_dp_grpc_msg *m,
                         const char **reason)
{
    const char *dummy;
    if (!reason)
        reason = &dummy;
    memset(m, 0, sizeof *m);
    if (n == 0) {
        *reason = "grpc: no request message";
        return LR_E_INCOMPLETE;
    }
    if (p[0] > 1) {
        *reason = "grpc: received unexpected payload format";
        return LR_E_MALFORMED;
    }
    m->compressed = p[0] == 1;
    if (n < LR_GRPC_PREFIX_BYTES) {
        *reason = "grpc: unexpected EOF";
        return LR_E_INCOMPLETE;
    }
    m->declared_len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    if (m->declared_len > max_bytes) {
        *reason = "grpc: received message larger than max";
        return LR_E_TOO_LARGE;
    }
    size_t have = n - LR_GRPC_PREFIX_BYTES;
    if (have < m->declared_len) {
        *reason = "grpc: unexpected EOF";
        return LR_E_INCOMPLETE;
    }
    if (have > m->declared_len) {
        /* statuscodes.md: request cardinality violation is UNIMPLEMENTED. */
        *reason = "grpc: too many request messages for a unary call";
        return LR_E_NOT_IMPLEMENTED;
    }
    m->payload = lr_slice_make(p + LR_GRPC_PREFIX_BYTES, m->declared_len);
    return 0;
}

int lr_dp_grpc_timeout_parse(struct lr_slice v, uint64_t *ns)
{
    if (v.len < 2 || v.len > 9)
        return LR_E_MALFORMED;
    uint64_t n = 0;
    for (size_t i = 0; i + 1 < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return LR_E_MALFORMED;
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    }
    uint64_t mul;
    switch (v.p[v.len - 1]) {
    case 'H':
        mul = 3600 * NS_PER_S;
        break;
    case 'M':
        mul = 60 * NS_PER_S;
        break;
    case 'S':
        mul = NS_PER_S;
        break;
    case 'm':
        mul = 1000000;
        break;
    case 'u':
        mul = 1000;
        break;
    case 'n':
        mul = 1;
        break;
    default:
        return LR_E_MALFORMED;
    }
    *ns = (n != 0 && mul > UINT64_MAX / n) ? UINT64_MAX : n * mul;
    return 0;
}

size_t lr_dp_grpc_percent_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = in[i];
        if (b >= 0x20 && b <= 0x7e && b != '%') {
            if (o + 1 <= cap)
                out[o] = (char)b;
            else
                cap = o; /* stop writing, keep counting */
            o += 1;
        } else {
            if (o + 3 <= cap) {
                out[o] = '%';
                out[o + 1] = hex[b >> 4];
                out[o + 2] = hex[b & 15];
            } else {
                cap = o;
            }
            o += 3;
        }
    }
    return o;
}

size_t lr_dp_grpc_base64_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t lr_dp_grpc_base64_encode(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
    }
    return o;
}

/* --------------------------------------------------------------------------------------------
 * Connection */

struct span {
    uint32_t off, len;
    bool set;
};

struct stream {
    struct stream *prev, *next; /* c->streams, in order of arrival */
    struct lr_h2_conn *c;
    int32_t id;
    uint64_t start_ns;
    /* request headers we keep, copied into hv */
    char *hv;
    size_t hv_len, hv_cap;
    struct span method, path, ctype, enc, timeout;
    size_t hdr_list_bytes;
    bool hdr_over;   /* header list exceeded max_header_list_bytes */
    bool headers_ok; /* headers accepted, body expected */
    bool complete;   /* END_STREAM received */
    bool answered;   /* response submitted */
    bool rst_after;  /* reset (NO_ERROR) once the answer is sent if the request is not complete */
    bool inflight;   /* answer submitted and not fully sent */
    enum lr_dp_codec codec;
    uint64_t timeout_ns;
    struct lr_dp_buf body; /* raw DATA bytes */
    size_t owed;           /* received, not yet credited with nghttp2_session_consume */
    /* the answer */
    uint8_t *resp;
    size_t resp_len, resp_off;
    char status_str[12];
    char *trl_msg;
    size_t trl_msg_len;
    char *trl_det;
    size_t trl_det_len;
};

struct rate {
    uint64_t start_ns;
    uint32_t count;
};

struct lr_h2_conn {
    struct lr_h2_limits lim;
    struct lr_h2_handler h;
    nghttp2_session *sess;
    uint64_t now_ns;
    int err; /* once set: closing, feeds refused */

    /* output */
    uint8_t *out;
    size_t out_off, out_len, out_cap;

    /* streams */
    struct stream *head, *tail;
    size_t n_streams;
    size_t n_inflight;
    size_t buffered;      /* bytes in all bodies */
    size_t budget;        /* bound on `buffered` before flow control pushes back */
    struct lr_dp_buf dec; /* decompressed message, reused */
    uint64_t requests;

    /* timers */
    uint64_t start_ns, last_rx_ns, last_tx_ns;
    bool first_done; /* a request completed: the connection-level header timeout is over */
    bool eof;
    bool shutdown, shutdown_final;
    uint64_t shutdown_ns;

    /* input frame tracker (see top) */
    size_t preface_left;
    uint8_t fh[9];
    size_t fh_have;
    size_t payload_left;
    bool want_pad; /* DATA with PADDED: the first payload byte decides if it carries data */
    uint8_t cur_type, cur_flags;
    uint32_t cur_len;
    bool in_block;
    size_t block_bytes;
    struct rate resets, control;
};

void lr_h2_limits_default(struct lr_h2_limits *l)
{
    memset(l, 0, sizeof *l);
    l->max_concurrent_streams = 100;
    l->max_header_list_bytes = 16 << 10;
    l->hpack_table_bytes = 4096;
    l->stream_window_bytes = 1 << 20;
    l->connection_window_bytes = 16 << 20;
    l->max_message_bytes = (size_t)4 << 20;
    l->max_resets_per_s = 100;
    l->max_control_frames_per_s = 500;
    l->header_timeout_ns = 10 * NS_PER_S;
    l->idle_timeout_ns = 300 * NS_PER_S;
    l->send_timeout_ns = 30 * NS_PER_S;
}

static bool rate_over(struct rate *r, uint64_t now_ns, uint32_t limit)
{
    if (limit == 0)
        return false; /* 0: unlimited */
    if (r->count == 0 || now_ns - r->start_ns >= NS_PER_S) {
        r->start_ns = now_ns;
        r->count = 0;
    }
    return ++r->count > limit;
}

static void set_err(struct lr_h2_conn *c, int err)
{
    if (!c->err)
        c->err = err;
}

/* Terminates with GOAWAY(code): last stream id = the last one processed. */
static void terminate(struct lr_h2_conn *c, int err, uint32_t code)
{
    if (c->err)
        return;
    c->err = err;
    nghttp2_session_terminate_session(c->sess, code);
}

static int out_reserve(struct lr_h2_conn *c, size_t add)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + add <= c->out_cap)
        return 0;
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + add <= c->out_cap)
            return 0;
    }
    size_t cap = c->out_cap ? c->out_cap : 16384;
    while (cap < c->out_len + add)
        cap *= 2;
    uint8_t *p = realloc(c->out, cap);
    if (!p)
        return -ENOMEM;
    c->out = p;
    c->out_cap = cap;
    return 0;
}

/* Moves frames from nghttp2 into `out` while little is unsent. */
static void pump(struct lr_h2_conn *c)
{
    while (c->out_len - c->out_off < OUT_HIGH_BYTES) {
        const uint8_t *d;
        ssize_t r = nghttp2_session_mem_send(c->sess, &d);
        if (r < 0) {
            set_err(c, r == NGHTTP2_ERR_NOMEM ? -ENOMEM : LR_E_INTERNAL);
            return;
        }
        if (r == 0)
            return;
        if (out_reserve(c, (size_t)r) < 0) {
            set_err(c, -ENOMEM);
            return;
        }
        memcpy(c->out + c->out_len, d, (size_t)r);
        c->out_len += (size_t)r;
    }
}

static struct lr_slice span_slice(const struct stream *s, struct span sp)
{
    if (!sp.set || sp.len == 0)
        return lr_slice_make("", 0);
    return lr_slice_make(s->hv + sp.off, sp.len);
}

static void stream_release_body(struct lr_h2_conn *c, struct stream *s)
{
    c->buffered -= s->body.len;
    free(s->body.p);
    s->body.p = NULL;
    s->body.len = s->body.cap = 0;
}

/* Credits owed DATA back to the peers while the buffered bodies fit the budget. */
static void credit(struct lr_h2_conn *c)
{
    for (struct stream *s = c->head; s && c->buffered <= c->budget; s = s->next) {
        if (s->owed) {
            nghttp2_session_consume(c->sess, s->id, s->owed);
            s->owed = 0;
        }
    }
}

static void stream_free(struct lr_h2_conn *c, struct stream *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        c->tail = s->prev;
    c->n_streams--;
    if (s->inflight)
        c->n_inflight--;
    stream_release_body(c, s);
    if (s->owed)
        nghttp2_session_consume_connection(c->sess, s->owed);
    free(s->hv);
    free(s->resp);
    free(s->trl_msg);
    free(s->trl_det);
    free(s);
}

#define NV(n, v, vl) \
    ((nghttp2_nv){ (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl), NGHTTP2_NV_FLAG_NONE })

/* Stores grpc-status, grpc-message and grpc-status-details-bin in `s` for the trailers. */
static int store_status(struct stream *s, int grpc_status, const char *msg, struct lr_slice det)
{
    snprintf(s->status_str, sizeof s->status_str, "%d", grpc_status);
    if (msg && *msg) {
        size_t n = strnlen(msg, GRPC_MESSAGE_MAX);
        size_t cap = 3 * n;
        s->trl_msg = malloc(cap ? cap : 1);
        if (!s->trl_msg)
            return -ENOMEM;
        size_t full = lr_dp_grpc_percent_encode((const uint8_t *)msg, n, s->trl_msg, cap);
        s->trl_msg_len = full < cap ? full : cap;
    }
    if (det.len > 0 && det.len <= GRPC_DETAILS_MAX) {
        s->trl_det = malloc(lr_dp_grpc_base64_len(det.len));
        if (!s->trl_det)
            return -ENOMEM;
        s->trl_det_len = lr_dp_grpc_base64_encode(det.p, det.len, s->trl_det);
    }
    return 0;
}

static size_t status_nv(const struct stream *s, nghttp2_nv *nv)
{
    size_t n = 0;
    nv[n++] = NV("grpc-status", s->status_str, strlen(s->status_str));
    if (s->trl_msg_len)
        nv[n++] = NV("grpc-message", s->trl_msg, s->trl_msg_len);
    if (s->trl_det_len)
        nv[n++] = NV("grpc-status-details-bin", s->trl_det, s->trl_det_len);
    return n;
}

static void mark_answered(struct lr_h2_conn *c, struct stream *s)
{
    s->answered = true;
    s->inflight = true;
    c->n_inflight++;
    c->requests++;
    if (!s->complete)
        s->rst_after = true;
}

/* Trailers-Only response (gRPC PROTOCOL-HTTP2.md): one HEADERS with END_STREAM. */
static void answer_error(struct lr_h2_conn *c, struct stream *s, int http_status, int grpc_status,
                         const char *msg, bool accept_enc)
{
    if (s->answered)
        return;
    char st[8];
    snprintf(st, sizeof st, "%d", http_status);
    if (store_status(s, grpc_status, msg, lr_slice_make("", 0)) < 0) {
        nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        s->answered = true;
        return;
    }
    nghttp2_nv nv[7];
    size_t n = 0;
    nv[n++] = NV(":status", st, strlen(st));
    nv[n++] = NV("content-type", "application/grpc", 16);
    if (accept_enc)
        nv[n++] = NV("grpc-accept-encoding", ACCEPT_ENCODING, sizeof ACCEPT_ENCODING - 1);
    n += status_nv(s, nv + n);
    mark_answered(c, s);
    stream_release_body(c, s);
    credit(c);
    if (nghttp2_submit_response(c->sess, s->id, nv, n, NULL) != 0) {
        s->inflight = false;
        c->n_inflight--;
    }
}

/* An LR_E_* error answered through the one table. */
static void answer_lr(struct lr_h2_conn *c, struct stream *s, int err, const char *msg)
{
    answer_error(c, s, 200, lr_err_lookup(err)->grpc_status, msg, false);
}

static ssize_t read_resp(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *src, void *user)
{
    (void)user;
    struct stream *s = src->ptr;
    size_t n = s->resp_len - s->resp_off;
    if (n > length)
        n = length;
    memcpy(buf, s->resp + s->resp_off, n);
    s->resp_off += n;
    if (s->resp_off == s->resp_len) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv nv[3];
        size_t k = status_nv(s, nv);
        if (nghttp2_submit_trailer(sess, id, nv, k) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    }
    return (ssize_t)n;
}

static void answer_ok(struct lr_h2_conn *c, struct stream *s, const struct lr_grpc_resp *r)
{
    if (r->grpc_status != 0) {
        /* Trailers-Only, with details when given. */
        struct lr_slice det = r->status_details;
        if (store_status(s, r->grpc_status, r->grpc_message, det) < 0)
            goto fail;
        nghttp2_nv nv[6];
        size_t n = 0;
        nv[n++] = NV(":status", "200", 3);
        nv[n++] = NV("content-type", "application/grpc", 16);
        n += status_nv(s, nv + n);
        mark_answered(c, s);
        if (nghttp2_submit_response(c->sess, s->id, nv, n, NULL) != 0) {
            s->inflight = false;
            c->n_inflight--;
        }
        return;
    }
    /* The JS client fails an OK without a message: always send one, even 0 bytes. */
    if (r->message.len > UINT32_MAX)
        goto fail;
    s->resp_len = LR_GRPC_PREFIX_BYTES + r->message.len;
    s->resp = malloc(s->resp_len);
    if (!s->resp || store_status(s, 0, r->grpc_message, r->status_details) < 0)
        goto fail;
    uint32_t L = (uint32_t)r->message.len;
    s->resp[0] = 0;
    s->resp[1] = (uint8_t)(L >> 24);
    s->resp[2] = (uint8_t)(L >> 16);
    s->resp[3] = (uint8_t)(L >> 8);
    s->resp[4] = (uint8_t)L;
    if (L)
        memcpy(s->resp + LR_GRPC_PREFIX_BYTES, r->message.p, L);
    /* Echo the request's content-type (checked to be application/grpc[+...]). */
    struct lr_slice rct = span_slice(s, s->ctype);
    nghttp2_nv nv[4];
    size_t n = 0;
    nv[n++] = NV(":status", "200", 3);
    nv[n++] = NV("content-type", rct.p, rct.len);
    nv[n++] = NV("grpc-accept-encoding", ACCEPT_ENCODING, sizeof ACCEPT_ENCODING - 1);
    nghttp2_data_provider prd = { .source.ptr = s, .read_callback = read_resp };
    mark_answered(c, s);
    if (nghttp2_submit_response(c->sess, s->id, nv, n, &prd) != 0) {
        s->inflight = false;
        c->n_inflight--;
    }
    return;
fail:
    free(s->resp);
    s->resp = NULL;
    answer_lr(c, s, LR_E_INTERNAL, "out of memory");
}

static void fill_req(const struct stream *s, struct lr_grpc_req *q)
{
    memset(q, 0, sizeof *q);
    q->stream_id = s->id;
    q->path = span_slice(s, s->path);
    q->content_type = span_slice(s, s->ctype);
    q->encoding = s->codec == LR_CODEC_IDENTITY ? lr_slice_make("", 0) : span_slice(s, s->enc);
    q->timeout_ns = s->timeout_ns;
    q->message = lr_slice_make("", 0);
}

static bool is_grpc_content_type(struct lr_slice ct)
{
    /* gRPC PROTOCOL-HTTP2.md: "application/grpc" [("+proto" / "+json" / {custom})] */
    if (ct.len < 16 || memcmp(ct.p, "application/grpc", 16) != 0)
        return false;
    return ct.len == 16 || ct.p[16] == '+' || ct.p[16] == ';';
}

static void headers_done(struct lr_h2_conn *c, struct stream *s)
{
    if (s->hdr_over) {
        answer_lr(c, s, LR_E_HEADERS, "header list too large");
        return;
    }
    struct lr_slice m = span_slice(s, s->method);
    if (!lr_slice_eq(m, "POST")) {
        const struct lr_err_map *e = lr_err_lookup(LR_E_METHOD);
        answer_error(c, s, e->http_status, e->grpc_status, "method should be POST", false);
        return;
    }
    if (!is_grpc_content_type(span_slice(s, s->ctype))) {
        const struct lr_err_map *e = lr_err_lookup(LR_E_MEDIA_TYPE);
        answer_error(c, s, e->http_status, e->grpc_status, "invalid gRPC request content-type",
                     false);
        return;
    }
    s->codec = s->enc.set ? lr_dp_codec_from_name(span_slice(s, s->enc)) : LR_CODEC_IDENTITY;
    /* The grpc-encodings we announce in grpc-accept-encoding; others (lz4, zlib, ...) are not
     * gRPC compressors any client sends. */
    bool known = s->codec == LR_CODEC_IDENTITY || s->codec == LR_CODEC_GZIP ||
                 s->codec == LR_CODEC_DEFLATE || s->codec == LR_CODEC_ZSTD ||
                 s->codec == LR_CODEC_SNAPPY;
    if (!known) {
        answer_error(c, s, 200, lr_err_lookup(LR_E_MEDIA_TYPE)->grpc_status,
                     "grpc: Decompressor is not installed for grpc-encoding", true);
        return;
    }
    if (s->timeout.set && lr_dp_grpc_timeout_parse(span_slice(s, s->timeout), &s->timeout_ns)) {
        answer_lr(c, s, LR_E_INTERNAL, "malformed grpc-timeout");
        return;
    }
    if (c->h.on_headers) {
        struct lr_grpc_req q;
        fill_req(s, &q);
        const char *reason = NULL;
        int rc = c->h.on_headers(c->h.ctx, &q, &reason);
        if (rc != 0) {
            answer_lr(c, s, rc, reason ? reason : lr_err_name(rc));
            return;
        }
    }
    s->headers_ok = true;
}

static void end_stream(struct lr_h2_conn *c, struct stream *s)
{
    s->complete = true;
    c->first_done = true;
    if (s->answered || !s->headers_ok)
        return;
    struct lr_dp_grpc_msg m;
    const char *reason;
    int rc = lr_dp_grpc_msg_parse(s->body.p, s->body.len, c->lim.max_message_bytes, &m, &reason);
    if (rc == LR_E_INCOMPLETE) {
        /* grpc-go: io.ErrUnexpectedEOF maps to INTERNAL; no message at all is a cardinality
         * violation (statuscodes.md: UNIMPLEMENTED). */
        answer_lr(c, s, s->body.len == 0 ? LR_E_NOT_IMPLEMENTED : LR_E_INTERNAL, reason);
        return;
    }
    if (rc == LR_E_MALFORMED) {
        answer_lr(c, s, LR_E_INTERNAL, reason);
        return;
    }
    if (rc != 0) {
        answer_lr(c, s, rc, reason);
        return;
    }
    if (m.compressed && s->codec == LR_CODEC_IDENTITY) {
        answer_lr(c, s, LR_E_INTERNAL, "grpc: compressed flag set with identity or empty encoding");
        return;
    }
    /* grpc-timeout (gRPC over HTTP/2, "Timeout"): a call that arrives whole only after its
     * deadline is answered DEADLINE_EXCEEDED; the client has given up on it already. */
    if (s->timeout_ns && c->last_rx_ns - s->start_ns > s->timeout_ns) {
        answer_lr(c, s, LR_E_TIMEOUT, "grpc: deadline exceeded before the request arrived whole");
        return;
    }
    struct lr_grpc_req q;
    fill_req(s, &q);
    if (m.compressed) {
        rc = lr_dp_codec_decode(s->codec, m.payload.p, m.payload.len, c->lim.max_message_bytes,
                                &c->dec);
        if (rc == LR_E_TOO_LARGE) {
            answer_lr(c, s, LR_E_TOO_LARGE,
                      "grpc: received message after decompression larger than max");
            return;
        }
        if (rc != 0) {
            answer_lr(c, s, rc == -ENOMEM ? rc : LR_E_INTERNAL,
                      "grpc: failed to decompress the received message");
            return;
        }
        q.message = lr_slice_make(c->dec.p, c->dec.len);
    } else {
        q.message = m.payload;
    }
    struct lr_grpc_resp r;
    memset(&r, 0, sizeof r);
    c->h.on_request(c->h.ctx, &q, &r);
    /* The answer may borrow from the request (its message): copy it before the body goes. */
    answer_ok(c, s, &r);
    stream_release_body(c, s);
    if (c->dec.cap > 2 * c->lim.max_message_bytes + 4096) {
        free(c->dec.p);
        memset(&c->dec, 0, sizeof c->dec);
    }
    credit(c);
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *sess, const nghttp2_frame *f, void *user)
{
    struct lr_h2_conn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct stream *s = calloc(1, sizeof *s);
    if (!s) {
        set_err(c, -ENOMEM);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    s->c = c;
    s->id = f->hd.stream_id;
    s->start_ns = c->now_ns;
    s->prev = c->tail;
    if (c->tail)
        c->tail->next = s;
    else
        c->head = s;
    c->tail = s;
    c->n_streams++;
    nghttp2_session_set_stream_user_data(sess, s->id, s);
    return 0;
}

static int keep(struct stream *s, struct span *sp, const uint8_t *v, size_t n)
{
    if (sp->set)
        return 0; /* first one wins */
    if (s->hv_len + n > s->hv_cap) {
        size_t cap = s->hv_cap ? s->hv_cap : 256;
        while (cap < s->hv_len + n)
            cap *= 2;
        char *p = realloc(s->hv, cap);
        if (!p)
            return -ENOMEM;
        s->hv = p;
        s->hv_cap = cap;
    }
    if (n)
        memcpy(s->hv + s->hv_len, v, n);
    sp->off = (uint32_t)s->hv_len;
    sp->len = (uint32_t)n;
    sp->set = true;
    s->hv_len += n;
    return 0;
}

/* A decoded header list this many times max_header_list_bytes ends the connection. */
#define HPACK_BOMB_FACTOR 4

#define NAME_IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, sizeof(lit) - 1) == 0)

static int on_header(nghttp2_session *sess, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    (void)flags;
    struct lr_h2_conn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct stream *s = nghttp2_session_get_stream_user_data(sess, f->hd.stream_id);
    if (!s)
        return 0;
    /* RFC 9113 §6.5.2: name + value + 32 per field. nghttp2 decodes the block field by field
     * and does not enforce SETTINGS_MAX_HEADER_LIST_SIZE itself. A list somewhat over the limit
     * is refused on its stream; one that decodes to many times the limit is an HPACK bomb
     * (dynamic-table references multiplying a few wire bytes): the connection goes, before
     * nghttp2 spends more time decoding it. */
    s->hdr_list_bytes += namelen + valuelen + 32;
    if (s->hdr_list_bytes > HPACK_BOMB_FACTOR * (uint64_t)c->lim.max_header_list_bytes) {
        terminate(c, LR_E_HEADERS, NGHTTP2_ENHANCE_YOUR_CALM);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (s->hdr_over)
        return 0;
    if (s->hdr_list_bytes > c->lim.max_header_list_bytes) {
        s->hdr_over = true;
        return 0;
    }
    if (f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers: ignored */
    struct span *sp = NULL;
    if (NAME_IS(":method"))
        sp = &s->method;
    else if (NAME_IS(":path"))
        sp = &s->path;
    else if (NAME_IS("content-type"))
        sp = &s->ctype;
    else if (NAME_IS("grpc-encoding"))
        sp = &s->enc;
    else if (NAME_IS("grpc-timeout"))
        sp = &s->timeout;
    if (sp && keep(s, sp, value, valuelen) < 0) {
        set_err(c, -ENOMEM);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t id, const uint8_t *d,
                         size_t len, void *user)
{
    (void)flags;
    struct lr_h2_conn *c = user;
    struct stream *s = nghttp2_session_get_stream_user_data(sess, id);
    if (!s || s->answered || !s->headers_ok) {
        nghttp2_session_consume(sess, id, len); /* discarded: credit at once */
        return 0;
    }
    size_t max_wire = c->lim.max_message_bytes + LR_GRPC_PREFIX_BYTES;
    if (len > max_wire - s->body.len) {
        /* More than one message of the maximum size: either too large or a second message. */
        struct lr_dp_grpc_msg m;
        const char *reason = "grpc: received message larger than max";
        int rc =
            lr_dp_grpc_msg_parse(s->body.p, s->body.len, c->lim.max_message_bytes, &m, &reason);
        nghttp2_session_consume(sess, id, len);
        answer_lr(c, s, rc == LR_E_INCOMPLETE || rc == 0 ? LR_E_NOT_IMPLEMENTED : rc, reason);
        return 0;
    }
    if (s->body.len + len > s->body.cap) {
        size_t want = s->body.cap ? s->body.cap * 2 : 4096;
        if (s->body.len >= LR_GRPC_PREFIX_BYTES) {
            /* The prefix says how much comes: allocate it once. */
            const uint8_t *p = s->body.p;
            size_t L = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
            if (L <= c->lim.max_message_bytes && L + LR_GRPC_PREFIX_BYTES >= s->body.len + len)
                want = L + LR_GRPC_PREFIX_BYTES;
        }
        if (want < s->body.len + len)
            want = s->body.len + len;
        if (want > max_wire)
            want = max_wire;
        uint8_t *p = realloc(s->body.p, want);
        if (!p) {
            set_err(c, -ENOMEM);
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        s->body.p = p;
        s->body.cap = want;
    }
    memcpy(s->body.p + s->body.len, d, len);
    s->body.len += len;
    c->buffered += len;
    /* Early verdicts: a too large Message-Length, a bad flag, a second message. */
    struct lr_dp_grpc_msg m;
    const char *reason;
    int rc = lr_dp_grpc_msg_parse(s->body.p, s->body.len, c->lim.max_message_bytes, &m, &reason);
    if (rc == LR_E_TOO_LARGE) {
        char msg[96];
        snprintf(msg, sizeof msg, "grpc: received message larger than max (%u vs. %zu)",
                 m.declared_len, c->lim.max_message_bytes);
        nghttp2_session_consume(sess, id, len);
        answer_lr(c, s, LR_E_TOO_LARGE, msg);
        return 0;
    }
    if (rc == LR_E_MALFORMED || rc == LR_E_NOT_IMPLEMENTED) {
        nghttp2_session_consume(sess, id, len);
        answer_lr(c, s, rc == LR_E_MALFORMED ? LR_E_INTERNAL : rc, reason);
        return 0;
    }
    /* Credit the peer while the budget allows, and always the oldest receiving stream. */
    struct stream *oldest = c->head;
    while (oldest && (oldest->answered || oldest->complete || !oldest->headers_ok))
        oldest = oldest->next;
    if (c->buffered <= c->budget || oldest == s) {
        nghttp2_session_consume(sess, id, len + s->owed);
        s->owed = 0;
    } else {
        s->owed += len;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *f, void *user)
{
    struct lr_h2_conn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    struct stream *s = nghttp2_session_get_stream_user_data(sess, f->hd.stream_id);
    if (!s)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
        headers_done(c, s);
    else if (f->hd.type == NGHTTP2_HEADERS && s->hdr_over && !s->answered)
        answer_lr(c, s, LR_E_HEADERS, "trailer list too large");
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM)
        end_stream(c, s);
    return 0;
}

static int on_frame_send(nghttp2_session *sess, const nghttp2_frame *f, void *user)
{
    struct lr_h2_conn *c = user;
    if (f->hd.type == NGHTTP2_GOAWAY && f->goaway.error_code != NGHTTP2_NO_ERROR)
        set_err(c, f->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM ? LR_E_OVERLOADED
                                                                     : LR_E_MALFORMED);
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct stream *s = nghttp2_session_get_stream_user_data(sess, f->hd.stream_id);
    if (!s)
        return 0;
    if (s->inflight) {
        s->inflight = false;
        c->n_inflight--;
    }
    /* RFC 9113 §8.1: a complete response before the request is: RST_STREAM(NO_ERROR). */
    if (s->rst_after && !s->complete) {
        s->rst_after = false;
        nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *sess, int32_t id, uint32_t code, void *user)
{
    (void)code;
    struct lr_h2_conn *c = user;
    struct stream *s = nghttp2_session_get_stream_user_data(sess, id);
    if (!s)
        return 0;
    nghttp2_session_set_stream_user_data(sess, id, NULL);
    stream_free(c, s);
    c->last_rx_ns = c->now_ns; /* idle counts from the last stream's end */
    credit(c);
    return 0;
}

/* ---- input frame tracker ---- */

enum {
    FT_DATA = 0,
    FT_HEADERS = 1,
    FT_PRIORITY = 2,
    FT_RST = 3,
    FT_SETTINGS = 4,
    FT_PUSH = 5,
    FT_PING = 6,
    FT_GOAWAY = 7,
    FT_WU = 8,
    FT_CONT = 9
};

static int control(struct lr_h2_conn *c)
{
    return rate_over(&c->control, c->now_ns, c->lim.max_control_frames_per_s) ? LR_E_OVERLOADED : 0;
}

/* A frame header is complete: classify it. Returns 0 or the violation. */
static int frame_begin(struct lr_h2_conn *c)
{
    const uint8_t *h = c->fh;
    c->cur_len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
    c->cur_type = h[3];
    c->cur_flags = h[4];
    c->want_pad = false;
    size_t bound = (size_t)c->lim.max_header_list_bytes + HDR_BLOCK_SLACK_BYTES;
    switch (c->cur_type) {
    case FT_DATA:
        if (c->cur_flags & NGHTTP2_FLAG_END_STREAM)
            return 0;
        if (c->cur_len == 0)
            return control(c);
        c->want_pad = (c->cur_flags & NGHTTP2_FLAG_PADDED) != 0;
        return 0;
    case FT_HEADERS:
        c->block_bytes = c->cur_len;
        c->in_block = !(c->cur_flags & NGHTTP2_FLAG_END_HEADERS);
        return c->block_bytes > bound ? LR_E_HEADERS : 0;
    case FT_CONT:
        c->block_bytes += c->cur_len;
        if (c->cur_flags & NGHTTP2_FLAG_END_HEADERS)
            c->in_block = false;
        if (c->block_bytes > bound)
            return LR_E_HEADERS;
        return c->cur_len == 0 ? control(c) : 0;
    case FT_RST:
        return rate_over(&c->resets, c->now_ns, c->lim.max_resets_per_s) ? LR_E_OVERLOADED : 0;
    case FT_PUSH:
    case FT_GOAWAY:
        return 0; /* PUSH_PROMISE: nghttp2 answers PROTOCOL_ERROR; GOAWAY ends things anyway */
    default:
        /* SETTINGS, PING, WINDOW_UPDATE, PRIORITY and extension frames. */
        return control(c);
    }
}

/* Walks the frame headers in `p`. Returns 0, or a violation with *ok_len = the bytes before the
 * offending frame (those of it in earlier feeds already went to nghttp2). */
static int track(struct lr_h2_conn *c, const uint8_t *p, size_t n, size_t *ok_len)
{
    size_t i = 0;
    if (c->preface_left) {
        size_t k = n < c->preface_left ? n : c->preface_left;
        c->preface_left -= k;
        i = k;
    }
    while (i < n) {
        if (c->payload_left) {
            if (c->want_pad) {
                /* DATA with PADDED: Pad Length == Length - 1 means no data. */
                c->want_pad = false;
                if ((uint32_t)p[i] + 1 >= c->cur_len) {
                    int v = control(c);
                    if (v) {
                        *ok_len = i >= 9 ? i - 9 : 0;
                        return v;
                    }
                }
            }
            size_t k = n - i < c->payload_left ? n - i : c->payload_left;
            c->payload_left -= k;
            i += k;
            continue;
        }
        size_t start = c->fh_have ? 0 : i; /* a header begun in an earlier feed: 0 */
        size_t k = 9 - c->fh_have;
        if (k > n - i)
            k = n - i;
        memcpy(c->fh + c->fh_have, p + i, k);
        c->fh_have += k;
        i += k;
        if (c->fh_have < 9)
            break;
        c->fh_have = 0;
        int v = frame_begin(c);
        if (v) {
            *ok_len = start;
            return v;
        }
        c->payload_left = c->cur_len;
    }
    *ok_len = n;
    return 0;
}

/* ---- public API ---- */

struct lr_h2_conn *lr_h2_conn_new(const struct lr_h2_limits *limits,
                                  const struct lr_h2_handler *handler, uint64_t now_ns)
{
    if (!limits || !handler || !handler->on_request || limits->max_message_bytes == 0 ||
        limits->max_message_bytes > UINT32_MAX || limits->max_concurrent_streams == 0 ||
        limits->stream_window_bytes > NGHTTP2_MAX_WINDOW_SIZE ||
        limits->connection_window_bytes > NGHTTP2_MAX_WINDOW_SIZE) {
        errno = EINVAL;
        return NULL;
    }
    struct lr_h2_conn *c = calloc(1, sizeof *c);
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    if (!c)
        goto nomem;
    c->lim = *limits;
    c->h = *handler;
    c->now_ns = c->start_ns = c->last_rx_ns = c->last_tx_ns = now_ns;
    c->preface_left = LR_H2_PREFACE_LEN;
    c->budget = 2 * (limits->max_message_bytes + LR_GRPC_PREFIX_BYTES);

    if (nghttp2_session_callbacks_new(&cb) != 0)
        goto nomem;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    if (nghttp2_option_new(&opt) != 0)
        goto nomem;
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_max_send_header_block_length(opt, SEND_HEADER_BLOCK_MAX);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    nghttp2_option_set_max_settings(opt, MAX_SETTINGS_ENTRIES);
    nghttp2_option_set_max_outbound_ack(opt, MAX_OUTBOUND_ACK);
    if (nghttp2_session_server_new2(&c->sess, cb, c, opt) != 0)
        goto nomem;
    nghttp2_option_del(opt);
    opt = NULL;
    nghttp2_session_callbacks_del(cb);
    cb = NULL;

    nghttp2_settings_entry iv[] = {
        { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits->max_concurrent_streams },
        { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits->max_header_list_bytes },
        { NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, limits->hpack_table_bytes },
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits->stream_window_bytes },
    };
    if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0)
        goto nomem;
    if (nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)limits->connection_window_bytes) != 0)
        goto nomem;
    pump(c);
    if (c->err)
        goto nomem;
    return c;
nomem:
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    lr_h2_conn_free(c);
    errno = ENOMEM;
    return NULL;
}

void lr_h2_conn_free(struct lr_h2_conn *c)
{
    if (!c)
        return;
    /* nghttp2_session_del closes streams without on_stream_close: free ours first. */
    while (c->head) {
        struct stream *s = c->head;
        s->owed = 0;
        stream_free(c, s);
    }
    nghttp2_session_del(c->sess);
    free(c->dec.p);
    free(c->out);
    free(c);
}

ssize_t lr_h2_conn_feed(struct lr_h2_conn *c, const uint8_t *p, size_t n, uint64_t now_ns)
{
    if (c->err)
        return c->err;
    c->now_ns = now_ns;
    c->last_rx_ns = now_ns;
    size_t ok_len = n;
    int v = track(c, p, n, &ok_len);
    if (ok_len > 0) {
        ssize_t r = nghttp2_session_mem_recv(c->sess, p, ok_len);
        if (r < 0 && !c->err) {
            if (r == NGHTTP2_ERR_FLOODED)
                terminate(c, LR_E_OVERLOADED, NGHTTP2_ENHANCE_YOUR_CALM);
            else if (r == NGHTTP2_ERR_NOMEM)
                terminate(c, -ENOMEM, NGHTTP2_INTERNAL_ERROR);
            else if (r == NGHTTP2_ERR_CALLBACK_FAILURE)
                terminate(c, LR_E_INTERNAL, NGHTTP2_INTERNAL_ERROR);
            else
                terminate(c, LR_E_MALFORMED, NGHTTP2_PROTOCOL_ERROR);
        } else if (r < 0) {
            nghttp2_session_terminate_session(c->sess, NGHTTP2_INTERNAL_ERROR);
        }
    }
    if (v)
        terminate(c, v, NGHTTP2_ENHANCE_YOUR_CALM);
    pump(c);
    return c->err ? c->err : (ssize_t)n;
}

void lr_h2_conn_eof(struct lr_h2_conn *c)
{
    c->eof = true;
}

struct lr_slice lr_h2_conn_output(struct lr_h2_conn *c)
{
    pump(c);
    return lr_slice_make(c->out + c->out_off, c->out_len - c->out_off);
}

void lr_h2_conn_output_consumed(struct lr_h2_conn *c, size_t n, uint64_t now_ns)
{
    size_t have = c->out_len - c->out_off;
    if (n > have)
        n = have;
    c->out_off += n;
    if (n > 0)
        c->last_tx_ns = now_ns;
    pump(c);
}

int lr_h2_conn_tick(struct lr_h2_conn *c, uint64_t now_ns)
{
    if (c->err) /* already closing: lr_h2_conn_closing() says so */
        return c->err == LR_E_TIMEOUT ? LR_E_TIMEOUT : 0;
    c->now_ns = now_ns;
    const struct lr_h2_limits *l = &c->lim;
    pump(c);
    bool pending = c->out_len > c->out_off || c->n_inflight > 0;
    if (!pending) {
        c->last_tx_ns = now_ns;
    } else if (l->send_timeout_ns && now_ns - c->last_tx_ns >= l->send_timeout_ns) {
        /* The peer does not read: what is queued will never go; drop it so the caller closes. */
        c->err = LR_E_TIMEOUT;
        c->out_off = c->out_len = 0;
        return LR_E_TIMEOUT;
    }
    if (l->header_timeout_ns && !c->first_done && now_ns - c->start_ns >= l->header_timeout_ns) {
        terminate(c, LR_E_TIMEOUT, NGHTTP2_NO_ERROR);
        pump(c);
        return LR_E_TIMEOUT;
    }
    if (l->header_timeout_ns) {
        for (struct stream *s = c->head; s; s = s->next) {
            if (!s->complete && !s->answered && s->timeout_ns &&
                now_ns - s->start_ns > s->timeout_ns) {
                answer_lr(c, s, LR_E_TIMEOUT, "grpc: deadline exceeded");
                continue;
            }
            if (!s->complete && !s->answered && now_ns - s->start_ns >= l->header_timeout_ns) {
                /* Slow request: reset it (its DATA and budget are released on close). */
                s->answered = true;
                s->complete = true;
                nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
            }
        }
    }
    if (l->idle_timeout_ns && c->n_streams == 0 && now_ns - c->last_rx_ns >= l->idle_timeout_ns) {
        terminate(c, LR_E_TIMEOUT, NGHTTP2_NO_ERROR);
        pump(c);
        return LR_E_TIMEOUT;
    }
    if (c->shutdown && !c->shutdown_final) {
        if (c->shutdown_ns == 0) {
            c->shutdown_ns = now_ns ? now_ns : 1;
        } else if (now_ns - c->shutdown_ns >= SHUTDOWN_GRACE_NS) {
            c->shutdown_final = true;
            nghttp2_submit_goaway(c->sess, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(c->sess),
                                  NGHTTP2_NO_ERROR, NULL, 0);
        }
    }
    pump(c);
    return 0;
}

void lr_h2_conn_shutdown(struct lr_h2_conn *c)
{
    if (c->shutdown || c->err)
        return;
    c->shutdown = true;
    /* RFC 9113 §6.8: GOAWAY(2^31-1) first, the real last stream id after a round trip. */
    nghttp2_submit_shutdown_notice(c->sess);
    pump(c);
}

bool lr_h2_conn_closing(const struct lr_h2_conn *c)
{
    if (c->err)
        return true;
    if (c->eof && c->n_streams == 0)
        return true;
    return !nghttp2_session_want_read(c->sess) && !nghttp2_session_want_write(c->sess);
}

bool lr_h2_conn_idle(const struct lr_h2_conn *c)
{
    return c->n_streams == 0;
}

uint64_t lr_h2_conn_requests(const struct lr_h2_conn *c)
{
    return c->requests;
}
