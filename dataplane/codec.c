/* Request-body codecs (dataplane/codec.h): what the OpenTelemetry Collector accepts.
 *
 * Names. confighttp (v0.125.0+, feature gate confighttp.framedSnappy, beta) decodes
 * Content-Encoding "snappy" by peeking at the first 10 bytes: the framing format's stream
 * identifier means framed (what older Collectors sent as "snappy"), anything else is the block
 * format (snappy.Decode); "x-snappy-framed" is framed only; "deflate" and "zlib" both go through
 * Go's zlib reader; "lz4" is the LZ4 frame format (pierrec/lz4 Reader). configgrpc registers
 * grpc-encoding "snappy" as golang/snappy NewReader/NewBufferedWriter, i.e. framed. So "snappy"
 * here decodes both formats, which serves HTTP and gRPC alike.
 *
 * Bounds. Every decoder writes into the caller's buffer, grown geometrically and never past
 * limit + 1: the byte past the limit is how a streaming decoder learns it was exceeded. Sizes a
 * stream declares (snappy's uncompressed length, a zstd frame's content size) are only trusted to
 * refuse early, or for an allocation already known to be within the limit. */
#include <errno.h>
#include <limits.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "codec.h"
#include "linerate/error.h"

#define BUF_MIN_BYTES ((size_t)4096)
/* RFC 9659 §3: decoders of the zstd content coding must support an 8 MB window and may refuse
 * larger ones. Only frames without a content size are decoded with a window buffer. */
#define ZSTD_WINDOW_LOG_MAX 23
/* Snappy framing format §4.2/§4.3: a chunk holds at most 65536 uncompressed bytes. */
#define SNAPPY_FRAME_MAX ((size_t)65536)

static const uint8_t snappy_stream_id[10] = {
    0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'
};

/* ---- names ----------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum lr_dp_codec codec;
} names[] = {
    { "identity", LR_CODEC_IDENTITY }, { "gzip", LR_CODEC_GZIP },
    { "x-gzip", LR_CODEC_GZIP },       { "deflate", LR_CODEC_DEFLATE },
    { "zlib", LR_CODEC_ZLIB },         { "zstd", LR_CODEC_ZSTD },
    { "snappy", LR_CODEC_SNAPPY },     { "x-snappy-framed", LR_CODEC_SNAPPY_FRAMED },
    { "lz4", LR_CODEC_LZ4 },
};

static uint8_t lc(uint8_t ch)
{
    return ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch + 32) : ch;
}

enum lr_dp_codec lr_dp_codec_from_name(struct lr_slice name)
{
    const uint8_t *p = name.p;
    size_t n = name.len;
    while (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0)
        return LR_CODEC_IDENTITY;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *z = names[i].name;
        size_t j = 0;
        while (j < n && z[j] && lc(p[j]) == (uint8_t)z[j])
            j++;
        if (j == n && z[j] == '\0')
            return names[i].codec;
    }
    return LR_CODEC_UNKNOWN;
}

const char *lr_dp_codec_name(enum lr_dp_codec c)
{
    switch (c) {
    case LR_CODEC_IDENTITY:
        return "identity";
    case LR_CODEC_GZIP:
        return "gzip";
    case LR_CODEC_DEFLATE:
        return "deflate";
    case LR_CODEC_ZLIB:
        return "zlib";
    case LR_CODEC_ZSTD:
        return "zstd";
    case LR_CODEC_SNAPPY:
        return "snappy";
    case LR_CODEC_LZ4:
        return "lz4";
    case LR_CODEC_SNAPPY_FRAMED:
        return "x-snappy-framed";
    case LR_CODEC_UNKNOWN:
        break;
    }
    return "unknown";
}

/* ---- output buffer --------------------------------------------------------------------------- */

/* Makes room for at least `need` bytes in total, doubling, never past `cap_max`. */
static int reserve(struct lr_dp_buf *b, size_t need, size_t cap_max)
{
    if (need <= b->cap)
        return 0;
    if (need > cap_max)
        return LR_E_TOO_LARGE;
    size_t n = b->cap ? b->cap : BUF_MIN_BYTES;
    while (n < need)
        n = n > SIZE_MAX / 2 ? SIZE_MAX : n * 2;
    if (n > cap_max)
        n = cap_max;
    uint8_t *p = realloc(b->p, n);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = n;
    return 0;
}

/* Room for at least one more byte; the first allocation is sized from the input. */
static int room(struct lr_dp_buf *b, size_t n_in, size_t cap_max)
{
    if (b->len < b->cap)
        return 0;
    size_t want = b->len + 1;
    if (b->cap == 0 && n_in < SIZE_MAX / 4 && n_in * 3 > want)
        want = n_in * 3;
    if (want > cap_max)
        want = cap_max;
    return reserve(b, want, cap_max);
}

static size_t cap_max_of(size_t limit)
{
    return limit == SIZE_MAX ? SIZE_MAX : limit + 1;
}

/* ---- zlib: gzip (RFC 1952), zlib (RFC 1950), raw deflate (RFC 1951) -------------------------- */

/* RFC 1950 §2.2: CM = 8, CINFO <= 7, and CMF*256 + FLG a multiple of 31. */
static bool zlib_header(const uint8_t *in, size_t n)
{
    return n >= 2 && (in[0] & 0x0f) == 8 && (in[0] >> 4) <= 7 &&
           (((unsigned)in[0] << 8) | in[1]) % 31 == 0;
}

static int inflate_all(bool gzip, const uint8_t *in, size_t n, size_t limit, struct lr_dp_buf *out)
{
    if (n == 0)
        return LR_E_MALFORMED;
    /* "deflate" is zlib-wrapped (RFC 9110 §8.4.1.2) but some senders send raw deflate. */
    int wbits = gzip ? 16 + MAX_WBITS : zlib_header(in, n) ? MAX_WBITS : -MAX_WBITS;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, wbits) != Z_OK)
        return -ENOMEM;
    size_t cap_max = cap_max_of(limit);
    size_t in_left = n;
    int rc = 0;
    for (;;) {
        if (z.avail_in == 0 && in_left > 0) {
            /* avail_in is 32-bit */
            size_t take = in_left > UINT_MAX ? UINT_MAX : in_left;
            z.next_in = (Bytef *)(uintptr_t)(in + (n - in_left));
            z.avail_in = (uInt)take;
            in_left -= take;
        }
        if ((rc = room(out, n, cap_max)) != 0)
            break;
        size_t avail = out->cap - out->len;
        z.next_out = out->p + out->len;
        z.avail_out = avail > UINT_MAX ? UINT_MAX : (uInt)avail;
        uInt before = z.avail_out;
        int zr = inflate(&z, Z_NO_FLUSH);
        out->len += before - z.avail_out;
        if (out->len > limit) {
            rc = LR_E_TOO_LARGE;
            break;
        }
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0 && in_left == 0)
                break; /* complete */
            /* RFC 1952 §2.2: a gzip file is a series of members; after a zlib or raw stream
             * anything is garbage. */
            if (!gzip || inflateReset(&z) != Z_OK) {
                rc = LR_E_MALFORMED;
                break;
            }
            continue;
        }
        if (zr == Z_MEM_ERROR) {
            rc = -ENOMEM;
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = LR_E_MALFORMED;
            break;
        }
        /* Input used up with room left in the output: the stream was cut. */
        if (z.avail_in == 0 && in_left == 0 && z.avail_out > 0) {
            rc = LR_E_MALFORMED;
            break;
        }
    }
    inflateEnd(&z);
    return rc;
}

/* ---- zstd (RFC 8878) ------------------------------------------------------------------------- */

/* One frame without a content size, streamed: the window buffer is zstd's, bounded by
 * ZSTD_WINDOW_LOG_MAX. Returns the compressed bytes used through *used. */
static int zstd_stream_frame(ZSTD_DCtx *d, const uint8_t *in, size_t n, size_t limit,
                             struct lr_dp_buf *out, size_t *used)
{
    size_t cap_max = cap_max_of(limit);
    ZSTD_inBuffer ib = { in, n, 0 };
    if (ZSTD_isError(ZSTD_DCtx_reset(d, ZSTD_reset_session_only)))
        return LR_E_MALFORMED;
    for (;;) {
        int rc = room(out, n, cap_max);
        if (rc != 0)
            return rc;
        ZSTD_outBuffer ob = { out->p + out->len, out->cap - out->len, 0 };
        size_t zr = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(zr))
            return ZSTD_getErrorCode(zr) == ZSTD_error_memory_allocation ? -ENOMEM : LR_E_MALFORMED;
        out->len += ob.pos;
        if (out->len > limit)
            return LR_E_TOO_LARGE;
        if (zr == 0) {
            *used = ib.pos; /* the frame ended and is flushed */
            return 0;
        }
        if (ib.pos == ib.size && ob.pos < ob.size)
            return LR_E_MALFORMED; /* cut */
    }
}

static int zstd_all(const uint8_t *in, size_t n, size_t limit, struct lr_dp_buf *out)
{
    if (n == 0)
        return LR_E_MALFORMED;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return -ENOMEM;
    int rc = 0;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX))) {
        rc = -ENOMEM;
        goto out;
    }
    size_t pos = 0;
    while (pos < n && rc == 0) {
        const uint8_t *f = in + pos;
        size_t left = n - pos;
        unsigned long long fcs = ZSTD_getFrameContentSize(f, left);
        if (fcs == ZSTD_CONTENTSIZE_ERROR) {
            rc = LR_E_MALFORMED; /* bad magic, or a header cut short */
            break;
        }
        if (fcs == ZSTD_CONTENTSIZE_UNKNOWN) {
            size_t used = 0;
            rc = zstd_stream_frame(d, f, left, limit, out, &used);
            pos += used;
            continue;
        }
        /* The frame says how big it is (skippable frames say 0): refuse what cannot fit, else
         * decode in one shot into exactly that much, with no window buffer. zstd checks that
         * the frame really produces fcs bytes. */
        if (fcs > limit - out->len) {
            rc = LR_E_TOO_LARGE;
            break;
        }
        size_t csize = ZSTD_findFrameCompressedSize(f, left);
        if (ZSTD_isError(csize)) {
            rc = LR_E_MALFORMED;
            break;
        }
        if ((rc = reserve(out, out->len + (size_t)fcs + 1, cap_max_of(limit))) != 0)
            break;
        size_t got = ZSTD_decompressDCtx(d, out->p + out->len, (size_t)fcs, f, csize);
        if (ZSTD_isError(got) || got != fcs) {
            rc = ZSTD_isError(got) && ZSTD_getErrorCode(got) == ZSTD_error_memory_allocation
                     ? -ENOMEM
                     : LR_E_MALFORMED;
            break;
        }
        out->len += got;
        pos += csize;
    }
out:
    ZSTD_freeDCtx(d);
    return rc;
}

/* ---- lz4 frame format ------------------------------------------------------------------------ */

static int lz4_all(const uint8_t *in, size_t n, size_t limit, struct lr_dp_buf *out)
{
    LZ4F_dctx *d = NULL;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
        return -ENOMEM;
    size_t cap_max = cap_max_of(limit);
    size_t pos = 0;
    size_t hint = 1; /* 0 once a frame is complete */
    int rc = 0;
    for (;;) {
        if (pos == n && hint == 0)
            break;
        if ((rc = room(out, n, cap_max)) != 0)
            break;
        size_t dst = out->cap - out->len, src = n - pos;
        /* The whole input is offered at once, so a block that fits the output is decoded in
         * place; LZ4F only stages through its own buffers what does not. Several frames (and
         * skippable frames) are accepted, like the lz4 tool does. */
        hint = LZ4F_decompress(d, out->p + out->len, &dst, in + pos, &src, NULL);
        if (LZ4F_isError(hint)) {
            rc = LR_E_MALFORMED;
            break;
        }
        pos += src;
        out->len += dst;
        if (out->len > limit) {
            rc = LR_E_TOO_LARGE;
            break;
        }
        if (src == 0 && dst == 0 && !(pos == n && hint == 0)) {
            rc = LR_E_MALFORMED; /* no progress: the frame was cut */
            break;
        }
    }
    LZ4F_freeDecompressionContext(d);
    return rc;
}

/* ---- snappy ---------------------------------------------------------------------------------- */

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), as the framing format's checksums use. */
static const uint32_t crc32c_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu, 0x26a1e7e8u,
    0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu, 0x4d43cfd0u, 0xbf284cd3u,
    0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu, 0xf165b798u, 0x030e349bu, 0xd7c45070u,
    0x25afd373u, 0x36ff2087u, 0xc494a384u, 0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u,
    0x5d1d08bfu, 0xaf768bbcu, 0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u,
    0x33ed7d2au, 0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
    0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau, 0x30e349b1u,
    0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu, 0x1642ae59u, 0xe4292d5au,
    0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au, 0x7da08661u, 0x8fcb0562u, 0x9c9bf696u,
    0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu, 0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u,
    0x67dafa54u, 0x95b17957u, 0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu,
    0xfe53516fu, 0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
    0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu, 0x3ac7f2ebu,
    0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u, 0x61c69362u, 0x93ad1061u,
    0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu, 0x4767748au, 0xb50cf789u, 0xeb1fcbadu,
    0x197448aeu, 0x0a24bb5au, 0xf84f3859u, 0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u,
    0x7198540du, 0x83f3d70eu, 0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u,
    0xa55230e6u, 0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
    0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu, 0x456cac67u,
    0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u, 0xe9141340u, 0x1b7f9043u,
    0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu, 0x92a8fc17u, 0x60c37f14u, 0x73938ce0u,
    0x81f80fe3u, 0x55326b08u, 0xa759e80bu, 0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu,
    0xf94ad42fu, 0x0b21572cu, 0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u,
    0x502036a5u, 0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u, 0x0e330a81u,
    0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du, 0x758fe5d6u, 0x87e466d5u,
    0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u, 0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u,
    0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu, 0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u,
    0x0417b1dbu, 0xf67c32d8u, 0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu,
    0x5a048dffu, 0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u, 0x590ab964u,
    0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u, 0x7fab5e8cu, 0x8dc0dd8fu,
    0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu, 0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u,
    0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u, 0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u,
    0x4f48173du, 0xbd23943eu, 0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au,
    0xc69f7b69u, 0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
    0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u
};

static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = crc32c_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

/* Framing format §3: the checksum is masked so that checksums of data containing checksums
 * do not collide. */
static uint32_t crc_mask(uint32_t c)
{
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int snappy_block(const uint8_t *in, size_t n, size_t limit, struct lr_dp_buf *out)
{
    size_t ulen;
    if (n == 0 || snappy_uncompressed_length((const char *)in, n, &ulen) != SNAPPY_OK)
        return LR_E_MALFORMED;
    if (ulen > limit)
        return LR_E_TOO_LARGE; /* checked before any allocation */
    int rc = reserve(out, ulen + 1, cap_max_of(limit));
    if (rc != 0)
        return rc;
    size_t got = ulen;
    if (snappy_uncompress((const char *)in, n, (char *)out->p, &got) != SNAPPY_OK || got != ulen)
        return LR_E_MALFORMED;
    out->len = ulen;
    return 0;
}

/* The framing format (google/snappy framing_format.txt): chunks of type(1) length(3 LE). */
static int snappy_framed(const uint8_t *in, size_t n, size_t limit, struct lr_dp_buf *out)
{
    size_t pos = 0;
    bool seen_id = false;
    while (pos < n) {
        if (n - pos < 4)
            return LR_E_MALFORMED;
        uint8_t type = in[pos];
        size_t clen = (size_t)in[pos + 1] | (size_t)in[pos + 2] << 8 | (size_t)in[pos + 3] << 16;
        pos += 4;
        if (clen > n - pos)
            return LR_E_MALFORMED;
        const uint8_t *b = in + pos;
        pos += clen;
        if (type == 0xff) {
            /* §4.1 stream identifier; it may repeat (concatenated streams). */
            if (clen != 6 || memcmp(b, snappy_stream_id + 4, 6) != 0)
                return LR_E_MALFORMED;
            seen_id = true;
            continue;
        }
        if (!seen_id)
            return LR_E_MALFORMED; /* §4.1: the stream identifier comes first */
        if (type >= 0x80)
            continue; /* §4.4 padding (0xfe), §4.6 reserved skippable (0x80-0xfd) */
        if (type > 0x01)
            return LR_E_MALFORMED; /* §4.5 reserved unskippable (0x02-0x7f) */
        if (clen < 4)
            return LR_E_MALFORMED;
        uint32_t want_crc = le32(b);
        const uint8_t *data = b + 4;
        size_t dlen = clen - 4, ulen = dlen;
        if (type == 0x00 &&
            snappy_uncompressed_length((const char *)data, dlen, &ulen) != SNAPPY_OK)
            return LR_E_MALFORMED;
        if (ulen > SNAPPY_FRAME_MAX)
            return LR_E_MALFORMED;
        if (ulen > limit - out->len)
            return LR_E_TOO_LARGE;
        int rc = reserve(out, out->len + ulen + 1, cap_max_of(limit));
        if (rc != 0)
            return rc;
        uint8_t *dst = out->p + out->len;
        if (type == 0x00) {
            size_t got = ulen;
            if (snappy_uncompress((const char *)data, dlen, (char *)dst, &got) != SNAPPY_OK ||
                got != ulen)
                return LR_E_MALFORMED;
        } else if (ulen > 0) {
            memcpy(dst, data, ulen);
        }
        if (crc_mask(crc32c(dst, ulen)) != want_crc)
            return LR_E_MALFORMED;
        out->len += ulen;
    }
    return seen_id ? 0 : LR_E_MALFORMED;
}

static bool snappy_is_framed(const uint8_t *in, size_t n)
{
    return n >= sizeof(snappy_stream_id) &&
           memcmp(in, snappy_stream_id, sizeof(snappy_stream_id)) == 0;
}

/* ---- API ------------------------------------------------------------------------------------- */

int lr_dp_codec_decode(enum lr_dp_codec c, const uint8_t *in, size_t n, size_t limit,
                       struct lr_dp_buf *out)
{
    out->len = 0;
    int rc;
    switch (c) {
    case LR_CODEC_IDENTITY:
        if (n > limit)
            return LR_E_TOO_LARGE;
        if ((rc = reserve(out, n + 1, cap_max_of(limit))) != 0)
            return rc;
        if (n)
            memcpy(out->p, in, n);
        out->len = n;
        return 0;
    case LR_CODEC_GZIP:
        rc = inflate_all(true, in, n, limit, out);
        break;
    case LR_CODEC_DEFLATE:
    case LR_CODEC_ZLIB:
        rc = inflate_all(false, in, n, limit, out);
        break;
    case LR_CODEC_ZSTD:
        rc = zstd_all(in, n, limit, out);
        break;
    case LR_CODEC_LZ4:
        rc = lz4_all(in, n, limit, out);
        break;
    case LR_CODEC_SNAPPY:
        rc = snappy_is_framed(in, n) ? snappy_framed(in, n, limit, out)
                                     : snappy_block(in, n, limit, out);
        break;
    case LR_CODEC_SNAPPY_FRAMED:
        rc = snappy_framed(in, n, limit, out);
        break;
    default:
        return LR_E_MEDIA_TYPE;
    }
    if (rc != 0)
        out->len = 0;
    return rc;
}

static int deflate_all(int wbits, const uint8_t *in, size_t n, struct lr_dp_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    int rc = reserve(out, deflateBound(&z, n) + 64, SIZE_MAX);
    size_t in_left = n;
    while (rc == 0) {
        if (z.avail_in == 0 && in_left > 0) {
            size_t take = in_left > UINT_MAX ? UINT_MAX : in_left;
            z.next_in = (Bytef *)(uintptr_t)(in + (n - in_left));
            z.avail_in = (uInt)take;
            in_left -= take;
        }
        if (out->len == out->cap && (rc = reserve(out, out->cap + 1, SIZE_MAX)) != 0)
            break;
        size_t avail = out->cap - out->len;
        z.next_out = out->p + out->len;
        z.avail_out = avail > UINT_MAX ? UINT_MAX : (uInt)avail;
        uInt before = z.avail_out;
        int zr = deflate(&z, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
        out->len += before - z.avail_out;
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            rc = -ENOMEM;
    }
    deflateEnd(&z);
    return rc;
}

static void put_chunk_head(uint8_t *p, uint8_t type, size_t len)
{
    p[0] = type;
    p[1] = (uint8_t)len;
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)(len >> 16);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The framing format with 64 KiB chunks, each compressed unless that does not make it smaller. */
static int snappy_framed_encode(const uint8_t *in, size_t n, struct lr_dp_buf *out)
{
    size_t chunks = n / SNAPPY_FRAME_MAX + 1;
    size_t per = 8 + snappy_max_compressed_length(SNAPPY_FRAME_MAX);
    if (chunks > (SIZE_MAX - sizeof(snappy_stream_id)) / per)
        return -ENOMEM;
    int rc = reserve(out, sizeof(snappy_stream_id) + chunks * per, SIZE_MAX);
    if (rc != 0)
        return rc;
    memcpy(out->p, snappy_stream_id, sizeof(snappy_stream_id));
    out->len = sizeof(snappy_stream_id);
    for (size_t off = 0; off < n; off += SNAPPY_FRAME_MAX) {
        size_t ulen = n - off < SNAPPY_FRAME_MAX ? n - off : SNAPPY_FRAME_MAX;
        uint8_t *h = out->p + out->len;
        size_t clen = out->cap - out->len - 8;
        if (snappy_compress((const char *)in + off, ulen, (char *)h + 8, &clen) != SNAPPY_OK)
            return -ENOMEM;
        uint8_t type = 0x00;
        if (clen >= ulen) {
            type = 0x01;
            clen = ulen;
            memcpy(h + 8, in + off, ulen);
        }
        put_chunk_head(h, type, clen + 4);
        put_le32(h + 4, crc_mask(crc32c(in + off, ulen)));
        out->len += 8 + clen;
    }
    return 0;
}

int lr_dp_codec_encode(enum lr_dp_codec c, const uint8_t *in, size_t n, struct lr_dp_buf *out)
{
    out->len = 0;
    int rc = 0;
    switch (c) {
    case LR_CODEC_IDENTITY:
        if ((rc = reserve(out, n + 1, SIZE_MAX)) != 0)
            return rc;
        if (n)
            memcpy(out->p, in, n);
        out->len = n;
        return 0;
    case LR_CODEC_GZIP:
        rc = deflate_all(16 + MAX_WBITS, in, n, out);
        break;
    case LR_CODEC_DEFLATE:
    case LR_CODEC_ZLIB:
        rc = deflate_all(MAX_WBITS, in, n, out);
        break;
    case LR_CODEC_ZSTD: {
        ZSTD_CCtx *z = ZSTD_createCCtx();
        if (!z)
            return -ENOMEM;
        size_t bound = ZSTD_compressBound(n);
        rc = ZSTD_isError(bound) ? -EINVAL : reserve(out, bound + 1, SIZE_MAX);
        /* A checksum, so that corruption is caught rather than decoded into wrong bytes. */
        if (rc == 0 && ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1)))
            rc = -EINVAL;
        if (rc == 0) {
            size_t r = ZSTD_compress2(z, out->p, out->cap, in, n);
            if (ZSTD_isError(r))
                rc = -ENOMEM;
            else
                out->len = r;
        }
        ZSTD_freeCCtx(z);
        break;
    }
    case LR_CODEC_SNAPPY: {
        size_t bound = snappy_max_compressed_length(n);
        if ((rc = reserve(out, bound + 1, SIZE_MAX)) != 0)
            return rc;
        size_t clen = out->cap;
        if (snappy_compress((const char *)in, n, (char *)out->p, &clen) != SNAPPY_OK)
            rc = -ENOMEM;
        else
            out->len = clen;
        break;
    }
    case LR_CODEC_SNAPPY_FRAMED:
        rc = snappy_framed_encode(in, n, out);
        break;
    case LR_CODEC_LZ4: {
        LZ4F_preferences_t prefs;
        memset(&prefs, 0, sizeof(prefs));
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
        size_t bound = LZ4F_compressFrameBound(n, &prefs);
        if ((rc = reserve(out, bound + 1, SIZE_MAX)) != 0)
            return rc;
        size_t r = LZ4F_compressFrame(out->p, out->cap, in, n, &prefs);
        if (LZ4F_isError(r))
            rc = -ENOMEM;
        else
            out->len = r;
        break;
    }
    default:
        return -EINVAL;
    }
    if (rc != 0)
        out->len = 0;
    return rc;
}
