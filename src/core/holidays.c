/*
 * holidays.c - parser for holiday files (format in docs/holidays.md) and
 * the date lookup behind the calendar.
 *
 * Design notes:
 *  1. A file is parsed line by line; the first bad line stops the parse
 *     with "bad holiday line 'name:N': reason". Nothing is half-applied:
 *     the caller throws the set away on failure.
 *  2. Dated entries live in one array sorted by day (binary search);
 *     `*` entries live in a [month][day] table (direct index). A dated
 *     entry wins over a `*` entry for the same date, so a file can say
 *     "*-12-25 closed" and still give one year an early close instead.
 *  3. The same date twice at the same level (two dated lines, or two `*`
 *     lines) is an error rather than "last one wins": a holiday file is
 *     hand-written and a duplicate is almost always a typo.
 */
#include "core/holidays.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/time.h"

#define NORMAL_CLOSE_MIN (17 * 60)

/* One parsed line, before it is stored. */
struct entry {
    int year; /* 0 for '*' */
    int month;
    int day;
    int close_min; /* FXP__HOL_CLOSED or minute */
};

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!errbuf || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Value of n digits at s, or -1 when any is not a digit. */
static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    /* For '*' (y == 0) February 29 is allowed: it applies in leap years. */
    return m == 2 && (y == 0 || is_leap(y)) ? 29 : dm[m - 1];
}

/* A line's tokens: runs of non-blank characters before any '#'. */
struct tok {
    const char *s;
    size_t n;
};

static size_t tokenize(const char *p, const char *end, struct tok *t,
                       size_t cap)
{
    size_t n = 0;
    while (p < end) {
        while (p < end && is_space(*p))
            p++;
        if (p == end || *p == '#')
            break;
        const char *s = p;
        while (p < end && !is_space(*p) && *p != '#')
            p++;
        if (n < cap)
            t[n] = (struct tok){s, (size_t)(p - s)};
        n++;
    }
    return n;
}

/* Longest token text quoted in a message. */
#define QUOTE_MAX 40
#define Q(t)      (int)((t).n < QUOTE_MAX ? (t).n : QUOTE_MAX), (t).s

/* Parse the tokens of one non-blank line into *e; on failure write the
 * reason (without the file:line prefix) into why. */
static bool parse_entry(const struct tok *t, size_t nt, struct entry *e,
                        char *why, size_t whylen)
{
    const struct tok *d = &t[0];
    bool star = d->n == 7 && d->s[0] == '*';
    size_t yl = star ? 1 : 4;
    if ((d->n != 10 && !star) || d->s[yl] != '-' || d->s[yl + 3] != '-') {
        snprintf(why, whylen,
                 "bad date '%.*s' (expected YYYY-MM-DD or *-MM-DD)", Q(*d));
        return false;
    }
    e->year = star ? 0 : num(d->s, 4);
    e->month = num(d->s + yl + 1, 2);
    e->day = num(d->s + yl + 4, 2);
    if (e->year < 0 || e->month < 0 || e->day < 0) {
        snprintf(why, whylen,
                 "bad date '%.*s' (expected YYYY-MM-DD or *-MM-DD)", Q(*d));
        return false;
    }
    if ((!star && e->year < 1) || e->month < 1 || e->month > 12 || e->day < 1 ||
        e->day > days_in_month(e->year, e->month)) {
        snprintf(why, whylen, "no such date '%.*s'", Q(*d));
        return false;
    }
    if (nt < 2) {
        snprintf(why, whylen,
                 "missing kind after the date (expected 'closed' or "
                 "'close HH:MM')");
        return false;
    }
    size_t used = 2;
    if (t[1].n == 6 && !memcmp(t[1].s, "closed", 6)) {
        e->close_min = FXP__HOL_CLOSED;
    } else if (t[1].n == 5 && !memcmp(t[1].s, "close", 5)) {
        if (nt < 3) {
            snprintf(why, whylen,
                     "missing time after 'close' (expected "
                     "HH:MM)");
            return false;
        }
        const struct tok *tm = &t[2];
        int hh = tm->n == 5 && tm->s[2] == ':' ? num(tm->s, 2) : -1;
        int mm = hh >= 0 ? num(tm->s + 3, 2) : -1;
        if (hh < 0 || mm < 0 || hh > 23 || mm > 59) {
            snprintf(why, whylen, "bad time '%.*s' (expected HH:MM)", Q(*tm));
            return false;
        }
        if (hh * 60 + mm >= NORMAL_CLOSE_MIN) {
            snprintf(why, whylen,
                     "early close '%.*s' is not before the normal 17:00 "
                     "close",
                     Q(*tm));
            return false;
        }
        e->close_min = hh * 60 + mm;
        used = 3;
    } else {
        snprintf(why, whylen, "unknown kind '%.*s'", Q(t[1]));
        return false;
    }
    if (nt > used) {
        snprintf(why, whylen, "unexpected '%.*s' after the entry", Q(t[used]));
        return false;
    }
    return true;
}

static int cmp_dated(const void *a, const void *b)
{
    const struct fxp__hol_dated *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int push_dated(struct fxp__holidays *h, size_t *cap,
                      const struct fxp__hol_dated *d)
{
    if (h->n_dated == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct fxp__hol_dated *p = realloc(h->dated, ncap * sizeof *p);
        if (!p)
            return FXP_ENOMEM;
        h->dated = p;
        *cap = ncap;
    }
    h->dated[h->n_dated++] = *d;
    return FXP_OK;
}

static void clear(struct fxp__holidays *h)
{
    h->dated = NULL;
    h->n_dated = 0;
    h->last_dated_day = 0;
    h->n_every = 0;
    for (int m = 0; m < 13; m++)
        for (int d = 0; d < 32; d++)
            h->every[m][d] = FXP__HOL_NONE;
}

int fxp__holidays_parse(const char *text, size_t len, const char *name,
                        struct fxp__holidays *h, char *errbuf, size_t errlen)
{
    int every_line[13][32] = {{0}};
    const char *p = text, *end = text + len;
    size_t cap = 0, n_entries = 0;
    char why[160];
    int line = 0;

    clear(h);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        struct tok t[4];
        struct entry e;
        line++;
        if (memchr(p, '\0', (size_t)(le - p))) {
            set_err(errbuf, errlen,
                    "bad holiday line '%s:%d': NUL byte in the line", name,
                    line);
            return FXP_EPARSE;
        }
        size_t nt = tokenize(p, le, t, 4);
        p = eol ? eol + 1 : end;
        if (nt == 0)
            continue;
        if (!parse_entry(t, nt < 4 ? nt : 4, &e, why, sizeof why)) {
            set_err(errbuf, errlen, "bad holiday line '%s:%d': %s", name, line,
                    why);
            return FXP_EPARSE;
        }
        if (++n_entries > FXP__HOL_MAX_ENTRIES) {
            set_err(errbuf, errlen,
                    "bad holiday line '%s:%d': too many entries (max %d)", name,
                    line, FXP__HOL_MAX_ENTRIES);
            return FXP_EPARSE;
        }
        if (e.year == 0) {
            int *first = &every_line[e.month][e.day];
            if (*first) {
                set_err(errbuf, errlen,
                        "bad holiday line '%s:%d': duplicate date "
                        "'*-%02d-%02d' (first on line %d)",
                        name, line, e.month, e.day, *first);
                return FXP_EPARSE;
            }
            *first = line;
            h->every[e.month][e.day] = (int16_t)e.close_min;
            h->n_every++;
        } else {
            struct fxp__hol_dated d = {
                fxp_days_from_civil(e.year, e.month, e.day), e.close_min, line};
            if (push_dated(h, &cap, &d)) {
                set_err(errbuf, errlen, "out of memory reading '%s'", name);
                return FXP_ENOMEM;
            }
        }
    }

    /* Sort by (day, line) so a duplicate is reported at its later line. */
    if (h->n_dated)
        qsort(h->dated, h->n_dated, sizeof *h->dated, cmp_dated);
    for (size_t i = 1; i < h->n_dated; i++) {
        if (h->dated[i].day == h->dated[i - 1].day) {
            struct fxp_civil c;
            fxp_time_to_civil(h->dated[i].day * FXP_MS_PER_DAY, &c);
            set_err(errbuf, errlen,
                    "bad holiday line '%s:%d': duplicate date "
                    "'%04d-%02d-%02d' (first on line %d)",
                    name, h->dated[i].line, c.year, c.month, c.day,
                    h->dated[i - 1].line);
            return FXP_EPARSE;
        }
    }
    if (h->n_dated)
        h->last_dated_day = h->dated[h->n_dated - 1].day;
    return FXP_OK;
}

void fxp__holidays_release(struct fxp__holidays *h)
{
    if (!h)
        return;
    free(h->dated);
    clear(h);
}

int fxp__holidays_lookup(const struct fxp__holidays *h, int64_t day)
{
    size_t lo = 0, hi = h->n_dated;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->dated[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < h->n_dated && h->dated[lo].day == day)
        return h->dated[lo].close_min;
    if (h->n_every == 0)
        return FXP__HOL_NONE;
    struct fxp_civil c;
    fxp_time_to_civil(day * FXP_MS_PER_DAY, &c);
    return h->every[c.month][c.day];
}
