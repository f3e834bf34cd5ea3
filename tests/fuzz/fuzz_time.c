/*
 * fuzz_time.c - libFuzzer target for the text parsers of the hot path:
 * fxp_time_parse (time.h), fxp_parse_double and fxp_parse_int64 (csv.h).
 *
 * Checks, besides the sanitizers:
 *  - a parsed timestamp in years 0000..9999, printed with
 *    fxp_time_format_iso and parsed again, gives the same timestamp, and
 *    fxp_time_parse_str agrees with fxp_time_parse;
 *  - fxp_parse_double agrees bit for bit with strtod (C locale) on every
 *    text both accept, and accepts every plain decimal strtod consumes
 *    whole (strtod's extras - hex floats, "nan(...)", leading white space,
 *    over-long text - are ours to refuse);
 *  - fxp_parse_int64 agrees with strtoll in the same way.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/csv.h"
#include "fxpipe/err.h"
#include "fxpipe/time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Text the double parser is allowed to refuse although strtod takes it. */
static int strtod_extension(const char *s)
{
    if (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        return 1;
    return strpbrk(s, "xX(") != NULL;
}

static void check_time(const char *s, size_t len, const char *z)
{
    int64_t ts, ts2, ts3;
    char iso[64];
    size_t n;
    int rc = fxp_time_parse(s, len, &ts);

    CHECK(rc == FXP_OK || rc == FXP_EPARSE || rc == FXP_ERANGE);
    if (z != NULL) {
        int rc2 = fxp_time_parse_str(z, &ts2);
        CHECK(rc2 == rc && (rc != FXP_OK || ts2 == ts));
    }
    if (rc != FXP_OK)
        return;
    if (ts < fxp_days_from_civil(0, 1, 1) * FXP_MS_PER_DAY ||
        ts >= fxp_days_from_civil(10000, 1, 1) * FXP_MS_PER_DAY)
        return; /* "YYYY" cannot spell the year */
    n = fxp_time_format_iso(ts, iso, sizeof iso);
    CHECK(n > 0 && n < sizeof iso && strlen(iso) == n);
    rc = fxp_time_parse(iso, n, &ts3);
    if (rc != FXP_OK || ts3 != ts) {
        fprintf(stderr, "round trip: '%.*s' -> %lld -> '%s' -> rc %d %lld\n",
                (int)len, s, (long long)ts, iso, rc, (long long)ts3);
        abort();
    }
}

static void check_double(const char *s, size_t len, const char *z)
{
    double d = 0, want;
    char *end;
    int rc = fxp_parse_double(s, len, &d);

    CHECK(rc == FXP_OK || rc == FXP_EPARSE);
    if (z == NULL || len == 0)
        return;
    want = strtod(z, &end);
    if (rc == FXP_OK) {
        if (end != z + len) {
            fprintf(stderr, "accepted '%s', strtod stops at %zu\n", z,
                    (size_t)(end - z));
            abort();
        }
    } else if (end == z + len && len < 256 && !strtod_extension(z)) {
        fprintf(stderr, "refused '%s', strtod takes it\n", z);
        abort();
    } else {
        return;
    }
    if (isnan(want)) {
        CHECK(isnan(d));
    } else if (memcmp(&d, &want, sizeof d) != 0) {
        fprintf(stderr, "'%s': got %.17g, strtod %.17g\n", z, d, want);
        abort();
    }
}

static void check_int64(const char *s, size_t len, const char *z)
{
    int64_t v = 0;
    long long want;
    char *end;
    int rc = fxp_parse_int64(s, len, &v);

    CHECK(rc == FXP_OK || rc == FXP_EPARSE);
    if (z == NULL || len == 0)
        return;
    errno = 0;
    want = strtoll(z, &end, 10);
    if (rc == FXP_OK)
        CHECK(end == z + len && errno == 0 && want == v);
    else
        CHECK(end != z + len || errno == ERANGE || *z == ' ' ||
              (*z >= '\t' && *z <= '\r'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *z = NULL;

    /* A NUL-terminated copy for the libc oracles, when the bytes hold no
     * NUL of their own. */
    if (memchr(data, '\0', size) == NULL) {
        z = malloc(size + 1);
        CHECK(z != NULL);
        memcpy(z, data, size);
        z[size] = '\0';
    }
    check_time(s, size, z);
    check_double(s, size, z);
    check_int64(s, size, z);
    free(z);
    return 0;
}
