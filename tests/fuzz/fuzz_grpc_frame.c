/* libFuzzer target for the gRPC wire helpers (dataplane/grpc_frame.h, in dataplane/h2.c): the
 * 5-byte Length-Prefixed-Message parser, grpc-timeout parsing, percent-encoding and base64.
 *
 * Input: byte 0 picks the message limit, the rest goes to every helper. Checks the parser's
 * invariants (a complete message is exactly the input minus 5 bytes, the limit holds) and that
 * the encoders never write past what they announce. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dataplane/grpc_frame.h"
#include "linerate/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max = (size_t)data[0] * 17;
    data++;
    size--;

    struct lr_dp_grpc_msg m;
    const char *reason = NULL;
    int rc = lr_dp_grpc_msg_parse(data, size, max, &m, &reason);
    if (rc == 0) {
        assert(m.payload.len == size - LR_GRPC_PREFIX_BYTES);
        assert(m.payload.len <= max && m.payload.len == m.declared_len);
        assert(m.payload.p == data + LR_GRPC_PREFIX_BYTES);
    } else {
        assert(rc == LR_E_INCOMPLETE || rc == LR_E_TOO_LARGE || rc == LR_E_NOT_IMPLEMENTED ||
               rc == LR_E_MALFORMED);
        assert(reason && *reason);
        if (rc == LR_E_TOO_LARGE)
            assert(m.declared_len > max);
    }

    uint64_t ns = 0;
    rc = lr_dp_grpc_timeout_parse((struct lr_slice){ data, size }, &ns);
    assert(rc == 0 || rc == LR_E_MALFORMED);
    if (rc == 0)
        assert(size >= 2 && size <= 9);

    size_t cap = size % 64;
    char *pe = malloc(cap ? cap : 1);
    size_t full = lr_dp_grpc_percent_encode(data, size, pe, cap);
    assert(full >= size && full <= 3 * size);
    free(pe);

    size_t blen = lr_dp_grpc_base64_len(size);
    char *b = malloc(blen ? blen : 1);
    assert(lr_dp_grpc_base64_encode(data, size, b) == blen);
    free(b);
    return 0;
}
