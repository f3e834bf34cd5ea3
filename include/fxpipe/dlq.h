/*
 * dlq.h - the dead-letter queue: records that could not be stored after
 * every retry, kept durably with the reason, the error text, the number
 * of attempts, the source and a correlation id, until `fxpipe dlq replay`
 * stores them (an entry is removed only after its records are stored).
 *
 * A SQLite file of its own (by default next to the store: fxpipe.db ->
 * fxpipe.dlq), so it works while the main store is down. Rejected records
 * (validation) stay in the store's `rejects` table; this is for batches
 * that were valid but could not be written. One handle per thread.
 */
#ifndef FXPIPE_DLQ_H
#define FXPIPE_DLQ_H

#include <stddef.h>
#include <stdint.h>

struct fxp_dlq;

struct fxp_dlq_entry {
    int64_t id;      /* assigned by the DLQ */
    char kind[16];   /* "bars", "ticks", "batch" */
    char reason[64]; /* "store_unavailable", "retries_exhausted" */
    char error[256]; /* the last error text */
    int attempts;
    char source[128]; /* "run synthetic", "import x.csv" */
    char correlation_id[64];
    uint64_t n_records; /* records in the payload */
    int64_t first_ts, last_ts;
};

/* Open (creating when missing) the DLQ file at path. Returns FXP_OK,
 * FXP_EINVAL (empty path) or FXP_EIO (cannot open or create, not a
 * database, another database such as a store, a newer layout) /
 * FXP_ENOSPC / FXP_ENOMEM, with a message naming the path in errbuf. */
int fxp_dlq_open(const char *path, struct fxp_dlq **out, char *errbuf,
                 size_t errlen);
/* Close; NULL is a no-op. */
void fxp_dlq_close(struct fxp_dlq *d);

/* The detail of the last failure ("cannot write to dead-letter queue
 * 'x.dlq': database or disk is full"); "" before any. */
const char *fxp_dlq_errmsg(const struct fxp_dlq *d);

/* The DLQ file that goes with a store: the store's path with its extension
 * replaced by ".dlq" (fxpipe.db -> fxpipe.dlq, data/fx -> data/fx.dlq).
 * "sqlite:" and "sqlite://" prefixes are dropped; a server store URL
 * (postgresql://...) gives "fxpipe.dlq" in the working directory. Always
 * NUL-terminates out (truncating) when len > 0. */
void fxp_dlq_default_path(const char *store_path, char *out, size_t len);

/* Add an entry with its payload (opaque bytes, see fxp_dlq_get). Returns
 * FXP_OK (e->id set) or FXP_EIO/FXP_ENOSPC. */
int fxp_dlq_put(struct fxp_dlq *d, struct fxp_dlq_entry *e, const void *payload,
                size_t len);

/* Call fn for every entry (without its payload), oldest first; a non-zero
 * return stops the walk (still FXP_OK). Do not modify the DLQ from fn. */
typedef int (*fxp_dlq_fn)(void *ud, const struct fxp_dlq_entry *e);
int fxp_dlq_list(struct fxp_dlq *d, fxp_dlq_fn fn, void *ud);

/* Read one entry and its payload (malloc'd, caller frees; payload may be
 * NULL to skip it). FXP_OK, FXP_ENOENT, FXP_EIO or FXP_ENOMEM. */
int fxp_dlq_get(struct fxp_dlq *d, int64_t id, struct fxp_dlq_entry *e,
                void **payload, size_t *len);

/* Remove one entry (after its records are stored); all when id < 0.
 * FXP_OK, FXP_ENOENT (no such id) or FXP_EIO/FXP_ENOSPC. */
int fxp_dlq_remove(struct fxp_dlq *d, int64_t id);

/* Entries held; 0 on error (see fxp_dlq_errmsg). */
uint64_t fxp_dlq_count(struct fxp_dlq *d);

#endif
