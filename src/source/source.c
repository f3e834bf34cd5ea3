/* source.c - the source handle: dispatch to a backend's ops (source_int.h)
 * and the names of formats and kinds. */
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "source/source_int.h"

struct fxp_source {
    const struct fxp_source_ops *ops;
    void *impl;
    uint64_t skip_through; /* records with pos <= this are dropped */
    char desc[256];
};

static const char *const format_names[] = {"auto", "generic", "histdata",
                                           "dukascopy"};

const char *fxp_format_name(fxp_format f)
{
    return (unsigned)f < 4 ? format_names[f] : "?";
}

int fxp_format_parse(const char *s, fxp_format *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, format_names[i])) {
            *out = (fxp_format)i;
            return FXP_OK;
        }
    return FXP_EINVAL;
}

const char *fxp_kind_name(fxp_kind k)
{
    return k == FXP_KIND_BARS ? "bars" : "ticks";
}

int fxp_kind_parse(const char *s, fxp_kind *out)
{
    if (!strcmp(s, "ticks"))
        *out = FXP_KIND_TICKS;
    else if (!strcmp(s, "bars"))
        *out = FXP_KIND_BARS;
    else
        return FXP_EINVAL;
    return FXP_OK;
}

void fxp_source_opts_default(struct fxp_source_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = FXP_FMT_AUTO;
    o->kind = -1;
}

struct fxp_source *fxp__source_new(const struct fxp_source_ops *ops, void *impl,
                                   const char *desc)
{
    struct fxp_source *s = calloc(1, sizeof *s);
    if (!s) {
        ops->close(impl);
        return NULL;
    }
    s->ops = ops;
    s->impl = impl;
    size_t n = strlen(desc);
    if (n >= sizeof s->desc)
        n = sizeof s->desc - 1;
    memcpy(s->desc, desc, n);
    s->desc[n] = '\0';
    return s;
}

const struct fxp_source_ops *fxp__source_ops(const struct fxp_source *s)
{
    return s->ops;
}

void *fxp__source_impl(const struct fxp_source *s)
{
    return s->impl;
}

fxp_kind fxp_source_kind(const struct fxp_source *s)
{
    return s->ops->read_bars ? FXP_KIND_BARS : FXP_KIND_TICKS;
}

const char *fxp_source_describe(const struct fxp_source *s)
{
    return s->desc;
}

void fxp_source_skip_through(struct fxp_source *s, uint64_t pos)
{
    if (s->ops->skip)
        s->ops->skip(s->impl, pos);
    else
        s->skip_through = pos;
}

void fxp_source_skip_sym(struct fxp_source *s, uint32_t sym, uint64_t pos)
{
    if (s->ops->skip_sym)
        s->ops->skip_sym(s->impl, sym, pos);
}

bool fxp_source_wants_durable(const struct fxp_source *s)
{
    return s->ops->durable != NULL;
}

void fxp_source_durable(struct fxp_source *s, uint64_t n)
{
    if (s->ops->durable)
        s->ops->durable(s->impl, n);
}

size_t fxp_source_read_ticks(struct fxp_source *s, struct fxp_tick *out,
                             uint64_t *pos, size_t cap, int *err)
{
    if (!s->ops->read_ticks) {
        *err = FXP_EINVAL;
        return 0;
    }
    if (!s->skip_through)
        return s->ops->read_ticks(s->impl, out, pos, cap, err);
    uint64_t *p = pos ? pos : malloc(cap * sizeof *p);
    size_t kept = 0;
    if (!p) {
        *err = FXP_ENOMEM;
        return 0;
    }
    /* Drop what an earlier run already took, without returning 0 (the end)
     * while records are still being skipped. */
    while (kept == 0) {
        size_t n = s->ops->read_ticks(s->impl, out, p, cap, err);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            if (p[i] > s->skip_through) {
                out[kept] = out[i];
                p[kept++] = p[i];
            }
        if (kept)
            s->skip_through = 0; /* positions only grow: done skipping */
    }
    if (p != pos)
        free(p);
    return kept;
}

size_t fxp_source_read_bars(struct fxp_source *s, struct fxp_bar *out,
                            uint64_t *pos, size_t cap, int *err)
{
    if (!s->ops->read_bars) {
        *err = FXP_EINVAL;
        return 0;
    }
    return s->ops->read_bars(s->impl, out, pos, cap, err);
}

void fxp_source_progress(const struct fxp_source *s, uint64_t *done,
                         uint64_t *total)
{
    *done = *total = 0;
    if (s->ops->progress)
        s->ops->progress(s->impl, done, total);
}

void fxp_source_interrupt(struct fxp_source *s)
{
    if (s->ops->interrupt)
        s->ops->interrupt(s->impl);
}

void fxp_source_close(struct fxp_source *s)
{
    if (!s)
        return;
    s->ops->close(s->impl);
    free(s);
}
