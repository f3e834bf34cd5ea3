/*
 * csv.c - the streaming tick CSV reader (csv.h).
 *
 * Design notes
 *
 *  1. Lines come from a line reader (linereader.h): one fixed buffer,
 *     lines crossing its boundary, CRLF, a BOM on line 1, and over-long
 *     lines, which are reported here as bad and skipped. Files and memory
 *     go through the same buffer code, so the fuzzer and the tests
 *     exercise the real line splitting. r->line_no is the number of the
 *     line being parsed, for reports and line_nos[].
 *  2. A read error is sticky in the line reader: ticks already parsed in
 *     the current call are returned first, then every later call returns 0
 *     with FXP_EIO.
 *  3. The reader parses, it does not validate: NaN, crossed or negative
 *     prices come out as ticks for the validator (validate.h) to reject.
 *     Only text that is not a number, timestamp or symbol is a bad line.
 *  4. The number parsers fxp_parse_double and fxp_parse_int64 are in
 *     numparse.c.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/csv.h"
#include "fxpipe/err.h"
#include "fxpipe/linereader.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* Bytes of a bad field quoted in a detail message. */
#define SHOW_MAX 40

/* What a column holds. */
enum col_role {
    COL_NONE = 0,
    COL_SYM,
    COL_TS,
    COL_BID,
    COL_ASK,
    COL_VOL,
    COL_ROLES
};

static const char *const role_name[COL_ROLES] = {"",    "symbol", "ts",
                                                 "bid", "ask",    "volume"};

/* Header spellings (compared case-insensitively) and their roles. */
static const struct {
    const char *name;
    enum col_role role;
} header_names[] = {
    {"symbol", COL_SYM},   {"pair", COL_SYM},     {"ticker", COL_SYM},
    {"ts", COL_TS},        {"timestamp", COL_TS}, {"time", COL_TS},
    {"bid", COL_BID},      {"bidprice", COL_BID}, {"ask", COL_ASK},
    {"askprice", COL_ASK}, {"volume", COL_VOL},
};

struct fxp_csv_reader {
    struct fxp_linereader *lr; /* owned (note 1) */
    uint64_t line_no;          /* the line being parsed */
    /* layout, from the header */
    unsigned char *role;   /* enum col_role by column index */
    size_t ncols;          /* fields per line */
    bool has_sym;          /* a symbol column exists */
    bool has_vol;          /* a volume column exists */
    uint32_t fixed_sym;    /* symbol id when !has_sym */
    struct fxp_symtab *st; /* borrowed */
    /* the last symbol spelling seen and its id */
    char last_raw[FXP_SYMBOL_MAX * 2];
    size_t last_len; /* 0 = none */
    uint32_t last_sym;
    /* counters and reporting */
    uint64_t bad; /* lines rejected */
    fxp_csv_bad_fn on_bad;
    void *ud;
    const char *path; /* display name, the line reader's */
};

/* ------------------------------------------------------------------------
 * Header names
 */

/* Case-insensitive comparison of s[0..len) with a lower-case word. */
static bool word_eq(const char *s, size_t len, const char *word)
{
    size_t i;

    for (i = 0; i < len && word[i] != '\0'; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return false;
    }
    return i == len && word[i] == '\0';
}

/* ------------------------------------------------------------------------
 * Lines into ticks
 */

/* Copy s[0..n) into dst for a message: at most SHOW_MAX bytes, bytes that
 * are not printable ASCII as '?', "..." when cut. */
static const char *show(char *dst, size_t dstlen, const char *s, size_t n)
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

static void PRINTF_LIKE(3, 4)
    report(struct fxp_csv_reader *r, fxp_reason reason, const char *fmt, ...)
{
    char detail[192];
    va_list ap;

    r->bad++;
    if (r->on_bad == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    r->on_bad(r->ud, r->path, r->line_no, reason, detail);
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

static bool is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t')
            return false;
    return true;
}

/* Parse one data line (without '\n' and '\r') into *t. Returns true for a
 * tick; false when the line was reported bad. */
static bool parse_line(struct fxp_csv_reader *r, const char *p, size_t n,
                       struct fxp_tick *t)
{
    const char *f[COL_ROLES] = {0};
    size_t fl[COL_ROLES] = {0};
    const char *q = p, *e = p + n;
    size_t col = 0;
    char shown[SHOW_MAX + 8];
    int rc;

    for (;;) {
        const char *c = q;

        while (c < e && *c != ',')
            c++;
        if (col < r->ncols && r->role[col] != COL_NONE) {
            f[r->role[col]] = q;
            fl[r->role[col]] = (size_t)(c - q);
        }
        col++;
        if (c == e)
            break;
        q = c + 1;
    }
    if (col != r->ncols) {
        report(r, FXP_R_PARSE, "expected %zu fields, got %zu", r->ncols, col);
        return false;
    }
    for (int k = COL_SYM; k < COL_ROLES; k++)
        if (f[k] != NULL)
            trim(&f[k], &fl[k]);

    rc = fxp_parse_int64(f[COL_TS], fl[COL_TS], &t->ts_ms);
    if (rc != FXP_OK)
        rc = fxp_time_parse(f[COL_TS], fl[COL_TS], &t->ts_ms);
    if (rc != FXP_OK) {
        report(r, FXP_R_PARSE, "column 'ts': %s '%s'",
               rc == FXP_ERANGE ? "timestamp out of range" : "bad timestamp",
               show(shown, sizeof shown, f[COL_TS], fl[COL_TS]));
        return false;
    }
    for (int k = COL_BID; k <= COL_ASK; k++) {
        double *dst = k == COL_BID ? &t->bid : &t->ask;

        if (fxp_parse_double(f[k], fl[k], dst) != FXP_OK) {
            report(r, FXP_R_PARSE, "column '%s': not a number '%s'",
                   role_name[k], show(shown, sizeof shown, f[k], fl[k]));
            return false;
        }
    }
    t->volume = 0;
    t->flags = 0;
    if (r->has_vol && fl[COL_VOL] > 0) {
        if (fxp_parse_double(f[COL_VOL], fl[COL_VOL], &t->volume) != FXP_OK) {
            report(r, FXP_R_PARSE, "column 'volume': not a number '%s'",
                   show(shown, sizeof shown, f[COL_VOL], fl[COL_VOL]));
            return false;
        }
        t->flags = FXP_TICK_HAS_VOLUME;
    }
    /* The symbol goes last so that only good lines add names. */
    if (!r->has_sym) {
        t->sym = r->fixed_sym;
    } else if (fl[COL_SYM] == r->last_len && r->last_len != 0 &&
               memcmp(f[COL_SYM], r->last_raw, r->last_len) == 0) {
        t->sym = r->last_sym;
    } else {
        rc = fxp_symtab_intern(r->st, f[COL_SYM], fl[COL_SYM], &t->sym);
        if (rc != FXP_OK) {
            report(r, FXP_R_SYMBOL, "column 'symbol': %s '%s'",
                   rc == FXP_ETOOLARGE ? "symbol table is full, cannot add"
                                       : "unknown symbol format",
                   show(shown, sizeof shown, f[COL_SYM], fl[COL_SYM]));
            return false;
        }
        if (fl[COL_SYM] <= sizeof r->last_raw) {
            memcpy(r->last_raw, f[COL_SYM], fl[COL_SYM]);
            r->last_len = fl[COL_SYM];
            r->last_sym = t->sym;
        }
    }
    return true;
}

size_t fxp_csv_read(struct fxp_csv_reader *r, struct fxp_tick *out, size_t cap,
                    int *err)
{
    return fxp_csv_read_lines(r, out, NULL, cap, err);
}

size_t fxp_csv_read_lines(struct fxp_csv_reader *r, struct fxp_tick *out,
                          uint64_t *line_nos, size_t cap, int *err)
{
    size_t n = 0;

    *err = FXP_OK;
    while (n < cap) {
        struct fxp_line ln;
        fxp_line_status rc = fxp_linereader_next(r->lr, &ln);
        const char *p = ln.p;
        size_t len = ln.len;

        if (rc == FXP_LINE_EOF)
            break;
        if (rc == FXP_LINE_EIO) {
            if (n == 0)
                *err = FXP_EIO; /* else on the next call (note 2) */
            break;
        }
        r->line_no = ln.no;
        if (rc == FXP_LINE_LONG) {
            report(r, FXP_R_PARSE, "line longer than the %zu-byte buffer",
                   fxp_linereader_buf_size(r->lr));
            continue;
        }
        if (len == 0 || ((*p == ' ' || *p == '\t') && is_blank(p, len)))
            continue;
        if (parse_line(r, p, len, &out[n])) {
            if (line_nos != NULL)
                line_nos[n] = ln.no;
            n++;
        }
    }
    return n;
}

/* ------------------------------------------------------------------------
 * Opening: the header
 */

static void PRINTF_LIKE(3, 4)
    set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errbuf == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* Read the header line and lay out the columns. */
static int read_header(struct fxp_csv_reader *r, char *errbuf, size_t errlen)
{
    size_t where[COL_ROLES] = {0}; /* column index + 1 per role */
    const char *p, *q, *e;
    size_t n, col;
    char shown[SHOW_MAX + 8];

    for (;;) {
        struct fxp_line ln;
        fxp_line_status rc = fxp_linereader_next(r->lr, &ln);

        if (rc == FXP_LINE_EOF) {
            set_err(errbuf, errlen, "no header in '%s'", r->path);
            return FXP_EPARSE;
        }
        if (rc == FXP_LINE_EIO)
            return fxp_linereader_error(r->lr, errbuf, errlen);
        if (rc == FXP_LINE_LONG) {
            set_err(errbuf, errlen,
                    "header of '%s' is longer than the %zu-byte buffer",
                    r->path, fxp_linereader_buf_size(r->lr));
            return FXP_EPARSE;
        }
        p = ln.p;
        n = ln.len;
        if (!is_blank(p, n))
            break;
    }

    r->ncols = 1;
    for (size_t i = 0; i < n; i++)
        r->ncols += p[i] == ',';
    r->role = calloc(r->ncols, 1);
    if (r->role == NULL)
        return FXP_ENOMEM;
    e = p + n;
    for (q = p, col = 0;; col++) {
        const char *c = memchr(q, ',', (size_t)(e - q));
        const char *name = q;
        size_t len = (size_t)((c ? c : e) - q);
        size_t h;

        trim(&name, &len);
        for (h = 0; h < sizeof header_names / sizeof header_names[0]; h++)
            if (word_eq(name, len, header_names[h].name))
                break;
        if (h < sizeof header_names / sizeof header_names[0]) {
            enum col_role role = header_names[h].role;

            if (where[role] != 0) {
                set_err(errbuf, errlen,
                        "duplicate '%s' column ('%s') in header of '%s'",
                        role_name[role], show(shown, sizeof shown, name, len),
                        r->path);
                return FXP_EPARSE;
            }
            where[role] = col + 1;
            r->role[col] = (unsigned char)role;
        }
        if (c == NULL)
            break;
        q = c + 1;
    }
    for (int k = COL_TS; k <= COL_ASK; k++) {
        if (where[k] == 0) {
            set_err(errbuf, errlen, "no '%s' column in header of '%s'",
                    role_name[k], r->path);
            return FXP_EPARSE;
        }
    }
    r->has_sym = where[COL_SYM] != 0;
    r->has_vol = where[COL_VOL] != 0;
    return FXP_OK;
}

/* Options and header, once the line reader is there. */
static int open_common(struct fxp_csv_reader *r,
                       const struct fxp_csv_opts *opts, struct fxp_symtab *st,
                       char *errbuf, size_t errlen)
{
    int rc;

    r->path = fxp_linereader_name(r->lr);
    r->st = st;
    if (opts != NULL) {
        r->on_bad = opts->on_bad;
        r->ud = opts->ud;
    }
    rc = read_header(r, errbuf, errlen);
    if (rc == FXP_ENOMEM)
        set_err(errbuf, errlen, "out of memory opening '%s'", r->path);
    if (rc != FXP_OK)
        return rc;
    if (!r->has_sym) {
        const char *sym = opts ? opts->symbol : NULL;

        if (sym == NULL) {
            set_err(errbuf, errlen,
                    "no 'symbol' column in header of '%s' and no symbol "
                    "given",
                    r->path);
            return FXP_EINVAL;
        }
        rc = fxp_symtab_intern(st, sym, strlen(sym), &r->fixed_sym);
        if (rc == FXP_ETOOLARGE) {
            set_err(errbuf, errlen, "symbol table is full, cannot add '%s'",
                    sym);
            return rc;
        }
        if (rc != FXP_OK) {
            set_err(errbuf, errlen, "unknown symbol format '%s'", sym);
            return FXP_EINVAL;
        }
    }
    return FXP_OK;
}

int fxp_csv_open_reader(struct fxp_linereader *lr,
                        const struct fxp_csv_opts *opts, struct fxp_symtab *st,
                        struct fxp_csv_reader **out, char *errbuf,
                        size_t errlen)
{
    struct fxp_csv_reader *r;
    int rc;

    *out = NULL;
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        set_err(errbuf, errlen, "out of memory opening '%s'",
                fxp_linereader_name(lr));
        fxp_linereader_close(lr);
        return FXP_ENOMEM;
    }
    r->lr = lr;
    rc = open_common(r, opts, st, errbuf, errlen);
    if (rc != FXP_OK) {
        fxp_csv_close(r);
        return rc;
    }
    *out = r;
    return FXP_OK;
}

int fxp_csv_open(const char *path, const struct fxp_csv_opts *opts,
                 struct fxp_symtab *st, struct fxp_csv_reader **out,
                 char *errbuf, size_t errlen)
{
    struct fxp_linereader *lr;
    int rc;

    *out = NULL;
    rc = fxp_linereader_open(path, opts ? opts->buf_size : 0, &lr, errbuf,
                             errlen);
    if (rc != FXP_OK)
        return rc;
    return fxp_csv_open_reader(lr, opts, st, out, errbuf, errlen);
}

int fxp_csv_open_mem(const char *data, size_t len, const char *name,
                     const struct fxp_csv_opts *opts, struct fxp_symtab *st,
                     struct fxp_csv_reader **out, char *errbuf, size_t errlen)
{
    struct fxp_linereader *lr;

    *out = NULL;
    if (fxp_linereader_open_mem(data, len, name, opts ? opts->buf_size : 0,
                                &lr) != FXP_OK) {
        set_err(errbuf, errlen, "out of memory opening '%s'",
                name ? name : "<memory>");
        return FXP_ENOMEM;
    }
    return fxp_csv_open_reader(lr, opts, st, out, errbuf, errlen);
}

void fxp_csv_close(struct fxp_csv_reader *r)
{
    if (r == NULL)
        return;
    fxp_linereader_close(r->lr);
    free(r->role);
    free(r);
}

uint64_t fxp_csv_lines(const struct fxp_csv_reader *r)
{
    return fxp_linereader_lines(r->lr);
}

uint64_t fxp_csv_bad_lines(const struct fxp_csv_reader *r)
{
    return r->bad;
}

void fxp_csv_progress(const struct fxp_csv_reader *r, uint64_t *done,
                      uint64_t *total)
{
    fxp_linereader_progress(r->lr, done, total);
}
