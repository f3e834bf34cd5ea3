/*
 * journal.h - the on-disk journal: segmented, append-only files of
 * records, each framed with its length, a CRC32C and a sequence number
 * (kdb+/tick's idea). Ingested ticks are appended before they are
 * aggregated, so a restart replays exactly what the store has not yet
 * made durable.
 *
 * Not a database: records are opaque bytes, read back in order from any
 * sequence number. One writer (one thread) per journal directory; readers
 * open their own handle. Every file operation goes through a struct
 * fxp_io (io.h) so tests can fail writes, short-write, fill the disk or
 * tear the last record.
 */
#ifndef FXPIPE_JOURNAL_H
#define FXPIPE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fxp_io;
struct fxp_journal;

typedef enum fxp_fsync_policy {
    FXP_FSYNC_ALWAYS = 0, /* fsync after every append call */
    FXP_FSYNC_EVERY = 1,  /* at most every fsync_every_ms */
    FXP_FSYNC_NEVER = 2   /* leave it to the OS (and to close) */
} fxp_fsync_policy;

struct fxp_journal_opts {
    fxp_fsync_policy fsync;
    int fsync_every_ms;      /* FXP_FSYNC_EVERY period (100) */
    uint64_t segment_bytes;  /* roll to a new file past this (64 MiB) */
    uint64_t retain_bytes;   /* retention: delete whole old segments */
    int64_t retain_ms;       /*   beyond these (0 = no limit) ... */
    uint32_t max_record;     /* largest payload accepted (1 MiB) */
    const struct fxp_io *io; /* NULL = the real file system */
    /* Warnings (a torn tail truncated, a corrupt record found), never
     * silent; may be NULL. */
    void (*on_warn)(void *ud, const char *msg);
    void *ud;
};

void fxp_journal_opts_default(struct fxp_journal_opts *o);

/* Open (creating) the journal in directory `dir`. On open the last
 * segment's tail is checked: a torn or corrupt tail is truncated to the
 * last good record, with a warning. Errors: FXP_EIO / FXP_ENOSPC (cannot
 * create or read), FXP_EPARSE (a corrupt record before the tail of an
 * older segment: errbuf names the file and offset; the journal refuses to
 * open for writing, `fxpipe journal verify` reports it). */
int fxp_journal_open(const char *dir, const struct fxp_journal_opts *o,
                     struct fxp_journal **out, char *errbuf, size_t errlen);

/* Flush (fsync per policy... always fsync on close) and close; NULL ok. */
void fxp_journal_close(struct fxp_journal *j);

/* Append n records (payload pointers and lengths) as one write; they get
 * consecutive sequence numbers starting at *first_seq (may be NULL).
 * Returns FXP_OK; FXP_ENOSPC / FXP_EIO (nothing of this call is kept: the
 * file is truncated back, so the journal stays valid and later appends
 * work once space returns); FXP_ETOOLARGE for an oversized record. */
int fxp_journal_append(struct fxp_journal *j, const void *const *payloads,
                       const uint32_t *lens, size_t n, uint64_t *first_seq);

/* fsync now (the EVERY policy calls this from append when due). */
int fxp_journal_sync(struct fxp_journal *j);

/* Sequence numbers: the first still kept and the next to be written. */
uint64_t fxp_journal_first_seq(const struct fxp_journal *j);
uint64_t fxp_journal_next_seq(const struct fxp_journal *j);

/* Delete whole segments whose records are all < keep_from_seq and that
 * are beyond the retention limits (size/age). Returns FXP_OK or FXP_EIO. */
int fxp_journal_retain(struct fxp_journal *j, uint64_t keep_from_seq);

/* Reading: an iterator from sequence `from` (records before it skipped).
 * Stops at the end, or at a corrupt record (reported as FXP_EPARSE with
 * the file and offset: recovery stops before it). */
struct fxp_journal_iter;

int fxp_journal_iter_open(const char *dir, uint64_t from,
                          const struct fxp_io *io,
                          struct fxp_journal_iter **out, char *errbuf,
                          size_t errlen);

/* Next record: FXP_OK with *seq, *data (valid until the next call), *len;
 * FXP_ECLOSED at the end; FXP_EPARSE at a corrupt record (errbuf). */
int fxp_journal_iter_next(struct fxp_journal_iter *it, uint64_t *seq,
                          const void **data, uint32_t *len, char *errbuf,
                          size_t errlen);

void fxp_journal_iter_close(struct fxp_journal_iter *it);

/* For `fxpipe journal stats|verify`. */
struct fxp_journal_info {
    uint64_t segments, bytes, records;
    uint64_t first_seq, last_seq;
    uint64_t corrupt;    /* corrupt records found (verify) */
    uint64_t torn_bytes; /* bytes after the last good record */
};

/* Scan every segment, checking every CRC. FXP_OK even when corruption is
 * found (it is counted in info; the first problem goes to errbuf). */
int fxp_journal_verify(const char *dir, const struct fxp_io *io,
                       struct fxp_journal_info *info, char *errbuf,
                       size_t errlen);

#endif
