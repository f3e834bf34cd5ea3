/*
 * source_int.h - what a source backend provides (internal). Every backend
 * fills one struct fxp_source_ops; source.c dispatches through it, as
 * Redis does with ae_epoll.c/ae_kqueue.c.
 */
#ifndef FXPIPE_SOURCE_INT_H
#define FXPIPE_SOURCE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fxpipe/source.h"
#include "fxpipe/symbol.h"
#include "fxpipe/validate.h"

struct fxp_source_ops {
    const char *name; /* "generic", "histdata", "dukascopy", "synthetic", ... */
    /* Exactly one of read_ticks/read_bars is non-NULL. */
    size_t (*read_ticks)(void *impl, struct fxp_tick *out, uint64_t *pos,
                         size_t cap, int *err);
    size_t (*read_bars)(void *impl, struct fxp_bar *out, uint64_t *pos,
                        size_t cap, int *err);
    void (*progress)(const void *impl, uint64_t *done, uint64_t *total);
    void (*interrupt)(void *impl); /* may be NULL */
    void (*close)(void *impl);
    /* Pass fxp_source_skip_through on to a wrapped source (a wrapper that
     * must not pace or buffer the skipped records); may be NULL. */
    void (*skip)(void *impl, uint64_t pos);
    /* fxp_source_skip_sym and fxp_source_durable (the bus source); may be
     * NULL. */
    void (*skip_sym)(void *impl, uint32_t sym, uint64_t pos);
    void (*durable)(void *impl, uint64_t n);
};

/* Wrap a backend into a handle (takes ownership of impl; on failure calls
 * ops->close(impl) and returns NULL). `desc` is copied. */
struct fxp_source *fxp__source_new(const struct fxp_source_ops *ops, void *impl,
                                   const char *desc);

/* The backend behind a handle: its ops and state. */
const struct fxp_source_ops *fxp__source_ops(const struct fxp_source *s);
void *fxp__source_impl(const struct fxp_source *s);

/* ------------------------------------------------------------------------
 * File backends
 *
 * fxp_source_open_file (source_file.c) opens the line reader, looks at the
 * first line, decides format, kind and symbol, unreads the line and hands
 * the reader to one of these constructors: a file can be read only once
 * when it is standard input. Each takes ownership of `lr` (closed on
 * failure too). `o->symbol` is the decided symbol for a file without a
 * symbol column (NULL when the file has one); `kind` is decided.
 */
struct fxp_linereader;

int fxp__source_open_histdata(struct fxp_linereader *lr,
                              const struct fxp_source_opts *o, fxp_kind kind,
                              struct fxp_symtab *st, struct fxp_source **out,
                              char *errbuf, size_t errlen);
int fxp__source_open_dukascopy(struct fxp_linereader *lr,
                               const struct fxp_source_opts *o, fxp_kind kind,
                               struct fxp_symtab *st, struct fxp_source **out,
                               char *errbuf, size_t errlen);
int fxp__source_open_generic(struct fxp_linereader *lr,
                             const struct fxp_source_opts *o, fxp_kind kind,
                             struct fxp_symtab *st, struct fxp_source **out,
                             char *errbuf, size_t errlen);

/* Helpers the file backends share (source_file.c, and source_detect.c for
 * the column roles). */

/* What a header column holds, from its name (fxp__column_role). */
enum fxp__role {
    FXP__ROLE_NONE = 0,
    FXP__ROLE_SYMBOL, /* symbol, pair, ticker */
    FXP__ROLE_TS,     /* ts, timestamp, time */
    FXP__ROLE_BID,    /* bid, bidPrice */
    FXP__ROLE_ASK,    /* ask, askPrice */
    FXP__ROLE_OPEN,
    FXP__ROLE_HIGH,
    FXP__ROLE_LOW,
    FXP__ROLE_CLOSE,
    FXP__ROLE_VOLUME,
    FXP__ROLE_ASKVOL, /* askVolume */
    FXP__ROLE_BIDVOL, /* bidVolume */
    FXP__ROLE_COUNT
};

/* The role of a (trimmed) header name, compared case-insensitively, and
 * the name used for a role in messages ("open"). */
enum fxp__role fxp__column_role(const char *name, size_t len);
const char *fxp__role_name(enum fxp__role role);

/* A backend's line reader and bad-line reporting. */
struct fxp__lines {
    struct fxp_linereader *lr; /* owned */
    fxp_csv_bad_fn on_bad;     /* may be NULL */
    void *ud;
    uint64_t line_no; /* the line being parsed, for reports */
};

/* Turn one non-blank line (without its line end) into the record at
 * `rec`; false when the line was reported bad (fxp__lines_bad). */
typedef bool (*fxp__parse_fn)(void *impl, const char *p, size_t n, void *rec);

/* The read loop of a line-based backend, with the contract of
 * fxp_source_read_ticks: parse lines into out[] (records of `size` bytes)
 * until cap records or the end; blank lines are skipped and over-long ones
 * reported. A read error returns what was parsed, then 0 with *err =
 * FXP_EIO. */
size_t fxp__lines_read(struct fxp__lines *ls, fxp__parse_fn parse, void *impl,
                       void *out, size_t size, uint64_t *pos, size_t cap,
                       int *err);

/* Report the line being parsed as bad: on_bad(path, line, reason,
 * detail). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void fxp__lines_bad(struct fxp__lines *ls, fxp_reason reason,
                    const char *fmt, ...);

/* Split p[0..n) at `sep`: f[i]/fl[i] get field i with blanks and one pair
 * of double quotes trimmed, for i < max. Returns the number of fields in
 * the line (which may exceed max). */
size_t fxp__split(const char *p, size_t n, char sep, const char **f, size_t *fl,
                  size_t max);

/* s[0..n) for a message: at most 40 bytes, non-printable bytes as '?',
 * "..." when cut. dst needs 48 bytes. */
const char *fxp__show(char *dst, size_t dstlen, const char *s, size_t n);

/* Parse field `col` (0-based) called `name` as a number or a timestamp
 * (Unix ms or ISO-8601, time.h). On failure report "column 3 'high': not a
 * number 'abc'" and return false. */
bool fxp__field_double(struct fxp__lines *ls, size_t col, const char *name,
                       const char *s, size_t n, double *out);
bool fxp__field_ts(struct fxp__lines *ls, size_t col, const char *name,
                   const char *s, size_t n, int64_t *out);

/* Intern a symbol given by name (o->symbol) with a message on failure:
 * FXP_EINVAL (bad name), FXP_ETOOLARGE (table full). */
int fxp__intern_symbol(struct fxp_symtab *st, const char *sym, uint32_t *id,
                       char *errbuf, size_t errlen);

/* "histdata ticks 'x.csv'", the description of a file source. */
void fxp__describe(char *buf, size_t len, fxp_format format, fxp_kind kind,
                   const char *name);

/* ------------------------------------------------------------------------
 * What a file holds (source_detect.c), for fxp_source_open_file
 */

#define FXP__UNKNOWN (-1) /* no format / kind decided */
#define FXP__BOTH    (-2) /* generic header with tick and bar columns */

/* What the first non-blank line says. */
struct fxp__look {
    int format;       /* fxp_format or FXP__UNKNOWN */
    int kind;         /* fxp_kind, FXP__UNKNOWN or FXP__BOTH */
    int generic_kind; /* what the generic reader would read, or UNKNOWN */
    bool has_sym;     /* the header has a symbol column */
};

/* Look at the first non-blank line p[0..n) (without its line end). Can't
 * fail: what it cannot tell stays FXP__UNKNOWN. */
void fxp__look_at(const char *p, size_t n, struct fxp__look *lk);

/* Decide format and kind from the look and the options o (o->format and
 * o->kind may force them). first[0..first_len) is the line, for messages.
 * Returns FXP_OK, or FXP_EPARSE with a message naming `name` when the
 * line is no known format or contradicts what is forced. */
int fxp__decide(const char *name, const struct fxp__look *lk,
                const struct fxp_source_opts *o, const char *first,
                size_t first_len, fxp_format *fmt, fxp_kind *kind, char *errbuf,
                size_t errlen);

/* What a file name says, from the HistData and dukascopy-node schemes. */
struct fxp__name_hint {
    int format;               /* fxp_format or FXP__UNKNOWN */
    int kind;                 /* fxp_kind or FXP__UNKNOWN */
    char tf[8];               /* Dukascopy timeframe ("m5"), "" if none */
    char sym[FXP_SYMBOL_MAX]; /* normalised symbol, "" if none */
};

/* Read the hint from path's base name without its extension. Can't fail:
 * a name it does not understand gives FXP__UNKNOWN and "". */
void fxp__hint_from_name(const char *path, struct fxp__name_hint *h);

/* "histdata M1 bars", "dukascopy ticks": what a file of format f and kind
 * k holds, for messages. */
const char *fxp__what(fxp_format f, fxp_kind k);

#endif
