/*
 * journal_int.h - what the journal's writer (journal.c, opened by
 * journal_open.c), iterator (journal_iter.c) and verifier
 * (journal_verify.c) share: the on-disk format, segment listing, a bounded
 * record scanner (journal_scan.c) and the writer's state.
 * The format is described in docs/internals/journal.md.
 */
#ifndef FXPIPE_RELIABLE_JOURNAL_INT_H
#define FXPIPE_RELIABLE_JOURNAL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/journal.h"

struct fxp_io;

#define FXP__JNL_MAGIC       "FXPJ"
#define FXP__JNL_VERSION     1u
#define FXP__JNL_SEG_HDR     16u /* magic, version, first seq */
#define FXP__JNL_REC_HDR     16u /* length, crc32c, seq */
#define FXP__JNL_EXT         ".fxj"
#define FXP__JNL_NAME_DIGITS 20
/* The largest payload any journal may hold; readers size their buffer
 * for it, so a corrupt length can never make them allocate more. */
#define FXP__JNL_RECORD_LIMIT (16u << 20)
/* Readers start with this buffer and grow only for larger records. */
#define FXP__JNL_READ_CHUNK (256u << 10)
/* Directory names longer than this are refused (FXP_EINVAL). */
#define FXP__JNL_DIR_MAX  4000
#define FXP__JNL_PATH_MAX (FXP__JNL_DIR_MAX + 32)

static inline void fxp__put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void fxp__put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t fxp__get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t fxp__get_le64(const unsigned char *p)
{
    return (uint64_t)fxp__get_le32(p) | (uint64_t)fxp__get_le32(p + 4) << 32;
}

/* "DIR/<first as 20 digits>.fxj" into out (FXP__JNL_PATH_MAX bytes). */
void fxp__jnl_path(char *out, const char *dir, uint64_t first);

/* The first sequence numbers of the segments in dir, ascending, in a
 * malloc'd array the caller frees (NULL when *n == 0). Files whose names
 * are not exactly 20 digits + ".fxj" are ignored. FXP_OK, FXP_ENOENT (no
 * such directory), FXP_EIO, FXP_ENOMEM; errbuf says which. */
int fxp__jnl_list(const char *dir, uint64_t **firsts, size_t *n, char *errbuf,
                  size_t errlen);

/* The 16-byte segment header for a segment starting at `first`. */
void fxp__jnl_header(unsigned char h[FXP__JNL_SEG_HDR], uint64_t first);

/* NULL when h (n bytes read) is a valid header for `first`, else why not. */
const char *fxp__jnl_header_check(const unsigned char *h, size_t n,
                                  uint64_t first);

/* The size of an open file through the io seam alone (it has no stat):
 * found by probing with 1-byte preads, O(log size) calls. */
int fxp__jnl_size(const struct fxp_io *io, int fd, uint64_t *size);

/* What fxp__jscan_record found at an offset. */
enum fxp__jrec_status {
    FXP__JREC_OK = 0, /* a good record */
    FXP__JREC_END,    /* end of file exactly at the offset */
    FXP__JREC_SHORT,  /* the file ends inside the record */
    FXP__JREC_BADLEN, /* length beyond FXP__JNL_RECORD_LIMIT */
    FXP__JREC_BADCRC, /* checksum mismatch */
    FXP__JREC_BADSEQ  /* checksum fine, unexpected sequence number */
};

/* Short phrase for a status ("crc mismatch"). */
const char *fxp__jrec_reason(int status);

struct fxp__jrec {
    int status;                /* enum fxp__jrec_status */
    uint64_t seq;              /* OK: the record's sequence number */
    const unsigned char *data; /* OK: payload, valid until the next call */
    uint32_t len;              /* OK: payload length */
    uint64_t end;              /* OK: offset of the next record */
};

/* A bounded reader over one file at a time: a window [buf_off, buf_off +
 * buf_len) of the file, refilled with pread, grown only up to
 * FXP__JNL_REC_HDR + FXP__JNL_RECORD_LIMIT. */
struct fxp__jscan {
    const struct fxp_io *io;
    int fd;
    unsigned char *buf;
    size_t cap;       /* allocated bytes */
    uint64_t buf_off; /* file offset of buf[0] */
    size_t buf_len;   /* valid bytes in buf */
};

int fxp__jscan_init(struct fxp__jscan *s, const struct fxp_io *io);
void fxp__jscan_release(struct fxp__jscan *s);

/* Start reading another file (the window is dropped). */
void fxp__jscan_reset(struct fxp__jscan *s, int fd);

/* Make [off, off + need) readable: *p points at off and *avail says how
 * many bytes follow (fewer than need only at end of file). FXP_OK,
 * FXP_EIO (errno kept), FXP_ENOMEM. */
int fxp__jscan_get(struct fxp__jscan *s, uint64_t off, size_t need,
                   const unsigned char **p, size_t *avail);

/* Read and check the record at off, which should carry sequence number
 * seq (the CRC is always checked). Returns FXP_OK with r->status set, or
 * FXP_EIO / FXP_ENOMEM. */
int fxp__jscan_record(struct fxp__jscan *s, uint64_t off, uint64_t seq,
                      struct fxp__jrec *r);

/* After a bad record at `off` that should have carried `seq`: is there a
 * good record further on in the file (sequence number above seq, CRC
 * right)? *found, and if so its offset and sequence number. This tells
 * corruption in the middle (good records follow) from a torn tail (only
 * garbage follows). Reads the rest of the file. */
int fxp__jscan_resync(struct fxp__jscan *s, uint64_t off, uint64_t seq,
                      bool *found, uint64_t *at, uint64_t *at_seq);

/* The last record of a complete segment of `size` bytes that starts at
 * `first`, found by searching backwards from the end for a record that
 * ends exactly there (reads the tail, not the file). *found false when
 * there is none; *last_seq is first - 1 for a segment without records. */
int fxp__jscan_last(struct fxp__jscan *s, uint64_t size, uint64_t first,
                    bool *found, uint64_t *last_seq);

/* ---- The writer (journal.c, journal_open.c) ---- */

/* The writer's state; its invariants are journal.c's design notes. */
struct fxp_journal {
    struct fxp_journal_opts o; /* a copy; o.io is never NULL */
    const struct fxp_io *io;
    char dir[FXP__JNL_DIR_MAX + 1];
    char path[FXP__JNL_PATH_MAX]; /* the active segment */
    int fd;                       /* the active segment, -1 after a roll
                                     that could not create the next */
    uint64_t seg_first;           /* first seq of the active segment */
    uint64_t seg_size;            /* end of its last good record */
    uint64_t first_seq;           /* first seq of the oldest segment */
    uint64_t next_seq;            /* seq of the next record */
    unsigned char *stage;         /* framing buffer */
    size_t stage_cap;
    int64_t synced_ms; /* monotonic time of the last fsync */
    bool dirty;        /* written since the last fsync */
    bool need_trunc;   /* journal.c note 4 */
    int failed;        /* journal.c note 5: FXP_EIO once an fsync failed */
    int lock_fd;       /* DIR/LOCK, flock'ed: one writer per directory */
};

/* Monotonic milliseconds, for the FXP_FSYNC_EVERY interval. */
int64_t fxp__jnl_mono_ms(void);

/* Pass a formatted message to o.on_warn, if set. */
void fxp__jnl_warn(struct fxp_journal *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* errno to fxp_err: ENOSPC/EDQUOT -> FXP_ENOSPC, else FXP_EIO. */
int fxp__jnl_errno_code(int e);

/* Write all n bytes to the active segment (j->fd). FXP_OK, FXP_ENOSPC or
 * FXP_EIO, errno kept. */
int fxp__jnl_write_all(struct fxp_journal *j, const unsigned char *p, size_t n);

/* Create the segment starting at `first` and make it the active one
 * (journal_open.c; journal.c note 6). On failure nothing is left behind,
 * j->fd is -1 and errbuf says why. */
int fxp__jnl_create_segment(struct fxp_journal *j, uint64_t first, char *errbuf,
                            size_t errlen);

#endif
