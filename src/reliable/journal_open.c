/*
 * journal_open.c - fxp_journal_open: options, the directory and its LOCK,
 * the segment chain checks and recovery of the last segment's tail.
 *
 * Design note (numbered as in journal.c, whose notes 1-6 and 8 this
 * relies on)
 *
 *  7. Open scans the last segment completely. At the first bad record it
 *     asks fxp__jscan_resync whether a good record follows: if one does,
 *     the damage is in the middle and open fails with FXP_EPARSE rather
 *     than throw good records away; if none does, it is a torn tail,
 *     truncated to the last good record with an on_warn message.
 */
#include "fxpipe/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fxpipe/err.h"
#include "fxpipe/io.h"
#include "reliable/journal_int.h"

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
 * (journal.c note 6). On failure nothing is left behind and j->fd is -1. */
int fxp__jnl_create_segment(struct fxp_journal *j, uint64_t first, char *errbuf,
                            size_t errlen)
{
    unsigned char h[FXP__JNL_SEG_HDR];
    int rc = FXP_EIO;

    fxp__jnl_path(j->path, j->dir, first);
    j->fd =
        j->io->open(j->io, j->path, O_RDWR | O_CREAT | O_EXCL | O_APPEND, 0644);
    if (j->fd < 0) {
        rc = fxp__jnl_errno_code(errno);
        snprintf(errbuf, errlen, "cannot create journal segment '%s': %s",
                 j->path, strerror(errno));
        return rc;
    }
    fxp__jnl_header(h, first);
    if ((rc = fxp__jnl_write_all(j, h, sizeof h)) != FXP_OK ||
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
    j->synced_ms = fxp__jnl_mono_ms();
    return FXP_OK;
}

/* Check an older segment: its header, and that its last record is the
 * seq before the next segment's first (journal.c notes 1, 6). */
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
        rc = fxp__jnl_errno_code(errno);
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
        fxp__jnl_warn(j, "journal '%s': torn header of %zu bytes rewritten",
                      j->path, avail);
        fxp__jnl_header(h, first);
        if (j->io->ftruncate(j->io, j->fd, 0) != 0 ||
            (rc = fxp__jnl_write_all(j, h, sizeof h)) != FXP_OK ||
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
        fxp__jnl_warn(j,
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
    rc = rc == FXP_ENOMEM ? rc : fxp__jnl_errno_code(errno);
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
        rc = fxp__jnl_errno_code(errno);
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
        rc = j->lock_fd < 0 ? fxp__jnl_errno_code(errno) : FXP_EEXIST;
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
        if ((rc = fxp__jnl_create_segment(j, 1, errbuf, errlen)))
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
    j->synced_ms = fxp__jnl_mono_ms();
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
