/*
 * numparse.c - fxp_parse_double and fxp_parse_int64 (csv.h): exact,
 * locale-free number parsing for the readers, with no trailing text.
 *
 * Design notes
 *
 *  1. fxp_parse_double uses Clinger's fast path: a decimal mantissa
 *     m <= 2^53 and a power of ten 10^k with |k| <= 22 are both exact
 *     doubles, so one IEEE multiplication or division rounds m * 10^k
 *     correctly, exactly as strtod would. Anything else (more than 19
 *     significant digits, larger exponents) is handed to strtod on a
 *     bounded local copy after our own grammar check, so strtod never sees
 *     hex floats, "nan(...)" or trailing text. This needs FLT_EVAL_METHOD 0
 *     (SSE2 doubles) and the C locale's decimal point, which the library
 *     never changes.
 *  2. NaN and infinities parse as numbers: the readers parse, they do not
 *     validate (csv.c, note 3), and the validator rejects them with their
 *     own reasons.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/csv.h"
#include "fxpipe/err.h"

/* Longest number text handed to strtod (note 1); longer is EPARSE. */
#define SLOW_NUM_MAX 256

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

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

int fxp_parse_double(const char *s, size_t len, double *out)
{
    const char *p = s, *e = s + len;
    bool neg = false, any = false, many = false;
    uint64_t m = 0;
    int nd = 0;     /* significant digits in m */
    long exp10 = 0; /* value = m * 10^exp10 (when !many) */

    if (p < e && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (p == e)
        return FXP_EPARSE;
    if (!is_digit(*p) && *p != '.') {
        /* NaN and infinities are numbers here (note 2). */
        if (word_eq(p, (size_t)(e - p), "nan")) {
            *out = neg ? -NAN : NAN;
            return FXP_OK;
        }
        if (word_eq(p, (size_t)(e - p), "inf") ||
            word_eq(p, (size_t)(e - p), "infinity")) {
            *out = neg ? -INFINITY : INFINITY;
            return FXP_OK;
        }
        return FXP_EPARSE;
    }
    for (; p < e && is_digit(*p); p++) {
        any = true;
        if (nd < 19) {
            m = m * 10 + (uint64_t)(*p - '0');
            nd += m != 0; /* leading zeros are not significant */
        } else {
            many = true;
        }
    }
    if (p < e && *p == '.') {
        for (p++; p < e && is_digit(*p); p++) {
            any = true;
            if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd += m != 0;
                exp10--;
            } else {
                many = true;
            }
        }
    }
    if (!any)
        return FXP_EPARSE;
    if (p < e && (*p == 'e' || *p == 'E')) {
        bool eneg = false;
        long ev = 0;

        p++;
        if (p < e && (*p == '-' || *p == '+'))
            eneg = *p++ == '-';
        if (p == e || !is_digit(*p))
            return FXP_EPARSE;
        for (; p < e && is_digit(*p); p++)
            if (ev < 100000) /* saturate: far beyond any double */
                ev = ev * 10 + (*p - '0');
        exp10 += eneg ? -ev : ev;
    }
    if (p != e)
        return FXP_EPARSE;

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    if (!many && m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)m;
        d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
        *out = neg ? -d : d;
        return FXP_OK;
    }
#else
    (void)pow10_exact;
#endif
    if (m == 0 && !many) {
        *out = neg ? -0.0 : 0.0;
        return FXP_OK;
    }
    {
        char tmp[SLOW_NUM_MAX];
        char *end;
        double d;

        if (len >= sizeof tmp)
            return FXP_EPARSE;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        d = strtod(tmp, &end); /* ERANGE: +-HUGE_VAL or a denormal/0 */
        if (end != tmp + len)
            return FXP_EPARSE;
        *out = d;
    }
    return FXP_OK;
}

int fxp_parse_int64(const char *s, size_t len, int64_t *out)
{
    const char *p = s, *e = s + len;
    bool neg = false;
    uint64_t v = 0, limit;

    if (p < e && (*p == '-' || *p == '+'))
        neg = *p++ == '-';
    if (p == e)
        return FXP_EPARSE;
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; p < e; p++) {
        unsigned d;

        if (!is_digit(*p))
            return FXP_EPARSE;
        d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10)
            return FXP_EPARSE; /* overflow */
        v = v * 10 + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return FXP_OK;
}
