/* The errstr convention of control/ (librdkafka's): fills a caller's buffer with a message. */
#ifndef LINERATE_CP_ERRF_H
#define LINERATE_CP_ERRF_H

#include <stddef.h>

/* printf into errstr (errlen bytes, always terminated); nothing when errstr is NULL or errlen 0.
 * Defined in control/config.c. */
void lr_cp_errf(char *errstr, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
