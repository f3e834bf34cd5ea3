/*
 * linereader.c - lines through one fixed buffer (linereader.h).
 *
 * Design notes
 *
 *  1. One buffer of lr->cap bytes; buf[start..end) holds bytes read but
 *     not yet consumed. A line is split off with memchr('\n'). When no
 *     newline is left, fill() moves the partial tail to the front and
 *     reads more behind it. The buffer never grows.
 *  2. A line that does not fit (no newline in a full buffer) is reported
 *     once as FXP_LINE_LONG, counted as one line, and then skipped:
 *     `skipping` drops bytes until the next newline. So a line needs
 *     length + 1 <= cap.
 *  3. Files and memory go through the same fill(): a memory source only
 *     copies its bytes in instead of calling read(), so fuzzers and tests
 *     exercise the real line splitting, tail moves and long lines.
 *  4. A read error is sticky (`failed`): lines already in the buffer are
 *     still returned, then every call returns FXP_LINE_EIO.
 *  5. Unread only moves `start` back to `last`, the start of the line just
 *     returned: its bytes are still in the buffer because nothing is moved
 *     or refilled between returning a line and the next call.
 *  6. Progress: `in` counts bytes ever placed in the buffer, so the bytes
 *     consumed are in - (end - start); bytes dropped while skipping count
 *     as consumed.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fxpipe/err.h"
#include "fxpipe/linereader.h"

struct fxp_linereader {
    /* source: a file descriptor, or memory when fd < 0 (note 3) */
    int fd;          /* -1 for a memory source */
    bool close_fd;   /* false for standard input */
    const char *mem; /* memory source bytes */
    size_t mem_len;  /* their length */
    size_t mem_pos;  /* bytes already copied into buf */
    /* the buffer (note 1) */
    char *buf;       /* cap bytes */
    size_t cap;      /* buffer size */
    size_t start;    /* first unconsumed byte */
    size_t end;      /* one past the last byte read */
    size_t last;     /* start of the line last returned (note 5) */
    bool can_unread; /* the last call returned FXP_LINE_OK */
    bool eof;        /* the source returned end of file */
    bool skipping;   /* dropping the rest of an over-long line (note 2) */
    bool failed;     /* a read failed (note 4) */
    int io_errno;    /* errno of that failure */
    /* counters */
    uint64_t lines; /* lines counted */
    uint64_t in;    /* bytes placed in the buffer (note 6) */
    uint64_t total; /* input size, 0 = unknown */
    char *name;     /* display name, owned */
};

/* ------------------------------------------------------------------------
 * Buffer and lines (notes 1-5)
 */

/* Move the unconsumed tail to the front and read more behind it. Sets eof
 * at end of input. Returns 0, or -1 on a read error (sticky). */
static int fill(struct fxp_linereader *lr)
{
    size_t space;

    if (lr->start > 0) {
        memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
        lr->end -= lr->start;
        lr->start = 0;
    }
    space = lr->cap - lr->end;
    if (space == 0)
        return 0; /* the caller handles a full buffer */
    if (lr->fd < 0) {
        size_t k = lr->mem_len - lr->mem_pos;

        if (k > space)
            k = space;
        if (k == 0)
            lr->eof = true;
        else
            memcpy(lr->buf + lr->end, lr->mem + lr->mem_pos, k);
        lr->mem_pos += k;
        lr->end += k;
        lr->in += k;
        return 0;
    }
    for (;;) {
        ssize_t k = read(lr->fd, lr->buf + lr->end, space);

        if (k > 0) {
            lr->end += (size_t)k;
            lr->in += (uint64_t)k;
            return 0;
        }
        if (k == 0) {
            lr->eof = true;
            return 0;
        }
        if (errno != EINTR) {
            lr->failed = true;
            lr->io_errno = errno;
            return -1;
        }
    }
}

fxp_line_status fxp_linereader_next(struct fxp_linereader *lr,
                                    struct fxp_line *line)
{
    static const char bom[3] = {'\xEF', '\xBB', '\xBF'};
    char *s;
    size_t n;

    lr->can_unread = false;
    for (;;) {
        size_t avail = lr->end - lr->start;
        char *nl;

        s = lr->buf + lr->start;
        nl = avail ? memchr(s, '\n', avail) : NULL;
        if (nl != NULL) {
            lr->last = lr->start;
            lr->start += (size_t)(nl - s) + 1;
            if (lr->skipping) {
                lr->skipping = false; /* the long line ends here */
                continue;
            }
            n = (size_t)(nl - s);
            break;
        }
        if (lr->skipping) {
            lr->start = lr->end = 0;
            if (lr->eof) {
                lr->skipping = false;
                return FXP_LINE_EOF;
            }
        } else if (lr->eof) {
            if (avail == 0)
                return FXP_LINE_EOF;
            lr->last = lr->start;
            lr->start = lr->end; /* a last line without '\n' */
            n = avail;
            break;
        } else if (avail == lr->cap) {
            lr->start = lr->end = 0;
            lr->skipping = true;
            line->p = NULL;
            line->len = 0;
            line->no = ++lr->lines;
            return FXP_LINE_LONG;
        }
        if (lr->failed || fill(lr) != 0)
            return FXP_LINE_EIO;
    }
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (++lr->lines == 1 && n >= 3 && memcmp(s, bom, 3) == 0) {
        s += 3;
        n -= 3;
    }
    line->p = s;
    line->len = n;
    line->no = lr->lines;
    lr->can_unread = true;
    return FXP_LINE_OK;
}

void fxp_linereader_unread(struct fxp_linereader *lr)
{
    assert(lr->can_unread);
    lr->can_unread = false;
    lr->start = lr->last;
    lr->lines--;
}

/* ------------------------------------------------------------------------
 * Opening and closing
 */

static char *copy_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* Everything but the source: name and buffer. */
static int init_common(struct fxp_linereader *lr, const char *name,
                       size_t buf_size)
{
    size_t cap = buf_size ? buf_size : FXP_LINEREADER_DEFAULT_BUF;

    lr->cap = cap < FXP_LINEREADER_MIN_BUF   ? FXP_LINEREADER_MIN_BUF
              : cap > FXP_LINEREADER_MAX_BUF ? FXP_LINEREADER_MAX_BUF
                                             : cap;
    lr->name = copy_str(name);
    lr->buf = malloc(lr->cap);
    return lr->name && lr->buf ? FXP_OK : FXP_ENOMEM;
}

static void errno_text(int e, char *msg, size_t len)
{
    if (strerror_r(e, msg, len) != 0)
        snprintf(msg, len, "error %d", e);
}

int fxp_linereader_open(const char *path, size_t buf_size,
                        struct fxp_linereader **out, char *errbuf,
                        size_t errlen)
{
    struct fxp_linereader *lr;
    bool is_stdin = strcmp(path, "-") == 0;
    struct stat sb;

    *out = NULL;
    lr = calloc(1, sizeof *lr);
    if (lr == NULL)
        goto nomem;
    lr->fd = -1;
    if (init_common(lr, is_stdin ? "<stdin>" : path, buf_size) != FXP_OK)
        goto nomem;
    if (is_stdin) {
        lr->fd = STDIN_FILENO;
    } else {
        lr->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (lr->fd < 0) {
            char msg[128];
            int e = errno;

            errno_text(e, msg, sizeof msg);
            if (errbuf != NULL && errlen > 0)
                snprintf(errbuf, errlen, "cannot open '%s': %s", path, msg);
            fxp_linereader_close(lr);
            return e == ENOENT ? FXP_ENOENT : FXP_EIO;
        }
        lr->close_fd = true;
        if (fstat(lr->fd, &sb) == 0 && S_ISREG(sb.st_mode))
            lr->total = (uint64_t)sb.st_size;
#ifdef POSIX_FADV_SEQUENTIAL
        (void)posix_fadvise(lr->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    *out = lr;
    return FXP_OK;

nomem:
    if (errbuf != NULL && errlen > 0)
        snprintf(errbuf, errlen, "out of memory opening '%s'", path);
    fxp_linereader_close(lr);
    return FXP_ENOMEM;
}

int fxp_linereader_open_mem(const char *data, size_t len, const char *name,
                            size_t buf_size, struct fxp_linereader **out)
{
    struct fxp_linereader *lr;

    *out = NULL;
    lr = calloc(1, sizeof *lr);
    if (lr == NULL)
        return FXP_ENOMEM;
    lr->fd = -1;
    lr->mem = data;
    lr->mem_len = data ? len : 0;
    lr->total = lr->mem_len;
    if (init_common(lr, name ? name : "<memory>", buf_size) != FXP_OK) {
        fxp_linereader_close(lr);
        return FXP_ENOMEM;
    }
    *out = lr;
    return FXP_OK;
}

void fxp_linereader_close(struct fxp_linereader *lr)
{
    if (lr == NULL)
        return;
    if (lr->close_fd)
        close(lr->fd);
    free(lr->buf);
    free(lr->name);
    free(lr);
}

/* ------------------------------------------------------------------------
 * Queries
 */

uint64_t fxp_linereader_lines(const struct fxp_linereader *lr)
{
    return lr->lines;
}

const char *fxp_linereader_name(const struct fxp_linereader *lr)
{
    return lr->name;
}

size_t fxp_linereader_buf_size(const struct fxp_linereader *lr)
{
    return lr->cap;
}

int fxp_linereader_error(const struct fxp_linereader *lr, char *errbuf,
                         size_t errlen)
{
    char msg[128];

    if (!lr->failed)
        return FXP_OK;
    errno_text(lr->io_errno, msg, sizeof msg);
    if (errbuf != NULL && errlen > 0)
        snprintf(errbuf, errlen, "cannot read '%s': %s", lr->name, msg);
    return FXP_EIO;
}

void fxp_linereader_progress(const struct fxp_linereader *lr, uint64_t *done,
                             uint64_t *total)
{
    *done = lr->in - (lr->end - lr->start);
    *total = lr->total;
}
