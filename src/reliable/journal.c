/*
 * journal.c - the journal's writer (journal.h, docs/internals/journal.md):
 * open with tail recovery, append, fsync policies, segment roll and
 * retention. Reading is in journal_iter.c, checking in journal_verify.c,
 * the format and scanner in journal_scan.c.
 *
 * Design notes
 *
 *  1. The journal is the segments DIR/<first seq, 20 digits>.fxj, in seq
 *     order with no gap: segment k+1 starts at the seq after the last
 *     record of segment k. Only the last segment (the active one, j->fd,
 *     opened O_APPEND) is ever written.
 *  2. j->seg_size is the end of the last good record of the active
 *     segment and j->next_seq the seq the next record gets. Between calls
 *     the file is exactly seg_size bytes long, except while need_trunc is
 *     set (see 4).
 *  3. An append frames its records into the staging buffer (at most
 *     stage_cap = max(256 KiB, 16 + max_record) bytes), writes them with
 *     one write() per filled buffer, then fsyncs per policy. Only after
 *     all that succeeded do seg_size and next_seq move: an append is all
 *     or nothing.
 *  4. Any failure during an append ftruncates the segment back to
 *     seg_size, so the file again ends at a good record and the next
 *     append starts clean (after ENOSPC, once space returns). If even the
 *     ftruncate fails, need_trunc is set and the next append retries it
 *     before writing anything; until it succeeds appends return FXP_EIO.
 *  5. A failed fsync is not retried: after it, Linux may have dropped the
 *     dirty pages, so what is on disk is unknown. The call's records are
 *     truncated away as in 4 and the journal enters the FAILED state
 *     (j->failed): append and sync return FXP_EIO until it is closed and
 *     reopened, which re-reads the tail from disk (PostgreSQL's rule).
 *
 *            append ok                        write/short write error
 *       +--> READY ----------------------------------+
 *       |     |  ^  ftruncate back ok                |
 *       |     |  +-----------------------------------+
 *       |     |  ftruncate back failed  +------------+
 *       |     +-----------------------> | NEED_TRUNC | -- retried by the
 *       |           next append's ftruncate ok        |    next append
 *       +---------------------------------------------+
 *       READY --fsync failed (append/sync/roll)--> FAILED (until reopen)
 *
 *  6. Roll (roll_segment, at the start of an append once seg_size >=
 *     segment_bytes): fsync and close the full segment, create the next
 *     with O_EXCL, write and fsync its header, fsync the directory. So a
 *     segment that is not the last was completely on disk before its
 *     successor existed, whatever the policy; this is why open trusts
 *     older segments and checks only their last record. One append never
 *     spans two segments (a segment may exceed segment_bytes by one
 *     append), so undoing an append touches one file.
 *  7. Open scans the last segment completely. At the first bad record it
 *     asks fxp__jscan_resync whether a good record follows: if one does,
 *     the damage is in the middle and open fails with FXP_EPARSE rather
 *     than throw good records away; if none does, it is a torn tail,
 *     truncated to the last good record with an on_warn message.
 *  8. Retention deletes a prefix of the segments, never the active one,
 *     so the chain stays gap-free (1).
 */
#include "fxpipe/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fxpipe/err.h"
#include "fxpipe/io.h"
#include "reliable/crc32c.h"
#include "reliable/journal_int.h"

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
    bool need_trunc;   /* note 4 */
    int failed;        /* note 5: FXP_EIO once an fsync failed */
    int lock_fd;       /* DIR/LOCK, flock'ed: one writer per directory */
};

void fxp_journal_opts_default(struct fxp_journal_opts *o)
{
    memset(o, 0, sizeof *o);
    o->fsync = FXP_FSYNC_EVERY;
    o->fsync_every_ms = 100;
    o->segment_bytes = 64u << 20;
    o->retain_bytes = 0;
    o->retain_ms = 0;
    o->max_record = 1u << 20;
    o->io = NULL;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void warn(struct fxp_journal *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(struct fxp_journal *j, const char *fmt, ...)
{
    char msg[FXP__JNL_PATH_MAX + 256];
    va_list ap;
    if (!j->o.on_warn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    j->o.on_warn(j->o.ud, msg);
}

static int errno_code(int e)
{
    return e == ENOSPC || e == EDQUOT ? FXP_ENOSPC : FXP_EIO;
}

/* Write all n bytes: a short count is followed by a write of the rest,
 * which on a full disk fails with ENOSPC (so the caller learns why). */
static int write_all(struct fxp_journal *j, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t r = j->io->write(j->io, j->fd, p, n);
        if (r < 0)
            return errno_code(errno);
        if (r == 0) {
            errno = EIO;
            return FXP_EIO;
        }
        p += r;
        n -= (size_t)r;
    }
    return FXP_OK;
}

static int sync_dir(const struct fxp_io *io, const char *dir)
{
    int fd = io->open(io, dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return -1;
    int rc = io->fsync(io, fd);
    int e = errno;
    io->close(io, fd);
    errno = e;
    return rc;
}

/* mkdir -p. */
static int make_dirs(const char *dir)
{
    char buf[FXP__JNL_DIR_MAX + 1];
    size_t n = strlen(dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        buf[i] = c;
    }
    return 0;
}

/* Create the segment starting at `first` and make it the active one
 * (note 6). On failure nothing is left behind and j->fd is -1. */
static int create_segment(struct fxp_journal *j, uint64_t first, char *errbuf,
                          size_t errlen)
{
    unsigned char h[FXP__JNL_SEG_HDR];
    int rc = FXP_EIO;

    fxp__jnl_path(j->path, j->dir, first);
    j->fd =
        j->io->open(j->io, j->path, O_RDWR | O_CREAT | O_EXCL | O_APPEND, 0644);
    if (j->fd < 0) {
        rc = errno_code(errno);
        snprintf(errbuf, errlen, "cannot create journal segment '%s': %s",
                 j->path, strerror(errno));
        return rc;
    }
    fxp__jnl_header(h, first);
    if ((rc = write_all(j, h, sizeof h)) != FXP_OK ||
        j->io->fsync(j->io, j->fd) != 0 || sync_dir(j->io, j->dir) != 0) {
        int e = errno;
        if (rc == FXP_OK)
            rc = FXP_EIO;
        snprintf(errbuf, errlen, "cannot create journal segment '%s': %s",
                 j->path, strerror(e));
        j->io->close(j->io, j->fd);
        j->fd = -1;
        unlink(j->path);
        return rc;
    }
    j->seg_first = first;
    j->seg_size = FXP__JNL_SEG_HDR;
    j->dirty = false;
    j->synced_ms = mono_ms();
    return FXP_OK;
}

/* Check an older segment: its header, and that its last record is the
 * seq before the next segment's first (notes 1, 6). */
static int check_old_segment(struct fxp_journal *j, struct fxp__jscan *sc,
                             uint64_t first, uint64_t next_first, char *errbuf,
                             size_t errlen)
{
    char path[FXP__JNL_PATH_MAX];
    const unsigned char *p;
    size_t avail;
    uint64_t size, last = 0;
    bool found = false;
    const char *why;
    int rc;

    fxp__jnl_path(path, j->dir, first);
    int fd = j->io->open(j->io, path, O_RDONLY, 0);
    if (fd < 0) {
        snprintf(errbuf, errlen, "cannot open journal segment '%s': %s", path,
                 strerror(errno));
        return FXP_EIO;
    }
    fxp__jscan_reset(sc, fd);
    if ((rc = fxp__jscan_get(sc, 0, FXP__JNL_SEG_HDR, &p, &avail)) ||
        (rc = fxp__jnl_size(j->io, fd, &size))) {
        snprintf(errbuf, errlen, "cannot read journal segment '%s': %s", path,
                 strerror(errno));
        goto done;
    }
    if ((why = fxp__jnl_header_check(p, avail, first)) != NULL) {
        snprintf(errbuf, errlen, "journal '%s': %s", path, why);
        rc = FXP_EPARSE;
        goto done;
    }
    if ((rc = fxp__jscan_last(sc, size, first, &found, &last))) {
        snprintf(errbuf, errlen, "cannot read journal segment '%s': %s", path,
                 strerror(errno));
        goto done;
    }
    if (!found) {
        snprintf(errbuf, errlen,
                 "journal '%s': no good record ends the segment (corrupt "
                 "end of an older segment; see 'fxpipe journal verify')",
                 path);
        rc = FXP_EPARSE;
    } else if (last + 1 != next_first) {
        snprintf(errbuf, errlen,
                 "journal '%s': records end at seq %llu but the next "
                 "segment starts at seq %llu (a segment is missing)",
                 path, (unsigned long long)last,
                 (unsigned long long)next_first);
        rc = FXP_EPARSE;
    }
done:
    j->io->close(j->io, fd);
    fxp__jscan_reset(sc, -1);
    return rc;
}

/* Open the last segment for appending and recover its tail (note 7). */
static int open_last_segment(struct fxp_journal *j, struct fxp__jscan *sc,
                             uint64_t first, char *errbuf, size_t errlen)
{
    const unsigned char *p;
    size_t avail;
    const char *why;
    uint64_t off = FXP__JNL_SEG_HDR, seq = first, size;
    int rc;

    fxp__jnl_path(j->path, j->dir, first);
    j->fd = j->io->open(j->io, j->path, O_RDWR | O_APPEND, 0);
    if (j->fd < 0) {
        rc = errno_code(errno);
        snprintf(errbuf, errlen, "cannot open journal segment '%s': %s",
                 j->path, strerror(errno));
        return rc;
    }
    fxp__jscan_reset(sc, j->fd);
    if ((rc = fxp__jscan_get(sc, 0, FXP__JNL_SEG_HDR, &p, &avail)))
        goto io_error;
    if (avail < FXP__JNL_SEG_HDR &&
        (avail == 0 || !memcmp(p, FXP__JNL_MAGIC, avail < 4 ? avail : 4))) {
        /* The crash came while the segment was being created. */
        unsigned char h[FXP__JNL_SEG_HDR];
        warn(j, "journal '%s': torn header of %zu bytes rewritten", j->path,
             avail);
        fxp__jnl_header(h, first);
        if (j->io->ftruncate(j->io, j->fd, 0) != 0 ||
            (rc = write_all(j, h, sizeof h)) != FXP_OK ||
            j->io->fsync(j->io, j->fd) != 0)
            goto io_error;
        j->seg_first = first;
        j->seg_size = FXP__JNL_SEG_HDR;
        j->next_seq = first;
        return FXP_OK;
    }
    if ((why = fxp__jnl_header_check(p, avail, first)) != NULL) {
        snprintf(errbuf, errlen, "journal '%s': %s", j->path, why);
        return FXP_EPARSE;
    }
    for (;;) {
        struct fxp__jrec r;
        if ((rc = fxp__jscan_record(sc, off, seq, &r)))
            goto io_error;
        if (r.status == FXP__JREC_END)
            break;
        if (r.status == FXP__JREC_OK) {
            off = r.end;
            seq++;
            continue;
        }
        bool found;
        uint64_t at, at_seq;
        if ((rc = fxp__jscan_resync(sc, off, seq, &found, &at, &at_seq)))
            goto io_error;
        if (found) {
            snprintf(errbuf, errlen,
                     "journal '%s': corrupt record at offset %llu (%s) "
                     "followed by good records (seq %llu at offset %llu): "
                     "not a torn tail, refusing to truncate",
                     j->path, (unsigned long long)off,
                     fxp__jrec_reason(r.status), (unsigned long long)at_seq,
                     (unsigned long long)at);
            return FXP_EPARSE;
        }
        if ((rc = fxp__jnl_size(j->io, j->fd, &size)))
            goto io_error;
        if (j->io->ftruncate(j->io, j->fd, (off_t)off) != 0 ||
            j->io->fsync(j->io, j->fd) != 0)
            goto io_error;
        warn(j,
             "journal '%s': torn tail of %llu bytes at offset %llu "
             "truncated",
             j->path, (unsigned long long)(size - off),
             (unsigned long long)off);
        break;
    }
    j->seg_first = first;
    j->seg_size = off;
    j->next_seq = seq;
    return FXP_OK;
io_error:
    rc = rc == FXP_ENOMEM ? rc : errno_code(errno);
    snprintf(errbuf, errlen, "cannot recover journal segment '%s': %s", j->path,
             rc == FXP_ENOMEM ? "out of memory" : strerror(errno));
    return rc;
}

static int check_opts(const struct fxp_journal_opts *o, char *errbuf,
                      size_t errlen)
{
    const char *bad = NULL;
    if (o->fsync != FXP_FSYNC_ALWAYS && o->fsync != FXP_FSYNC_EVERY &&
        o->fsync != FXP_FSYNC_NEVER)
        bad = "unknown fsync policy";
    else if (o->fsync_every_ms < 0)
        bad = "fsync_every_ms is negative";
    else if (o->segment_bytes < 2 * FXP__JNL_SEG_HDR ||
             o->segment_bytes > ((uint64_t)1 << 40))
        bad = "segment_bytes is not in [32, 1 TiB]";
    else if (o->retain_ms < 0)
        bad = "retain_ms is negative";
    else if (o->max_record == 0 || o->max_record > FXP__JNL_RECORD_LIMIT)
        bad = "max_record is not in [1, 16 MiB]";
    if (bad)
        snprintf(errbuf, errlen, "invalid journal options: %s", bad);
    return bad ? FXP_EINVAL : FXP_OK;
}

int fxp_journal_open(const char *dir, const struct fxp_journal_opts *o,
                     struct fxp_journal **out, char *errbuf, size_t errlen)
{
    struct fxp_journal_opts def;
    struct fxp_journal *j = NULL;
    struct fxp__jscan sc = {0};
    uint64_t *segs = NULL;
    size_t n = 0;
    int rc;

    if (!out || !dir || !*dir) {
        snprintf(errbuf, errlen, "invalid journal arguments");
        return FXP_EINVAL;
    }
    *out = NULL;
    if (!o) {
        fxp_journal_opts_default(&def);
        o = &def;
    }
    if ((rc = check_opts(o, errbuf, errlen)))
        return rc;
    if (strlen(dir) > FXP__JNL_DIR_MAX) {
        snprintf(errbuf, errlen, "journal directory name too long");
        return FXP_EINVAL;
    }
    if (make_dirs(dir) != 0) {
        rc = errno_code(errno);
        snprintf(errbuf, errlen, "cannot create journal directory '%s': %s",
                 dir, strerror(errno));
        return rc;
    }
    j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(errbuf, errlen, "out of memory");
        return FXP_ENOMEM;
    }
    /* One writer per directory, across processes: a second writer would
     * interleave sequence numbers. The lock dies with its process. */
    char lock[FXP__JNL_DIR_MAX + 8];
    snprintf(lock, sizeof lock, "%s/LOCK", dir);
    j->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->lock_fd < 0 || flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = j->lock_fd < 0 ? errno_code(errno) : FXP_EEXIST;
        snprintf(errbuf, errlen, "%s journal '%s': %s",
                 rc == FXP_EEXIST ? "another process is writing the"
                                  : "cannot lock the",
                 dir, rc == FXP_EEXIST ? "it is locked" : strerror(errno));
        if (j->lock_fd >= 0)
            close(j->lock_fd);
        free(j);
        return rc;
    }
    j->o = *o;
    j->io = o->io ? o->io : fxp_io_posix();
    j->o.io = j->io;
    j->fd = -1;
    memcpy(j->dir, dir, strlen(dir) + 1);
    j->stage_cap = FXP__JNL_REC_HDR + (size_t)o->max_record;
    if (j->stage_cap < FXP__JNL_READ_CHUNK)
        j->stage_cap = FXP__JNL_READ_CHUNK;
    j->stage = malloc(j->stage_cap);
    if (!j->stage || fxp__jscan_init(&sc, j->io) != FXP_OK) {
        snprintf(errbuf, errlen, "out of memory");
        rc = FXP_ENOMEM;
        goto fail;
    }
    if ((rc = fxp__jnl_list(dir, &segs, &n, errbuf, errlen)))
        goto fail;
    if (n == 0) {
        if ((rc = create_segment(j, 1, errbuf, errlen)))
            goto fail;
        j->first_seq = j->next_seq = 1;
    } else {
        for (size_t i = 0; i + 1 < n; i++)
            if ((rc = check_old_segment(j, &sc, segs[i], segs[i + 1], errbuf,
                                        errlen)))
                goto fail;
        if ((rc = open_last_segment(j, &sc, segs[n - 1], errbuf, errlen)))
            goto fail;
        j->first_seq = segs[0];
    }
    j->synced_ms = mono_ms();
    free(segs);
    fxp__jscan_release(&sc);
    *out = j;
    return FXP_OK;
fail:
    free(segs);
    fxp__jscan_release(&sc);
    if (j && j->fd >= 0)
        j->io->close(j->io, j->fd);
    if (j) {
        free(j->stage);
        close(j->lock_fd);
    }
    free(j);
    return rc;
}

void fxp_journal_close(struct fxp_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0) {
        if (j->need_trunc &&
            j->io->ftruncate(j->io, j->fd, (off_t)j->seg_size) != 0)
            warn(j,
                 "journal '%s': cannot truncate a failed append: %s "
                 "(the next open truncates it)",
                 j->path, strerror(errno));
        if (!j->failed && j->io->fsync(j->io, j->fd) != 0)
            warn(j, "journal '%s': fsync on close failed: %s", j->path,
                 strerror(errno));
        j->io->close(j->io, j->fd);
    }
    free(j->stage);
    if (j->lock_fd >= 0)
        close(j->lock_fd);
    free(j);
}

/* Note 5: fsync, entering FAILED when it fails. */
static int do_sync(struct fxp_journal *j)
{
    if (j->io->fsync(j->io, j->fd) != 0) {
        warn(j,
             "journal '%s': fsync failed: %s (journal stopped until "
             "reopened)",
             j->path, strerror(errno));
        j->failed = FXP_EIO;
        return FXP_EIO;
    }
    j->dirty = false;
    j->synced_ms = mono_ms();
    return FXP_OK;
}

int fxp_journal_sync(struct fxp_journal *j)
{
    if (!j)
        return FXP_EINVAL;
    if (j->failed)
        return j->failed;
    if (j->fd < 0 || !j->dirty)
        return FXP_OK;
    return do_sync(j);
}

/* Note 6. */
static int roll_segment(struct fxp_journal *j)
{
    char err[FXP__JNL_PATH_MAX + 128];
    if (j->fd >= 0) {
        if (do_sync(j) != FXP_OK)
            return FXP_EIO;
        j->io->close(j->io, j->fd);
        j->fd = -1;
    }
    int rc = create_segment(j, j->next_seq, err, sizeof err);
    if (rc != FXP_OK)
        warn(j, "%s", err);
    return rc;
}

/* Note 4: drop whatever this append wrote past `end`. */
static void undo(struct fxp_journal *j, uint64_t end)
{
    int e = errno;
    if (j->io->ftruncate(j->io, j->fd, (off_t)end) != 0)
        j->need_trunc = true;
    j->seg_size = end;
    errno = e;
}

int fxp_journal_append(struct fxp_journal *j, const void *const *payloads,
                       const uint32_t *lens, size_t n, uint64_t *first_seq)
{
    int rc;

    if (!j || (n && (!payloads || !lens)))
        return FXP_EINVAL;
    if (j->failed)
        return j->failed;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > j->o.max_record)
            return FXP_ETOOLARGE;
        if (lens[i] && !payloads[i])
            return FXP_EINVAL;
    }
    if (j->need_trunc) {
        if (j->io->ftruncate(j->io, j->fd, (off_t)j->seg_size) != 0)
            return FXP_EIO;
        j->need_trunc = false;
    }
    if (n == 0) {
        if (first_seq)
            *first_seq = j->next_seq;
        return FXP_OK;
    }
    if (j->fd < 0 ||
        (j->seg_size >= j->o.segment_bytes && j->seg_size > FXP__JNL_SEG_HDR)) {
        if ((rc = roll_segment(j)) != FXP_OK)
            return rc;
    }

    const uint64_t start = j->seg_size;
    uint64_t seq = j->next_seq;
    size_t i = 0;
    while (i < n) {
        size_t used = 0;
        /* stage_cap >= 16 + max_record, so at least one record fits. */
        while (i < n && used + FXP__JNL_REC_HDR + lens[i] <= j->stage_cap) {
            unsigned char *h = j->stage + used;
            fxp__put_le32(h, lens[i]);
            fxp__put_le64(h + 8, seq);
            if (lens[i])
                memcpy(h + FXP__JNL_REC_HDR, payloads[i], lens[i]);
            fxp__put_le32(h + 4, fxp__crc32c(0, h + 8, 8 + (size_t)lens[i]));
            used += FXP__JNL_REC_HDR + lens[i];
            seq++;
            i++;
        }
        if ((rc = write_all(j, j->stage, used)) != FXP_OK) {
            undo(j, start);
            return rc;
        }
        j->seg_size += used;
    }
    j->dirty = true;
    if (j->o.fsync == FXP_FSYNC_ALWAYS ||
        (j->o.fsync == FXP_FSYNC_EVERY &&
         mono_ms() - j->synced_ms >= j->o.fsync_every_ms)) {
        if ((rc = do_sync(j)) != FXP_OK) {
            undo(j, start);
            return rc;
        }
    }
    if (first_seq)
        *first_seq = j->next_seq;
    j->next_seq = seq;
    return FXP_OK;
}

uint64_t fxp_journal_first_seq(const struct fxp_journal *j)
{
    return j->first_seq;
}

uint64_t fxp_journal_next_seq(const struct fxp_journal *j)
{
    return j->next_seq;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fxp_journal_retain(struct fxp_journal *j, uint64_t keep_from_seq)
{
    char err[FXP__JNL_PATH_MAX + 128], path[FXP__JNL_PATH_MAX];
    uint64_t *segs = NULL, total = 0;
    size_t n = 0;
    int rc;

    if (!j)
        return FXP_EINVAL;
    if ((rc = fxp__jnl_list(j->dir, &segs, &n, err, sizeof err))) {
        warn(j, "%s", err);
        return rc == FXP_ENOMEM ? rc : FXP_EIO;
    }
    /* The sizes first: the byte limit looks at the whole journal. */
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        fxp__jnl_path(path, j->dir, segs[i]);
        if (stat(path, &st) == 0)
            total += (uint64_t)st.st_size;
    }
    const bool no_limits = j->o.retain_bytes == 0 && j->o.retain_ms == 0;
    const int64_t now = wall_ms();
    rc = FXP_OK;
    /* Note 8: a prefix, never the last (active) segment. */
    for (size_t i = 0; i + 1 < n; i++) {
        struct stat st;
        if (segs[i + 1] - 1 >= keep_from_seq)
            break;
        fxp__jnl_path(path, j->dir, segs[i]);
        if (stat(path, &st) != 0) {
            warn(j, "journal '%s': cannot stat: %s", path, strerror(errno));
            rc = FXP_EIO;
            break;
        }
        int64_t mtime_ms =
            (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        bool del = no_limits ||
                   (j->o.retain_bytes && total > j->o.retain_bytes) ||
                   (j->o.retain_ms && now - mtime_ms > j->o.retain_ms);
        if (!del)
            break;
        if (unlink(path) != 0 && errno != ENOENT) {
            warn(j, "journal '%s': cannot delete: %s", path, strerror(errno));
            rc = FXP_EIO;
            break;
        }
        total -= (uint64_t)st.st_size;
        j->first_seq = segs[i + 1];
    }
    free(segs);
    return rc;
}
