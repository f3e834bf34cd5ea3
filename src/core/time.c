/*
 * time.c - civil-date arithmetic and ISO-8601 / Unix-ms text for int64
 * millisecond timestamps. The day arithmetic is Howard Hinnant's
 * days_from_civil / civil_from_days, valid for every proleptic Gregorian
 * year representable here.
 */
#include "fxpipe/time.h"

#include <stdbool.h>
#include <stdio.h>

#include "fxpipe/err.h"

int64_t fxp_days_from_civil(int year, int month, int day)
{
    int64_t y = (int64_t)year - (month <= 2);
    int64_t era = fxp_floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t mp = (month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t fxp_time_from_civil(const struct fxp_civil *c)
{
    int64_t days = fxp_days_from_civil(c->year, c->month, c->day);
    return days * FXP_MS_PER_DAY + (int64_t)c->hour * FXP_MS_PER_HOUR +
           (int64_t)c->min * FXP_MS_PER_MIN + (int64_t)c->sec * FXP_MS_PER_SEC +
           c->ms;
}

void fxp_time_to_civil(int64_t ts_ms, struct fxp_civil *out)
{
    int64_t days = fxp_floor_div(ts_ms, FXP_MS_PER_DAY);
    int64_t rem = ts_ms - days * FXP_MS_PER_DAY;
    int64_t z = days + 719468;
    int64_t era = fxp_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    out->year = (int)(yoe + era * 400 + (m <= 2));
    out->month = (int)m;
    out->day = (int)d;
    out->hour = (int)(rem / FXP_MS_PER_HOUR);
    out->min = (int)(rem / FXP_MS_PER_MIN % 60);
    out->sec = (int)(rem / FXP_MS_PER_SEC % 60);
    out->ms = (int)(rem % 1000);
    /* 1970-01-01 was a Thursday (4). */
    out->wday = (int)(((days % 7) + 11) % 7);
}

/* Read exactly n digits at s[*i]; -1 when a non-digit is found. */
static int digits(const char *s, size_t len, size_t *i, int n)
{
    int v = 0;
    for (int k = 0; k < n; k++, (*i)++) {
        if (*i >= len || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (s[*i] - '0');
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

static int parse_unix_ms(const char *s, size_t len, int64_t *ts_ms)
{
    size_t i = 0;
    bool neg = false;
    if (len && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == len || len - i > 18)
        return FXP_EPARSE;
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return FXP_EPARSE;
        v = v * 10 + (s[i] - '0');
    }
    *ts_ms = neg ? -v : v;
    return FXP_OK;
}

/* Parse "Z", "+HH:MM", "+HHMM", "+HH" at s[i..len); seconds east in *off. */
static int parse_offset(const char *s, size_t len, size_t i, int *off_s)
{
    *off_s = 0;
    if (i == len)
        return FXP_OK;
    if (s[i] == 'Z' || s[i] == 'z')
        return i + 1 == len ? FXP_OK : FXP_EPARSE;
    if (s[i] != '+' && s[i] != '-')
        return FXP_EPARSE;
    int sign = s[i] == '-' ? -1 : 1;
    i++;
    int hh = digits(s, len, &i, 2), mm = 0;
    if (hh < 0)
        return FXP_EPARSE;
    if (i < len && s[i] == ':')
        i++;
    if (i < len && (mm = digits(s, len, &i, 2)) < 0)
        return FXP_EPARSE;
    if (i != len)
        return FXP_EPARSE;
    if (hh > 23 || mm > 59)
        return FXP_ERANGE;
    *off_s = sign * (hh * 3600 + mm * 60);
    return FXP_OK;
}

int fxp_time_parse(const char *s, size_t len, int64_t *ts_ms)
{
    if (len < 10 || s[4] != '-')
        return parse_unix_ms(s, len, ts_ms);
    struct fxp_civil c = {0};
    size_t i = 0;
    if ((c.year = digits(s, len, &i, 4)) < 0 || s[i++] != '-' ||
        (c.month = digits(s, len, &i, 2)) < 0 || i >= len || s[i++] != '-' ||
        (c.day = digits(s, len, &i, 2)) < 0)
        return FXP_EPARSE;
    if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        if ((c.hour = digits(s, len, &i, 2)) < 0 || i >= len || s[i++] != ':' ||
            (c.min = digits(s, len, &i, 2)) < 0)
            return FXP_EPARSE;
        if (i < len && s[i] == ':') {
            i++;
            if ((c.sec = digits(s, len, &i, 2)) < 0)
                return FXP_EPARSE;
            if (i < len && (s[i] == '.' || s[i] == ',')) {
                i++;
                size_t start = i;
                int scale = 100;
                while (i < len && s[i] >= '0' && s[i] <= '9') {
                    c.ms += (s[i] - '0') * scale; /* truncate past ms */
                    scale /= 10;
                    i++;
                }
                if (i == start)
                    return FXP_EPARSE;
            }
        }
    }
    int off_s;
    int rc = parse_offset(s, len, i, &off_s);
    if (rc)
        return rc;
    if (c.month < 1 || c.month > 12 || c.day < 1 ||
        c.day > days_in_month(c.year, c.month) || c.hour > 23 || c.min > 59 ||
        c.sec > 60)
        return FXP_ERANGE;
    *ts_ms = fxp_time_from_civil(&c) - (int64_t)off_s * 1000;
    return FXP_OK;
}

int fxp_time_parse_str(const char *s, int64_t *ts_ms)
{
    size_t len = 0;
    while (s[len])
        len++;
    return fxp_time_parse(s, len, ts_ms);
}

size_t fxp_time_format_iso(int64_t ts_ms, char *buf, size_t len)
{
    struct fxp_civil c;
    fxp_time_to_civil(ts_ms, &c);
    int n;
    if (c.ms)
        n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year,
                     c.month, c.day, c.hour, c.min, c.sec, c.ms);
    else
        n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year,
                     c.month, c.day, c.hour, c.min, c.sec);
    if (n < 0)
        return 0;
    return (size_t)n < len ? (size_t)n : (len ? len - 1 : 0);
}
