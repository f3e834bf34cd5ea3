/*
 * source_file.c - fxp_source_open_file: decide what a file holds and hand
 * it to its backend; and the helpers the file backends share
 * (source_int.h).
 *
 * Design notes
 *
 *  1. The decision is made on the first non-blank line and the file name,
 *     before any backend reads: the line is read, looked at (look_at) and
 *     unread, and the same line reader goes to the backend. So "-" works
 *     like a file: standard input is read once.
 *  2. Content decides; the name is never trusted over it. A HistData line
 *     ("20240102 170000;..." or "20240102 170000123,...") or a header
 *     names the format and the kind. The exact Dukascopy headers
 *     (timestamp,askPrice,bidPrice[,askVolume,bidVolume] and
 *     timestamp,open,high,low,close[,volume]) are Dukascopy; any other
 *     header with ts and bid/ask or open/high/low/close columns is generic.
 *     The generic reader can also read a Dukascopy header, so a forced
 *     "generic" is accepted there; any other forced format or kind that
 *     the content contradicts is FXP_EPARSE naming both.
 *  3. The name is used for three things only: the symbol when the file has
 *     no symbol column and none is given (always announced through
 *     on_note), the kind of an empty file, and refusing Dukascopy bars
 *     whose name says they are not 1-minute bars (they would be stored as
 *     1m bars otherwise). Only the HistData and dukascopy-node naming
 *     schemes are recognised, nothing is guessed from other names.
 *  4. A file with no non-blank line is a source that yields nothing, of
 *     the forced kind or the one its name tells; otherwise FXP_EPARSE.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/linereader.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "source/source_int.h"

/* Bytes of a field quoted in a message. */
#define SHOW_MAX 40
/* Header columns looked at when deciding the format. */
#define LOOK_COLS 32

/* ------------------------------------------------------------------------
 * Helpers for the backends
 */

static const struct {
    const char *name;
    enum fxp__role role;
} role_names[] = {
    {"symbol", FXP__ROLE_SYMBOL},    {"pair", FXP__ROLE_SYMBOL},
    {"ticker", FXP__ROLE_SYMBOL},    {"ts", FXP__ROLE_TS},
    {"timestamp", FXP__ROLE_TS},     {"time", FXP__ROLE_TS},
    {"bid", FXP__ROLE_BID},          {"bidprice", FXP__ROLE_BID},
    {"ask", FXP__ROLE_ASK},          {"askprice", FXP__ROLE_ASK},
    {"open", FXP__ROLE_OPEN},        {"high", FXP__ROLE_HIGH},
    {"low", FXP__ROLE_LOW},          {"close", FXP__ROLE_CLOSE},
    {"volume", FXP__ROLE_VOLUME},    {"askvolume", FXP__ROLE_ASKVOL},
    {"bidvolume", FXP__ROLE_BIDVOL},
};

static const char *const role_label[FXP__ROLE_COUNT] = {
    "",     "symbol", "ts",    "bid",    "ask",       "open",
    "high", "low",    "close", "volume", "askVolume", "bidVolume",
};

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive comparison of s[0..len) with a lower-case word. */
static bool word_eq(const char *s, size_t len, const char *word)
{
    size_t i;

    for (i = 0; i < len && word[i] != '\0'; i++)
        if (lower(s[i]) != word[i])
            return false;
    return i == len && word[i] == '\0';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

static bool is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t')
            return false;
    return true;
}

enum fxp__role fxp__column_role(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
        if (word_eq(name, len, role_names[i].name))
            return role_names[i].role;
    return FXP__ROLE_NONE;
}

const char *fxp__role_name(enum fxp__role role)
{
    return (unsigned)role < FXP__ROLE_COUNT ? role_label[role] : "";
}

const char *fxp__show(char *dst, size_t dstlen, const char *s, size_t n)
{
    size_t i, k = n < SHOW_MAX ? n : SHOW_MAX;

    for (i = 0; i < k && i + 4 < dstlen; i++)
        dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (i < n && i + 4 <= dstlen) {
        memcpy(dst + i, "...", 3);
        i += 3;
    }
    dst[i] = '\0';
    return dst;
}

static void trim(const char **s, size_t *n)
{
    const char *p = *s, *e = *s + *n;

    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (e - p >= 2 && *p == '"' && e[-1] == '"') {
        p++;
        e--;
    }
    *s = p;
    *n = (size_t)(e - p);
}

size_t fxp__split(const char *p, size_t n, char sep, const char **f, size_t *fl,
                  size_t max)
{
    const char *q = p, *e = p + n;
    size_t col = 0;

    for (;;) {
        const char *c = memchr(q, sep, (size_t)(e - q));

        if (c == NULL)
            c = e;
        if (col < max) {
            f[col] = q;
            fl[col] = (size_t)(c - q);
            trim(&f[col], &fl[col]);
        }
        col++;
        if (c == e)
            return col;
        q = c + 1;
    }
}

void fxp__lines_bad(struct fxp__lines *ls, fxp_reason reason, const char *fmt,
                    ...)
{
    char detail[192];
    va_list ap;

    if (ls->on_bad == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    ls->on_bad(ls->ud, fxp_linereader_name(ls->lr), ls->line_no, reason,
               detail);
}

size_t fxp__lines_read(struct fxp__lines *ls, fxp__parse_fn parse, void *impl,
                       void *out, size_t size, uint64_t *pos, size_t cap,
                       int *err)
{
    unsigned char *rec = out;
    size_t n = 0;

    *err = FXP_OK;
    while (n < cap) {
        struct fxp_line ln;
        fxp_line_status rc = fxp_linereader_next(ls->lr, &ln);

        if (rc == FXP_LINE_EOF)
            break;
        if (rc == FXP_LINE_EIO) {
            if (n == 0)
                *err = FXP_EIO; /* else on the next call: it is sticky */
            break;
        }
        ls->line_no = ln.no;
        if (rc == FXP_LINE_LONG) {
            fxp__lines_bad(ls, FXP_R_PARSE,
                           "line longer than the %zu-byte buffer",
                           fxp_linereader_buf_size(ls->lr));
            continue;
        }
        if (is_blank(ln.p, ln.len))
            continue;
        if (parse(impl, ln.p, ln.len, rec + n * size)) {
            if (pos != NULL)
                pos[n] = ln.no;
            n++;
        }
    }
    return n;
}

bool fxp__field_double(struct fxp__lines *ls, size_t col, const char *name,
                       const char *s, size_t n, double *out)
{
    char shown[SHOW_MAX + 8];

    if (fxp_parse_double(s, n, out) == FXP_OK)
        return true;
    fxp__lines_bad(ls, FXP_R_PARSE, "column %zu '%s': not a number '%s'",
                   col + 1, name, fxp__show(shown, sizeof shown, s, n));
    return false;
}

bool fxp__field_ts(struct fxp__lines *ls, size_t col, const char *name,
                   const char *s, size_t n, int64_t *out)
{
    char shown[SHOW_MAX + 8];
    int rc = fxp_parse_int64(s, n, out);

    if (rc != FXP_OK)
        rc = fxp_time_parse(s, n, out);
    if (rc == FXP_OK)
        return true;
    fxp__lines_bad(ls, FXP_R_PARSE, "column %zu '%s': %s '%s'", col + 1, name,
                   rc == FXP_ERANGE ? "timestamp out of range"
                                    : "bad timestamp",
                   fxp__show(shown, sizeof shown, s, n));
    return false;
}

int fxp__intern_symbol(struct fxp_symtab *st, const char *sym, uint32_t *id,
                       char *errbuf, size_t errlen)
{
    int rc = fxp_symtab_intern(st, sym, strlen(sym), id);

    if (rc == FXP_OK)
        return FXP_OK;
    if (rc == FXP_ETOOLARGE) {
        snprintf(errbuf, errlen, "symbol table is full, cannot add '%s'", sym);
        return FXP_ETOOLARGE;
    }
    snprintf(errbuf, errlen, "unknown symbol format '%s'", sym);
    return FXP_EINVAL;
}

/* "histdata M1 bars", "dukascopy ticks": what a file holds. */
static const char *what(fxp_format f, fxp_kind k)
{
    switch (f) {
    case FXP_FMT_HISTDATA:
        return k == FXP_KIND_BARS ? "histdata M1 bars" : "histdata ticks";
    case FXP_FMT_DUKASCOPY:
        return k == FXP_KIND_BARS ? "dukascopy bars" : "dukascopy ticks";
    default:
        return k == FXP_KIND_BARS ? "generic bars" : "generic ticks";
    }
}

void fxp__describe(char *buf, size_t len, fxp_format format, fxp_kind kind,
                   const char *name)
{
    snprintf(buf, len, "%s '%s'", what(format, kind), name);
}

/* ------------------------------------------------------------------------
 * What the first line says (notes 1, 2)
 */

#define UNKNOWN (-1) /* no format / kind decided */
#define BOTH    (-2) /* generic header with tick and bar columns */

struct look {
    int format;       /* fxp_format or UNKNOWN */
    int kind;         /* fxp_kind, UNKNOWN or BOTH */
    int generic_kind; /* what the generic reader would read, or UNKNOWN */
    bool has_sym;     /* the header has a symbol column */
};

static bool histdata_time(const char *p, size_t n, size_t digits_after)
{
    return n >= 9 + digits_after && all_digits(p, 8) && p[8] == ' ' &&
           all_digits(p + 9, digits_after);
}

/* Exact Dukascopy header layouts (lower-case names). */
static bool columns_are(const char *const *f, const size_t *fl, size_t nf,
                        const char *const *want, size_t nwant)
{
    if (nf != nwant)
        return false;
    for (size_t i = 0; i < nf; i++)
        if (!word_eq(f[i], fl[i], want[i]))
            return false;
    return true;
}

static void look_at(const char *p, size_t n, struct look *lk)
{
    static const char *const duka_ticks[] = {
        "timestamp", "askprice", "bidprice", "askvolume", "bidvolume"};
    static const char *const duka_bars[] = {"timestamp", "open",  "high",
                                            "low",       "close", "volume"};
    const char *f[LOOK_COLS];
    size_t fl[LOOK_COLS], nf;
    bool have[FXP__ROLE_COUNT] = {false};
    bool ticks, bars;

    lk->format = lk->kind = lk->generic_kind = UNKNOWN;
    lk->has_sym = false;
    if (histdata_time(p, n, 6) && n > 15 && p[15] == ';') {
        lk->format = FXP_FMT_HISTDATA;
        lk->kind = FXP_KIND_BARS;
        return;
    }
    if (histdata_time(p, n, 9) && n > 18 && p[18] == ',') {
        lk->format = FXP_FMT_HISTDATA;
        lk->kind = FXP_KIND_TICKS;
        return;
    }
    nf = fxp__split(p, n, ',', f, fl, LOOK_COLS);
    if (nf > LOOK_COLS)
        nf = LOOK_COLS;
    for (size_t i = 0; i < nf; i++)
        have[fxp__column_role(f[i], fl[i])] = true;
    lk->has_sym = have[FXP__ROLE_SYMBOL];
    ticks = have[FXP__ROLE_TS] && have[FXP__ROLE_BID] && have[FXP__ROLE_ASK];
    bars = have[FXP__ROLE_TS] && have[FXP__ROLE_OPEN] && have[FXP__ROLE_HIGH] &&
           have[FXP__ROLE_LOW] && have[FXP__ROLE_CLOSE];
    lk->generic_kind = ticks && bars ? BOTH
                       : ticks       ? FXP_KIND_TICKS
                       : bars        ? FXP_KIND_BARS
                                     : UNKNOWN;
    if (columns_are(f, fl, nf, duka_ticks, 3) ||
        columns_are(f, fl, nf, duka_ticks, 5)) {
        lk->format = FXP_FMT_DUKASCOPY;
        lk->kind = FXP_KIND_TICKS;
    } else if (columns_are(f, fl, nf, duka_bars, 5) ||
               columns_are(f, fl, nf, duka_bars, 6)) {
        lk->format = FXP_FMT_DUKASCOPY;
        lk->kind = FXP_KIND_BARS;
    } else if (lk->generic_kind != UNKNOWN) {
        lk->format = FXP_FMT_GENERIC;
        lk->kind = lk->generic_kind;
    }
}

/* What a format's first line must look like, for messages. */
static const char *expected(fxp_format f)
{
    switch (f) {
    case FXP_FMT_HISTDATA:
        return "'YYYYMMDD HHMMSS;open;high;low;close;volume' or "
               "'YYYYMMDD HHMMSSmmm,bid,ask,volume'";
    case FXP_FMT_DUKASCOPY:
        return "the header 'timestamp,askPrice,bidPrice[,askVolume,"
               "bidVolume]' or 'timestamp,open,high,low,close[,volume]'";
    default:
        return "a header naming ts and bid,ask or open,high,low,close";
    }
}

/* ------------------------------------------------------------------------
 * What the file name says (note 3)
 */

struct name_hint {
    int format;               /* fxp_format or UNKNOWN */
    int kind;                 /* fxp_kind or UNKNOWN */
    char tf[8];               /* Dukascopy timeframe ("m5"), "" if none */
    char sym[FXP_SYMBOL_MAX]; /* normalised symbol, "" if none */
};

/* Split name at '_' or '-' into at most max tokens; returns the count. */
static size_t tokens(const char *s, size_t n, char sep, const char **t,
                     size_t *tl, size_t max)
{
    size_t k = 0;
    const char *q = s, *e = s + n;

    while (k < max) {
        const char *c = memchr(q, sep, (size_t)(e - q));

        t[k] = q;
        tl[k] = (size_t)((c ? c : e) - q);
        k++;
        if (c == NULL)
            break;
        q = c + 1;
    }
    return k;
}

static void hint_from_name(const char *path, struct name_hint *h)
{
    static const char *const duka_tf[] = {"tick", "s1", "m1", "m5", "m15",
                                          "m30",  "h1", "h4", "d1", "mn1"};
    const char *base = strrchr(path, '/');
    const char *dot, *t[8];
    size_t n, tl[8], k, i = 0;

    h->format = h->kind = UNKNOWN;
    h->tf[0] = h->sym[0] = '\0';
    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    n = dot ? (size_t)(dot - base) : strlen(base);

    /* HistData: DAT_ASCII_EURUSD_M1_2024, HISTDATA_COM_ASCII_EURUSD_T_... */
    k = tokens(base, n, '_', t, tl, 8);
    if (k >= 4 && word_eq(t[0], tl[0], "dat") && word_eq(t[1], tl[1], "ascii"))
        i = 2;
    else if (k >= 5 && word_eq(t[0], tl[0], "histdata") &&
             word_eq(t[1], tl[1], "com") && word_eq(t[2], tl[2], "ascii"))
        i = 3;
    if (i > 0 && (word_eq(t[i + 1], tl[i + 1], "m1") ||
                  word_eq(t[i + 1], tl[i + 1], "t"))) {
        if (fxp_symbol_normalize(t[i], tl[i], h->sym) != FXP_OK) {
            h->sym[0] = '\0';
            return;
        }
        h->format = FXP_FMT_HISTDATA;
        h->kind =
            word_eq(t[i + 1], tl[i + 1], "t") ? FXP_KIND_TICKS : FXP_KIND_BARS;
        return;
    }

    /* dukascopy-node: eurusd-m1-bid-2024-01-01-..., xauusd-tick-2024-... */
    k = tokens(base, n, '-', t, tl, 8);
    if (k < 3)
        return;
    for (i = 0; i < sizeof duka_tf / sizeof duka_tf[0]; i++)
        if (word_eq(t[1], tl[1], duka_tf[i]))
            break;
    if (i == sizeof duka_tf / sizeof duka_tf[0])
        return;
    if (i == 0) {
        if (tl[2] == 0 || !is_digit(t[2][0]))
            return;
    } else if (k < 4 ||
               !(word_eq(t[2], tl[2], "bid") || word_eq(t[2], tl[2], "ask")) ||
               tl[3] == 0 || !is_digit(t[3][0])) {
        return;
    }
    if (fxp_symbol_normalize(t[0], tl[0], h->sym) != FXP_OK) {
        h->sym[0] = '\0';
        return;
    }
    h->format = FXP_FMT_DUKASCOPY;
    h->kind = i == 0 ? FXP_KIND_TICKS : FXP_KIND_BARS;
    snprintf(h->tf, sizeof h->tf, "%s", duka_tf[i]);
}

/* ------------------------------------------------------------------------
 * An empty file (note 4)
 */

static size_t empty_read_ticks(void *impl, struct fxp_tick *out, uint64_t *pos,
                               size_t cap, int *err)
{
    (void)impl;
    (void)out;
    (void)pos;
    (void)cap;
    *err = FXP_OK;
    return 0;
}

static size_t empty_read_bars(void *impl, struct fxp_bar *out, uint64_t *pos,
                              size_t cap, int *err)
{
    (void)impl;
    (void)out;
    (void)pos;
    (void)cap;
    *err = FXP_OK;
    return 0;
}

static void empty_progress(const void *impl, uint64_t *done, uint64_t *total)
{
    fxp_linereader_progress(impl, done, total);
}

static void empty_close(void *impl)
{
    fxp_linereader_close(impl);
}

static const struct fxp_source_ops empty_ticks_ops = {
    "empty", empty_read_ticks, NULL, empty_progress, NULL, empty_close};
static const struct fxp_source_ops empty_bars_ops = {
    "empty", NULL, empty_read_bars, empty_progress, NULL, empty_close};

static int open_empty(struct fxp_linereader *lr,
                      const struct fxp_source_opts *o,
                      const struct name_hint *h, struct fxp_source **out,
                      char *errbuf, size_t errlen)
{
    const char *name = fxp_linereader_name(lr);
    fxp_format f = o->format != FXP_FMT_AUTO ? o->format
                   : h->format != UNKNOWN    ? (fxp_format)h->format
                                             : FXP_FMT_GENERIC;
    int kind = o->kind >= 0 ? o->kind : h->kind;
    char desc[300];

    if (kind == UNKNOWN) {
        snprintf(errbuf, errlen,
                 "'%s' is empty: cannot tell ticks from bars; use --kind",
                 name);
        fxp_linereader_close(lr);
        return FXP_EPARSE;
    }
    snprintf(desc, sizeof desc, "%s '%s' (empty)", what(f, (fxp_kind)kind),
             name);
    if (o->on_note != NULL) {
        char msg[300];

        snprintf(msg, sizeof msg, "'%s' is empty", name);
        o->on_note(o->ud, msg);
    }
    *out = fxp__source_new(
        kind == FXP_KIND_BARS ? &empty_bars_ops : &empty_ticks_ops, lr, desc);
    if (*out == NULL) {
        snprintf(errbuf, errlen, "out of memory opening '%s'", name);
        return FXP_ENOMEM;
    }
    return FXP_OK;
}

/* ------------------------------------------------------------------------
 * fxp_source_open_file
 */

/* Decide format and kind from the look, the options (note 2). */
static int decide(const char *name, const struct look *lk,
                  const struct fxp_source_opts *o, const char *first,
                  size_t first_len, fxp_format *fmt, fxp_kind *kind,
                  char *errbuf, size_t errlen)
{
    char shown[SHOW_MAX + 8];
    int f = lk->format, k = lk->kind;

    if (o->format != FXP_FMT_AUTO) {
        if (o->format == FXP_FMT_GENERIC && lk->generic_kind != UNKNOWN) {
            f = FXP_FMT_GENERIC;
            k = lk->generic_kind;
        } else if (f == UNKNOWN && o->format == FXP_FMT_HISTDATA &&
                   o->kind >= 0) {
            /* Both forced and a first line that is no header: let the
             * reader report the line and go on. */
            f = FXP_FMT_HISTDATA;
            k = o->kind;
        } else if (f == UNKNOWN) {
            snprintf(errbuf, errlen, "'%s' is not %s: expected %s, found '%s'",
                     name, fxp_format_name(o->format), expected(o->format),
                     fxp__show(shown, sizeof shown, first, first_len));
            return FXP_EPARSE;
        } else if (f != (int)o->format) {
            snprintf(errbuf, errlen, "'%s' looks like %s, not %s", name,
                     k == BOTH ? "generic ticks and bars"
                               : what((fxp_format)f, (fxp_kind)k),
                     fxp_format_name(o->format));
            return FXP_EPARSE;
        }
    }
    if (f == UNKNOWN) {
        snprintf(errbuf, errlen,
                 "unknown format of '%s': first line '%s' is neither a "
                 "header naming ts and bid,ask or open,high,low,close nor a "
                 "HistData line",
                 name, fxp__show(shown, sizeof shown, first, first_len));
        return FXP_EPARSE;
    }
    if (k == BOTH) {
        if (o->kind < 0) {
            snprintf(errbuf, errlen,
                     "'%s' has both tick (bid, ask) and bar (open, high, "
                     "low, close) columns; use --kind",
                     name);
            return FXP_EPARSE;
        }
        k = o->kind;
    } else if (o->kind >= 0 && o->kind != k) {
        snprintf(errbuf, errlen, "'%s' looks like %s, not %s", name,
                 what((fxp_format)f, (fxp_kind)k),
                 fxp_kind_name((fxp_kind)o->kind));
        return FXP_EPARSE;
    }
    *fmt = (fxp_format)f;
    *kind = (fxp_kind)k;
    return FXP_OK;
}

int fxp_source_open_file(const char *path, const struct fxp_source_opts *o,
                         struct fxp_symtab *st, struct fxp_source **out,
                         char *errbuf, size_t errlen)
{
    struct fxp_source_opts def, bo;
    struct fxp_linereader *lr = NULL;
    struct name_hint hint;
    struct look lk;
    struct fxp_line ln;
    fxp_format fmt;
    fxp_kind kind;
    const char *name;
    char tmp[8];
    int rc;

    *out = NULL;
    if (errbuf == NULL || errlen == 0) {
        errbuf = tmp; /* messages are always written somewhere */
        errlen = sizeof tmp;
    }
    if (o == NULL) {
        fxp_source_opts_default(&def);
        o = &def;
    }
    if ((unsigned)o->format > FXP_FMT_DUKASCOPY || o->kind < -1 ||
        o->kind > FXP_KIND_BARS) {
        snprintf(errbuf, errlen, "bad source options for '%s'", path);
        return FXP_EINVAL;
    }
    rc = fxp_linereader_open(path, 0, &lr, errbuf, errlen);
    if (rc != FXP_OK)
        return rc;
    name = fxp_linereader_name(lr);
    hint_from_name(strcmp(path, "-") == 0 ? "" : path, &hint);

    /* The first non-blank line (note 1). */
    for (;;) {
        fxp_line_status ls = fxp_linereader_next(lr, &ln);

        if (ls == FXP_LINE_EOF)
            return open_empty(lr, o, &hint, out, errbuf, errlen);
        if (ls == FXP_LINE_EIO) {
            rc = fxp_linereader_error(lr, errbuf, errlen);
            goto fail;
        }
        if (ls == FXP_LINE_LONG) {
            snprintf(errbuf, errlen,
                     "first line of '%s' is longer than the %zu-byte buffer",
                     name, fxp_linereader_buf_size(lr));
            rc = FXP_EPARSE;
            goto fail;
        }
        if (!is_blank(ln.p, ln.len))
            break;
    }
    look_at(ln.p, ln.len, &lk);
    rc = decide(name, &lk, o, ln.p, ln.len, &fmt, &kind, errbuf, errlen);
    if (rc != FXP_OK)
        goto fail;
    fxp_linereader_unread(lr);

    if (kind == FXP_KIND_BARS && hint.format == FXP_FMT_DUKASCOPY &&
        strcmp(hint.tf, "m1") != 0) {
        snprintf(errbuf, errlen,
                 "'%s' holds %s bars (says its name); only 1-minute bars "
                 "can be read",
                 name, hint.tf);
        rc = FXP_EPARSE;
        goto fail;
    }

    /* The symbol (note 3). */
    bo = *o;
    if (fmt == FXP_FMT_GENERIC && lk.has_sym) {
        if (o->symbol != NULL) {
            snprintf(errbuf, errlen,
                     "--symbol conflicts with the symbol column of '%s'", name);
            rc = FXP_EINVAL;
            goto fail;
        }
        bo.symbol = NULL;
    } else if (o->symbol == NULL) {
        if (hint.sym[0] == '\0') {
            snprintf(errbuf, errlen,
                     "no symbol for '%s': the file has no symbol column and "
                     "its name names none; use --symbol",
                     name);
            rc = FXP_EINVAL;
            goto fail;
        }
        bo.symbol = hint.sym;
        if (o->on_note != NULL) {
            char msg[400];

            snprintf(msg, sizeof msg,
                     "symbol '%s' taken from the file name '%s'", hint.sym,
                     name);
            o->on_note(o->ud, msg);
        }
    }
    bo.format = fmt;
    bo.kind = (int)kind;

    switch (fmt) {
    case FXP_FMT_HISTDATA:
        return fxp__source_open_histdata(lr, &bo, kind, st, out, errbuf,
                                         errlen);
    case FXP_FMT_DUKASCOPY:
        return fxp__source_open_dukascopy(lr, &bo, kind, st, out, errbuf,
                                          errlen);
    default:
        return fxp__source_open_generic(lr, &bo, kind, st, out, errbuf, errlen);
    }

fail:
    fxp_linereader_close(lr);
    return rc;
}
