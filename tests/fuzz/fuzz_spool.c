/* libFuzzer target for the spool's segment scan (control/spool.c, lr_cp_spool_scan).
 *
 * Input: byte 0 is expect_seq (0: any) unless it is 0xff, when the next 8 bytes are (a
 * little-endian u64); the rest is a segment file. The scan's valid prefix must be 0 or at least a
 * segment header, no longer than the input, and made of whole records: walking their lengths ends
 * exactly at it, each re-encodes to the same bytes, and their seqs run first..last with no gap.
 * Scanning the prefix alone gives the same answer with no damage, and `why` says something
 * exactly when the prefix is not the whole input. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linerate/spool.h"

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint64_t expect = data[0];
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    if (data[0] == 0xff && size >= 9) {
        expect = get64(data + 1);
        p = data + 9;
        len = size - 9;
    }

    uint64_t n, first, last;
    char why[256];
    size_t valid = lr_cp_spool_scan(p, len, expect, &n, &first, &last, why, sizeof(why));
    assert(valid <= len);
    assert(valid == 0 || valid >= LR_SPOOL_SEG_HDR);
    assert((why[0] == '\0') == (valid == len && valid >= LR_SPOOL_SEG_HDR));
    assert(strlen(why) < sizeof(why));
    if (n == 0) {
        assert(first == 0 && last == 0);
    } else {
        assert(valid > LR_SPOOL_SEG_HDR);
        assert(first != 0 && last >= first && last - first + 1 == n);
        assert(expect == 0 || first == expect);
    }

    /* The valid prefix is whole records: walk them by their lengths, re-encode each. */
    uint64_t walked = 0;
    size_t off = valid ? LR_SPOOL_SEG_HDR : 0;
    uint8_t *enc = NULL;
    while (off < valid) {
        assert(valid - off >= LR_SPOOL_REC_HDR);
        uint32_t plen = get32(p + off + 4);
        uint8_t key_len = p[off + 13];
        assert(plen <= valid - off - LR_SPOOL_REC_HDR);
        assert(key_len <= LR_SPOOL_MAX_KEY && key_len <= plen);
        uint64_t seq = get64(p + off + 16);
        assert(seq == first + walked);
        struct lr_cp_spool_rec r = {
            .signal = (enum lr_signal)p[off + 12],
            .key_len = key_len,
            .key = (const char *)(p + off + LR_SPOOL_REC_HDR),
            .n_items = get64(p + off + 24),
            .value = p + off + LR_SPOOL_REC_HDR + key_len,
            .len = plen - key_len,
        };
        size_t rlen = LR_SPOOL_REC_HDR + plen;
        enc = realloc(enc, rlen);
        assert(enc);
        assert(lr_cp_spool_encode(enc, rlen, &r, seq) == rlen);
        assert(memcmp(enc, p + off, rlen) == 0);
        assert(lr_cp_spool_encode(enc, rlen - 1, &r, seq) == 0);
        off += rlen;
        walked++;
    }
    free(enc);
    assert(off == valid);
    assert(walked == n);

    /* The prefix alone: the same records, nothing damaged. Without `why`: the same length. */
    if (valid > 0) {
        uint64_t n2, first2, last2;
        char why2[256] = "x";
        size_t v2 = lr_cp_spool_scan(p, valid, expect, &n2, &first2, &last2, why2, sizeof(why2));
        assert(v2 == valid && n2 == n && first2 == first && last2 == last);
        assert(why2[0] == '\0');
        if (n > 0) {
            v2 = lr_cp_spool_scan(p, valid, first, &n2, &first2, &last2, NULL, 0);
            assert(v2 == valid && n2 == n);
        }
    }
    assert(lr_cp_spool_scan(p, len, expect, NULL, NULL, NULL, NULL, 0) == valid);
    return 0;
}
