/* Decompression for request bodies (dataplane/codec.c): every codec the OpenTelemetry Collector
 * accepts on OTLP/HTTP (Content-Encoding) and OTLP/gRPC (grpc-encoding), each bounded by a limit
 * on the decompressed size that is enforced while decoding, so a bomb stops at the limit without
 * allocating past it. */
#ifndef LINERATE_DP_CODEC_H
#define LINERATE_DP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "linerate/slice.h"

enum lr_dp_codec {
    LR_CODEC_IDENTITY = 0,  /* "identity" or absent */
    LR_CODEC_GZIP,          /* "gzip", "x-gzip" (multi-member accepted) */
    LR_CODEC_DEFLATE,       /* "deflate": zlib-wrapped (RFC 9110 §8.4.1.2); raw deflate accepted */
    LR_CODEC_ZLIB,          /* "zlib": zlib-wrapped (the Collector's name) */
    LR_CODEC_ZSTD,          /* "zstd" (RFC 8878 frames, several frames accepted) */
    LR_CODEC_SNAPPY,        /* "snappy": block format, or framed when it starts with the stream
                               identifier (decode accepts both, as the Collector does; encode
                               writes the block format) */
    LR_CODEC_LZ4,           /* "lz4": the LZ4 frame format (several frames accepted) */
    LR_CODEC_SNAPPY_FRAMED, /* "x-snappy-framed": the snappy framing format only. Encode with this
                               one for gRPC answers: grpc-encoding snappy is framed (configgrpc) */
    LR_CODEC_UNKNOWN,
};

/* Maps a Content-Encoding / grpc-encoding token (case-insensitive, surrounding whitespace
 * ignored) to a codec; LR_CODEC_UNKNOWN when not supported. */
enum lr_dp_codec lr_dp_codec_from_name(struct lr_slice name);

/* The canonical name ("gzip", "zstd", ...). */
const char *lr_dp_codec_name(enum lr_dp_codec c);

/* A growable output buffer owned by the caller (reuse it across requests; free with free(p)). */
struct lr_dp_buf {
    uint8_t *p;
    size_t len, cap;
};

/* Decodes `in` (borrows) compressed with `c` into `out` (replacing its contents; grown as needed
 * but never beyond `limit` + a small constant). Returns 0; LR_E_TOO_LARGE when the decompressed
 * size would exceed `limit`; LR_E_MALFORMED when `in` is not a complete valid stream of that
 * codec (truncated, corrupt, trailing garbage; an empty `in` too, except for identity);
 * LR_E_MEDIA_TYPE for LR_CODEC_UNKNOWN; -ENOMEM. For LR_CODEC_IDENTITY copies (with the limit).
 * Thread-safe (no global state). Besides `out`, a decode holds the codec's own state while it
 * runs: zlib ~44 KiB; zstd ~200 KiB, plus for a frame without a content size its window (at most
 * 8 MiB: windows over 2^23 are refused as RFC 9659 allows); lz4 up to twice the frame's block size
 * (<= 8.3 MiB); snappy none. */
int lr_dp_codec_decode(enum lr_dp_codec c, const uint8_t *in, size_t n, size_t limit,
                       struct lr_dp_buf *out);

/* Compresses with `c` (for tests, benchmarks and gRPC answers). Returns 0 or -ENOMEM/-EINVAL. */
int lr_dp_codec_encode(enum lr_dp_codec c, const uint8_t *in, size_t n, struct lr_dp_buf *out);

#endif
