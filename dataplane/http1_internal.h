/* Test-only view into dataplane/http1.c: not part of the public contract
 * (include/linerate/http1.h). Unit tests reach it with a relative include. */
#ifndef LINERATE_DP_HTTP1_INTERNAL_H
#define LINERATE_DP_HTTP1_INTERNAL_H

#include <stddef.h>

#include "linerate/http1.h"

/* Bytes the connection holds right now: input, output, header and body buffers, and what zlib
 * allocated for the inflate state. Used to check that a gzip bomb stays within its limit. */
size_t lr_http1_conn_mem_bytes(const struct lr_http1_conn *c);

/* The most lr_http1_conn_mem_bytes() has been over the connection's life. */
size_t lr_http1_conn_mem_peak(const struct lr_http1_conn *c);

/* Sets the unsent-output level above which pipelined requests wait (1 MiB by default), so the
 * fuzzer reaches the pause path with small inputs. */
void lr_http1_conn_set_out_pause(struct lr_http1_conn *c, size_t bytes);

#endif
