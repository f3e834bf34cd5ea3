/*
 * store_bus.c - a bus stream as a store (bus_store.h).
 *
 * Design notes
 *  1. A batch becomes one message per symbol (its bars in emission order,
 *     its kept ticks) and one of rejects; each payload is a self-contained
 *     batchcodec encoding with the symbol names. The message id is the
 *     symbol plus the payload's length and CRC-32C: the same content
 *     always has the same id, so publishing a batch again after a failed
 *     flush adds nothing on NATS (within its duplicate window); stores
 *     downstream keep the highest version of a bar anyway.
 *  2. The state file holds "key=value" lines: only the meta values the
 *     pipeline stores with its batches (its journal cursor).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <unistd.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/bus_store.h"
#include "fxpipe/err.h"
#include "fxpipe/symbol.h"
#include "store/store_int.h"

#define META_MAX 8

struct bstore {
    struct fxp_bus *bus;
    fxp_bus_stream stream;
    char path[512];
    char corr[128];
    uint64_t n_batches;
    char keys[META_MAX][64];
    char vals[META_MAX][384];
    size_t n_meta;
    /* per-symbol split buffers, reused */
    struct fxp_bar *bars;
    struct fxp_tick *ticks;
    uint64_t *pos;
    unsigned char *seen; /* symbols already sent, by id */
    size_t cap_bars, cap_ticks, cap_seen;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return FXP_OK;
    size_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return FXP_ENOMEM;
    *p = q;
    *cap = n;
    return FXP_OK;
}

static int save_state(struct fxp_store *s, struct bstore *b)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", b->path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        goto fail;
    for (size_t i = 0; i < b->n_meta; i++)
        fprintf(f, "%s=%s\n", b->keys[i], b->vals[i]);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        goto fail;
    }
    if (fclose(f) != 0 || rename(tmp, b->path) != 0)
        goto fail;
    return FXP_OK;
fail:
    snprintf(s->err, sizeof s->err, "cannot save state '%.300s': %s", b->path,
             strerror(errno));
    return errno == ENOSPC ? FXP_ENOSPC : FXP_EIO;
}

static int load_state(struct bstore *b, char *errbuf, size_t errlen)
{
    FILE *f = fopen(b->path, "r");
    char line[512];
    if (!f) {
        if (errno == ENOENT)
            return FXP_OK;
        snprintf(errbuf, errlen, "cannot read state '%.300s': %s", b->path,
                 strerror(errno));
        return FXP_EIO;
    }
    while (fgets(line, sizeof line, f) && b->n_meta < META_MAX) {
        char *eq = strchr(line, '=');
        line[strcspn(line, "\n")] = '\0';
        if (!eq)
            continue;
        *eq = '\0';
        snprintf(b->keys[b->n_meta], sizeof b->keys[0], "%.63s", line);
        snprintf(b->vals[b->n_meta], sizeof b->vals[0], "%.383s", eq + 1);
        b->n_meta++;
    }
    fclose(f);
    return FXP_OK;
}

static int publish(struct fxp_store *s, struct bstore *b, const char *key,
                   const struct fxp_store_batch *part)
{
    void *buf = NULL;
    size_t len = 0;
    char id[160], corr[192];
    int rc = fxp_batch_encode(part, &buf, &len);
    if (rc != FXP_OK) {
        snprintf(s->err, sizeof s->err, "cannot encode a batch for '%s': %s",
                 key, fxp_strerror(rc));
        return rc;
    }
    /* The payload ends with the CRC of what precedes it (a CRC over the
     * whole payload would be the same constant for every payload). */
    const unsigned char *c = (const unsigned char *)buf + len - 4;
    snprintf(id, sizeof id, "%s:%zu:%02x%02x%02x%02x", key, len, c[3], c[2],
             c[1], c[0]);
    snprintf(corr, sizeof corr, "%s:%llu", b->corr,
             (unsigned long long)b->n_batches);
    rc = fxp_bus_publish(b->bus, b->stream, key, buf, len, id, corr);
    free(buf);
    if (rc != FXP_OK)
        snprintf(s->err, sizeof s->err, "cannot publish to the bus: %s",
                 fxp_bus_errmsg(b->bus));
    return rc;
}

/* Publish the bars and ticks of symbol `sym` (note 1). */
static int publish_sym(struct fxp_store *s, struct bstore *b,
                       const struct fxp_store_batch *in, uint32_t sym)
{
    struct fxp_store_batch part = {.symtab = in->symtab};
    size_t nb = 0, nt = 0;
    for (size_t i = 0; i < in->n_bars; i++)
        if (in->bars[i].sym == sym)
            b->bars[nb++] = in->bars[i];
    for (size_t i = 0; s->opts.keep_ticks && i < in->n_ticks; i++)
        if (in->ticks[i].sym == sym) {
            if (in->tick_pos)
                b->pos[nt] = in->tick_pos[i];
            b->ticks[nt++] = in->ticks[i];
        }
    part.bars = b->bars;
    part.n_bars = nb;
    part.ticks = b->ticks;
    part.n_ticks = nt;
    part.tick_pos = in->tick_pos ? b->pos : NULL;
    const char *name = fxp_symtab_name(in->symtab, sym);
    return publish(s, b, name ? name : "_unknown", &part);
}

static int bus_write(struct fxp_store *s, const struct fxp_store_batch *in)
{
    struct bstore *b = s->impl;
    size_t nt = s->opts.keep_ticks ? in->n_ticks : 0;
    int rc = FXP_OK;

    s->err[0] = '\0';
    if (grow((void **)&b->bars, &b->cap_bars, in->n_bars, sizeof *b->bars) ||
        grow((void **)&b->ticks, &b->cap_ticks, nt, sizeof *b->ticks) ||
        (nt && !(b->pos = realloc(b->pos, b->cap_ticks * sizeof *b->pos))))
        return FXP_ENOMEM;
    b->n_batches++;
    /* Symbols in order of first appearance (bars, then ticks). */
    size_t n_ids = in->symtab ? fxp_symtab_count(in->symtab) : 0;
    if (grow((void **)&b->seen, &b->cap_seen, n_ids, 1))
        return FXP_ENOMEM;
    memset(b->seen, 0, n_ids);
    for (size_t k = 0; k < in->n_bars + nt && rc == FXP_OK; k++) {
        uint32_t sym =
            k < in->n_bars ? in->bars[k].sym : in->ticks[k - in->n_bars].sym;
        if (sym >= n_ids || b->seen[sym])
            continue;
        b->seen[sym] = 1;
        rc = publish_sym(s, b, in, sym);
    }
    if (rc == FXP_OK && in->n_rejects) {
        struct fxp_store_batch rej = {.rejects = in->rejects,
                                      .n_rejects = in->n_rejects};
        rc = publish(s, b, "_rejects", &rej);
    }
    if (rc == FXP_OK) {
        rc = fxp_bus_flush(b->bus, s->opts.statement_timeout_ms);
        if (rc != FXP_OK)
            snprintf(s->err, sizeof s->err, "the bus did not confirm: %s",
                     fxp_bus_errmsg(b->bus));
    }
    if (rc == FXP_OK && in->meta_key && in->meta_value) {
        size_t i = 0;
        while (i < b->n_meta && strcmp(b->keys[i], in->meta_key))
            i++;
        if (i == META_MAX)
            return FXP_ETOOLARGE;
        snprintf(b->keys[i], sizeof b->keys[0], "%.63s", in->meta_key);
        snprintf(b->vals[i], sizeof b->vals[0], "%.383s", in->meta_value);
        if (i == b->n_meta)
            b->n_meta++;
        rc = save_state(s, b);
    }
    return rc;
}

static int bus_meta_get(struct fxp_store *s, const char *key, char *val,
                        size_t len)
{
    struct bstore *b = s->impl;
    for (size_t i = 0; i < b->n_meta; i++)
        if (!strcmp(b->keys[i], key)) {
            snprintf(val, len, "%s", b->vals[i]);
            return FXP_OK;
        }
    return FXP_ENOENT;
}

static int bus_prune(struct fxp_store *s, uint64_t *n)
{
    (void)s;
    *n = 0; /* the bus's own retention (max age) applies */
    return FXP_OK;
}

static int unreadable(struct fxp_store *s)
{
    snprintf(s->err, sizeof s->err,
             "a bus stream cannot be read back as a store; read the stores "
             "the bridge writes");
    return FXP_EINVAL;
}

static int bus_scan(struct fxp_store *s, const char *symbol, fxp_tf tf,
                    int64_t from, int64_t to, fxp_store_bar_fn fn, void *ud)
{
    (void)symbol, (void)tf, (void)from, (void)to, (void)fn, (void)ud;
    return unreadable(s);
}

static int bus_series(struct fxp_store *s, fxp_store_series_fn fn, void *ud)
{
    (void)fn, (void)ud;
    return unreadable(s);
}

static int bus_counts(struct fxp_store *s, uint64_t *nt, uint64_t *nr)
{
    (void)nt, (void)nr;
    return unreadable(s);
}

static int bus_reasons(struct fxp_store *s, fxp_store_reason_fn fn, void *ud)
{
    (void)fn, (void)ud;
    return unreadable(s);
}

static int bus_coverage(struct fxp_store *s, const char *symbol, fxp_tf tf,
                        int64_t from, int64_t to, fxp_store_day_fn fn, void *ud)
{
    (void)symbol, (void)tf, (void)from, (void)to, (void)fn, (void)ud;
    return unreadable(s);
}

static int bus_present(struct fxp_store *s, const char *symbol, fxp_tf tf,
                       int64_t from, int64_t to, fxp_store_ts_fn fn, void *ud)
{
    (void)symbol, (void)tf, (void)from, (void)to, (void)fn, (void)ud;
    return unreadable(s);
}

static int bus_ledger_put(struct fxp_store *s, const struct fxp_ledger_entry *e,
                          size_t n)
{
    (void)e, (void)n;
    return unreadable(s);
}

static int bus_ledger_scan(struct fxp_store *s, const char *symbol, fxp_tf tf,
                           int64_t from, int64_t to, fxp_store_ledger_fn fn,
                           void *ud)
{
    (void)symbol, (void)tf, (void)from, (void)to, (void)fn, (void)ud;
    return unreadable(s);
}

static void bus_close(void *impl)
{
    struct bstore *b = impl;
    free(b->bars);
    free(b->ticks);
    free(b->pos);
    free(b->seen);
    free(b);
}

static const struct fxp_store_ops bus_store_ops = {
    .name = "bus",
    .write = bus_write,
    .prune_ticks = bus_prune,
    .meta_get = bus_meta_get,
    .scan_bars = bus_scan,
    .series = bus_series,
    .counts = bus_counts,
    .reject_summary = bus_reasons,
    .coverage = bus_coverage,
    .present = bus_present,
    .ledger_put = bus_ledger_put,
    .ledger_scan = bus_ledger_scan,
    .close = bus_close,
};

int fxp_store_open_bus(struct fxp_bus *bus, fxp_bus_stream st,
                       const char *state_path, const char *corr_prefix,
                       const struct fxp_store_opts *opts,
                       struct fxp_store **out, char *errbuf, size_t errlen)
{
    struct fxp_store *s = calloc(1, sizeof *s);
    struct bstore *b = calloc(1, sizeof *b);
    int rc;

    *out = NULL;
    if (!s || !b) {
        free(s);
        free(b);
        snprintf(errbuf, errlen, "cannot open the bus store: out of memory");
        return FXP_ENOMEM;
    }
    b->bus = bus;
    b->stream = st;
    snprintf(b->path, sizeof b->path, "%s", state_path);
    snprintf(b->corr, sizeof b->corr, "%s", corr_prefix ? corr_prefix : "");
    rc = load_state(b, errbuf, errlen);
    if (rc != FXP_OK) {
        free(s);
        free(b);
        return rc;
    }
    if (opts)
        s->opts = *opts;
    else
        fxp_store_opts_default(&s->opts);
    s->ops = &bus_store_ops;
    s->impl = b;
    *out = s;
    return FXP_OK;
}
