/* gRPC-over-HTTP/2 wire helpers used by the HTTP/2 engine (dataplane/h2.c), split out so they can
 * be tested and fuzzed alone (tests/fuzz/fuzz_grpc_frame.c). Internal to the dataplane.
 * References: gRPC "PROTOCOL-HTTP2.md" (Length-Prefixed-Message, Timeout, Status-Message,
 * Binary-Header) and "statuscodes.md" (request cardinality). */
#ifndef LINERATE_DP_GRPC_FRAME_H
#define LINERATE_DP_GRPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linerate/slice.h"

#define LR_GRPC_PREFIX_BYTES 5

/* One Length-Prefixed-Message as found in a unary request body. */
struct lr_dp_grpc_msg {
    bool compressed;       /* Compressed-Flag == 1 */
    uint32_t declared_len; /* Message-Length from the prefix (valid once 5 bytes are there) */
    struct lr_slice payload;
};

/* Looks at the unary request body received so far, `p`/`n` (borrows; `m->payload` points into
 * it). `max_bytes` bounds Message-Length. Returns
 *   0                   exactly one complete message and nothing after it;
 *   LR_E_INCOMPLETE     the prefix or the payload is not complete yet (at END_STREAM: truncated);
 *   LR_E_TOO_LARGE      Message-Length > max_bytes (known as soon as the prefix is there);
 *   LR_E_NOT_IMPLEMENTED bytes follow the first message: a second message in a unary call
 *                        (request cardinality violation);
 *   LR_E_MALFORMED      Compressed-Flag other than 0 or 1.
 * `*reason` (may be NULL) gets a static text for the errors. Pure function. */
int lr_dp_grpc_msg_parse(const uint8_t *p, size_t n, size_t max_bytes, struct lr_dp_grpc_msg *m,
                         const char **reason);

/* Parses a grpc-timeout value: 1 to 8 ASCII digits then one unit H M S m u n. Stores the timeout
 * in nanoseconds (saturating at UINT64_MAX) and returns 0, or returns LR_E_MALFORMED. */
int lr_dp_grpc_timeout_parse(struct lr_slice v, uint64_t *ns);

/* Percent-encodes `in` for grpc-message: bytes outside 0x20..0x7E and '%' become "%XX" (upper-case
 * hex). Writes at most `cap` bytes to `out` (no NUL) and returns the full encoded length (which
 * may exceed `cap`: the output is then truncated, never in the middle of a %XX). */
size_t lr_dp_grpc_percent_encode(const uint8_t *in, size_t n, char *out, size_t cap);

/* Base64 (RFC 4648 §4 alphabet) without padding, as gRPC sends -bin headers. `out` must hold
 * lr_dp_grpc_base64_len(n) bytes; returns the number written (no NUL). */
size_t lr_dp_grpc_base64_len(size_t n);
size_t lr_dp_grpc_base64_encode(const uint8_t *in, size_t n, char *out);

#endif
