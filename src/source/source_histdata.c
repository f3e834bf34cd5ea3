/*
 * source_histdata.c - HistData.com "Generic ASCII" files: M1 bars
 * (`20240102 170000;1.104270;1.104290;1.104260;1.104280;0`) and ticks
 * (`20240102 170000123,1.10427,1.10429,0`). No header, no symbol column.
 *
 * Times are Eastern Standard Time all year: a fixed UTC-5 without
 * daylight saving, so ts_utc = local + 5 h (note 1). The volume column is
 * always 0 on HistData: tick volumes are ignored (no FXP_TICK_HAS_VOLUME),
 * bar volumes are passed on as written.
 *
 * Design notes
 *
 *  1. The fixed offset is HistData's documented convention; applying New
 *     York time with DST instead would shift half the year by an hour.
 *  2. A timestamp must be exactly 15 (bars) or 18 (ticks) characters of
 *     the pattern; a calendar date that does not exist (20240230) is
 *     "timestamp out of range", like fxp_time_parse.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "fxpipe/err.h"
#include "fxpipe/linereader.h"
#include "fxpipe/time.h"
#include "fxpipe/timeframe.h"
#include "source/source_int.h"

/* UTC - EST (note 1). */
#define EST_OFFSET_MS (5 * FXP_MS_PER_HOUR)

#define BAR_FIELDS  6
#define TICK_FIELDS 4

struct histdata {
    struct fxp__lines ls;
    uint32_t sym; /* the file's symbol */
};

static const char *const bar_col[BAR_FIELDS] = {"time", "open",  "high",
                                                "low",  "close", "volume"};
static const char *const tick_col[TICK_FIELDS] = {"time", "bid", "ask",
                                                  "volume"};

static int num(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* "YYYYMMDD HHMMSS", plus "mmm" when with_ms, EST, into UTC ms. Returns
 * FXP_OK, FXP_EPARSE or FXP_ERANGE (note 2). */
static int parse_est(const char *s, size_t n, bool with_ms, int64_t *ts_ms)
{
    struct fxp_civil c = {0}, back;
    int64_t ts;

    if (n != (with_ms ? 18u : 15u) || s[8] != ' ')
        return FXP_EPARSE;
    for (size_t i = 0; i < n; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9'))
            return FXP_EPARSE;
    c.year = num(s, 4);
    c.month = num(s + 4, 2);
    c.day = num(s + 6, 2);
    c.hour = num(s + 9, 2);
    c.min = num(s + 11, 2);
    c.sec = num(s + 13, 2);
    c.ms = with_ms ? num(s + 15, 3) : 0;
    if (c.month < 1 || c.month > 12 || c.day < 1 || c.day > 31 || c.hour > 23 ||
        c.min > 59 || c.sec > 59)
        return FXP_ERANGE;
    ts = fxp_time_from_civil(&c);
    fxp_time_to_civil(ts, &back);
    if (back.day != c.day) /* the 30th of February rolled over */
        return FXP_ERANGE;
    *ts_ms = ts + EST_OFFSET_MS;
    return FXP_OK;
}

static bool time_field(struct histdata *h, const char *s, size_t n,
                       bool with_ms, int64_t *ts_ms)
{
    char shown[48];
    int rc = parse_est(s, n, with_ms, ts_ms);

    if (rc == FXP_OK)
        return true;
    fxp__lines_bad(&h->ls, FXP_R_PARSE, "column 1 'time': %s '%s'",
                   rc == FXP_ERANGE ? "timestamp out of range"
                                    : "bad timestamp",
                   fxp__show(shown, sizeof shown, s, n));
    return false;
}

static bool parse_tick(void *impl, const char *p, size_t n, void *rec)
{
    struct histdata *h = impl;
    struct fxp_tick *t = rec;
    const char *f[TICK_FIELDS];
    size_t fl[TICK_FIELDS];
    size_t nf = fxp__split(p, n, ',', f, fl, TICK_FIELDS);

    if (nf != TICK_FIELDS) {
        fxp__lines_bad(&h->ls, FXP_R_PARSE, "expected %d fields, got %zu",
                       TICK_FIELDS, nf);
        return false;
    }
    if (!time_field(h, f[0], fl[0], true, &t->ts_ms) ||
        !fxp__field_double(&h->ls, 1, tick_col[1], f[1], fl[1], &t->bid) ||
        !fxp__field_double(&h->ls, 2, tick_col[2], f[2], fl[2], &t->ask))
        return false;
    t->volume = 0; /* always 0 on HistData: not a volume */
    t->sym = h->sym;
    t->flags = 0;
    return true;
}

static bool parse_bar(void *impl, const char *p, size_t n, void *rec)
{
    struct histdata *h = impl;
    struct fxp_bar *b = rec;
    const char *f[BAR_FIELDS];
    size_t fl[BAR_FIELDS];
    size_t nf = fxp__split(p, n, ';', f, fl, BAR_FIELDS);
    double *px[4] = {&b->open, &b->high, &b->low, &b->close};

    if (nf != BAR_FIELDS) {
        fxp__lines_bad(&h->ls, FXP_R_PARSE, "expected %d fields, got %zu",
                       BAR_FIELDS, nf);
        return false;
    }
    if (!time_field(h, f[0], fl[0], false, &b->ts_ms))
        return false;
    for (size_t i = 0; i < 4; i++)
        if (!fxp__field_double(&h->ls, i + 1, bar_col[i + 1], f[i + 1],
                               fl[i + 1], px[i]))
            return false;
    b->volume = 0;
    if (fl[5] > 0 &&
        !fxp__field_double(&h->ls, 5, bar_col[5], f[5], fl[5], &b->volume))
        return false;
    b->version = 0;
    b->n_ticks = 1;
    b->sym = h->sym;
    b->tf = FXP_TF_1M;
    b->source = FXP_SRC_HISTORICAL;
    b->flags = 0;
    return true;
}

static size_t histdata_read_ticks(void *impl, struct fxp_tick *out,
                                  uint64_t *pos, size_t cap, int *err)
{
    struct histdata *h = impl;

    return fxp__lines_read(&h->ls, parse_tick, h, out, sizeof *out, pos, cap,
                           err);
}

static size_t histdata_read_bars(void *impl, struct fxp_bar *out, uint64_t *pos,
                                 size_t cap, int *err)
{
    struct histdata *h = impl;

    return fxp__lines_read(&h->ls, parse_bar, h, out, sizeof *out, pos, cap,
                           err);
}

static void histdata_progress(const void *impl, uint64_t *done, uint64_t *total)
{
    const struct histdata *h = impl;

    fxp_linereader_progress(h->ls.lr, done, total);
}

static void histdata_close(void *impl)
{
    struct histdata *h = impl;

    fxp_linereader_close(h->ls.lr);
    free(h);
}

static const struct fxp_source_ops histdata_ticks_ops = {
    "histdata", histdata_read_ticks, NULL, histdata_progress,
    NULL,       histdata_close,      NULL, NULL,
    NULL};
static const struct fxp_source_ops histdata_bars_ops = {"histdata",
                                                        NULL,
                                                        histdata_read_bars,
                                                        histdata_progress,
                                                        NULL,
                                                        histdata_close,
                                                        NULL,
                                                        NULL,
                                                        NULL};

int fxp__source_open_histdata(struct fxp_linereader *lr,
                              const struct fxp_source_opts *o, fxp_kind kind,
                              struct fxp_symtab *st, struct fxp_source **out,
                              char *errbuf, size_t errlen)
{
    struct histdata *h;
    char desc[300];
    int rc;

    assert(o->symbol != NULL); /* decided by source_file.c */
    *out = NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(errbuf, errlen, "out of memory opening '%s'",
                 fxp_linereader_name(lr));
        fxp_linereader_close(lr);
        return FXP_ENOMEM;
    }
    h->ls.lr = lr;
    h->ls.on_bad = o->on_bad;
    h->ls.ud = o->ud;
    rc = fxp__intern_symbol(st, o->symbol, &h->sym, errbuf, errlen);
    if (rc != FXP_OK) {
        histdata_close(h);
        return rc;
    }
    fxp__describe(desc, sizeof desc, FXP_FMT_HISTDATA, kind,
                  fxp_linereader_name(lr));
    *out = fxp__source_new(kind == FXP_KIND_BARS ? &histdata_bars_ops
                                                 : &histdata_ticks_ops,
                           h, desc);
    if (*out == NULL) {
        snprintf(errbuf, errlen, "out of memory opening '%s'", desc);
        return FXP_ENOMEM;
    }
    return FXP_OK;
}
