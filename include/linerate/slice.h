/* Borrowed byte views. A slice never owns its bytes, never outlives the buffer behind it and never
 * crosses a thread: to cross a ring, send an owned message (see ring.h). */
#ifndef LINERATE_SLICE_H
#define LINERATE_SLICE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct lr_slice {
    const uint8_t *p;
    size_t len;
};

#define LR_SLICE_LIT(s) ((struct lr_slice){ (const uint8_t *)(s), sizeof(s) - 1 })

static inline struct lr_slice lr_slice_make(const void *p, size_t len)
{
    return (struct lr_slice){ (const uint8_t *)p, len };
}

/* Case-sensitive equality with a NUL-terminated string. */
static inline int lr_slice_eq(struct lr_slice s, const char *z)
{
    size_t n = strlen(z);
    return s.len == n && (n == 0 || memcmp(s.p, z, n) == 0);
}

#endif
