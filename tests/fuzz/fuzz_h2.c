/* libFuzzer target for the HTTP/2 + gRPC engine (dataplane/h2.c).
 *
 * Input: byte 0 picks modes (bit 0 no on_headers, bit 1 on_headers refuses some paths, bit 2
 * answer with an error status and details, bit 3 leave output unread, bit 4 shutdown midway),
 * byte 1 seeds chunk sizes and clock steps, the rest is what the peer sends after a fixed client
 * preface + empty SETTINGS, which the target prepends so the fuzzer starts at frame parsing. One
 * connection with small limits is fed in chunks, ticked on an advancing clock, its output read
 * in pieces (or not). Checks: no crash, leak or UB (sanitizers); every slice handed to the
 * handler readable; the message never larger than the limit; output bounded. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linerate/error.h"
#include "linerate/h2.h"

#define MAX_MSG 4096

struct fz {
    uint8_t mode;
    uint64_t sink;
};

static void touch(struct fz *f, struct lr_slice s)
{
    for (size_t i = 0; i < s.len; i++)
        f->sink += s.p[i];
}

static void touch_req(struct fz *f, const struct lr_grpc_req *q)
{
    assert(q->stream_id > 0 && (q->stream_id & 1));
    touch(f, q->path);
    touch(f, q->content_type);
    touch(f, q->encoding);
    touch(f, q->message);
}

static int on_headers(void *ctx, const struct lr_grpc_req *q, const char **reason)
{
    struct fz *f = ctx;
    touch_req(f, q);
    assert(q->message.len == 0);
    if ((f->mode & 2) && q->path.len % 3 == 0) {
        *reason = "refused";
        return q->path.len % 2 ? LR_E_NOT_FOUND : LR_E_OVERLOADED;
    }
    return 0;
}

static void on_request(void *ctx, const struct lr_grpc_req *q, struct lr_grpc_resp *r)
{
    struct fz *f = ctx;
    touch_req(f, q);
    assert(q->message.len <= MAX_MSG);
    static const uint8_t details[] = { 0x08, 0x03, 0x12, 0x03, 'b', 'a', 'd' };
    if ((f->mode & 4) && q->message.len % 2) {
        r->grpc_status = 3;
        r->grpc_message = "bad \xff 100%";
        r->status_details = (struct lr_slice){ details, sizeof details };
    } else {
        r->message = q->message.len > 16 ? (struct lr_slice){ q->message.p, 16 } : q->message;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct fz f = { .mode = data[0] };
    uint32_t seed = data[1] | 0x100u;
    data += 2;
    size -= 2;

    struct lr_h2_limits l;
    lr_h2_limits_default(&l);
    l.max_concurrent_streams = 8;
    l.max_header_list_bytes = 2048;
    l.hpack_table_bytes = 1024;
    l.stream_window_bytes = 8192;
    l.connection_window_bytes = 16384;
    l.max_message_bytes = MAX_MSG;
    l.max_resets_per_s = 20;
    l.max_control_frames_per_s = 50;
    l.header_timeout_ns = 1000000000ull;
    l.idle_timeout_ns = 3000000000ull;
    l.send_timeout_ns = 2000000000ull;
    struct lr_h2_handler h = {
        .on_headers = (f.mode & 1) ? NULL : on_headers,
        .on_request = on_request,
        .ctx = &f,
    };
    uint64_t now = 1000;
    struct lr_h2_conn *c = lr_h2_conn_new(&l, &h, now);
    if (!c)
        return 0;
    static const uint8_t prefix[] = LR_H2_PREFACE "\0\0\0\x04\0\0\0\0\0";
    lr_h2_conn_feed(c, prefix, sizeof prefix - 1, now);

    size_t i = 0, rounds = 0;
    while (i < size && rounds++ < 100000) {
        seed = seed * 1103515245u + 12345u;
        size_t chunk = 1 + (seed >> 16) % 97;
        if ((seed >> 8) % 4 == 0)
            chunk = size - i;
        if (chunk > size - i)
            chunk = size - i;
        ssize_t r = lr_h2_conn_feed(c, data + i, chunk, now);
        if (r < 0) {
            assert(lr_h2_conn_closing(c));
            break;
        }
        assert((size_t)r == chunk);
        i += chunk;
        now += (seed >> 4) % 64 == 0 ? 700000000ull : (seed >> 4) % 1000;
        if (lr_h2_conn_tick(c, now) < 0) {
            assert(lr_h2_conn_closing(c));
            break;
        }
        if ((f.mode & 16) && i > size / 2)
            lr_h2_conn_shutdown(c);
        struct lr_slice o = lr_h2_conn_output(c);
        assert(o.len < (size_t)1 << 20);
        if (!(f.mode & 8) && o.len) {
            touch(&f, o);
            size_t take = (seed >> 3) % 2 ? o.len : 1 + (seed >> 5) % o.len;
            lr_h2_conn_output_consumed(c, take, now);
        }
        (void)lr_h2_conn_idle(c);
        (void)lr_h2_conn_requests(c);
    }
    lr_h2_conn_eof(c);
    (void)lr_h2_conn_closing(c);
    lr_h2_conn_tick(c, now + 10000000000ull);
    struct lr_slice o = lr_h2_conn_output(c);
    touch(&f, o);
    lr_h2_conn_free(c);
    return 0;
}
