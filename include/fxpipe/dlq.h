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
    int64_t id;              /* assigned by the DLQ */
    char kind[16];           /* "bars", "ticks", "batch" */
    char reason[64];         /* "store_unavailable", "retries_exhausted" */
    char error[256];         /* the last error text */
    int attempts;
    char source[128];        /* "run synthetic", "import x.csv" */
    char correlation_id[64];
    uint64_t n_records;      /* records in the payload */
    int64_t first_ts, last_ts;
};

int fxp_dlq_open(const char *path, struct fxp_dlq **out, char *errbuf,
                 size_t errlen);
void fxp_dlq_close(struct fxp_dlq *d);

/* Add an entry with its payload (opaque bytes, see fxp_dlq_get). Returns
 * FXP_OK (e->id set) or FXP_EIO/FXP_ENOSPC. */
int fxp_dlq_put(struct fxp_dlq *d, struct fxp_dlq_entry *e,
                const void *payload, size_t len);

typedef int (*fxp_dlq_fn)(void *ud, const struct fxp_dlq_entry *e);
int fxp_dlq_list(struct fxp_dlq *d, fxp_dlq_fn fn, void *ud);

/* Read one entry and its payload (malloc'd, caller frees). FXP_ENOENT. */
int fxp_dlq_get(struct fxp_dlq *d, int64_t id, struct fxp_dlq_entry *e,
                void **payload, size_t *len);

/* Remove one entry (after its records are stored); all when id < 0. */
int fxp_dlq_remove(struct fxp_dlq *d, int64_t id);

uint64_t fxp_dlq_count(struct fxp_dlq *d);

#endif
