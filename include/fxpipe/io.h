/*
 * io.h - the file-operation seam of the journal and the stores.
 *
 * Production code uses fxp_io_posix(); tests wrap it with fxp_io_faulty
 * to fail the Nth write, return short writes, report ENOSPC or tear the
 * last record (SQLite's simulated I/O errors). Functions follow POSIX
 * conventions (-1 and errno).
 */
#ifndef FXPIPE_IO_H
#define FXPIPE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fxp_io {
    int (*open)(const struct fxp_io *io, const char *path, int flags, int mode);
    ssize_t (*write)(const struct fxp_io *io, int fd, const void *buf,
                     size_t n);
    ssize_t (*pread)(const struct fxp_io *io, int fd, void *buf, size_t n,
                     off_t off);
    int (*fsync)(const struct fxp_io *io, int fd);
    int (*ftruncate)(const struct fxp_io *io, int fd, off_t len);
    int (*close)(const struct fxp_io *io, int fd);
    void *ud; /* for wrappers */
};

/* The real thing (open/write/pread/fsync/ftruncate/close). */
const struct fxp_io *fxp_io_posix(void);

/* A wrapper that injects faults into another io (counts from 1). */
struct fxp_io_faults {
    const struct fxp_io *base;
    uint64_t writes;         /* writes seen so far */
    uint64_t fail_write_at;  /* this write fails with fail_errno (0 off) */
    int fail_errno;          /* e.g. ENOSPC, EIO */
    uint64_t short_write_at; /* this write writes half and returns that */
    uint64_t enospc_after;   /* bytes: later writes fail ENOSPC (0 off) */
    uint64_t bytes;          /* bytes written so far */
    int fail_fsync;          /* fsync fails with EIO when non-zero */
};

/* Fill io so that it routes through f (f must outlive io). */
void fxp_io_faulty(struct fxp_io *io, struct fxp_io_faults *f);

#endif
