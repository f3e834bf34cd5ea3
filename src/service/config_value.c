/*
 * config_value.c - one value of one entry: parsing and checking text by
 * the entry's type, formatting it back, and the public init/set/get.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fxpipe/err.h"
#include "service/config_int.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */

void fxp__config_errf(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (!err || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* A value as it appears in a message: at most 60 characters, control
 * characters as '?'. */
const char *fxp__config_shown(const char *v, char buf[72])
{
    size_t n = 0;
    for (; v[n] && n < 60; n++)
        buf[n] = iscntrl((unsigned char)v[n]) ? '?' : v[n];
    if (v[n]) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/* "store.busy_timeout_ms" -> "FXPIPE_STORE_BUSY_TIMEOUT_MS". */
void fxp__config_env_name(const struct fxp__config_entry *e,
                          char buf[FXP__CONFIG_MAX_NAME])
{
    size_t n =
        (size_t)snprintf(buf, FXP__CONFIG_MAX_NAME, "FXPIPE_%s", e->name);
    assert(n < FXP__CONFIG_MAX_NAME);
    for (size_t i = 0; i < n; i++)
        buf[i] = buf[i] == '.' ? '_' : (char)toupper((unsigned char)buf[i]);
}

/* Levenshtein distance, or SIZE_MAX for strings too long to bother. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[FXP__CONFIG_MAX_NAME + 1];
    if (la > FXP__CONFIG_MAX_NAME || lb > FXP__CONFIG_MAX_NAME)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* "unknown key 'x'", with a suggestion when one name is close. */
void fxp__config_unknown_key(const char *name, char *err, size_t len)
{
    const struct fxp__config_entry *best = NULL;
    size_t best_d = 4; /* suggest only within three edits */
    char s[72];
    for (size_t i = 0; i < FXP_CONFIG_N_ENTRIES; i++) {
        size_t d = distance(name, fxp__config_entries[i].name);
        if (d < best_d) {
            best_d = d;
            best = &fxp__config_entries[i];
        }
    }
    if (best)
        fxp__config_errf(err, len, "unknown key '%s'; did you mean '%s'?",
                         fxp__config_shown(name, s), best->name);
    else
        fxp__config_errf(err, len, "unknown key '%s'",
                         fxp__config_shown(name, s));
}

/* %.15g when it reads back exactly, else %.17g (which always does). */
void fxp__config_format_double(double d, char *buf, size_t len)
{
    snprintf(buf, len, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, len, "%.17g", d);
}

static void *field(struct fxp_config *c, const struct fxp__config_entry *e)
{
    return (char *)c + e->off;
}

static const void *cfield(const struct fxp_config *c,
                          const struct fxp__config_entry *e)
{
    return (const char *)c + e->off;
}

/* ------------------------------------------------------------------ */
/* Parsing one value                                                  */

static int parse_int(const struct fxp__config_entry *e, const char *v,
                     int64_t *out, char *err, size_t len)
{
    char s[72], *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || isspace((unsigned char)*v) || end == v || *end) {
        fxp__config_errf(err, len, "'%s' must be an integer, got '%s'", e->name,
                         fxp__config_shown(v, s));
        return FXP_EINVAL;
    }
    if (errno == ERANGE || x < e->min || x > e->max) {
        fxp__config_errf(err, len,
                         "'%s' must be between %" PRId64 " and %" PRId64
                         ", got '%s'",
                         e->name, e->min, e->max, fxp__config_shown(v, s));
        return FXP_ERANGE;
    }
    *out = x;
    return FXP_OK;
}

static int parse_double(const struct fxp__config_entry *e, const char *v,
                        double *out, char *err, size_t len)
{
    char s[72], lo[32], hi[32], *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || isspace((unsigned char)*v) || end == v || *end || !isfinite(d)) {
        fxp__config_errf(err, len, "'%s' must be a number, got '%s'", e->name,
                         fxp__config_shown(v, s));
        return FXP_EINVAL;
    }
    if (d < e->dmin || d > e->dmax) {
        fxp__config_format_double(e->dmin, lo, sizeof lo);
        fxp__config_format_double(e->dmax, hi, sizeof hi);
        fxp__config_errf(err, len, "'%s' must be between %s and %s, got '%s'",
                         e->name, lo, hi, fxp__config_shown(v, s));
        return FXP_ERANGE;
    }
    *out = d;
    return FXP_OK;
}

static int parse_bool(const struct fxp__config_entry *e, const char *v,
                      bool *out, char *err, size_t len)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    char s[72];
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = true;
            return FXP_OK;
        }
        if (!strcasecmp(v, no[i])) {
            *out = false;
            return FXP_OK;
        }
    }
    fxp__config_errf(
        err, len,
        "'%s' must be true or false (or yes/no, on/off, 1/0), got '%s'",
        e->name, fxp__config_shown(v, s));
    return FXP_EINVAL;
}

/* "mid, bid, ask" (cut short if len is too small). */
void fxp__config_join_words(const struct fxp__config_entry *e, const char *sep,
                            char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; e->words[i]; i++) {
        int k = snprintf(buf + n, len - n, "%s%s", i ? sep : "", e->words[i]);
        if (k < 0 || (size_t)k >= len - n)
            break;
        n += (size_t)k;
    }
}

static int parse_enum(const struct fxp__config_entry *e, const char *v,
                      int *out, char *err, size_t len)
{
    char s[72], list[128];
    for (int i = 0; e->words[i]; i++) {
        if (!strcasecmp(v, e->words[i])) {
            *out = i;
            return FXP_OK;
        }
    }
    fxp__config_join_words(e, ", ", list, sizeof list);
    fxp__config_errf(err, len, "'%s' must be one of %s, got '%s'", e->name,
                     list, fxp__config_shown(v, s));
    return FXP_EINVAL;
}

/* Refuse what would not read back from a file (config_int.h, note 1),
 * then the entry's own check. */
static int check_string(const struct fxp__config_entry *e, const char *v,
                        char *err, size_t len)
{
    size_t n = strlen(v);
    if (n >= e->size) {
        fxp__config_errf(err, len,
                         "'%s' is too long (%zu characters, at most %zu)",
                         e->name, n, e->size - 1);
        return FXP_ERANGE;
    }
    for (size_t i = 0; i < n; i++) {
        if (iscntrl((unsigned char)v[i])) {
            fxp__config_errf(
                err, len, "'%s' must not contain control characters", e->name);
            return FXP_EINVAL;
        }
        if (v[i] == ';' && i > 0 && v[i - 1] == ' ') {
            fxp__config_errf(
                err, len,
                "'%s' must not contain ' ;' (it starts a comment in a "
                "config file)",
                e->name);
            return FXP_EINVAL;
        }
    }
    return e->check ? e->check(e, v, err, len) : FXP_OK;
}

/* Parse v for entry e and store it into c; c is untouched on failure. */
int fxp__config_apply(struct fxp_config *c, const struct fxp__config_entry *e,
                      const char *v, char *err, size_t len)
{
    int rc;
    switch (e->type) {
    case FXP__CONFIG_STRING:
        rc = check_string(e, v, err, len);
        if (rc == FXP_OK)
            memcpy(field(c, e), v, strlen(v) + 1);
        return rc;
    case FXP__CONFIG_INT: {
        int64_t x;
        rc = parse_int(e, v, &x, err, len);
        if (rc == FXP_OK)
            memcpy(field(c, e), &x, sizeof x);
        return rc;
    }
    case FXP__CONFIG_DOUBLE: {
        double d;
        rc = parse_double(e, v, &d, err, len);
        if (rc == FXP_OK)
            memcpy(field(c, e), &d, sizeof d);
        return rc;
    }
    case FXP__CONFIG_BOOL: {
        bool b;
        rc = parse_bool(e, v, &b, err, len);
        if (rc == FXP_OK)
            memcpy(field(c, e), &b, sizeof b);
        return rc;
    }
    case FXP__CONFIG_ENUM: {
        int i;
        rc = parse_enum(e, v, &i, err, len);
        if (rc == FXP_OK)
            memcpy(field(c, e), &i, sizeof i);
        return rc;
    }
    }
    assert(!"unknown entry type");
    return FXP_EINVAL;
}

void fxp__config_set_origin(struct fxp_config *c,
                            const struct fxp__config_entry *e, int origin,
                            int line)
{
    size_t i = (size_t)(e - fxp__config_entries);
    c->origin[i] = (unsigned char)origin;
    c->origin_line[i] = line;
}

/* The value of e in c as text; the length, or -1 if it does not fit. */
int fxp__config_value_text(const struct fxp_config *c,
                           const struct fxp__config_entry *e, char *buf,
                           size_t len)
{
    const void *p = cfield(c, e);
    int n = -1;
    switch (e->type) {
    case FXP__CONFIG_STRING:
        /* The struct is public: do not trust a NUL to be there. */
        if (memchr(p, '\0', e->size))
            n = snprintf(buf, len, "%s", (const char *)p);
        break;
    case FXP__CONFIG_INT: {
        int64_t x;
        memcpy(&x, p, sizeof x);
        n = snprintf(buf, len, "%" PRId64, x);
        break;
    }
    case FXP__CONFIG_DOUBLE: {
        double d;
        char tmp[40];
        memcpy(&d, p, sizeof d);
        fxp__config_format_double(d, tmp, sizeof tmp);
        n = snprintf(buf, len, "%s", tmp);
        break;
    }
    case FXP__CONFIG_BOOL: {
        bool b;
        memcpy(&b, p, sizeof b);
        n = snprintf(buf, len, "%s", b ? "true" : "false");
        break;
    }
    case FXP__CONFIG_ENUM: {
        int i, n_words = 0;
        memcpy(&i, p, sizeof i);
        while (e->words[n_words])
            n_words++;
        if (i >= 0 && i < n_words)
            n = snprintf(buf, len, "%s", e->words[i]);
        break;
    }
    }
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* ------------------------------------------------------------------ */
/* Public: init, set, get                                             */

void fxp_config_init(struct fxp_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < FXP_CONFIG_N_ENTRIES; i++) {
        const struct fxp__config_entry *e = &fxp__config_entries[i];
        char err[256];
        assert(e->type != FXP__CONFIG_INT || e->size == sizeof(int64_t));
        assert(e->type != FXP__CONFIG_DOUBLE || e->size == sizeof(double));
        assert(e->type != FXP__CONFIG_BOOL || e->size == sizeof(bool));
        assert(e->type != FXP__CONFIG_ENUM || e->size == sizeof(int));
        assert(strlen(e->name) + sizeof "FXPIPE_" <= FXP__CONFIG_MAX_NAME);
        int rc = fxp__config_apply(c, e, e->def, err, sizeof err);
        assert(rc == FXP_OK && "a default fails its own validation");
        (void)rc;
        fxp__config_set_origin(c, e, FXP_CONFIG_FROM_DEFAULT, 0);
    }
}

int fxp_config_set(struct fxp_config *c, const char *name, const char *value,
                   int origin, char *errbuf, size_t errlen)
{
    assert(origin >= FXP_CONFIG_FROM_DEFAULT && origin <= FXP_CONFIG_FROM_FLAG);
    const struct fxp__config_entry *e = fxp__config_find(name);
    if (!e) {
        fxp__config_unknown_key(name, errbuf, errlen);
        return FXP_ENOENT;
    }
    int rc = fxp__config_apply(c, e, value, errbuf, errlen);
    if (rc == FXP_OK)
        fxp__config_set_origin(c, e, origin, 0);
    return rc;
}

const char *fxp_config_get(const struct fxp_config *c, const char *name,
                           char *buf, size_t len)
{
    const struct fxp__config_entry *e = fxp__config_find(name);
    if (!e || len == 0 || fxp__config_value_text(c, e, buf, len) < 0)
        return NULL;
    return buf;
}

int fxp_config_origin_of(const struct fxp_config *c, const char *name)
{
    const struct fxp__config_entry *e = fxp__config_find(name);
    return e ? c->origin[e - fxp__config_entries] : -1;
}
