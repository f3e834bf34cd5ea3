/*
 * source_int.h - what a source backend provides (internal). Every backend
 * fills one struct fxp_source_ops; source.c dispatches through it, as
 * Redis does with ae_epoll.c/ae_kqueue.c.
 */
#ifndef FXPIPE_SOURCE_INT_H
#define FXPIPE_SOURCE_INT_H

#include "fxpipe/source.h"

struct fxp_source_ops {
    const char *name; /* "generic", "histdata", "dukascopy", "synthetic", ... */
    /* Exactly one of read_ticks/read_bars is non-NULL. */
    size_t (*read_ticks)(void *impl, struct fxp_tick *out, uint64_t *pos,
                         size_t cap, int *err);
    size_t (*read_bars)(void *impl, struct fxp_bar *out, uint64_t *pos,
                        size_t cap, int *err);
    void (*progress)(const void *impl, uint64_t *done, uint64_t *total);
    void (*interrupt)(void *impl); /* may be NULL */
    void (*close)(void *impl);
};

/* Wrap a backend into a handle (takes ownership of impl; on failure calls
 * ops->close(impl) and returns NULL). `desc` is copied. */
struct fxp_source *fxp__source_new(const struct fxp_source_ops *ops,
                                   void *impl, const char *desc);

/* Backends' constructors, used by source.c / source_file.c. */
int fxp__source_open_histdata(const char *path,
                              const struct fxp_source_opts *o, fxp_kind kind,
                              struct fxp_symtab *st, struct fxp_source **out,
                              char *errbuf, size_t errlen);
int fxp__source_open_dukascopy(const char *path,
                               const struct fxp_source_opts *o, fxp_kind kind,
                               struct fxp_symtab *st, struct fxp_source **out,
                               char *errbuf, size_t errlen);
int fxp__source_open_generic(const char *path,
                             const struct fxp_source_opts *o, fxp_kind kind,
                             struct fxp_symtab *st, struct fxp_source **out,
                             char *errbuf, size_t errlen);

#endif
