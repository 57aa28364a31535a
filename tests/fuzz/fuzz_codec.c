/* libFuzzer target for the body codecs (dataplane/codec.c).
 *
 * Input: byte 0 picks the codec (and bit 7 a tiny limit), the rest is the compressed input. It is
 * decoded with a 1 MiB limit (or 64 bytes): the result must be 0 or a typed error, the output no
 * longer than the limit and the buffer no larger than limit + 1. Then the same bytes are encoded
 * with every codec and must decode back to themselves, with the limit exactly their size. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/codec.h"
#include "linerate/error.h"

static const enum lr_dp_codec codecs[] = {
    LR_CODEC_IDENTITY, LR_CODEC_GZIP,   LR_CODEC_DEFLATE, LR_CODEC_ZLIB,
    LR_CODEC_ZSTD,     LR_CODEC_SNAPPY, LR_CODEC_LZ4,     LR_CODEC_SNAPPY_FRAMED,
};
#define N_CODECS (sizeof(codecs) / sizeof(codecs[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum lr_dp_codec c = codecs[(data[0] & 0x7f) % N_CODECS];
    size_t limit = data[0] & 0x80 ? 64 : (size_t)1 << 20;
    const uint8_t *in = data + 1;
    size_t n = size - 1;

    struct lr_dp_buf out = { NULL, 0, 0 };
    int rc = lr_dp_codec_decode(c, in, n, limit, &out);
    assert(rc == 0 || rc == LR_E_MALFORMED || rc == LR_E_TOO_LARGE);
    assert(out.len <= limit);
    assert(out.cap <= limit + 1);
    if (rc != 0)
        assert(out.len == 0);
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < out.len; i++)
        sink ^= out.p[i];
    (void)sink;

    struct lr_dp_buf z = { NULL, 0, 0 };
    for (size_t k = 0; k < N_CODECS; k++) {
        rc = lr_dp_codec_encode(codecs[k], in, n, &z);
        assert(rc == 0);
        rc = lr_dp_codec_decode(codecs[k], z.p, z.len, n, &out);
        assert(rc == 0);
        assert(out.len == n);
        assert(n == 0 || memcmp(out.p, in, n) == 0);
        if (n > 0) {
            rc = lr_dp_codec_decode(codecs[k], z.p, z.len, n - 1, &out);
            assert(rc == LR_E_TOO_LARGE);
        }
    }
    free(z.p);
    free(out.p);
    return 0;
}
