/*
 * batchcodec.h - a store batch (store.h) as a self-contained byte string,
 * for the dead-letter queue's payload: bars, ticks and rejects with symbol
 * NAMES (not a process's ids), a format version, little-endian, a CRC.
 * Decoding checks everything and never trusts a length; it does not
 * validate prices (the store and validator do that).
 */
#ifndef FXPIPE_BATCHCODEC_H
#define FXPIPE_BATCHCODEC_H

#include <stddef.h>

struct fxp_store_batch;
struct fxp_symtab;
struct fxp_decoded_batch;

/* Encode b into a malloc'd buffer (*out, *len; the caller frees). Every
 * bar's and tick's sym must have a name in b->symtab. Returns FXP_OK,
 * FXP_EINVAL (a sym id without a name, no symtab for bars/ticks),
 * FXP_ERANGE (more than 2^32-1 records of a kind or 65535 symbols, a
 * string over 2^32-2 bytes) or FXP_ENOMEM; *out is NULL on failure. */
int fxp_batch_encode(const struct fxp_store_batch *b, void **out, size_t *len);

/* Decode buf[0..len) produced by fxp_batch_encode. Symbol names are
 * interned into st (which must outlive the result's use); rejects' and
 * meta strings point into the decoded object. Returns FXP_OK with *out
 * set, FXP_EPARSE (truncated, corrupt, unknown version, a bad symbol or
 * reason name), FXP_ETOOLARGE (st is full) or FXP_ENOMEM; *out is NULL on
 * failure and st may then hold names interned before the failure. */
int fxp_batch_decode(const void *buf, size_t len, struct fxp_symtab *st,
                     struct fxp_decoded_batch **out);

/* The decoded records as a batch for fxp_store_write; valid until
 * fxp_decoded_batch_free. Its symtab is the st given to decode. */
const struct fxp_store_batch *
fxp_decoded_batch_view(const struct fxp_decoded_batch *d);

/* Free a decoded batch; NULL is a no-op. */
void fxp_decoded_batch_free(struct fxp_decoded_batch *d);

#endif
