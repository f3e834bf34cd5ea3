/*
 * linereader.h - lines of text from a file, standard input or memory,
 * through one fixed-size buffer.
 *
 * Memory does not grow with the input: a line and its newline must fit in
 * the buffer; a longer line is reported once (FXP_LINE_LONG), counted and
 * skipped. Lines come without their '\n', without one trailing '\r' (CRLF
 * files) and, on line 1, without a UTF-8 BOM; the last line may lack its
 * '\n'. Files and memory go through the same buffer code, so tests and
 * fuzzers exercise the real splitting. What a line means is the caller's
 * business (csv.h, source.h). One thread per reader.
 */
#ifndef FXPIPE_LINEREADER_H
#define FXPIPE_LINEREADER_H

#include <stddef.h>
#include <stdint.h>

struct fxp_linereader;

#define FXP_LINEREADER_DEFAULT_BUF (1u << 20) /* buf_size 0 means this */
#define FXP_LINEREADER_MIN_BUF     16u        /* smaller sizes are raised */
#define FXP_LINEREADER_MAX_BUF     (1u << 30) /* larger sizes are lowered */

typedef enum fxp_line_status {
    FXP_LINE_OK = 0, /* a line */
    FXP_LINE_EOF,    /* end of input */
    FXP_LINE_LONG,   /* a line longer than the buffer: counted, skipped */
    FXP_LINE_EIO     /* a read error; sticky (fxp_linereader_error) */
} fxp_line_status;

/* One line, valid until the next call on the reader. */
struct fxp_line {
    const char *p; /* the text, not NUL-terminated; NULL unless OK */
    size_t len;    /* its length in bytes */
    uint64_t no;   /* line number, 1 = first line (also for LONG) */
};

/* Opening and closing */

/* Open `path` ("-" = standard input, named "<stdin>" in messages) with a
 * read buffer of buf_size bytes (0 = the default; clamped to the limits
 * above). Errors: FXP_ENOENT or FXP_EIO when the file cannot be opened
 * (errbuf: "cannot open 'x.csv': No such file or directory"), FXP_ENOMEM.
 * *out is NULL on failure. */
int fxp_linereader_open(const char *path, size_t buf_size,
                        struct fxp_linereader **out, char *errbuf,
                        size_t errlen);

/* Read the bytes data[0..len) (borrowed: they must outlive the reader)
 * instead of a file; `name` (copied, may be NULL for "<memory>") stands
 * for the path in messages. Errors: FXP_ENOMEM only. */
int fxp_linereader_open_mem(const char *data, size_t len, const char *name,
                            size_t buf_size, struct fxp_linereader **out);

/* Close the file (not standard input) and free; NULL is a no-op. */
void fxp_linereader_close(struct fxp_linereader *lr);

/* Reading */

/* The next line into *line. After FXP_LINE_EIO every later call returns
 * FXP_LINE_EIO too, once the lines already buffered are used up. */
fxp_line_status fxp_linereader_next(struct fxp_linereader *lr,
                                    struct fxp_line *line);

/* Push back the line the last call returned, so that the next call returns
 * it again with the same number (to look at a file's first line before
 * deciding who reads it). Only valid right after an FXP_LINE_OK. */
void fxp_linereader_unread(struct fxp_linereader *lr);

/* Lines counted so far (returned or skipped as too long, blank included). */
uint64_t fxp_linereader_lines(const struct fxp_linereader *lr);

/* The display name: the path, "<stdin>" or the memory name. */
const char *fxp_linereader_name(const struct fxp_linereader *lr);

/* The buffer size in bytes, i.e. the longest line + 1. */
size_t fxp_linereader_buf_size(const struct fxp_linereader *lr);

/* After FXP_LINE_EIO: write "cannot read 'x.csv': Is a directory" into
 * errbuf and return FXP_EIO; FXP_OK (errbuf untouched) when no read
 * failed. */
int fxp_linereader_error(const struct fxp_linereader *lr, char *errbuf,
                         size_t errlen);

/* Bytes consumed so far and the input's size: the file size for regular
 * files, the length for memory, 0 (unknown) for standard input and
 * pipes. */
void fxp_linereader_progress(const struct fxp_linereader *lr, uint64_t *done,
                             uint64_t *total);

#endif
