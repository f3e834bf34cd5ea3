/*
 * journal_scan.c - the journal's format helpers and bounded record scanner
 * (journal_int.h), shared by the writer, the iterator and verify.
 *
 * Design notes
 *
 *  1. Nothing here reads a whole file into memory: the scanner keeps a
 *     window of at most FXP__JNL_REC_HDR + FXP__JNL_RECORD_LIMIT bytes
 *     (FXP__JNL_READ_CHUNK in the usual case) and slides it forward,
 *     keeping the bytes it still needs (memmove) and reading the rest with
 *     pread through the io seam.
 *  2. A record is good when its length is at most FXP__JNL_RECORD_LIMIT,
 *     all its bytes are in the file, crc32c(seq || payload) matches and
 *     its seq is the one expected (the previous one + 1, or the segment's
 *     first). Any other record is bad; fxp__jscan_record says why.
 *  3. Resynchronisation (fxp__jscan_resync) looks at every byte offset
 *     after a bad record for a header whose seq lies in (seq, seq + k],
 *     where k is the distance travelled / 16 (records take at least 16
 *     bytes), then checks its CRC. Garbage and zero-filled tails pass the
 *     cheap seq test almost never, so the scan costs about one read of the
 *     rest of the file.
 *  4. The backward search (fxp__jscan_last) tries, for L = 0, 1, ..., the
 *     offset size - 16 - L whose length field would have to be L, in a
 *     tail window that starts at 64 KiB and grows to the record limit.
 */
#include "reliable/journal_int.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/io.h"
#include "reliable/crc32c.h"

void fxp__jnl_path(char *out, const char *dir, uint64_t first)
{
    snprintf(out, FXP__JNL_PATH_MAX, "%s/%020" PRIu64 "%s", dir, first,
             FXP__JNL_EXT);
}

/* The first seq a segment file name stands for; false if it is not one. */
static bool parse_name(const char *name, uint64_t *first)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < FXP__JNL_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        unsigned d = (unsigned)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (strcmp(name + i, FXP__JNL_EXT) != 0)
        return false;
    *first = v;
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int fxp__jnl_list(const char *dir, uint64_t **firsts, size_t *n, char *errbuf,
                  size_t errlen)
{
    uint64_t *v = NULL;
    size_t len = 0, cap = 0;
    struct dirent *de;
    DIR *d = opendir(dir);

    *firsts = NULL;
    *n = 0;
    if (!d) {
        int e = errno;
        snprintf(errbuf, errlen, "cannot open journal '%s': %s", dir,
                 strerror(e));
        return e == ENOENT ? FXP_ENOENT : FXP_EIO;
    }
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        uint64_t first;
        if (!parse_name(de->d_name, &first))
            continue;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                free(v);
                closedir(d);
                snprintf(errbuf, errlen, "out of memory listing '%s'", dir);
                return FXP_ENOMEM;
            }
            v = nv;
            cap = ncap;
        }
        v[len++] = first;
        errno = 0;
    }
    if (errno) {
        int e = errno;
        free(v);
        closedir(d);
        snprintf(errbuf, errlen, "cannot read journal '%s': %s", dir,
                 strerror(e));
        return FXP_EIO;
    }
    closedir(d);
    if (len)
        qsort(v, len, sizeof *v, cmp_u64);
    *firsts = v;
    *n = len;
    return FXP_OK;
}

void fxp__jnl_header(unsigned char h[FXP__JNL_SEG_HDR], uint64_t first)
{
    memcpy(h, FXP__JNL_MAGIC, 4);
    fxp__put_le32(h + 4, FXP__JNL_VERSION);
    fxp__put_le64(h + 8, first);
}

const char *fxp__jnl_header_check(const unsigned char *h, size_t n,
                                  uint64_t first)
{
    if (n < FXP__JNL_SEG_HDR)
        return "short segment header";
    if (memcmp(h, FXP__JNL_MAGIC, 4) != 0)
        return "bad magic (not a journal segment)";
    if (fxp__get_le32(h + 4) != FXP__JNL_VERSION)
        return "unsupported format version";
    if (fxp__get_le64(h + 8) != first)
        return "header's first sequence number differs from the file name";
    return NULL;
}

/* True when the file has a byte at offset off. */
static int has_byte(const struct fxp_io *io, int fd, uint64_t off, bool *yes)
{
    unsigned char c;
    ssize_t r = io->pread(io, fd, &c, 1, (off_t)off);
    if (r < 0)
        return FXP_EIO;
    *yes = r == 1;
    return FXP_OK;
}

int fxp__jnl_size(const struct fxp_io *io, int fd, uint64_t *size)
{
    uint64_t lo = 0, hi = 4096; /* the size lies in [lo, hi] */
    bool yes;
    int rc;

    /* Grow hi until offset hi - 1 is past the end. */
    for (;;) {
        if ((rc = has_byte(io, fd, hi - 1, &yes)) != FXP_OK)
            return rc;
        if (!yes)
            break;
        lo = hi;
        if (hi > (UINT64_MAX >> 2))
            return FXP_EIO;
        hi *= 2;
    }
    /* Invariant: size >= lo and size <= hi. */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2; /* is there a byte at mid? */
        if ((rc = has_byte(io, fd, mid, &yes)) != FXP_OK)
            return rc;
        if (yes)
            lo = mid + 1;
        else
            hi = mid;
    }
    *size = lo;
    return FXP_OK;
}

const char *fxp__jrec_reason(int status)
{
    switch (status) {
    case FXP__JREC_OK:
        return "ok";
    case FXP__JREC_END:
        return "end of file";
    case FXP__JREC_SHORT:
        return "record cut short by the end of the file";
    case FXP__JREC_BADLEN:
        return "impossible record length";
    case FXP__JREC_BADCRC:
        return "crc mismatch";
    case FXP__JREC_BADSEQ:
        return "unexpected sequence number";
    }
    return "unknown";
}

int fxp__jscan_init(struct fxp__jscan *s, const struct fxp_io *io)
{
    memset(s, 0, sizeof *s);
    s->io = io;
    s->fd = -1;
    s->buf = malloc(FXP__JNL_READ_CHUNK);
    if (!s->buf)
        return FXP_ENOMEM;
    s->cap = FXP__JNL_READ_CHUNK;
    return FXP_OK;
}

void fxp__jscan_release(struct fxp__jscan *s)
{
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}

void fxp__jscan_reset(struct fxp__jscan *s, int fd)
{
    s->fd = fd;
    s->buf_off = 0;
    s->buf_len = 0;
}

int fxp__jscan_get(struct fxp__jscan *s, uint64_t off, size_t need,
                   const unsigned char **p, size_t *avail)
{
    const size_t max = FXP__JNL_REC_HDR + FXP__JNL_RECORD_LIMIT;

    if (need > max)
        need = max;
    if (off >= s->buf_off && off - s->buf_off <= s->buf_len &&
        s->buf_len - (off - s->buf_off) >= need) {
        *p = s->buf + (off - s->buf_off);
        *avail = s->buf_len - (size_t)(off - s->buf_off);
        return FXP_OK;
    }
    if (need > s->cap) {
        size_t ncap = s->cap;
        while (ncap < need)
            ncap = ncap > max / 2 ? max : ncap * 2;
        unsigned char *nb = realloc(s->buf, ncap);
        if (!nb)
            return FXP_ENOMEM;
        s->buf = nb;
        s->cap = ncap;
    }
    /* Keep what we already have from off on; read the rest. */
    size_t keep = 0;
    if (off >= s->buf_off && off - s->buf_off < s->buf_len) {
        keep = s->buf_len - (size_t)(off - s->buf_off);
        memmove(s->buf, s->buf + (off - s->buf_off), keep);
    }
    s->buf_off = off;
    s->buf_len = keep;
    while (s->buf_len < s->cap) {
        ssize_t r =
            s->io->pread(s->io, s->fd, s->buf + s->buf_len, s->cap - s->buf_len,
                         (off_t)(off + s->buf_len));
        if (r < 0)
            return FXP_EIO;
        if (r == 0)
            break;
        s->buf_len += (size_t)r;
    }
    *p = s->buf;
    *avail = s->buf_len;
    return FXP_OK;
}

int fxp__jscan_record(struct fxp__jscan *s, uint64_t off, uint64_t seq,
                      struct fxp__jrec *r)
{
    const unsigned char *p;
    size_t avail;
    int rc;

    memset(r, 0, sizeof *r);
    if ((rc = fxp__jscan_get(s, off, FXP__JNL_REC_HDR, &p, &avail)))
        return rc;
    if (avail == 0) {
        r->status = FXP__JREC_END;
        return FXP_OK;
    }
    if (avail < FXP__JNL_REC_HDR) {
        r->status = FXP__JREC_SHORT;
        return FXP_OK;
    }
    uint32_t len = fxp__get_le32(p);
    if (len > FXP__JNL_RECORD_LIMIT) {
        r->status = FXP__JREC_BADLEN;
        return FXP_OK;
    }
    size_t need = FXP__JNL_REC_HDR + (size_t)len;
    if ((rc = fxp__jscan_get(s, off, need, &p, &avail)))
        return rc;
    if (avail < need) {
        r->status = FXP__JREC_SHORT;
        return FXP_OK;
    }
    uint32_t crc = fxp__get_le32(p + 4);
    uint64_t rseq = fxp__get_le64(p + 8);
    if (fxp__crc32c(0, p + 8, 8 + (size_t)len) != crc) {
        r->status = FXP__JREC_BADCRC;
        return FXP_OK;
    }
    if (rseq != seq) {
        r->status = FXP__JREC_BADSEQ;
        return FXP_OK;
    }
    r->status = FXP__JREC_OK;
    r->seq = rseq;
    r->data = p + FXP__JNL_REC_HDR;
    r->len = len;
    r->end = off + need;
    return FXP_OK;
}

int fxp__jscan_resync(struct fxp__jscan *s, uint64_t off, uint64_t seq,
                      bool *found, uint64_t *at, uint64_t *at_seq)
{
    uint64_t pos = off + 1;
    int rc;

    *found = false;
    for (;;) {
        const unsigned char *p;
        size_t avail;
        if ((rc = fxp__jscan_get(s, pos, FXP__JNL_REC_HDR, &p, &avail)))
            return rc;
        if (avail < FXP__JNL_REC_HDR)
            return FXP_OK;
        size_t n_pos = avail - FXP__JNL_REC_HDR + 1, k;
        for (k = 0; k < n_pos; k++) {
            uint64_t rseq = fxp__get_le64(p + k + 8);
            uint64_t most = (pos + k - off) / FXP__JNL_REC_HDR;
            if (rseq <= seq || rseq - seq > most ||
                fxp__get_le32(p + k) > FXP__JNL_RECORD_LIMIT)
                continue;
            struct fxp__jrec r;
            if ((rc = fxp__jscan_record(s, pos + k, rseq, &r)))
                return rc;
            if (r.status == FXP__JREC_OK) {
                *found = true;
                *at = pos + k;
                *at_seq = rseq;
                return FXP_OK;
            }
            break; /* the window moved: fetch it again from pos + k + 1 */
        }
        pos += k < n_pos ? k + 1 : n_pos;
    }
}

int fxp__jscan_last(struct fxp__jscan *s, uint64_t size, uint64_t first,
                    bool *found, uint64_t *last_seq)
{
    const uint64_t body = size - FXP__JNL_SEG_HDR;
    const uint64_t max = FXP__JNL_REC_HDR + FXP__JNL_RECORD_LIMIT;
    uint64_t win = 64u << 10, len = 0; /* next length to try */
    int rc;

    assert(size >= FXP__JNL_SEG_HDR);
    *found = false;
    if (body == 0) {
        *found = true;
        *last_seq = first - 1;
        return FXP_OK;
    }
    for (;;) {
        if (win > body)
            win = body;
        if (win > max)
            win = max;
        uint64_t start = size - win;
        const unsigned char *p;
        size_t avail;
        if ((rc = fxp__jscan_get(s, start, (size_t)win, &p, &avail)))
            return rc;
        if (avail < win)
            return FXP_OK; /* the file shrank under us */
        for (; len + FXP__JNL_REC_HDR <= win; len++) {
            uint64_t at = size - FXP__JNL_REC_HDR - len;
            const unsigned char *h = p + (at - start);
            if (fxp__get_le32(h) != len)
                continue;
            uint64_t rseq = fxp__get_le64(h + 8);
            if (rseq < first ||
                rseq - first > (at - FXP__JNL_SEG_HDR) / FXP__JNL_REC_HDR)
                continue;
            struct fxp__jrec r;
            if ((rc = fxp__jscan_record(s, at, rseq, &r)))
                return rc;
            if (r.status == FXP__JREC_OK) {
                *found = true;
                *last_seq = rseq;
                return FXP_OK;
            }
            /* The window may have moved; fetch it again. */
            if ((rc = fxp__jscan_get(s, start, (size_t)win, &p, &avail)))
                return rc;
            if (avail < win)
                return FXP_OK;
        }
        if (win == body || win == max)
            return FXP_OK;
        win *= 4;
    }
}
