/*
 * tz.c - a reader for RFC 8536 TZif files (tzdata) and their POSIX TZ
 * footer rule.
 *
 * Design notes:
 * 1. Only the 64-bit (version 2+) data block is used; a version-1 file is
 *    read through its 32-bit block.
 * 2. The struct is immutable after fxp_tz_load, so lookups need no lock.
 * 3. offset(t) = the type of the last transition <= t; before the first
 *    transition, the first standard-time type; after the last transition,
 *    the footer rule when the file has one (RFC 8536 section 3.3).
 * 4. Leap-second records are skipped: fxpipe's timestamps are POSIX time.
 */
#include "fxpipe/tz.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/time.h"

#define TZ_MAX_FILE  (1 << 20)
#define TZ_MAX_TYPES 256

/* One end of a DST period in a POSIX rule. */
struct rule_date {
    char kind;      /* 'J' (1..365, no Feb 29), 'N' (0..365), 'M' */
    int day;        /* J/N day, or M's weekday d (0 = Sunday) */
    int month;      /* M: 1..12 */
    int week;       /* M: 1..5 (5 = last) */
    int32_t time_s; /* local time of the change, may be < 0 or > 24h */
};

struct posix_rule {
    bool valid;
    bool has_dst;
    int32_t std_off; /* seconds east */
    int32_t dst_off;
    struct rule_date start, end;
};

struct fxp_tz {
    char name[128];
    size_t n_trans;
    int64_t *trans_s; /* transition instants, Unix seconds, ascending */
    uint8_t *trans_type;
    size_t n_types;
    int32_t type_off[TZ_MAX_TYPES];
    uint8_t type_dst[TZ_MAX_TYPES];
    int32_t initial_off; /* before the first transition */
    struct posix_rule rule;
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* ---- POSIX TZ strings ("EST5EDT,M3.2.0,M11.1.0") ---- */

static const char *skip_name(const char *p)
{
    if (*p == '<') {
        while (*p && *p != '>')
            p++;
        return *p == '>' ? p + 1 : NULL;
    }
    const char *s = p;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] -> seconds; hours up to 167 (RFC 8536 extension). */
static const char *parse_hms(const char *p, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    int32_t v[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        if (*p < '0' || *p > '9')
            return k == 0 ? NULL : p;
        int32_t n = 0;
        while (*p >= '0' && *p <= '9' && n < 1000)
            n = n * 10 + (*p++ - '0');
        v[k] = n;
        if (k < 2 && *p != ':')
            break;
        if (k < 2)
            p++;
    }
    if (v[0] > 167 || v[1] > 59 || v[2] > 59)
        return NULL;
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    return p;
}

static const char *parse_int(const char *p, int *out)
{
    if (*p < '0' || *p > '9')
        return NULL;
    int n = 0;
    while (*p >= '0' && *p <= '9' && n < 10000)
        n = n * 10 + (*p++ - '0');
    *out = n;
    return p;
}

static const char *parse_rule_date(const char *p, struct rule_date *d)
{
    d->time_s = 2 * 3600;
    if (*p == 'M') {
        d->kind = 'M';
        if (!(p = parse_int(p + 1, &d->month)) || *p++ != '.' ||
            !(p = parse_int(p, &d->week)) || *p++ != '.' ||
            !(p = parse_int(p, &d->day)))
            return NULL;
        if (d->month < 1 || d->month > 12 || d->week < 1 || d->week > 5 ||
            d->day > 6)
            return NULL;
    } else if (*p == 'J') {
        d->kind = 'J';
        if (!(p = parse_int(p + 1, &d->day)) || d->day < 1 || d->day > 365)
            return NULL;
    } else {
        d->kind = 'N';
        if (!(p = parse_int(p, &d->day)) || d->day > 365)
            return NULL;
    }
    if (*p == '/' && !(p = parse_hms(p + 1, &d->time_s)))
        return NULL;
    return p;
}

static bool parse_posix(const char *p, struct posix_rule *r)
{
    int32_t v;
    memset(r, 0, sizeof *r);
    if (!(p = skip_name(p)) || !(p = parse_hms(p, &v)))
        return false;
    r->std_off = -v; /* POSIX offsets are west-positive */
    if (*p == '\0') {
        r->valid = true;
        return true;
    }
    if (!(p = skip_name(p)))
        return false;
    r->dst_off = r->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if (!(p = parse_hms(p, &v)))
            return false;
        r->dst_off = -v;
    }
    if (*p != ',')
        return false; /* DST without a rule: not in modern tzdata */
    if (!(p = parse_rule_date(p + 1, &r->start)) || *p++ != ',' ||
        !(p = parse_rule_date(p, &r->end)) || *p != '\0')
        return false;
    r->has_dst = true;
    r->valid = true;
    return true;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local seconds since the epoch at which rule date d happens in year y. */
static int64_t rule_local_s(const struct rule_date *d, int y)
{
    int64_t day;
    if (d->kind == 'J') {
        day = fxp_days_from_civil(y, 1, 1) + d->day - 1;
        if (is_leap(y) && d->day >= 60)
            day++;
    } else if (d->kind == 'N') {
        day = fxp_days_from_civil(y, 1, 1) + d->day;
    } else {
        int64_t first = fxp_days_from_civil(y, d->month, 1);
        int wd = (int)(((first % 7) + 11) % 7); /* 0 = Sunday */
        int64_t dd = first + (d->day - wd + 7) % 7 + (d->week - 1) * 7;
        int mdays =
            (int)(fxp_days_from_civil(d->month == 12 ? y + 1 : y,
                                      d->month == 12 ? 1 : d->month + 1, 1) -
                  first);
        while (dd - first >= mdays)
            dd -= 7;
        day = dd;
    }
    return day * 86400 + d->time_s;
}

static int32_t rule_offset(const struct posix_rule *r, int64_t t_s)
{
    if (!r->has_dst)
        return r->std_off;
    struct fxp_civil c;
    fxp_time_to_civil((t_s + r->std_off) * 1000, &c);
    /* Check the neighbouring years too: a change near New Year can make
     * the local year differ from the one whose rule applies. */
    for (int y = c.year + 1; y >= c.year - 1; y--) {
        int64_t s = rule_local_s(&r->start, y) - r->std_off;
        int64_t e = rule_local_s(&r->end, y) - r->dst_off;
        if (s < e) { /* northern hemisphere */
            if (t_s >= e)
                return r->std_off;
            if (t_s >= s)
                return r->dst_off;
        } else { /* southern: DST spans New Year */
            if (t_s >= s)
                return r->dst_off;
            if (t_s >= e)
                return r->std_off;
        }
    }
    return r->std_off;
}

/* ---- TZif files ---- */

/* Record "<what> '<path>'[: <why>]" in errbuf and return rc. */
static int fail(char *errbuf, size_t errlen, int rc, const char *what,
                const char *path, const char *why)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s '%s'%s%s", what, path, why ? ": " : "",
                 why ? why : "");
    return rc;
}

static int parse_tzif(struct fxp_tz *tz, const unsigned char *buf, size_t n)
{
    if (n < 44 || memcmp(buf, "TZif", 4) != 0)
        return FXP_EPARSE;
    int version = buf[4] ? buf[4] - '0' : 1;
    const unsigned char *h = buf;
    size_t tsize = 4;
    uint32_t c[6];
    for (int k = 0; k < 6; k++)
        c[k] = be32(h + 20 + 4 * k);
    size_t v1len = (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] +
                   (size_t)c[2] * 8 + c[1] + c[0];
    if (version >= 2) {
        if (44 + v1len + 44 > n)
            return FXP_EPARSE;
        h = buf + 44 + v1len;
        if (memcmp(h, "TZif", 4) != 0)
            return FXP_EPARSE;
        for (int k = 0; k < 6; k++)
            c[k] = be32(h + 20 + 4 * k);
        tsize = 8;
    }
    uint32_t isutcnt = c[0], isstdcnt = c[1], leapcnt = c[2], timecnt = c[3],
             typecnt = c[4], charcnt = c[5];
    if (typecnt == 0 || typecnt > TZ_MAX_TYPES)
        return FXP_EPARSE;
    const unsigned char *p = h + 44;
    size_t need = (size_t)timecnt * (tsize + 1) + (size_t)typecnt * 6 +
                  charcnt + (size_t)leapcnt * (tsize + 4) + isstdcnt + isutcnt;
    if ((size_t)(p - buf) + need > n)
        return FXP_EPARSE;
    tz->n_trans = timecnt;
    tz->trans_s = malloc((timecnt ? timecnt : 1) * sizeof(int64_t));
    tz->trans_type = malloc(timecnt ? timecnt : 1);
    if (!tz->trans_s || !tz->trans_type)
        return FXP_ENOMEM;
    for (uint32_t i = 0; i < timecnt; i++) {
        tz->trans_s[i] =
            tsize == 8 ? be64(p + 8 * i) : (int64_t)(int32_t)be32(p + 4 * i);
        if (i && tz->trans_s[i] <= tz->trans_s[i - 1])
            return FXP_EPARSE;
    }
    p += (size_t)timecnt * tsize;
    for (uint32_t i = 0; i < timecnt; i++) {
        if (p[i] >= typecnt)
            return FXP_EPARSE;
        tz->trans_type[i] = p[i];
    }
    p += timecnt;
    tz->n_types = typecnt;
    for (uint32_t i = 0; i < typecnt; i++) {
        tz->type_off[i] = (int32_t)be32(p + 6 * i);
        tz->type_dst[i] = p[6 * i + 4];
    }
    p += (size_t)typecnt * 6;
    tz->initial_off = tz->type_off[0];
    for (uint32_t i = 0; i < typecnt; i++)
        if (!tz->type_dst[i]) {
            tz->initial_off = tz->type_off[i];
            break;
        }
    p += charcnt + (size_t)leapcnt * (tsize + 4) + isstdcnt + isutcnt;
    /* Footer: "\n<POSIX TZ>\n" (version 2+). */
    if (version >= 2 && p < buf + n && *p == '\n') {
        const unsigned char *q = p + 1;
        while (q < buf + n && *q != '\n')
            q++;
        if (q < buf + n && q - p - 1 > 0 && q - p - 1 < 128) {
            char footer[128];
            memcpy(footer, p + 1, (size_t)(q - p - 1));
            footer[q - p - 1] = '\0';
            if (!parse_posix(footer, &tz->rule))
                return FXP_EPARSE;
        }
    }
    return FXP_OK;
}

int fxp_tz_load(const char *name, struct fxp_tz **out, char *errbuf,
                size_t errlen)
{
    *out = NULL;
    if (!name || !*name || strstr(name, "..") || strlen(name) >= 128)
        return fail(errbuf, errlen, FXP_EINVAL, "invalid time zone name",
                    name ? name : "", NULL);
    char path[512];
    if (name[0] == '/') {
        snprintf(path, sizeof path, "%s", name);
    } else {
        const char *dir = getenv("TZDIR");
        snprintf(path, sizeof path, "%s/%s",
                 dir && *dir ? dir : "/usr/share/zoneinfo", name);
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(errbuf, errlen, errno == ENOENT ? FXP_ENOENT : FXP_EIO,
                    "cannot open time zone file", path, strerror(errno));
    unsigned char *buf = malloc(TZ_MAX_FILE);
    struct fxp_tz *tz = calloc(1, sizeof *tz);
    int rc = FXP_ENOMEM;
    if (!buf || !tz)
        goto fail;
    size_t n = fread(buf, 1, TZ_MAX_FILE, f);
    if (ferror(f)) {
        rc = fail(errbuf, errlen, FXP_EIO, "cannot read time zone file", path,
                  strerror(errno));
        goto fail;
    }
    snprintf(tz->name, sizeof tz->name, "%s", name);
    rc = parse_tzif(tz, buf, n);
    if (rc == FXP_EPARSE)
        fail(errbuf, errlen, rc, "not a valid TZif time zone file", path, NULL);
    if (rc)
        goto fail;
    fclose(f);
    free(buf);
    *out = tz;
    return FXP_OK;
fail:
    fclose(f);
    free(buf);
    fxp_tz_free(tz);
    return rc;
}

void fxp_tz_free(struct fxp_tz *tz)
{
    if (!tz)
        return;
    free(tz->trans_s);
    free(tz->trans_type);
    free(tz);
}

const char *fxp_tz_name(const struct fxp_tz *tz)
{
    return tz->name;
}

int32_t fxp_tz_offset_s(const struct fxp_tz *tz, int64_t utc_ms)
{
    int64_t t = fxp_floor_div(utc_ms, 1000);
    size_t n = tz->n_trans;
    if (n == 0 || t < tz->trans_s[0])
        return n == 0 && tz->rule.valid ? rule_offset(&tz->rule, t)
                                        : tz->initial_off;
    if (t >= tz->trans_s[n - 1] && tz->rule.valid)
        return rule_offset(&tz->rule, t);
    size_t lo = 0, hi = n; /* last index with trans_s <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans_s[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->type_off[tz->trans_type[lo]];
}

int64_t fxp_tz_local_to_utc(const struct fxp_tz *tz, int64_t local_ms)
{
    /* The offsets a day either side bracket any single transition. */
    int32_t before = fxp_tz_offset_s(tz, local_ms - FXP_MS_PER_DAY);
    int32_t after = fxp_tz_offset_s(tz, local_ms + FXP_MS_PER_DAY);
    int64_t ub = local_ms - (int64_t)before * 1000;
    int64_t ua = local_ms - (int64_t)after * 1000;
    bool ok_b = fxp_tz_offset_s(tz, ub) == before;
    bool ok_a = fxp_tz_offset_s(tz, ua) == after;
    if (ok_b && ok_a)
        return ub < ua ? ub : ua; /* repeated wall time: earlier instant */
    if (ok_a)
        return ua;
    return ub; /* valid, or skipped: use the offset before the jump */
}
