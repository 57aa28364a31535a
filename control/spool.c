/* The write-ahead spool (include/linerate/spool.h).
 *
 * Three threads touch one spool, each with its own state:
 *   - the worker appends: it alone owns the active segment's offset, the next seq and the
 *     encode buffer; it publishes written_seq (release) after each write() completes;
 *   - the syncer fdatasyncs the active segment and publishes durable_seq;
 *   - the output thread reads, reports deliveries, trims and rewinds: it alone owns the read
 *     cursor, the delivered bitmap and the watermark (published with a release store).
 * Two mutexes cover what they share, and neither is taken per record: `mu` guards the active
 * segment's fd (the worker swaps it at rollover while the syncer may be in fdatasync on it),
 * `list_mu` guards the segment list (the worker appends at rollover, the reader walks it when it
 * changes segment and removes entries when it trims). Lock order: mu, then list_mu (never both
 * held today, but keep it so).
 *
 * The reader only trusts bytes of records whose seq was published before it read them: a failed
 * append leaves a partial record on disk until the worker truncates it back and writes other bytes
 * at the same offset, so the read buffer remembers the written_seq it was filled under and is
 * refilled for any record past it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <isa-l/crc.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "linerate/clock.h"
#include "linerate/spool.h"

#define SEG_VERSION 1u
#define SEG_NAME_LEN 24u             /* "%020llu.seg" */
#define RBUF_BYTES ((size_t)1 << 20) /* reader's buffer: a pread per MiB, not per record */
#define CKPT_NAME "delivered"
#define CKPT_TMP "delivered.tmp"
#define CKPT_BYTES 12u             /* u64 seq + u32 CRC32C of it */
#define CKPT_EVERY_NS 100000000ull /* rewrite the checkpoint at most every 100 ms */
#define IDLE_POLL_NS 50000ull      /* commit_interval_us 0 and nothing to sync: nap 50 us */
#define LOG_EVERY_NS 1000000000ull /* I/O failures off the request path: a line a second */
#define SYNC_RETRY_NS 10000000ull  /* after a failed fdatasync, not a busy loop of them */
#define BITS_MIN 4096u             /* initial in-flight window, in seqs */

struct seg {
    uint64_t first_seq;
    uint64_t last_seq; /* closed segments only */
    uint64_t bytes;    /* closed segments only: the file's size */
    bool closed;       /* false for the active segment (the last one) */
    char name[SEG_NAME_LEN + 1];
};

/* A record header, decoded. */
struct rec_hdr {
    uint32_t len;
    uint32_t crc;
    uint8_t signal;
    uint8_t key_len;
    uint64_t seq;
    uint64_t n_items;
};

struct lr_cp_spool {
    struct lr_cp_spool_opts o;
    char path[PATH_MAX]; /* DIR/w<N> */
    int dirfd;
    bool opened; /* open got as far as a positioned reader: close may checkpoint */

    _Atomic uint64_t written_seq;
    _Atomic uint64_t durable_seq;
    _Atomic uint64_t delivered_below;
    _Atomic uint64_t used_bytes;
    _Atomic uint32_t segments;
    _Atomic uint64_t fsyncs;
    /* An fdatasync failed, or a failed append could not be cut back: the kernel may have dropped
     * written pages and report success on a later fdatasync (Linux reports a writeback error
     * once per file), so nothing more is made durable or appended until a restart rescans the
     * spool. 0 or the errno. */
    _Atomic int broken;
    _Atomic uint64_t read_errors;
    _Atomic uint64_t in_flight;
    _Atomic bool roll_request;    /* reader -> writer: roll, the active segment is damaged */
    _Atomic uint64_t roll_gen;    /* +1 per rollover: the reader rechecks what to trim */
    _Atomic uint64_t last_log_ns; /* rate limit of failure lines (log_due) */

    pthread_mutex_t mu; /* fd */
    int fd;             /* active segment, written by the worker */

    pthread_mutex_t list_mu; /* segs, n_segs, cap_segs */
    struct seg *segs;
    size_t n_segs, cap_segs;

    /* syncer */
    pthread_t syncer;
    bool syncer_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stop;

    /* writer (worker thread) */
    uint64_t off;      /* end of the active segment */
    uint64_t next_seq; /* seq of the next appended record */
    uint8_t *wbuf;
    size_t wcap;
    bool full;

    /* reader (output thread) */
    size_t rd_idx;   /* segs[] index of the cursor's segment */
    int rd_fd;       /* -1: open segs[rd_idx] at its start on the next read */
    uint64_t rd_off; /* file offset of the record with seq `cseq` */
    uint64_t cseq;   /* seq of the next record the cursor meets (read_next) */
    bool rd_stuck;   /* the active segment is damaged: wait for the rollover we asked for */
    char rd_name[SEG_NAME_LEN + 1];
    uint8_t *rbuf;
    size_t rbuf_cap, rbuf_len;
    uint64_t rbuf_off; /* file offset of rbuf[0] */
    uint64_t rbuf_seq; /* written_seq loaded before rbuf was filled */
    uint64_t dlv;      /* the watermark: every seq < dlv delivered */
    uint64_t hi;       /* one past the highest seq read or marked: marks exist in [dlv, hi) */
    uint64_t *bits;    /* delivered marks, seq & (nbits - 1) */
    size_t nbits;
    uint64_t trim_at; /* dlv at which segs[0] may go (UINT64_MAX: segs[0] is the active one) */
    uint64_t seen_roll_gen;
    uint64_t ckpt_seq; /* what the checkpoint file says */
    uint64_t ckpt_ns;  /* when it was last written */
};

/* ---- little-endian fields ---------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- the on-disk format ------------------------------------------------------------------ */

/* ISA-L's crc32_iscsi neither inverts its input nor its output: ~0 in, ~ out is CRC32C. It takes
 * an int length, so feed it in chunks. */
static uint32_t crc_update(uint32_t c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        c = crc32_iscsi((unsigned char *)p, k, c);
        p += k;
        n -= (size_t)k;
    }
    return c;
}

uint32_t lr_cp_crc32c(const void *p, size_t n)
{
    return crc_update(0xFFFFFFFFu, p, n) ^ 0xFFFFFFFFu;
}

/* CRC of bytes 12..32 of the header, then the payload. */
static uint32_t rec_crc(const uint8_t *hdr, const uint8_t *payload, size_t len)
{
    uint32_t c = crc_update(0xFFFFFFFFu, hdr + 12, LR_SPOOL_REC_HDR - 12);
    return crc_update(c, payload, len) ^ 0xFFFFFFFFu;
}

static void seg_header(uint8_t *p, uint32_t worker)
{
    put64(p, LR_SPOOL_SEG_MAGIC);
    put32(p + 8, SEG_VERSION);
    put32(p + 12, worker);
}

/* Decodes and checks what a header alone can say (not the seq order, not the CRC). Returns NULL
 * or the reason. */
static const char *hdr_check(const uint8_t *p, struct rec_hdr *h)
{
    if (get32(p) != LR_SPOOL_REC_MAGIC)
        return "bad record magic";
    h->len = get32(p + 4);
    h->crc = get32(p + 8);
    h->signal = p[12];
    h->key_len = p[13];
    h->seq = get64(p + 16);
    h->n_items = get64(p + 24);
    if (h->key_len > LR_SPOOL_MAX_KEY)
        return "key longer than 32 bytes";
    if (h->len < h->key_len)
        return "payload shorter than its key";
    if (p[14] != 0 || p[15] != 0)
        return "reserved field not zero";
    if (h->signal >= LR_SIG_COUNT)
        return "unknown signal";
    if (h->seq == 0)
        return "seq 0";
    return NULL;
}

static void whyf(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void whyf(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

size_t lr_cp_spool_scan(const uint8_t *p, size_t len, uint64_t expect_seq, uint64_t *n_records,
                        uint64_t *first_seq, uint64_t *last_seq, char *why, size_t whylen)
{
    uint64_t n = 0, first = 0, last = 0;
    size_t off = 0;
    whyf(why, whylen, "%s", "");
    if (len < LR_SPOOL_SEG_HDR) {
        whyf(why, whylen, "short segment header (%zu of %u bytes)", len, LR_SPOOL_SEG_HDR);
        goto out;
    }
    if (get64(p) != LR_SPOOL_SEG_MAGIC) {
        whyf(why, whylen, "bad segment magic");
        goto out;
    }
    if (get32(p + 8) != SEG_VERSION) {
        whyf(why, whylen, "unknown segment version %" PRIu32, get32(p + 8));
        goto out;
    }
    off = LR_SPOOL_SEG_HDR;
    while (off < len) {
        size_t left = len - off;
        struct rec_hdr h;
        if (left < LR_SPOOL_REC_HDR) {
            whyf(why, whylen, "short record header (%zu of %u bytes)", left, LR_SPOOL_REC_HDR);
            break;
        }
        const char *bad = hdr_check(p + off, &h);
        if (bad) {
            whyf(why, whylen, "%s", bad);
            break;
        }
        if (h.len > left - LR_SPOOL_REC_HDR) {
            whyf(why, whylen, "short payload (%zu of %" PRIu32 " bytes)", left - LR_SPOOL_REC_HDR,
                 h.len);
            break;
        }
        if (rec_crc(p + off, p + off + LR_SPOOL_REC_HDR, h.len) != h.crc) {
            whyf(why, whylen, "bad CRC");
            break;
        }
        /* expect_seq 0 accepts any first seq; after that, +1 per record. */
        uint64_t want = n > 0 ? last + 1 : expect_seq;
        if (want != 0 && h.seq != want) {
            whyf(why, whylen, "seq %" PRIu64 ", expected %" PRIu64, h.seq, want);
            break;
        }
        if (n > 0 && want == 0) { /* last was UINT64_MAX: nothing may follow */
            whyf(why, whylen, "seq past 2^64-1");
            break;
        }
        if (n == 0)
            first = h.seq;
        last = h.seq;
        n++;
        off += LR_SPOOL_REC_HDR + h.len;
    }
out:
    if (n_records)
        *n_records = n;
    if (first_seq)
        *first_seq = first;
    if (last_seq)
        *last_seq = last;
    return off;
}

size_t lr_cp_spool_encode(uint8_t *out, size_t cap, const struct lr_cp_spool_rec *r, uint64_t seq)
{
    if (r->key_len > LR_SPOOL_MAX_KEY || (unsigned)r->signal >= LR_SIG_COUNT ||
        r->len > (size_t)UINT32_MAX - r->key_len)
        return 0;
    size_t plen = r->key_len + r->len;
    if (cap < LR_SPOOL_REC_HDR || cap - LR_SPOOL_REC_HDR < plen)
        return 0;
    put32(out, LR_SPOOL_REC_MAGIC);
    put32(out + 4, (uint32_t)plen);
    out[12] = (uint8_t)r->signal;
    out[13] = r->key_len;
    out[14] = 0;
    out[15] = 0;
    put64(out + 16, seq);
    put64(out + 24, r->n_items);
    if (r->key_len)
        memcpy(out + LR_SPOOL_REC_HDR, r->key, r->key_len);
    if (r->len)
        memcpy(out + LR_SPOOL_REC_HDR + r->key_len, r->value, r->len);
    put32(out + 8, rec_crc(out, out + LR_SPOOL_REC_HDR, plen));
    return LR_SPOOL_REC_HDR + plen;
}

/* ---- small file helpers ------------------------------------------------------------------- */

static void errf(char *errstr, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like lr_cp_errf, which lives in config.c: the fuzz build links this file without it. */
static void errf(char *errstr, size_t errlen, const char *fmt, ...)
{
    if (!errstr || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errlen, fmt, ap);
    va_end(ap);
}

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Reads up to `n` bytes at `off`; returns how many (fewer only at the end of the file) or -errno.
 */
static ssize_t read_at(int fd, uint8_t *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int lr_cp_mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (char *q = tmp + 1; *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -errno;
        *q = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static void seg_name(char *out, uint64_t first_seq)
{
    snprintf(out, SEG_NAME_LEN + 1, "%020" PRIu64 ".seg", first_seq);
}

/* "%020llu.seg" and nothing else; *seq is the number. */
static bool parse_seg_name(const char *name, uint64_t *seq)
{
    if (strlen(name) != SEG_NAME_LEN || strcmp(name + 20, ".seg") != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *seq = v;
    return true;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sync_dir(struct lr_cp_spool *s)
{
    /* Makes created and deleted names durable; the data itself is the syncer's job. */
    if (fsync(s->dirfd) < 0)
        fprintf(stderr, "linerate: spool w%" PRIu32 ": fsync %s: %s\n", s->o.worker, s->path,
                strerror(errno));
}

/* Rate limit for failures that repeat on every try (a full or failing disk): true when a line
 * may be printed now. */
static bool log_due(struct lr_cp_spool *s)
{
    uint64_t t = lr_mono_ns();
    uint64_t last = atomic_load(&s->last_log_ns);
    if (last != 0 && t - last < LOG_EVERY_NS)
        return false;
    return atomic_compare_exchange_strong(&s->last_log_ns, &last, t);
}

/* ---- checkpoint --------------------------------------------------------------------------- */

static uint64_t read_ckpt(struct lr_cp_spool *s)
{
    uint8_t b[CKPT_BYTES + 1];
    int fd = openat(s->dirfd, CKPT_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read_at(fd, b, sizeof(b), 0);
    close(fd);
    if (n != (ssize_t)CKPT_BYTES || lr_cp_crc32c(b, 8) != get32(b + 8))
        return 0; /* missing or torn: replay more, never less */
    return get64(b);
}

/* No fsync: a stale or missing checkpoint only means more replay (duplicates, allowed). The
 * rename still keeps a torn file from ever being read as a checkpoint. */
static void write_ckpt(struct lr_cp_spool *s, uint64_t seq)
{
    uint8_t b[CKPT_BYTES];
    s->ckpt_ns = lr_mono_ns(); /* also after a failure: retried in 100 ms, not on every delivery */
    put64(b, seq);
    put32(b + 8, lr_cp_crc32c(b, 8));
    int fd = openat(s->dirfd, CKPT_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = fd < 0 ? -errno : write_all(fd, b, sizeof(b), 0);
    if (fd >= 0)
        close(fd);
    if (rc == 0 && renameat(s->dirfd, CKPT_TMP, s->dirfd, CKPT_NAME) < 0)
        rc = -errno;
    if (rc < 0) {
        if (log_due(s))
            fprintf(stderr, "linerate: spool w%" PRIu32 ": cannot write the checkpoint: %s\n",
                    s->o.worker, strerror(-rc));
        return;
    }
    s->ckpt_seq = seq;
}

/* ---- durability --------------------------------------------------------------------------- */

static void set_broken(struct lr_cp_spool *s, int err)
{
    int zero = 0;
    if (atomic_compare_exchange_strong(&s->broken, &zero, err ? err : EIO))
        fprintf(stderr,
                "linerate: spool w%" PRIu32 ": %s: refusing new requests until a restart "
                "rescans the spool (what was acknowledged stays on disk and goes to Kafka)\n",
                s->o.worker, strerror(err ? err : EIO));
}

static void log_sync_error(struct lr_cp_spool *s, int err)
{
    if (log_due(s))
        fprintf(stderr,
                "linerate: spool w%" PRIu32 ": fdatasync: %s (durable seq stays at %" PRIu64 ")\n",
                s->o.worker, strerror(err), atomic_load(&s->durable_seq));
}

/* durable_seq only grows: the syncer and lr_cp_spool_sync may race to store it. */
static void publish_durable(struct lr_cp_spool *s, uint64_t w)
{
    uint64_t d = atomic_load(&s->durable_seq);
    while (d < w) {
        if (atomic_compare_exchange_weak(&s->durable_seq, &d, w)) {
            if (s->o.notify_fd >= 0) {
                uint64_t one = 1;
                /* EAGAIN (counter saturated) still leaves the eventfd readable. */
                if (write(s->o.notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN && log_due(s))
                    fprintf(stderr, "linerate: spool w%" PRIu32 ": notify: %s\n", s->o.worker,
                            strerror(errno));
            }
            return;
        }
    }
}

/* One group commit: whatever was written when we took the fd is durable afterwards. Older
 * segments were fdatasynced when the worker rolled past them. */
static int do_sync(struct lr_cp_spool *s)
{
    if (atomic_load(&s->broken))
        return -atomic_load(&s->broken);
    pthread_mutex_lock(&s->mu);
    uint64_t w = atomic_load_explicit(&s->written_seq, memory_order_acquire);
    if (w <= atomic_load(&s->durable_seq)) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    int rc = fdatasync(s->fd);
    int err = errno;
    atomic_fetch_add(&s->fsyncs, 1);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0) {
        log_sync_error(s, err);
        set_broken(s, err);
        return -err;
    }
    publish_durable(s, w);
    return 0;
}

static void *syncer_main(void *arg)
{
    struct lr_cp_spool *s = arg;
    uint64_t interval_ns = (uint64_t)s->o.commit_interval_us * 1000u;
    pthread_setname_np(pthread_self(), "lr-spool-sync");
    bool failed = false;
    pthread_mutex_lock(&s->stop_mu);
    while (!s->stop) {
        bool idle = atomic_load(&s->written_seq) <= atomic_load(&s->durable_seq);
        if (interval_ns > 0 || idle || failed) {
            /* A timed wait on a condition variable rather than a sleep, so that close does not
             * wait out a long interval. */
            uint64_t d = interval_ns > 0 ? interval_ns : IDLE_POLL_NS;
            if (failed && d < SYNC_RETRY_NS)
                d = SYNC_RETRY_NS;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + d;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            while (!s->stop && pthread_cond_timedwait(&s->stop_cv, &s->stop_mu, &ts) == 0) {
            }
            if (s->stop)
                break;
        }
        pthread_mutex_unlock(&s->stop_mu);
        failed = do_sync(s) < 0;
        pthread_mutex_lock(&s->stop_mu);
    }
    pthread_mutex_unlock(&s->stop_mu);
    return NULL;
}

/* ---- segments ----------------------------------------------------------------------------- */

/* Room for one more entry; list_mu held (or no other thread yet). */
static int segs_reserve(struct lr_cp_spool *s)
{
    if (s->n_segs < s->cap_segs)
        return 0;
    size_t cap = s->cap_segs ? s->cap_segs * 2 : 16;
    struct seg *n = realloc(s->segs, cap * sizeof(*n));
    if (!n)
        return -ENOMEM;
    s->segs = n;
    s->cap_segs = cap;
    return 0;
}

/* Creates segment `first_seq` with its header; returns the fd or -errno (nothing left behind). */
static int create_segment(struct lr_cp_spool *s, uint64_t first_seq, char *name)
{
    uint8_t hdr[LR_SPOOL_SEG_HDR];
    seg_name(name, first_seq);
    int fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    seg_header(hdr, s->o.worker);
    int rc = write_all(fd, hdr, sizeof(hdr), 0);
    if (rc < 0) {
        close(fd);
        unlinkat(s->dirfd, name, 0);
        return rc;
    }
    return fd;
}

/* Worker: closes the active segment and starts the next one. The new file exists (header
 * written) before the old one is given up, so a failure leaves the spool as it was. */
static int roll_segment(struct lr_cp_spool *s)
{
    char name[SEG_NAME_LEN + 1];
    pthread_mutex_lock(&s->list_mu);
    int rc = segs_reserve(s);
    pthread_mutex_unlock(&s->list_mu);
    if (rc < 0)
        return rc;
    int nfd = create_segment(s, s->next_seq, name);
    if (nfd < 0)
        return nfd;

    pthread_mutex_lock(&s->mu);
    rc = fdatasync(s->fd);
    int err = errno;
    atomic_fetch_add(&s->fsyncs, 1);
    if (rc == 0 && ftruncate(s->fd, (off_t)s->off) < 0) {
        /* The old segment must end where its last whole record ends (a failed append may have
         * left bytes past it): the reader and a rescan take the file's end as the segment's. */
        rc = -1;
        err = errno;
    }
    int old = s->fd;
    if (rc == 0)
        s->fd = nfd;
    pthread_mutex_unlock(&s->mu);
    if (rc < 0) {
        log_sync_error(s, err);
        set_broken(s, err);
        close(nfd);
        unlinkat(s->dirfd, name, 0);
        return -err;
    }
    close(old);
    /* Every record written so far was in the old segment: all durable now. */
    publish_durable(s, atomic_load(&s->written_seq));

    pthread_mutex_lock(&s->list_mu);
    struct seg *cur = &s->segs[s->n_segs - 1];
    cur->closed = true;
    cur->last_seq = s->next_seq - 1;
    cur->bytes = s->off;
    struct seg *n = &s->segs[s->n_segs++];
    memset(n, 0, sizeof(*n));
    n->first_seq = s->next_seq;
    memcpy(n->name, name, sizeof(n->name));
    pthread_mutex_unlock(&s->list_mu);
    atomic_fetch_add(&s->roll_gen, 1);
    atomic_store(&s->roll_request, false);

    sync_dir(s);
    s->off = LR_SPOOL_SEG_HDR;
    atomic_fetch_add(&s->used_bytes, LR_SPOOL_SEG_HDR);
    atomic_fetch_add(&s->segments, 1);
    return 0;
}

/* ---- the writer --------------------------------------------------------------------------- */

int lr_cp_spool_append(struct lr_cp_spool *s, const struct lr_cp_spool_rec *recs, size_t n,
                       uint64_t *last_seq)
{
    if (n == 0) {
        if (last_seq)
            *last_seq = s->next_seq - 1;
        return 0;
    }
    if (atomic_load(&s->broken))
        return -atomic_load(&s->broken);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const struct lr_cp_spool_rec *r = &recs[i];
        if (r->key_len > LR_SPOOL_MAX_KEY || (unsigned)r->signal >= LR_SIG_COUNT ||
            (r->key_len && !r->key) || (r->len && !r->value))
            return -EINVAL;
        if (r->len > (size_t)UINT32_MAX - r->key_len)
            return -EFBIG;
        size_t sz = LR_SPOOL_REC_HDR + r->key_len + r->len;
        if (total > SIZE_MAX - sz)
            return -EFBIG;
        total += sz;
    }
    if (total > s->wcap) {
        size_t cap = s->wcap ? s->wcap : 4096;
        while (cap < total)
            cap = cap > SIZE_MAX / 2 ? total : cap * 2;
        uint8_t *b = realloc(s->wbuf, cap);
        if (!b)
            return -ENOMEM;
        s->wbuf = b;
        s->wcap = cap;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        at += lr_cp_spool_encode(s->wbuf + at, total - at, &recs[i], s->next_seq + i);

    if (s->off > LR_SPOOL_SEG_HDR &&
        (s->off + total > s->o.segment_bytes || atomic_load(&s->roll_request))) {
        int rc = roll_segment(s);
        if (rc < 0)
            return rc;
    }
    /* One write for the whole request: on failure the segment is cut back to where it was, so
     * that a reopen finds all of the request's records or none, and no seq is used. */
    int rc = write_all(s->fd, s->wbuf, total, s->off);
    if (rc < 0) {
        if (ftruncate(s->fd, (off_t)s->off) < 0)
            set_broken(s, errno);
        return rc;
    }
    s->off += total;
    atomic_fetch_add(&s->used_bytes, total);
    s->next_seq += n;
    atomic_store_explicit(&s->written_seq, s->next_seq - 1, memory_order_release);
    if (last_seq)
        *last_seq = s->next_seq - 1;
    return 0;
}

int lr_cp_spool_tick(struct lr_cp_spool *s)
{
    if (!atomic_load(&s->roll_request) || s->off <= LR_SPOOL_SEG_HDR || atomic_load(&s->broken))
        return 0;
    return roll_segment(s);
}

bool lr_cp_spool_full(struct lr_cp_spool *s)
{
    if (s->o.high_bytes == 0)
        return false;
    uint64_t u = atomic_load(&s->used_bytes);
    if (!s->full && u >= s->o.high_bytes)
        s->full = true;
    else if (s->full && u <= s->o.low_bytes)
        s->full = false;
    return s->full;
}

int lr_cp_spool_sync(struct lr_cp_spool *s)
{
    return do_sync(s);
}

/* ---- any thread --------------------------------------------------------------------------- */

/* The getters take a const handle; C11's atomic_load does not. */
#define LOAD(s, f) atomic_load(&((struct lr_cp_spool *)(s))->f)

uint64_t lr_cp_spool_written_seq(const struct lr_cp_spool *s)
{
    return atomic_load_explicit(&((struct lr_cp_spool *)s)->written_seq, memory_order_acquire);
}

uint64_t lr_cp_spool_durable_seq(const struct lr_cp_spool *s)
{
    return LOAD(s, durable_seq);
}

uint64_t lr_cp_spool_delivered_below(const struct lr_cp_spool *s)
{
    return atomic_load_explicit(&((struct lr_cp_spool *)s)->delivered_below, memory_order_acquire);
}

uint64_t lr_cp_spool_used_bytes(const struct lr_cp_spool *s)
{
    return LOAD(s, used_bytes);
}

uint32_t lr_cp_spool_segments(const struct lr_cp_spool *s)
{
    return LOAD(s, segments);
}

uint64_t lr_cp_spool_fsyncs(const struct lr_cp_spool *s)
{
    return LOAD(s, fsyncs);
}

uint64_t lr_cp_spool_read_errors(const struct lr_cp_spool *s)
{
    return LOAD(s, read_errors);
}

uint64_t lr_cp_spool_in_flight(const struct lr_cp_spool *s)
{
    return LOAD(s, in_flight);
}

/* ---- the delivered window (output thread) ------------------------------------------------- */

static bool bit_get(const struct lr_cp_spool *s, uint64_t seq)
{
    uint64_t i = seq & (s->nbits - 1);
    return s->bits[i / 64] >> (i % 64) & 1;
}

static void bit_set(struct lr_cp_spool *s, uint64_t seq, bool v)
{
    uint64_t i = seq & (s->nbits - 1);
    if (v)
        s->bits[i / 64] |= (uint64_t)1 << (i % 64);
    else
        s->bits[i / 64] &= ~((uint64_t)1 << (i % 64));
}

/* Room for the window [dlv, dlv + need). Bits outside [dlv, hi) are always zero. */
static int bits_reserve(struct lr_cp_spool *s, uint64_t need)
{
    if (need <= s->nbits)
        return 0;
    size_t n = s->nbits ? s->nbits : BITS_MIN;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -ENOMEM;
        n *= 2;
    }
    uint64_t *b = calloc(n / 64, sizeof(uint64_t));
    if (!b)
        return -ENOMEM;
    for (uint64_t q = s->dlv; q < s->hi; q++) {
        uint64_t i = q & (n - 1);
        if (bit_get(s, q))
            b[i / 64] |= (uint64_t)1 << (i % 64);
    }
    free(s->bits);
    s->bits = b;
    s->nbits = n;
    return 0;
}

static void rd_close(struct lr_cp_spool *s)
{
    if (s->rd_fd >= 0)
        close(s->rd_fd);
    s->rd_fd = -1;
    s->rbuf_len = 0;
}

/* Deletes the closed segments wholly below the watermark. The list lock is taken only when the
 * watermark passes segs[0] or after a rollover (closing the active segment may make it due). */
static void trim(struct lr_cp_spool *s)
{
    uint64_t gen = atomic_load(&s->roll_gen);
    if (s->dlv < s->trim_at && gen == s->seen_roll_gen)
        return;
    s->seen_roll_gen = gen;
    pthread_mutex_lock(&s->list_mu);
    size_t k = 0;
    while (k < s->n_segs && s->segs[k].closed && s->segs[k].last_seq < s->dlv)
        k++;
    struct seg *gone = k ? malloc(k * sizeof(*gone)) : NULL;
    if (k && !gone) {
        k = 0; /* try again on the next delivery */
        s->seen_roll_gen = gen - 1;
    }
    if (k) {
        memcpy(gone, s->segs, k * sizeof(*gone));
        memmove(s->segs, s->segs + k, (s->n_segs - k) * sizeof(*s->segs));
        s->n_segs -= k;
    }
    s->trim_at = s->n_segs && s->segs[0].closed ? s->segs[0].last_seq + 1 : UINT64_MAX;
    pthread_mutex_unlock(&s->list_mu);
    if (!k)
        return;
    /* unlink outside the lock: deleting a big file can take milliseconds, and the worker takes
     * the lock at rollover. */
    for (size_t i = 0; i < k; i++) {
        if (unlinkat(s->dirfd, gone[i].name, 0) < 0 && errno != ENOENT)
            fprintf(stderr, "linerate: spool w%" PRIu32 ": cannot delete %s/%s: %s\n", s->o.worker,
                    s->path, gone[i].name, strerror(errno));
        atomic_fetch_sub(&s->used_bytes, gone[i].bytes);
        atomic_fetch_sub(&s->segments, 1);
    }
    free(gone);
    if (s->rd_idx < k) {
        /* The cursor was in a deleted segment (possible after a rewind, when later records were
         * delivered before the reader came back to them): continue at the first one left. */
        rd_close(s);
        s->rd_idx = 0;
    } else {
        s->rd_idx -= k;
    }
}

/* The watermark moved to `d`: publish it, delete what it passed, maybe checkpoint. */
static void moved(struct lr_cp_spool *s, uint64_t d)
{
    s->dlv = d;
    atomic_store_explicit(&s->delivered_below, d, memory_order_release);
    trim(s);
    if (s->ckpt_seq != d && lr_mono_ns() - s->ckpt_ns >= CKPT_EVERY_NS)
        write_ckpt(s, d);
}

static void advance(struct lr_cp_spool *s)
{
    uint64_t d = s->dlv;
    while (d < s->hi) {
        uint64_t i = d & (s->nbits - 1);
        uint64_t *word = &s->bits[i / 64];
        if (i % 64 == 0 && s->hi - d >= 64 && *word == UINT64_MAX) {
            /* A whole word at once: one record held up for long releases millions at once. */
            *word = 0;
            d += 64;
            continue;
        }
        if (!bit_get(s, d))
            break;
        bit_set(s, d, false);
        d++;
    }
    if (d != s->dlv)
        moved(s, d);
}

/* Marks [lo, end) delivered without reading it (a gap between segments, or records found
 * damaged). Returns how many seqs were newly marked, or -ENOMEM. */
static int64_t mark_range(struct lr_cp_spool *s, uint64_t lo, uint64_t end)
{
    uint64_t a = lo > s->dlv ? lo : s->dlv;
    if (a >= end)
        return 0;
    if (s->dlv == s->hi) { /* nothing in flight or marked: move the window */
        s->hi = end;
        moved(s, end);
        return (int64_t)(end - a);
    }
    if (bits_reserve(s, end - s->dlv) < 0)
        return -ENOMEM;
    int64_t n = 0;
    for (uint64_t q = a; q < end; q++) {
        if (q >= s->hi || !bit_get(s, q)) {
            bit_set(s, q, true);
            n++;
        }
    }
    if (end > s->hi)
        s->hi = end;
    advance(s);
    return n;
}

void lr_cp_spool_delivered(struct lr_cp_spool *s, uint64_t seq)
{
    if (seq < s->dlv || seq >= s->hi || bit_get(s, seq))
        return; /* never read, or reported twice */
    bit_set(s, seq, true);
    /* After a rewind, seqs >= cseq are not in flight any more (they will be read again); an
     * acknowledgement that still arrives for one of them just spares the re-read. */
    if (seq < s->cseq && atomic_load(&s->in_flight) > 0)
        atomic_fetch_sub(&s->in_flight, 1);
    advance(s);
}

/* ---- the reader (output thread) ----------------------------------------------------------- */

/* Makes [rd_off, rd_off + need) available in rbuf as far as the file has it. Returns how much of
 * `need` is there (less only at the end of the file) or -errno. `w` is a written_seq loaded
 * before the call: bytes of records up to it are final. */
static ssize_t rd_fill(struct lr_cp_spool *s, size_t need, uint64_t w)
{
    if (s->rbuf_seq >= s->cseq && s->rd_off >= s->rbuf_off &&
        s->rd_off - s->rbuf_off <= s->rbuf_len && s->rbuf_len - (s->rd_off - s->rbuf_off) >= need)
        return (ssize_t)need;
    if (need > s->rbuf_cap || (s->rbuf_cap > RBUF_BYTES && need <= RBUF_BYTES)) {
        /* Grown for a record bigger than the buffer; back to the usual size after it. */
        size_t cap = need > RBUF_BYTES ? need : RBUF_BYTES;
        uint8_t *b = realloc(s->rbuf, cap);
        if (!b) {
            s->rbuf_len = 0;
            if (need > s->rbuf_cap)
                return -ENOMEM;
        } else {
            s->rbuf = b;
            s->rbuf_cap = cap;
        }
    }
    ssize_t got = read_at(s->rd_fd, s->rbuf, s->rbuf_cap, s->rd_off);
    if (got < 0) {
        s->rbuf_len = 0;
        return got;
    }
    s->rbuf_off = s->rd_off;
    s->rbuf_len = (size_t)got;
    s->rbuf_seq = w;
    return (size_t)got < need ? got : (ssize_t)need;
}

/* Opens segs[rd_idx] for the cursor. Returns 0, 1 when the segment is damaged (why set, the
 * caller skips it) or -errno. */
static int rd_open(struct lr_cp_spool *s, char *why, size_t whylen)
{
    pthread_mutex_lock(&s->list_mu);
    uint64_t first = s->segs[s->rd_idx].first_seq;
    memcpy(s->rd_name, s->segs[s->rd_idx].name, sizeof(s->rd_name));
    pthread_mutex_unlock(&s->list_mu);
    s->rd_off = 0;
    s->rbuf_len = 0;
    int fd = openat(s->dirfd, s->rd_name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            return -errno;
        whyf(why, whylen, "the file is gone");
        return 1;
    }
    s->rd_fd = fd;
    uint8_t h[LR_SPOOL_SEG_HDR];
    ssize_t n = read_at(fd, h, sizeof(h), 0);
    if (n < 0) {
        rd_close(s); /* opened again on the next read */
        return (int)n;
    }
    if (n < (ssize_t)sizeof(h) || get64(h) != LR_SPOOL_SEG_MAGIC || get32(h + 8) != SEG_VERSION) {
        whyf(why, whylen, "bad segment header");
        return 1;
    }
    s->rd_off = LR_SPOOL_SEG_HDR;
    if (s->cseq < first) {
        /* Seqs between two segments were cut at open (a damaged tail): nothing to read. */
        int64_t r = mark_range(s, s->cseq, first);
        if (r < 0) {
            rd_close(s);
            return (int)r;
        }
        s->cseq = first;
    }
    return 0;
}

/* The rest of the cursor's segment is unreadable: go on at the next segment, its seqs marked
 * delivered (and counted). The active segment has no next one yet: ask the worker to roll and
 * wait for it (until then nothing after the damage can be read). Returns 0 or -ENOMEM. */
static int rd_skip_rest(struct lr_cp_spool *s)
{
    pthread_mutex_lock(&s->list_mu);
    bool has_next = s->rd_idx + 1 < s->n_segs;
    uint64_t next_first = has_next ? s->segs[s->rd_idx + 1].first_seq : 0;
    pthread_mutex_unlock(&s->list_mu);
    if (!has_next) {
        s->rd_stuck = true;
        atomic_store(&s->roll_request, true);
        return 0;
    }
    rd_close(s);
    s->rd_idx++;
    s->rd_stuck = false;
    uint64_t from = s->cseq;
    s->cseq = next_first;
    int64_t n = mark_range(s, from, next_first);
    if (n < 0) {
        s->cseq = from;
        s->rd_idx--;
        return (int)n;
    }
    atomic_fetch_add(&s->read_errors, (uint64_t)n);
    return 0;
}

static int rd_damage(struct lr_cp_spool *s, const char *why)
{
    fprintf(stderr,
            "linerate: spool w%" PRIu32 ": %s/%s: damaged record at offset %" PRIu64
            " (seq %" PRIu64 "): %s; skipping the rest of the segment\n",
            s->o.worker, s->path, s->rd_name, s->rd_off, s->cseq, why);
    return rd_skip_rest(s);
}

int lr_cp_spool_read(struct lr_cp_spool *s, struct lr_cp_spool_msg *m)
{
    char why[128];
    uint64_t w = atomic_load_explicit(&s->written_seq, memory_order_acquire);
    for (;;) {
        int rc;
        if (s->cseq > w)
            return 0;
        if (s->rd_stuck) {
            if ((rc = rd_skip_rest(s)) < 0)
                return rc;
            if (s->rd_stuck)
                return 0;
            continue;
        }
        if (s->rd_fd < 0) {
            rc = rd_open(s, why, sizeof(why));
            if (rc < 0)
                return rc;
            if (rc == 1 && (rc = rd_damage(s, why)) < 0)
                return rc;
            continue;
        }
        ssize_t got = rd_fill(s, LR_SPOOL_REC_HDR, w);
        if (got < 0)
            return (int)got;
        if (got == 0) {
            /* End of this segment, and seq cseq was written: it is in the next one (the worker
             * adds a segment to the list before it writes there). */
            pthread_mutex_lock(&s->list_mu);
            bool has_next = s->rd_idx + 1 < s->n_segs;
            pthread_mutex_unlock(&s->list_mu);
            if (has_next) {
                rd_close(s);
                s->rd_idx++;
            } else if ((rc = rd_damage(s, "the segment ends early")) < 0) {
                return rc;
            }
            continue;
        }
        if (got < (ssize_t)LR_SPOOL_REC_HDR) {
            if ((rc = rd_damage(s, "short record header")) < 0)
                return rc;
            continue;
        }
        const uint8_t *p = s->rbuf + (s->rd_off - s->rbuf_off);
        struct rec_hdr h;
        const char *bad = hdr_check(p, &h);
        if (!bad && h.seq != s->cseq) {
            snprintf(why, sizeof(why), "seq %" PRIu64 ", expected %" PRIu64, h.seq, s->cseq);
            bad = why;
        }
        if (bad) {
            if ((rc = rd_damage(s, bad)) < 0)
                return rc;
            continue;
        }
        size_t rlen = LR_SPOOL_REC_HDR + (size_t)h.len;
        if (s->cseq < s->dlv || (s->cseq < s->hi && bit_get(s, s->cseq))) {
            /* Delivered already (we are re-reading after a rewind): step over it by its header
             * alone. */
            s->rd_off += rlen;
            s->cseq++;
            continue;
        }
        got = rd_fill(s, rlen, w);
        if (got < 0)
            return (int)got;
        if ((size_t)got < rlen) {
            if ((rc = rd_damage(s, "short payload")) < 0)
                return rc;
            continue;
        }
        p = s->rbuf + (s->rd_off - s->rbuf_off);
        if (rec_crc(p, p + LR_SPOOL_REC_HDR, h.len) != h.crc) {
            if ((rc = rd_damage(s, "bad CRC")) < 0)
                return rc;
            continue;
        }
        if (s->cseq >= s->hi && (rc = bits_reserve(s, s->cseq + 1 - s->dlv)) < 0)
            return rc;
        size_t vlen = h.len - h.key_len;
        uint8_t *v = malloc(vlen ? vlen : 1);
        if (!v)
            return -ENOMEM;
        memcpy(v, p + LR_SPOOL_REC_HDR + h.key_len, vlen);
        m->seq = h.seq;
        m->signal = (enum lr_signal)h.signal;
        m->key_len = h.key_len;
        memset(m->key, 0, sizeof(m->key));
        memcpy(m->key, p + LR_SPOOL_REC_HDR, h.key_len);
        m->n_items = h.n_items;
        m->value = v;
        m->len = vlen;
        s->rd_off += rlen;
        s->cseq++;
        if (s->cseq > s->hi)
            s->hi = s->cseq;
        atomic_fetch_add(&s->in_flight, 1);
        return 1;
    }
}

void lr_cp_spool_rewind(struct lr_cp_spool *s)
{
    /* Start over at the segment holding the watermark; the records below it are stepped over by
     * their headers, those above it that were delivered meanwhile by their marks. */
    uint64_t t = s->dlv;
    pthread_mutex_lock(&s->list_mu);
    size_t idx = 0;
    for (size_t i = 0; i < s->n_segs && s->segs[i].first_seq <= t; i++)
        idx = i;
    uint64_t first = s->segs[idx].first_seq;
    pthread_mutex_unlock(&s->list_mu);
    rd_close(s);
    s->rd_idx = idx;
    s->rd_stuck = false;
    s->cseq = first < t ? first : t;
    atomic_store(&s->in_flight, 0);
}

/* ---- open and close ----------------------------------------------------------------------- */

static void spool_free(struct lr_cp_spool *s)
{
    rd_close(s);
    if (s->fd >= 0)
        close(s->fd);
    if (s->dirfd >= 0)
        close(s->dirfd);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->list_mu);
    pthread_mutex_destroy(&s->stop_mu);
    pthread_cond_destroy(&s->stop_cv);
    free(s->segs);
    free(s->wbuf);
    free(s->rbuf);
    free(s->bits);
    free(s);
}

/* Lists the segment file names, sorted (zero-padded: by name is by seq). */
static int list_segments(const char *path, char ***out, size_t *n_out)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    struct dirent *e;
    uint64_t seq;
    while ((e = readdir(d))) {
        if (!parse_seg_name(e->d_name, &seq))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof(*nv));
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[n] = strdup(e->d_name))) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    if (n)
        qsort(v, n, sizeof(*v), cmp_names);
    *out = v;
    *n_out = n;
    return 0;
}

static void note_damage(struct lr_cp_spool *s, struct lr_cp_spool_recovery *rep, const char *name,
                        uint64_t size, uint64_t valid, const char *why)
{
    fprintf(stderr,
            "linerate: spool w%" PRIu32 ": %s/%s: cut %" PRIu64 " bytes at offset %" PRIu64
            ": %s\n",
            s->o.worker, s->path, name, size - valid, valid, why);
    if (rep->damaged++ == 0)
        whyf(rep->damage, sizeof(rep->damage), "%s/%s: offset %" PRIu64 ": %s", s->path, name,
             valid, why);
    rep->cut_bytes += size - valid;
}

/* Scans one segment file, cuts what is damaged and adds what is valid to the list. *last is the
 * last seq of the previous kept segment, updated. Returns 0 or -errno (errstr set). */
static int recover_segment(struct lr_cp_spool *s, const char *name, uint64_t *prev_last,
                           uint64_t *max_seq, struct lr_cp_spool_recovery *rep, char *errstr,
                           size_t errlen)
{
    uint64_t name_seq = 0;
    uint8_t *buf = NULL;
    bool mapped = false;
    int rc = 0;
    parse_seg_name(name, &name_seq);
    int fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        errf(errstr, errlen, "spool: open %s/%s: %s", s->path, name, strerror(errno));
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        errf(errstr, errlen, "spool: stat %s/%s: %s", s->path, name, strerror(errno));
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) {
        /* Created but never written (a crash right after the create): nothing was lost. */
        unlinkat(s->dirfd, name, 0);
        goto out;
    }
    /* Mapped rather than read: a segment may be GiBs, and nothing else touches it during open.
     * A file system that cannot map it is read into memory instead. */
    void *map = size <= SIZE_MAX ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    if (map != MAP_FAILED) {
        buf = map;
        mapped = true;
        madvise(map, size, MADV_SEQUENTIAL);
    } else {
        if (!(buf = malloc(size))) {
            rc = -ENOMEM;
            errf(errstr, errlen, "spool: %s/%s: out of memory (%" PRIu64 " bytes)", s->path, name,
                 size);
            goto out;
        }
        ssize_t got = read_at(fd, buf, size, 0);
        if (got < 0) {
            rc = (int)got;
            errf(errstr, errlen, "spool: read %s/%s: %s", s->path, name, strerror(-rc));
            goto out;
        }
        size = (uint64_t)got;
    }
    char why[160];
    uint64_t n = 0, first = 0, last = 0;
    size_t valid;
    if (name_seq == 0) {
        valid = 0; /* seqs start at 1: not a name we give */
        snprintf(why, sizeof(why), "seq 0 in the name");
    } else if (*prev_last != 0 && name_seq <= *prev_last) {
        valid = 0;
        snprintf(why, sizeof(why), "starts at seq %" PRIu64 ", inside the previous segment",
                 name_seq);
    } else {
        /* The name is the first seq: a file whose records do not start there is damaged too. */
        valid = lr_cp_spool_scan(buf, size, name_seq, &n, &first, &last, why, sizeof(why));
        if (valid >= LR_SPOOL_SEG_HDR && get32(buf + 12) != s->o.worker) {
            snprintf(why, sizeof(why), "segment of worker %" PRIu32, get32(buf + 12));
            valid = 0;
            n = 0;
        }
    }
    if (valid < size)
        note_damage(s, rep, name, size, valid, why);
    if (n == 0) {
        unlinkat(s->dirfd, name, 0); /* damaged from the start, or a header alone */
        goto out;
    }
    if (valid < size && ftruncate(fd, (off_t)valid) < 0) {
        rc = -errno;
        errf(errstr, errlen, "spool: truncate %s/%s: %s", s->path, name, strerror(errno));
        goto out;
    }
    /* What a crashed process wrote may still be in the page cache only: make it (and the cut)
     * durable before durable_seq says so. */
    if (fdatasync(fd) < 0) {
        rc = -errno;
        errf(errstr, errlen, "spool: fdatasync %s/%s: %s", s->path, name, strerror(errno));
        goto out;
    }
    atomic_fetch_add(&s->fsyncs, 1);
    if ((rc = segs_reserve(s)) < 0) {
        errf(errstr, errlen, "spool: out of memory");
        goto out;
    }
    struct seg *g = &s->segs[s->n_segs++];
    memset(g, 0, sizeof(*g));
    g->first_seq = first;
    g->last_seq = last;
    g->bytes = valid;
    g->closed = true;
    memcpy(g->name, name, SEG_NAME_LEN + 1);
    rep->records += n;
    *prev_last = last;
    if (last > *max_seq)
        *max_seq = last;
out:
    if (mapped)
        munmap(buf, size);
    else
        free(buf);
    close(fd);
    return rc;
}

int lr_cp_spool_open(const struct lr_cp_spool_opts *o, struct lr_cp_spool **out,
                     struct lr_cp_spool_recovery *rep, char *errstr, size_t errlen)
{
    struct lr_cp_spool_recovery local;
    char **names = NULL;
    size_t n_names = 0;
    int rc;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof(*rep));
    *out = NULL;
    if (!o || !o->dir || !o->dir[0]) {
        errf(errstr, errlen, "spool: no folder given");
        return -1;
    }
    struct lr_cp_spool *s = calloc(1, sizeof(*s));
    if (!s) {
        errf(errstr, errlen, "spool: out of memory");
        return -1;
    }
    s->o = *o;
    s->fd = -1;
    s->rd_fd = -1;
    s->dirfd = -1;
    s->trim_at = UINT64_MAX;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->list_mu, NULL);
    pthread_mutex_init(&s->stop_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->stop_cv, &ca);
    pthread_condattr_destroy(&ca);

    if ((size_t)snprintf(s->path, sizeof(s->path), "%s/w%" PRIu32, o->dir, o->worker) >=
        sizeof(s->path)) {
        errf(errstr, errlen, "spool: folder name too long: %s", o->dir);
        goto fail;
    }
    if ((rc = lr_cp_mkdir_p(s->path)) < 0) {
        errf(errstr, errlen, "spool: cannot create %s: %s", s->path, strerror(-rc));
        goto fail;
    }
    s->dirfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        errf(errstr, errlen, "spool: open %s: %s", s->path, strerror(errno));
        goto fail;
    }
    if ((rc = list_segments(s->path, &names, &n_names)) < 0) {
        errf(errstr, errlen, "spool: list %s: %s", s->path, strerror(-rc));
        goto fail;
    }
    uint64_t prev_last = 0, max_seq = 0;
    for (size_t i = 0; i < n_names; i++)
        if (recover_segment(s, names[i], &prev_last, &max_seq, rep, errstr, errlen) < 0)
            goto fail;

    /* What Kafka has, by the checkpoint: segments wholly below it go now. */
    uint64_t ckpt = read_ckpt(s);
    size_t k = 0;
    while (k < s->n_segs && s->segs[k].last_seq < ckpt) {
        unlinkat(s->dirfd, s->segs[k].name, 0);
        k++;
    }
    if (k) {
        memmove(s->segs, s->segs + k, (s->n_segs - k) * sizeof(*s->segs));
        s->n_segs -= k;
    }
    for (size_t i = 0; i < s->n_segs; i++) {
        const struct seg *g = &s->segs[i];
        uint64_t from = g->first_seq > ckpt ? g->first_seq : ckpt;
        if (!rep->pending)
            rep->first_pending = from;
        rep->pending += g->last_seq - from + 1;
        rep->bytes += g->bytes;
    }
    rep->segments = (uint32_t)s->n_segs;
    s->ckpt_seq = ckpt;
    s->ckpt_ns = lr_mono_ns();

    /* Seqs are never reused: past everything on disk and everything delivered. */
    s->next_seq = max_seq + 1 > ckpt ? max_seq + 1 : ckpt;
    if (s->next_seq == 0)
        s->next_seq = 1;
    rep->next_seq = s->next_seq;

    char name[SEG_NAME_LEN + 1];
    if ((rc = segs_reserve(s)) < 0 || (rc = create_segment(s, s->next_seq, name)) < 0) {
        errf(errstr, errlen, "spool: cannot create a segment in %s: %s", s->path, strerror(-rc));
        goto fail;
    }
    s->fd = rc;
    struct seg *g = &s->segs[s->n_segs++];
    memset(g, 0, sizeof(*g));
    g->first_seq = s->next_seq;
    memcpy(g->name, name, sizeof(g->name));
    sync_dir(s); /* the new name, the deleted and the cut files */
    s->off = LR_SPOOL_SEG_HDR;
    atomic_store(&s->used_bytes, rep->bytes + LR_SPOOL_SEG_HDR);
    atomic_store(&s->segments, (uint32_t)s->n_segs);
    atomic_store(&s->written_seq, s->next_seq - 1);
    atomic_store(&s->durable_seq, s->next_seq - 1);

    /* The reader: at the first record not delivered. */
    s->rbuf_cap = RBUF_BYTES;
    if (!(s->rbuf = malloc(s->rbuf_cap)) || bits_reserve(s, BITS_MIN) < 0) {
        errf(errstr, errlen, "spool: out of memory");
        goto fail;
    }
    s->dlv = s->hi = rep->pending ? rep->first_pending : s->next_seq;
    atomic_store(&s->delivered_below, s->dlv);
    s->trim_at = s->n_segs > 1 ? s->segs[0].last_seq + 1 : UINT64_MAX;
    lr_cp_spool_rewind(s);
    s->opened = true;

    if ((rc = pthread_create(&s->syncer, NULL, syncer_main, s)) != 0) {
        errf(errstr, errlen, "spool: pthread_create: %s", strerror(rc));
        goto fail;
    }
    s->syncer_started = true;
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    *out = s;
    return 0;
fail:
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    spool_free(s);
    return -1;
}

void lr_cp_spool_close(struct lr_cp_spool *s)
{
    if (!s)
        return;
    if (s->syncer_started) {
        pthread_mutex_lock(&s->stop_mu);
        s->stop = true;
        pthread_cond_signal(&s->stop_cv);
        pthread_mutex_unlock(&s->stop_mu);
        pthread_join(s->syncer, NULL);
    }
    if (s->fd >= 0)
        do_sync(s);
    if (s->opened && s->dlv != s->ckpt_seq)
        write_ckpt(s, s->dlv);
    if (s->fd >= 0 && s->off == LR_SPOOL_SEG_HDR) {
        /* An empty active segment: open would delete it anyway. */
        pthread_mutex_lock(&s->list_mu);
        unlinkat(s->dirfd, s->segs[s->n_segs - 1].name, 0);
        pthread_mutex_unlock(&s->list_mu);
    }
    spool_free(s);
}
