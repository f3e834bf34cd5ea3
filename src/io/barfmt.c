/* barfmt.c - CSV/JSONL rows for bars with shortest round-trip prices. */
#include "fxpipe/barfmt.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/timeframe.h"

size_t fxp_fmt_double(double v, char *buf, size_t len)
{
    int n = 0;
    if (!isfinite(v))
        return (size_t)snprintf(buf, len, "%s", isnan(v) ? "nan" : "inf");
    /* Most prices have 5-6 significant digits: try short precisions
     * first, each verified by reading the text back. */
    for (int prec = 6; prec <= 17; prec++) {
        n = snprintf(buf, len, "%.*g", prec, v);
        if (n > 0 && (size_t)n < len && strtod(buf, NULL) == v)
            break;
    }
    return n > 0 ? (size_t)n : 0;
}

size_t fxp_bar_format_csv(const struct fxp_bar *b, const char *symbol,
                          char *buf, size_t len)
{
    char o[32], h[32], l[32], c[32], v[32];
    fxp_fmt_double(b->open, o, sizeof o);
    fxp_fmt_double(b->high, h, sizeof h);
    fxp_fmt_double(b->low, l, sizeof l);
    fxp_fmt_double(b->close, c, sizeof c);
    fxp_fmt_double(b->volume, v, sizeof v);
    int n =
        snprintf(buf, len, "%s,%s,%" PRId64 ",%s,%s,%s,%s,%s,%u,%" PRId64 "\n",
                 symbol, fxp_tf_name((fxp_tf)b->tf), b->ts_ms, o, h, l, c, v,
                 b->n_ticks, b->version);
    return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

size_t fxp_bar_format_jsonl(const struct fxp_bar *b, const char *symbol,
                            char *buf, size_t len)
{
    char o[32], h[32], l[32], c[32], v[32];
    fxp_fmt_double(b->open, o, sizeof o);
    fxp_fmt_double(b->high, h, sizeof h);
    fxp_fmt_double(b->low, l, sizeof l);
    fxp_fmt_double(b->close, c, sizeof c);
    fxp_fmt_double(b->volume, v, sizeof v);
    int n = snprintf(buf, len,
                     "{\"symbol\":\"%s\",\"timeframe\":\"%s\",\"ts\":%" PRId64
                     ",\"open\":%s,\"high\":%s,\"low\":%s,\"close\":%s,"
                     "\"volume\":%s,\"ticks\":%u,\"version\":%" PRId64 "}\n",
                     symbol, fxp_tf_name((fxp_tf)b->tf), b->ts_ms, o, h, l, c,
                     v, b->n_ticks, b->version);
    return n > 0 && (size_t)n < len ? (size_t)n : 0;
}
