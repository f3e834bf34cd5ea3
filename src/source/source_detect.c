/*
 * source_detect.c - what a file holds: its format and kind from the first
 * non-blank line, the roles of header columns, and what a file name says.
 *
 * Design notes
 *
 *  1. Content decides; the name is never trusted over it. A HistData line
 *     ("20240102 170000;..." or "20240102 170000123,...") or a header
 *     names the format and the kind. The exact Dukascopy headers
 *     (timestamp,askPrice,bidPrice[,askVolume,bidVolume] and
 *     timestamp,open,high,low,close[,volume]) are Dukascopy; any other
 *     header with ts and bid/ask or open/high/low/close columns is generic.
 *     The generic reader can also read a Dukascopy header, so a forced
 *     "generic" is accepted there; any other forced format or kind that
 *     the content contradicts is FXP_EPARSE naming both.
 *  2. Only the HistData and dukascopy-node naming schemes are recognised
 *     in a file name, nothing is guessed from other names. What
 *     source_file.c does with a name is its design note 2.
 */
#include <stdio.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "source/source_int.h"

/* Header columns looked at when deciding the format. */
#define LOOK_COLS 32

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

/* "histdata M1 bars", "dukascopy ticks": what a file holds. */
const char *fxp__what(fxp_format f, fxp_kind k)
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

/* ------------------------------------------------------------------------
 * What the first line says (note 1)
 */

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

void fxp__look_at(const char *p, size_t n, struct fxp__look *lk)
{
    static const char *const duka_ticks[] = {
        "timestamp", "askprice", "bidprice", "askvolume", "bidvolume"};
    static const char *const duka_bars[] = {"timestamp", "open",  "high",
                                            "low",       "close", "volume"};
    const char *f[LOOK_COLS];
    size_t fl[LOOK_COLS], nf;
    bool have[FXP__ROLE_COUNT] = {false};
    bool ticks, bars;

    lk->format = lk->kind = lk->generic_kind = FXP__UNKNOWN;
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
    lk->generic_kind = ticks && bars ? FXP__BOTH
                       : ticks       ? FXP_KIND_TICKS
                       : bars        ? FXP_KIND_BARS
                                     : FXP__UNKNOWN;
    if (columns_are(f, fl, nf, duka_ticks, 3) ||
        columns_are(f, fl, nf, duka_ticks, 5)) {
        lk->format = FXP_FMT_DUKASCOPY;
        lk->kind = FXP_KIND_TICKS;
    } else if (columns_are(f, fl, nf, duka_bars, 5) ||
               columns_are(f, fl, nf, duka_bars, 6)) {
        lk->format = FXP_FMT_DUKASCOPY;
        lk->kind = FXP_KIND_BARS;
    } else if (lk->generic_kind != FXP__UNKNOWN) {
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
 * What the file name says (note 2)
 */

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

void fxp__hint_from_name(const char *path, struct fxp__name_hint *h)
{
    static const char *const duka_tf[] = {"tick", "s1", "m1", "m5", "m15",
                                          "m30",  "h1", "h4", "d1", "mn1"};
    const char *base = strrchr(path, '/');
    const char *dot, *t[8];
    size_t n, tl[8], k, i = 0;

    h->format = h->kind = FXP__UNKNOWN;
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
 * The decision
 */

/* Decide format and kind from the look, the options (note 1). */
int fxp__decide(const char *name, const struct fxp__look *lk,
                const struct fxp_source_opts *o, const char *first,
                size_t first_len, fxp_format *fmt, fxp_kind *kind, char *errbuf,
                size_t errlen)
{
    char shown[48];
    int f = lk->format, k = lk->kind;

    if (o->format != FXP_FMT_AUTO) {
        if (o->format == FXP_FMT_GENERIC && lk->generic_kind != FXP__UNKNOWN) {
            f = FXP_FMT_GENERIC;
            k = lk->generic_kind;
        } else if (f == FXP__UNKNOWN && o->format == FXP_FMT_HISTDATA &&
                   o->kind >= 0) {
            /* Both forced and a first line that is no header: let the
             * reader report the line and go on. */
            f = FXP_FMT_HISTDATA;
            k = o->kind;
        } else if (f == FXP__UNKNOWN) {
            snprintf(errbuf, errlen, "'%s' is not %s: expected %s, found '%s'",
                     name, fxp_format_name(o->format), expected(o->format),
                     fxp__show(shown, sizeof shown, first, first_len));
            return FXP_EPARSE;
        } else if (f != (int)o->format) {
            snprintf(errbuf, errlen, "'%s' looks like %s, not %s", name,
                     k == FXP__BOTH ? "generic ticks and bars"
                                    : fxp__what((fxp_format)f, (fxp_kind)k),
                     fxp_format_name(o->format));
            return FXP_EPARSE;
        }
    }
    if (f == FXP__UNKNOWN) {
        snprintf(errbuf, errlen,
                 "unknown format of '%s': first line '%s' is neither a "
                 "header naming ts and bid,ask or open,high,low,close nor a "
                 "HistData line",
                 name, fxp__show(shown, sizeof shown, first, first_len));
        return FXP_EPARSE;
    }
    if (k == FXP__BOTH) {
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
                 fxp__what((fxp_format)f, (fxp_kind)k),
                 fxp_kind_name((fxp_kind)o->kind));
        return FXP_EPARSE;
    }
    *fmt = (fxp_format)f;
    *kind = (fxp_kind)k;
    return FXP_OK;
}
