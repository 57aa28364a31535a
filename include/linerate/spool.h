/* The write-ahead spool (control/spool.c): what linerate acknowledged and Kafka has not yet
 * acknowledged, on disk, per worker.
 *
 * One spool per worker, in its own folder DIR/w<N>/: append-only segment files named after the
 * sequence number of their first record ("%020llu.seg"). A segment starts with a 16-byte header
 * (LR_SPOOL_SEG_MAGIC, version, worker) followed by records, each:
 *
 *   u32 magic     LR_SPOOL_REC_MAGIC
 *   u32 len       payload bytes (key + value)
 *   u32 crc       CRC32C (Castagnoli, ISA-L's crc32_iscsi) of bytes 12..32 of this header and
 *                 the payload
 *   u8  signal    enum lr_signal
 *   u8  key_len   0..32
 *   u16 zero
 *   u64 seq       per-worker sequence number, +1 per record, never reused
 *   u64 n_items   spans / data points / log records in the value
 *   payload       key (key_len bytes), then the value (len - key_len bytes)
 *
 * all little-endian. The worker that owns the spool appends (one write per request: all of its
 * records or none); a syncer thread per spool fdatasyncs what was written on a short interval
 * (group commit: one fdatasync serves every request appended since the last); the output thread
 * reads records in sequence order, hands them to Kafka and reports deliveries in any order.
 * Segments whose records were all delivered are deleted; the delivered watermark is also kept in
 * a small checkpoint file so that a restart does not replay what Kafka already has (what it
 * replays beyond that is a duplicate: allowed, at-least-once, and counted by the caller).
 *
 * On open, every segment is scanned: a torn or corrupt record (short header or payload, bad
 * magic, bad CRC, out-of-sequence seq) ends the valid data of its segment; the rest of that
 * segment is cut (ftruncate), counted and reported, and every record before it is kept.
 * A segment's first record must carry the seq in its name; later segments are kept even when an
 * earlier one lost its tail (the seqs in between count as delivered). A segment left with no
 * record (damaged from its first record on, or a bare header from a segment that was never
 * written to) is deleted; a segment of another worker is damaged as a whole. */
#ifndef LINERATE_SPOOL_H
#define LINERATE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linerate/otlp.h"

#define LR_SPOOL_SEG_MAGIC 0x4c4f4f5053524c00ull /* "\0LRSPOOL" read as little-endian u64 */
#define LR_SPOOL_SEG_HDR 16u
#define LR_SPOOL_REC_MAGIC 0x5253524cu /* "LRSR" */
#define LR_SPOOL_REC_HDR 32u
#define LR_SPOOL_MAX_KEY 32u

struct lr_cp_spool;

struct lr_cp_spool_opts {
    const char *dir;             /* parent folder; the spool lives in DIR/w<worker> (created) */
    uint32_t worker;             /* worker index */
    uint64_t segment_bytes;      /* roll to a new segment past this size (e.g. 64 MiB) */
    uint32_t commit_interval_us; /* group-commit interval of the syncer thread (0: continuously) */
    uint64_t high_bytes;         /* lr_cp_spool_full() turns true at this many bytes in use ... */
    uint64_t low_bytes;          /* ... and false again at or below this many */
    int notify_fd; /* eventfd (or -1): written (8 bytes, value 1) when the durable seq advances */
};

/* What open found on disk. */
struct lr_cp_spool_recovery {
    uint32_t segments;      /* segment files kept (the fresh segment open starts is not counted) */
    uint64_t records;       /* valid records found (also those then deleted as delivered) */
    uint64_t bytes;         /* bytes in use after the scan (kept segment files' sizes) */
    uint64_t pending;       /* records not yet delivered (seq >= the checkpoint): replayed */
    uint64_t first_pending; /* seq of the first of those (0 when none) */
    uint64_t next_seq;      /* seq the next appended record gets */
    uint32_t damaged;       /* segments with a torn or corrupt tail that was cut */
    uint64_t cut_bytes;     /* bytes cut from them */
    char damage[256];       /* "" or a description of the first damage: file, offset, reason */
};

/* Opens (creating when absent) the spool of one worker, scans and repairs it as described above,
 * starts its syncer thread and opens a fresh segment for appending. Returns 0, or -1 with
 * `errstr` set (cannot create the folder, I/O error). */
int lr_cp_spool_open(const struct lr_cp_spool_opts *o, struct lr_cp_spool **out,
                     struct lr_cp_spool_recovery *rep, char *errstr, size_t errlen);

/* Final fdatasync, checkpoint, stops the syncer and frees. Accepts NULL. No other call may run
 * concurrently. An empty segment being appended to is deleted. */
void lr_cp_spool_close(struct lr_cp_spool *s);

/* ---- the writer (the owning worker's thread only) --------------------------------------------
 */

struct lr_cp_spool_rec {
    enum lr_signal signal;
    uint8_t key_len; /* 0..LR_SPOOL_MAX_KEY */
    const char *key;
    uint64_t n_items;
    const uint8_t *value;
    size_t len;
};

/* Appends `n` records with consecutive seqs: all of them or none (on a short write the segment
 * is truncated back and no seq is used). Rolls to a new segment first when the current one is
 * not empty and would pass segment_bytes. Returns 0 with *last_seq = the seq of the last record,
 * or a negative errno (-ENOSPC, -EIO...; -EINVAL for a key_len over LR_SPOOL_MAX_KEY or an
 * unknown signal, -EFBIG for a record over 4 GiB). The records are readable by the reader as soon
 * as this returns, durable once lr_cp_spool_durable_seq() >= *last_seq. Borrows `recs`; n == 0
 * returns 0 with *last_seq = lr_cp_spool_written_seq(). */
int lr_cp_spool_append(struct lr_cp_spool *s, const struct lr_cp_spool_rec *recs, size_t n,
                       uint64_t *last_seq);

/* Watermark with hysteresis on the bytes in use: true from high_bytes on, until back at or
 * below low_bytes. Always false when high_bytes is 0. */
bool lr_cp_spool_full(struct lr_cp_spool *s);

/* fdatasync now (the worker's last act before it exits); nothing when every written seq is
 * durable already. Returns 0 or a negative errno. */
int lr_cp_spool_sync(struct lr_cp_spool *s);

/* Writer housekeeping, called on the owning worker's timer: when the reader found the segment
 * being appended to damaged, rolls to a new one now rather than at the next append (so that an
 * idle worker does not leave the reader waiting). Returns 0 or a negative errno. */
int lr_cp_spool_tick(struct lr_cp_spool *s);

/* ---- any thread ------------------------------------------------------------------------------ */

uint64_t lr_cp_spool_written_seq(const struct lr_cp_spool *s); /* last seq appended (0: none) */
uint64_t lr_cp_spool_durable_seq(const struct lr_cp_spool *s); /* every seq <= this is on disk */
uint64_t lr_cp_spool_delivered_below(const struct lr_cp_spool *s); /* every seq < this delivered */
uint64_t lr_cp_spool_used_bytes(const struct lr_cp_spool *s);      /* bytes in segment files */
uint32_t lr_cp_spool_segments(const struct lr_cp_spool *s);        /* segment files */
uint64_t lr_cp_spool_fsyncs(const struct lr_cp_spool *s);          /* fdatasync calls made */
uint64_t
lr_cp_spool_read_errors(const struct lr_cp_spool *s); /* records the reader found damaged */

/* ---- the reader (one consumer thread: the output thread) ------------------------------------ */

struct lr_cp_spool_msg {
    uint64_t seq;
    enum lr_signal signal;
    uint8_t key_len;
    char key[LR_SPOOL_MAX_KEY];
    uint64_t n_items;
    uint8_t *value; /* owned by the caller (malloc'd) */
    size_t len;
};

/* The next record in seq order that was written and not yet read. Returns 1 (*m filled), 0 when
 * there is none now, or a negative errno on an I/O error. A record found damaged at read time is
 * reported on stderr, counted (lr_cp_spool_read_errors), marked delivered and skipped, and so is
 * the rest of its segment (its records cannot be found without that one's length). In the segment
 * being appended to, that waits for the worker's next append, which then starts a new segment. */
int lr_cp_spool_read(struct lr_cp_spool *s, struct lr_cp_spool_msg *m);

/* Kafka acknowledged record `seq` (reported in any order, each read seq at most once; a seq
 * reported as delivered is never read again). Advances the delivered watermark, deletes segments
 * that were wholly delivered (never the one being appended to) and rewrites the checkpoint at most
 * every 100 ms. */
void lr_cp_spool_delivered(struct lr_cp_spool *s, uint64_t seq);

/* Makes the reader start again at the first record not delivered: every read record that was not
 * reported delivered will be read again (after the producer was replaced). Records reported
 * delivered are not, even those above the watermark; in_flight drops to 0. */
void lr_cp_spool_rewind(struct lr_cp_spool *s);

/* Records read but not reported delivered (in flight towards Kafka). */
uint64_t lr_cp_spool_in_flight(const struct lr_cp_spool *s);

/* ---- the on-disk format, for tests and the fuzz target -------------------------------------- */

/* Scans a segment's bytes (header included). Returns the length of its valid prefix (a multiple
 * of whole records, LR_SPOOL_SEG_HDR at least when the header is valid, 0 when it is not), with
 * *n_records, *first_seq and *last_seq of what is valid; `why` (may be NULL) names the first
 * damage ("" when the whole buffer is valid). `expect_seq` is the seq the first record must have
 * (0: any). Any of the out pointers may be NULL. Seq 0 is never valid. */
size_t lr_cp_spool_scan(const uint8_t *p, size_t len, uint64_t expect_seq, uint64_t *n_records,
                        uint64_t *first_seq, uint64_t *last_seq, char *why, size_t whylen);

/* Encodes one record (header + payload) into `out` (cap >= LR_SPOOL_REC_HDR + key_len + len).
 * Returns the bytes written, or 0 when it does not fit (or key_len or signal is out of range). */
size_t lr_cp_spool_encode(uint8_t *out, size_t cap, const struct lr_cp_spool_rec *r, uint64_t seq);

/* CRC32C of `n` bytes (ISA-L). */
uint32_t lr_cp_crc32c(const void *p, size_t n);

#endif
