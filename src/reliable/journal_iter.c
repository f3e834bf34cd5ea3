/*
 * journal_iter.c - reading the journal in order from any sequence number
 * (journal.h, docs/internals/journal.md).
 *
 * Design notes
 *
 *  1. The iterator holds one segment open at a time and reads it through
 *     the bounded scanner (journal_scan.c); every record's CRC and seq are
 *     checked, including the records it skips on the way to `from`.
 *  2. At the end of a segment it moves to the segment with the smallest
 *     first seq above the open one's, listing the directory again when it
 *     knows of none; that segment must start at exactly the next seq, or
 *     there is a gap (FXP_EPARSE). Since the writer finishes a segment
 *     before it creates the next (journal.c note 6), the end is read once
 *     more after a successor was seen, so records appended just before
 *     the roll are not mistaken for a gap.
 *  3. At the end of the newest segment next() returns FXP_ECLOSED and may
 *     be called again later to follow a journal that is still written.
 *     Where the newest segment ends inside a record, that is an append in
 *     progress or a torn tail (FXP_ECLOSED) unless a good record follows
 *     (fxp__jscan_resync), which makes it corruption. In an older segment
 *     it is always corruption.
 *  4. Errors are sticky: once next() returned FXP_EPARSE or FXP_EIO it
 *     returns the same code and message on every later call, so recovery
 *     stops before the bad record.
 */
#include "fxpipe/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/io.h"
#include "reliable/journal_int.h"

struct fxp_journal_iter {
    const struct fxp_io *io;
    char dir[FXP__JNL_DIR_MAX + 1];
    char path[FXP__JNL_PATH_MAX]; /* the open segment */
    uint64_t *segs;               /* first seqs, as last listed */
    size_t n_segs;
    int fd;             /* the open segment, -1 before the first */
    uint64_t seg_first; /* its first seq */
    uint64_t off;       /* offset of the next record in it */
    uint64_t seq;       /* seq that record must carry */
    uint64_t from;      /* records below are skipped */
    bool rechecked;     /* note 2: the end was read again */
    struct fxp__jscan sc;
    int failed; /* note 4 */
    char msg[FXP__JNL_PATH_MAX + 256];
};

static int fail(struct fxp_journal_iter *it, int rc, char *errbuf,
                size_t errlen)
{
    it->failed = rc;
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s", it->msg);
    return rc;
}

static int relist(struct fxp_journal_iter *it)
{
    char err[FXP__JNL_PATH_MAX + 128];
    uint64_t *segs;
    size_t n;
    int rc = fxp__jnl_list(it->dir, &segs, &n, err, sizeof err);
    if (rc) {
        snprintf(it->msg, sizeof it->msg, "%s", err);
        return rc == FXP_ENOENT ? FXP_EIO : rc;
    }
    free(it->segs);
    it->segs = segs;
    it->n_segs = n;
    return FXP_OK;
}

/* Open the segment starting at `first`, positioned at its first record. */
static int open_segment(struct fxp_journal_iter *it, uint64_t first)
{
    const unsigned char *p;
    size_t avail;
    const char *why;
    int rc;

    if (it->fd >= 0)
        it->io->close(it->io, it->fd);
    fxp__jnl_path(it->path, it->dir, first);
    it->fd = it->io->open(it->io, it->path, O_RDONLY, 0);
    fxp__jscan_reset(&it->sc, it->fd);
    if (it->fd < 0) {
        int e = errno;
        snprintf(it->msg, sizeof it->msg,
                 "cannot open journal segment '%s': %s", it->path, strerror(e));
        return e == ENOENT ? FXP_EPARSE : FXP_EIO;
    }
    it->seg_first = first;
    it->off = FXP__JNL_SEG_HDR;
    it->seq = first;
    it->rechecked = false;
    if ((rc = fxp__jscan_get(&it->sc, 0, FXP__JNL_SEG_HDR, &p, &avail))) {
        snprintf(it->msg, sizeof it->msg,
                 "cannot read journal segment '%s': %s", it->path,
                 rc == FXP_ENOMEM ? "out of memory" : strerror(errno));
        return rc;
    }
    if ((why = fxp__jnl_header_check(p, avail, first)) != NULL) {
        snprintf(it->msg, sizeof it->msg, "journal '%s': %s", it->path, why);
        return FXP_EPARSE;
    }
    return FXP_OK;
}

/* The segment to start from: the last one whose first seq <= from (or
 * the oldest, when retention removed the records below it). */
static uint64_t start_segment(const struct fxp_journal_iter *it)
{
    uint64_t first = it->segs[0];
    for (size_t i = 1; i < it->n_segs && it->segs[i] <= it->from; i++)
        first = it->segs[i];
    return first;
}

/* The first seq of the segment after the open one, listing the
 * directory again when none is known; *yes false when there is none. */
static int next_segment(struct fxp_journal_iter *it, bool *yes, uint64_t *first)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < it->n_segs; i++) {
            if (it->segs[i] > it->seg_first) {
                *yes = true;
                *first = it->segs[i];
                return FXP_OK;
            }
        }
        int rc;
        if (pass == 0 && (rc = relist(it)) != FXP_OK)
            return rc;
    }
    *yes = false;
    return FXP_OK;
}

int fxp_journal_iter_open(const char *dir, uint64_t from,
                          const struct fxp_io *io,
                          struct fxp_journal_iter **out, char *errbuf,
                          size_t errlen)
{
    struct fxp_journal_iter *it;
    int rc;

    if (!out || !dir || !*dir) {
        snprintf(errbuf, errlen, "invalid journal arguments");
        return FXP_EINVAL;
    }
    *out = NULL;
    if (strlen(dir) > FXP__JNL_DIR_MAX) {
        snprintf(errbuf, errlen, "journal directory name too long");
        return FXP_EINVAL;
    }
    it = calloc(1, sizeof *it);
    if (!it || fxp__jscan_init(&it->sc, io ? io : fxp_io_posix())) {
        free(it);
        snprintf(errbuf, errlen, "out of memory");
        return FXP_ENOMEM;
    }
    it->io = io ? io : fxp_io_posix();
    it->fd = -1;
    it->from = from;
    memcpy(it->dir, dir, strlen(dir) + 1);
    rc = fxp__jnl_list(dir, &it->segs, &it->n_segs, errbuf, errlen);
    if (rc == FXP_OK && it->n_segs > 0 &&
        (rc = open_segment(it, start_segment(it))) != FXP_OK)
        snprintf(errbuf, errlen, "%s", it->msg);
    if (rc != FXP_OK) {
        fxp_journal_iter_close(it);
        return rc;
    }
    *out = it;
    return FXP_OK;
}

int fxp_journal_iter_next(struct fxp_journal_iter *it, uint64_t *seq,
                          const void **data, uint32_t *len, char *errbuf,
                          size_t errlen)
{
    int rc;

    if (!it || !seq || !data || !len)
        return FXP_EINVAL;
    if (it->failed)
        return fail(it, it->failed, errbuf, errlen);
    for (;;) {
        struct fxp__jrec r;
        bool more;
        uint64_t next_first;

        if (it->fd < 0) {
            /* Nothing was there at open: look again. */
            if ((rc = relist(it)) != FXP_OK)
                return fail(it, rc, errbuf, errlen);
            if (it->n_segs == 0)
                return FXP_ECLOSED;
            if ((rc = open_segment(it, start_segment(it))) != FXP_OK)
                return fail(it, rc, errbuf, errlen);
        }
        if ((rc = fxp__jscan_record(&it->sc, it->off, it->seq, &r))) {
            snprintf(it->msg, sizeof it->msg,
                     "cannot read journal segment '%s': %s", it->path,
                     rc == FXP_ENOMEM ? "out of memory" : strerror(errno));
            return fail(it, rc, errbuf, errlen);
        }
        if (r.status == FXP__JREC_OK) {
            it->off = r.end;
            it->seq++;
            it->rechecked = false;
            if (r.seq < it->from)
                continue;
            *seq = r.seq;
            *data = r.data;
            *len = r.len;
            return FXP_OK;
        }
        if (r.status != FXP__JREC_END && r.status != FXP__JREC_SHORT) {
            snprintf(it->msg, sizeof it->msg,
                     "journal '%s': corrupt record at offset %llu (%s)",
                     it->path, (unsigned long long)it->off,
                     fxp__jrec_reason(r.status));
            return fail(it, FXP_EPARSE, errbuf, errlen);
        }
        if ((rc = next_segment(it, &more, &next_first)) != FXP_OK)
            return fail(it, rc, errbuf, errlen);
        if (more && !it->rechecked) {
            it->rechecked = true; /* note 2 */
            continue;
        }
        if (!more) {
            bool found = false;
            uint64_t at, at_seq;
            if (r.status == FXP__JREC_END)
                return FXP_ECLOSED;
            if ((rc = fxp__jscan_resync(&it->sc, it->off, it->seq, &found, &at,
                                        &at_seq))) {
                snprintf(it->msg, sizeof it->msg,
                         "cannot read journal segment '%s': %s", it->path,
                         strerror(errno));
                return fail(it, rc, errbuf, errlen);
            }
            if (!found)
                return FXP_ECLOSED; /* note 3 */
            snprintf(it->msg, sizeof it->msg,
                     "journal '%s': corrupt record at offset %llu (%s)",
                     it->path, (unsigned long long)it->off,
                     fxp__jrec_reason(r.status));
            return fail(it, FXP_EPARSE, errbuf, errlen);
        }
        if (r.status == FXP__JREC_SHORT) {
            snprintf(it->msg, sizeof it->msg,
                     "journal '%s': corrupt record at offset %llu (%s)",
                     it->path, (unsigned long long)it->off,
                     fxp__jrec_reason(r.status));
            return fail(it, FXP_EPARSE, errbuf, errlen);
        }
        if (next_first != it->seq) {
            snprintf(it->msg, sizeof it->msg,
                     "journal '%s': records end at seq %llu but the next "
                     "segment starts at seq %llu (a segment is missing)",
                     it->path, (unsigned long long)(it->seq - 1),
                     (unsigned long long)next_first);
            return fail(it, FXP_EPARSE, errbuf, errlen);
        }
        if ((rc = open_segment(it, next_first)) != FXP_OK)
            return fail(it, rc, errbuf, errlen);
    }
}

void fxp_journal_iter_close(struct fxp_journal_iter *it)
{
    if (!it)
        return;
    if (it->fd >= 0)
        it->io->close(it->io, it->fd);
    fxp__jscan_release(&it->sc);
    free(it->segs);
    free(it);
}
