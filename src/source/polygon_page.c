/*
 * polygon_page.c - one Polygon aggregates response into bars (see
 * polygon_int.h). The response is external data: every field is checked,
 * a bad one fails the page with FXP_EPARSE naming the field and the page
 * URL (without its query, so without the key).
 *
 * Bars leave here in [from, to), strictly ascending and after the last bar
 * already delivered: a page out of order is sorted, and of two bars with
 * the same time the first is kept (Polygon has been seen to repeat bars).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fxpipe/err.h"
#include "source/polygon_int.h"

void fxp__polygon_server_message(const char *body, size_t len, char *out,
                                 size_t outlen)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *m = NULL;
    size_t i, j = 0;

    if (outlen == 0)
        return;
    if (root != NULL) {
        m = json_string_value(json_object_get(root, "error"));
        if (m == NULL)
            m = json_string_value(json_object_get(root, "message"));
    }
    if (m != NULL && outlen > 3) {
        out[j++] = ':';
        out[j++] = ' ';
        for (i = 0; m[i] != '\0' && j + 1 < outlen && i < 200; i++)
            out[j++] = (m[i] >= 0x20 && m[i] < 0x7f) ? m[i] : '?';
    }
    out[j] = '\0';
    json_decref(root);
}

/* Result i's number field `name` into *out; false with a message when it
 * is missing (and required) or not a finite number. */
static int num_field(const json_t *r, size_t i, const char *name, int required,
                     double *out, const char *shown, char *errbuf,
                     size_t errlen)
{
    json_t *v = json_object_get(r, name);

    if (v == NULL && !required)
        return 1;
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        snprintf(errbuf, errlen, "polygon result %zu has %s field '%s' in '%s'",
                 i, v == NULL ? "no" : "a non-numeric", name, shown);
        return 0;
    }
    *out = json_number_value(v);
    return 1;
}

static int cmp_bar(const void *a, const void *b)
{
    int64_t x = ((const struct fxp_bar *)a)->ts_ms;
    int64_t y = ((const struct fxp_bar *)b)->ts_ms;
    return (x > y) - (x < y);
}

/* Result r (number i) into *b; false with a message when a field is bad. */
static int parse_bar(const json_t *r, size_t i, fxp_tf tf, struct fxp_bar *b,
                     const char *shown, char *errbuf, size_t errlen)
{
    static const char *const names[6] = {"o", "h", "l", "c", "v", "n"};
    double t, f[6] = {0, 0, 0, 0, -1, -1};
    int j;

    if (!json_is_object(r)) {
        snprintf(errbuf, errlen, "polygon result %zu is not an object in '%s'",
                 i, shown);
        return 0;
    }
    if (!num_field(r, i, "t", 1, &t, shown, errbuf, errlen))
        return 0;
    if (t != floor(t) || fabs(t) > 9e15) {
        snprintf(errbuf, errlen,
                 "polygon result %zu has a bad field 't' in '%s'", i, shown);
        return 0;
    }
    for (j = 0; j < 6; j++)
        if (!num_field(r, i, names[j], j < 4, &f[j], shown, errbuf, errlen))
            return 0;
    memset(b, 0, sizeof *b);
    b->ts_ms = (int64_t)t;
    b->open = f[0];
    b->high = f[1];
    b->low = f[2];
    b->close = f[3];
    /* `n` is the quote count (1 when absent); for FX `v` equals it, and
     * without `v` the volume is the count (types.h), 0 when neither. */
    if (f[5] >= 1)
        b->n_ticks = f[5] < 4294967295.0 ? (uint32_t)f[5] : UINT32_MAX;
    else
        b->n_ticks = 1;
    b->volume = f[4] >= 0 ? f[4] : (f[5] >= 0 ? f[5] : 0);
    b->tf = (uint8_t)tf;
    b->source = FXP_SRC_HISTORICAL;
    return 1;
}

int fxp__polygon_parse_page(const char *body, size_t len, const char *shown,
                            fxp_tf tf, int64_t from, int64_t to, int64_t last,
                            struct fxp__poly_bars *bars, size_t *n, char **next,
                            char *errbuf, size_t errlen)
{
    json_error_t jerr;
    json_t *root, *res, *r, *nu;
    const char *status;
    size_t i, k = 0, want;
    int sorted = 1, rc = FXP_EPARSE;

    *n = 0;
    *next = NULL;
    root = json_loadb(body, len, 0, &jerr);
    if (root == NULL || !json_is_object(root)) {
        snprintf(errbuf, errlen,
                 "polygon response from '%s' is not a JSON object%s%s", shown,
                 root ? "" : ": ", root ? "" : jerr.text);
        goto fail;
    }
    status = json_string_value(json_object_get(root, "status"));
    if (status == NULL || (strcmp(status, "OK") && strcmp(status, "DELAYED"))) {
        snprintf(errbuf, errlen,
                 "polygon response from '%s' has status '%.40s'", shown,
                 status ? status : "(none)");
        goto fail;
    }
    nu = json_object_get(root, "next_url");
    if (nu != NULL && !json_is_null(nu) && !json_is_string(nu)) {
        snprintf(errbuf, errlen,
                 "polygon response from '%s' has a non-string 'next_url'",
                 shown);
        goto fail;
    }
    res = json_object_get(root, "results");
    if (res != NULL && !json_is_null(res) && !json_is_array(res)) {
        snprintf(errbuf, errlen,
                 "polygon response from '%s' has a non-array 'results'", shown);
        goto fail;
    }
    want = json_array_size(res);
    if (want > bars->cap) {
        struct fxp_bar *nb = realloc(bars->v, want * sizeof *nb);
        if (nb == NULL)
            goto nomem;
        bars->v = nb;
        bars->cap = want;
    }
    json_array_foreach(res, i, r)
    {
        struct fxp_bar *b = &bars->v[k];
        if (!parse_bar(r, i, tf, b, shown, errbuf, errlen))
            goto fail;
        if (b->ts_ms < from || b->ts_ms >= to)
            continue;
        if (k > 0 && b->ts_ms < bars->v[k - 1].ts_ms)
            sorted = 0;
        k++;
    }
    if (!sorted)
        qsort(bars->v, k, sizeof *bars->v, cmp_bar);
    for (i = 0; i < k; i++) {
        int64_t ts = bars->v[i].ts_ms;
        if (ts <= last || (*n > 0 && ts == bars->v[*n - 1].ts_ms))
            continue;
        bars->v[(*n)++] = bars->v[i];
    }
    if (json_is_string(nu) && (*next = strdup(json_string_value(nu))) == NULL)
        goto nomem;
    json_decref(root);
    return FXP_OK;
nomem:
    snprintf(errbuf, errlen, "out of memory parsing '%s'", shown);
    rc = FXP_ENOMEM;
fail:
    *n = 0;
    json_decref(root);
    return rc;
}
