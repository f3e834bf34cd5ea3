/*
 * source_file.c - fxp_source_open_file: decide what a file holds (with
 * source_detect.c) and hand it to its backend; and the helpers the file
 * backends share (source_int.h).
 *
 * Design notes
 *
 *  1. The decision is made on the first non-blank line and the file name,
 *     before any backend reads: the line is read, looked at
 *     (fxp__look_at) and unread, and the same line reader goes to the
 *     backend. So "-" works like a file: standard input is read once.
 *     How content decides is source_detect.c's design note 1.
 *  2. The name is used for three things only: the symbol when the file has
 *     no symbol column and none is given (always announced through
 *     on_note), the kind of an empty file, and refusing Dukascopy bars
 *     whose name says they are not 1-minute bars (they would be stored as
 *     1m bars otherwise). Which names are understood is source_detect.c's
 *     design note 2.
 *  3. A file with no non-blank line is a source that yields nothing, of
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

/* ------------------------------------------------------------------------
 * Helpers for the backends
 */

static bool is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t')
            return false;
    return true;
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

void fxp__describe(char *buf, size_t len, fxp_format format, fxp_kind kind,
                   const char *name)
{
    snprintf(buf, len, "%s '%s'", fxp__what(format, kind), name);
}

/* ------------------------------------------------------------------------
 * An empty file (note 3)
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
    "empty", empty_read_ticks, NULL, empty_progress,
    NULL,    empty_close,      NULL, NULL,
    NULL};
static const struct fxp_source_ops empty_bars_ops = {
    "empty", NULL, empty_read_bars, empty_progress, NULL, empty_close, NULL,
    NULL,    NULL};

static int open_empty(struct fxp_linereader *lr,
                      const struct fxp_source_opts *o,
                      const struct fxp__name_hint *h, struct fxp_source **out,
                      char *errbuf, size_t errlen)
{
    const char *name = fxp_linereader_name(lr);
    fxp_format f = o->format != FXP_FMT_AUTO   ? o->format
                   : h->format != FXP__UNKNOWN ? (fxp_format)h->format
                                               : FXP_FMT_GENERIC;
    int kind = o->kind >= 0 ? o->kind : h->kind;
    char desc[300];

    if (kind == FXP__UNKNOWN) {
        snprintf(errbuf, errlen,
                 "'%s' is empty: cannot tell ticks from bars; use --kind",
                 name);
        fxp_linereader_close(lr);
        return FXP_EPARSE;
    }
    snprintf(desc, sizeof desc, "%s '%s' (empty)", fxp__what(f, (fxp_kind)kind),
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

int fxp_source_open_file(const char *path, const struct fxp_source_opts *o,
                         struct fxp_symtab *st, struct fxp_source **out,
                         char *errbuf, size_t errlen)
{
    struct fxp_source_opts def, bo;
    struct fxp_linereader *lr = NULL;
    struct fxp__name_hint hint;
    struct fxp__look lk;
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
    fxp__hint_from_name(strcmp(path, "-") == 0 ? "" : path, &hint);

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
    fxp__look_at(ln.p, ln.len, &lk);
    rc = fxp__decide(name, &lk, o, ln.p, ln.len, &fmt, &kind, errbuf, errlen);
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

    /* The symbol (note 2). */
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
