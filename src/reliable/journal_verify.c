/*
 * journal_verify.c - the full check behind `fxpipe journal stats|verify`
 * (journal.h, docs/internals/journal.md).
 *
 * Design notes
 *
 *  1. Every segment is read from start to end with the bounded scanner and
 *     every record's length, CRC and seq is checked; nothing is written.
 *  2. After a bad record the scan resynchronises (fxp__jscan_resync): if a
 *     good record follows in the same segment, the bad stretch counts as
 *     one corrupt region and the scan goes on from there, so one report
 *     shows all the damage. If nothing good follows, the rest of the
 *     segment is a torn tail when the segment is the newest (what open
 *     would truncate: info->torn_bytes) and corruption otherwise.
 *  3. Headers that do not match their file name, and segments that do not
 *     continue the previous one's seqs, count as corrupt too.
 *  4. errbuf gets the first problem found, naming the file and offset.
 */
#include "fxpipe/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/io.h"
#include "reliable/journal_int.h"

struct verify {
    const struct fxp_io *io;
    struct fxp_journal_info *info;
    char *errbuf;
    size_t errlen;
    bool noted; /* errbuf holds the first problem */
};

static void note(struct verify *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(struct verify *v, const char *fmt, ...)
{
    va_list ap;
    if (v->noted || !v->errbuf || !v->errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(v->errbuf, v->errlen, fmt, ap);
    va_end(ap);
    v->noted = true;
}

/* Scan one segment; *seq is the seq expected next across segments (0:
 * none yet). Returns FXP_OK or an I/O error. */
static int verify_segment(struct verify *v, struct fxp__jscan *sc,
                          const char *path, uint64_t first, bool newest,
                          uint64_t *next)
{
    struct fxp_journal_info *info = v->info;
    const unsigned char *p;
    size_t avail;
    const char *why;
    uint64_t size, off = FXP__JNL_SEG_HDR, seq = first;
    int rc;

    int fd = v->io->open(v->io, path, O_RDONLY, 0);
    if (fd < 0) {
        snprintf(v->errbuf, v->errlen, "cannot open journal segment '%s': %s",
                 path, strerror(errno));
        return FXP_EIO;
    }
    fxp__jscan_reset(sc, fd);
    if ((rc = fxp__jnl_size(v->io, fd, &size)) ||
        (rc = fxp__jscan_get(sc, 0, FXP__JNL_SEG_HDR, &p, &avail)))
        goto io_error;
    info->bytes += size;
    if (*next && first != *next) {
        info->corrupt++;
        note(v,
             "journal '%s': starts at seq %llu but the previous segment "
             "ends at seq %llu (a segment is missing)",
             path, (unsigned long long)first, (unsigned long long)(*next - 1));
    }
    if ((why = fxp__jnl_header_check(p, avail, first)) != NULL) {
        if (newest && avail < FXP__JNL_SEG_HDR) {
            info->torn_bytes += avail;
            note(v, "journal '%s': torn header of %zu bytes", path, avail);
        } else {
            info->corrupt++;
            note(v, "journal '%s': %s", path, why);
        }
        *next = first;
        goto done;
    }
    for (;;) {
        struct fxp__jrec r;
        if ((rc = fxp__jscan_record(sc, off, seq, &r)))
            goto io_error;
        if (r.status == FXP__JREC_END)
            break;
        if (r.status == FXP__JREC_OK) {
            if (info->records++ == 0)
                info->first_seq = r.seq;
            info->last_seq = r.seq;
            off = r.end;
            seq++;
            continue;
        }
        bool found;
        uint64_t at, at_seq;
        if ((rc = fxp__jscan_resync(sc, off, seq, &found, &at, &at_seq)))
            goto io_error;
        if (found) {
            info->corrupt++;
            note(v, "journal '%s': corrupt record at offset %llu (%s)", path,
                 (unsigned long long)off, fxp__jrec_reason(r.status));
            off = at;
            seq = at_seq;
            continue;
        }
        if (newest) {
            info->torn_bytes += size - off;
            note(v, "journal '%s': torn tail of %llu bytes at offset %llu",
                 path, (unsigned long long)(size - off),
                 (unsigned long long)off);
        } else {
            info->corrupt++;
            note(v, "journal '%s': corrupt record at offset %llu (%s)", path,
                 (unsigned long long)off, fxp__jrec_reason(r.status));
        }
        break;
    }
    *next = seq;
done:
    v->io->close(v->io, fd);
    fxp__jscan_reset(sc, -1);
    return FXP_OK;
io_error:
    snprintf(v->errbuf, v->errlen, "cannot read journal segment '%s': %s", path,
             rc == FXP_ENOMEM ? "out of memory" : strerror(errno));
    v->io->close(v->io, fd);
    fxp__jscan_reset(sc, -1);
    return rc;
}

int fxp_journal_verify(const char *dir, const struct fxp_io *io,
                       struct fxp_journal_info *info, char *errbuf,
                       size_t errlen)
{
    char path[FXP__JNL_PATH_MAX];
    struct verify v = {io ? io : fxp_io_posix(), info, errbuf, errlen, false};
    struct fxp__jscan sc;
    uint64_t *segs, next = 0;
    size_t n;
    int rc;

    if (!dir || !*dir || !info) {
        snprintf(errbuf, errlen, "invalid journal arguments");
        return FXP_EINVAL;
    }
    memset(info, 0, sizeof *info);
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (strlen(dir) > FXP__JNL_DIR_MAX) {
        snprintf(errbuf, errlen, "journal directory name too long");
        return FXP_EINVAL;
    }
    if ((rc = fxp__jnl_list(dir, &segs, &n, errbuf, errlen)))
        return rc;
    if (fxp__jscan_init(&sc, v.io) != FXP_OK) {
        free(segs);
        snprintf(errbuf, errlen, "out of memory");
        return FXP_ENOMEM;
    }
    info->segments = n;
    for (size_t i = 0; i < n && rc == FXP_OK; i++) {
        fxp__jnl_path(path, dir, segs[i]);
        rc = verify_segment(&v, &sc, path, segs[i], i + 1 == n, &next);
    }
    fxp__jscan_release(&sc);
    free(segs);
    return rc;
}
