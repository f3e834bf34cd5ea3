/*
 * journal.c - the journal's writer (journal.h, docs/internals/journal.md):
 * append, fsync policies, segment roll, retention and close. Opening with
 * tail recovery is in journal_open.c, reading in journal_iter.c, checking
 * in journal_verify.c, the format and scanner in journal_scan.c.
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
 *  7. (Open and tail recovery: journal_open.c, note 7.)
 *  8. Retention deletes a prefix of the segments, never the active one,
 *     so the chain stays gap-free (1).
 */
#include "fxpipe/journal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fxpipe/err.h"
#include "fxpipe/io.h"
#include "reliable/crc32c.h"
#include "reliable/journal_int.h"

int64_t fxp__jnl_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fxp__jnl_warn(struct fxp_journal *j, const char *fmt, ...)
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

int fxp__jnl_errno_code(int e)
{
    return e == ENOSPC || e == EDQUOT ? FXP_ENOSPC : FXP_EIO;
}

/* Write all n bytes: a short count is followed by a write of the rest,
 * which on a full disk fails with ENOSPC (so the caller learns why). */
int fxp__jnl_write_all(struct fxp_journal *j, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t r = j->io->write(j->io, j->fd, p, n);
        if (r < 0)
            return fxp__jnl_errno_code(errno);
        if (r == 0) {
            errno = EIO;
            return FXP_EIO;
        }
        p += r;
        n -= (size_t)r;
    }
    return FXP_OK;
}

void fxp_journal_close(struct fxp_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0) {
        if (j->need_trunc &&
            j->io->ftruncate(j->io, j->fd, (off_t)j->seg_size) != 0)
            fxp__jnl_warn(j,
                          "journal '%s': cannot truncate a failed append: %s "
                          "(the next open truncates it)",
                          j->path, strerror(errno));
        if (!j->failed && j->io->fsync(j->io, j->fd) != 0)
            fxp__jnl_warn(j, "journal '%s': fsync on close failed: %s", j->path,
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
        fxp__jnl_warn(j,
                      "journal '%s': fsync failed: %s (journal stopped until "
                      "reopened)",
                      j->path, strerror(errno));
        j->failed = FXP_EIO;
        return FXP_EIO;
    }
    j->dirty = false;
    j->synced_ms = fxp__jnl_mono_ms();
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
    int rc = fxp__jnl_create_segment(j, j->next_seq, err, sizeof err);
    if (rc != FXP_OK)
        fxp__jnl_warn(j, "%s", err);
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
        if ((rc = fxp__jnl_write_all(j, j->stage, used)) != FXP_OK) {
            undo(j, start);
            return rc;
        }
        j->seg_size += used;
    }
    j->dirty = true;
    if (j->o.fsync == FXP_FSYNC_ALWAYS ||
        (j->o.fsync == FXP_FSYNC_EVERY &&
         fxp__jnl_mono_ms() - j->synced_ms >= j->o.fsync_every_ms)) {
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
        fxp__jnl_warn(j, "%s", err);
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
            fxp__jnl_warn(j, "journal '%s': cannot stat: %s", path,
                          strerror(errno));
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
            fxp__jnl_warn(j, "journal '%s': cannot delete: %s", path,
                          strerror(errno));
            rc = FXP_EIO;
            break;
        }
        total -= (uint64_t)st.st_size;
        j->first_seq = segs[i + 1];
    }
    free(segs);
    return rc;
}
