/*
 * csv.h - a fast streaming reader for tick CSV files.
 *
 * Generic layout: a header naming the columns, at least `ts`, `bid` and
 * `ask`, optionally `symbol` and `volume`, in any order (extra columns are
 * ignored). `ts` is Unix milliseconds or ISO-8601 UTC (time.h). Files
 * without a symbol column take the symbol from the options. Bad lines are
 * reported through a callback with file, line number and reason and are
 * skipped; reading goes on. Lines come from a line reader (linereader.h)
 * with one fixed-size buffer: memory does not grow with file size, and a
 * line (with its newline) that does not fit in the buffer is reported as
 * bad and skipped. A UTF-8 BOM, CRLF line ends and blank lines are
 * accepted. One thread per reader.
 */
#ifndef FXPIPE_CSV_H
#define FXPIPE_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "fxpipe/types.h"
#include "fxpipe/validate.h"

struct fxp_symtab;
struct fxp_csv_reader;
struct fxp_linereader;

/* Called for every line that cannot be turned into a tick. `detail` is a
 * short explanation ("column 'bid': not a number 'abc'"). */
typedef void (*fxp_csv_bad_fn)(void *ud, const char *path, uint64_t line_no,
                               fxp_reason reason, const char *detail);

struct fxp_csv_opts {
    const char *symbol;    /* symbol for files without a symbol column */
    fxp_csv_bad_fn on_bad; /* may be NULL */
    void *ud;              /* passed to on_bad */
    size_t buf_size;       /* read buffer bytes, 16 to 1 GiB; 0 = 1 MiB */
};

/* Open `path` ("-" = standard input) and read its header. Symbols are
 * interned into `st` (borrowed). Errors: FXP_ENOENT/FXP_EIO (cannot
 * open/read), FXP_EPARSE (missing or unusable header, e.g. no `bid`
 * column; errbuf says which), FXP_EINVAL (no symbol column and no
 * opts->symbol, or a bad opts->symbol), FXP_ETOOLARGE (`st` is full and
 * cannot take opts->symbol), FXP_ENOMEM. *out is NULL on failure. */
int fxp_csv_open(const char *path, const struct fxp_csv_opts *opts,
                 struct fxp_symtab *st, struct fxp_csv_reader **out,
                 char *errbuf, size_t errlen);

/* Like fxp_csv_open, but read the bytes data[0..len) instead of a file;
 * `name` (borrowed, may be NULL) stands for the path in messages and in
 * on_bad. `data` is borrowed and must outlive the reader. Goes through the
 * same fixed buffer and line splitting as a file (for tests and fuzzing).
 * Errors as fxp_csv_open, except that there is nothing to open or fail to
 * read. */
int fxp_csv_open_mem(const char *data, size_t len, const char *name,
                     const struct fxp_csv_opts *opts, struct fxp_symtab *st,
                     struct fxp_csv_reader **out, char *errbuf, size_t errlen);

/* Like fxp_csv_open, but read the lines of an open line reader from where
 * it stands (so that a caller may look at the first line, unread it and
 * hand the reader over; opts->buf_size is not used). Takes ownership of
 * `lr`, also on failure. */
int fxp_csv_open_reader(struct fxp_linereader *lr,
                        const struct fxp_csv_opts *opts, struct fxp_symtab *st,
                        struct fxp_csv_reader **out, char *errbuf,
                        size_t errlen);

/* Close and free; NULL is a no-op. */
void fxp_csv_close(struct fxp_csv_reader *r);

/* Read up to cap ticks into out. Returns the number read (0 at end of
 * file). On a read error returns 0 and sets *err to FXP_EIO (else
 * *err = FXP_OK). */
size_t fxp_csv_read(struct fxp_csv_reader *r, struct fxp_tick *out, size_t cap,
                    int *err);

/* Like fxp_csv_read, and also stores each tick's line number (1 = the
 * first line of the file) in line_nos[i] (cap entries; may be NULL), so
 * that later rejections (validation, lateness) can name the line. */
size_t fxp_csv_read_lines(struct fxp_csv_reader *r, struct fxp_tick *out,
                          uint64_t *line_nos, size_t cap, int *err);

/* Lines seen so far (header included) and lines rejected. */
uint64_t fxp_csv_lines(const struct fxp_csv_reader *r);
uint64_t fxp_csv_bad_lines(const struct fxp_csv_reader *r);

/* Bytes consumed and the input's size (0 when unknown: standard input,
 * pipes), for progress bars. */
void fxp_csv_progress(const struct fxp_csv_reader *r, uint64_t *done,
                      uint64_t *total);

/* Fast number parsers used by the readers (exposed for tests/fuzzing).
 * Both parse exactly s[0..len) and return FXP_OK or FXP_EPARSE.
 * fxp_parse_double gives the correctly rounded double for plain decimal
 * text ("1.10427", "-3", "1e-5"), like strtod; "nan", "inf" and
 * "infinity" (any case, signed) give NaN/Inf so that the validator can
 * reject them by name; hex floats, white space, trailing text and numbers
 * of 256 characters or more are FXP_EPARSE. fxp_parse_int64 takes an
 * optional sign and decimal digits; overflow is FXP_EPARSE. */
int fxp_parse_double(const char *s, size_t len, double *out);
int fxp_parse_int64(const char *s, size_t len, int64_t *out);

#endif
