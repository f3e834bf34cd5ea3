/*
 * io.c - the file-operation seam (io.h): the POSIX implementation and a
 * fault-injecting wrapper for tests.
 *
 * Design notes
 *
 *  1. fxp_io_posix() is a static const table; it retries EINTR so callers
 *     see only real errors. write() is passed through once: a short count
 *     is reported to the caller, who decides (the journal writes the rest,
 *     and a full disk then answers ENOSPC).
 *  2. fxp_io_faulty() counts every write (from 1) in f->writes, then
 *     checks, in this order: fail_write_at (that write fails with
 *     fail_errno, EIO when 0), short_write_at (that write writes half of
 *     its bytes, at least one, and returns that count), enospc_after (the
 *     device holds that many bytes in total: a write that would cross the
 *     limit writes what fits and returns the short count, the next one
 *     fails with ENOSPC, as a full disk does). f->bytes counts bytes the
 *     base io accepted; tests lower it or clear enospc_after when "space
 *     returns". fail_fsync makes every fsync fail with EIO (the file is
 *     still written).
 *  3. Tearing the last record is a short write that the caller cannot
 *     undo: tests wrap ftruncate as well (their own struct fxp_io around
 *     this one) or cut the file themselves, then reopen.
 *  4. The wrapper is not thread-safe: one struct fxp_io_faults per test.
 */
#include "fxpipe/io.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int posix_open(const struct fxp_io *io, const char *path, int flags,
                      int mode)
{
    (void)io;
    int fd;
    do
        fd = open(path, flags | O_CLOEXEC, (mode_t)mode);
    while (fd < 0 && errno == EINTR);
    return fd;
}

static ssize_t posix_write(const struct fxp_io *io, int fd, const void *buf,
                           size_t n)
{
    (void)io;
    ssize_t r;
    do
        r = write(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

static ssize_t posix_pread(const struct fxp_io *io, int fd, void *buf, size_t n,
                           off_t off)
{
    (void)io;
    ssize_t r;
    do
        r = pread(fd, buf, n, off);
    while (r < 0 && errno == EINTR);
    return r;
}

static int posix_fsync(const struct fxp_io *io, int fd)
{
    (void)io;
    int r;
    do
        r = fsync(fd);
    while (r < 0 && errno == EINTR);
    return r;
}

static int posix_ftruncate(const struct fxp_io *io, int fd, off_t len)
{
    (void)io;
    int r;
    do
        r = ftruncate(fd, len);
    while (r < 0 && errno == EINTR);
    return r;
}

static int posix_close(const struct fxp_io *io, int fd)
{
    (void)io;
    /* Not retried: after EINTR the descriptor is already gone on Linux. */
    return close(fd);
}

static const struct fxp_io posix_io = {
    posix_open,      posix_write, posix_pread, posix_fsync,
    posix_ftruncate, posix_close, NULL,
};

const struct fxp_io *fxp_io_posix(void)
{
    return &posix_io;
}

/* ---- the fault injector ------------------------------------------------ */

static const struct fxp_io *base_of(const struct fxp_io *io)
{
    const struct fxp_io_faults *f = io->ud;
    return f->base ? f->base : &posix_io;
}

static int faulty_open(const struct fxp_io *io, const char *path, int flags,
                       int mode)
{
    const struct fxp_io *b = base_of(io);
    return b->open(b, path, flags, mode);
}

static ssize_t faulty_write(const struct fxp_io *io, int fd, const void *buf,
                            size_t n)
{
    struct fxp_io_faults *f = io->ud;
    const struct fxp_io *b = base_of(io);

    f->writes++;
    if (f->fail_write_at && f->writes == f->fail_write_at) {
        errno = f->fail_errno ? f->fail_errno : EIO;
        return -1;
    }
    if (f->short_write_at && f->writes == f->short_write_at && n > 1)
        n /= 2;
    if (f->enospc_after) {
        if (f->bytes >= f->enospc_after) {
            errno = ENOSPC;
            return -1;
        }
        if (n > f->enospc_after - f->bytes)
            n = (size_t)(f->enospc_after - f->bytes);
    }
    ssize_t r = b->write(b, fd, buf, n);
    if (r > 0)
        f->bytes += (uint64_t)r;
    return r;
}

static ssize_t faulty_pread(const struct fxp_io *io, int fd, void *buf,
                            size_t n, off_t off)
{
    const struct fxp_io *b = base_of(io);
    return b->pread(b, fd, buf, n, off);
}

static int faulty_fsync(const struct fxp_io *io, int fd)
{
    const struct fxp_io_faults *f = io->ud;
    const struct fxp_io *b = base_of(io);
    if (f->fail_fsync) {
        errno = EIO;
        return -1;
    }
    return b->fsync(b, fd);
}

static int faulty_ftruncate(const struct fxp_io *io, int fd, off_t len)
{
    const struct fxp_io *b = base_of(io);
    return b->ftruncate(b, fd, len);
}

static int faulty_close(const struct fxp_io *io, int fd)
{
    const struct fxp_io *b = base_of(io);
    return b->close(b, fd);
}

void fxp_io_faulty(struct fxp_io *io, struct fxp_io_faults *f)
{
    io->open = faulty_open;
    io->write = faulty_write;
    io->pread = faulty_pread;
    io->fsync = faulty_fsync;
    io->ftruncate = faulty_ftruncate;
    io->close = faulty_close;
    io->ud = f;
}
