/*
 * tickrec.h - one tick as a journal record: the bytes the pipeline's and
 * the ingest service's journals hold (docs/internals/journal.md).
 *
 * Little-endian, 40 bytes for a six-letter symbol: a header byte (format 1
 * in the high nibble, bit 0: has volume), the symbol's length and name
 * (ids are per process), ts, bid, ask, the source position, and the volume
 * if any.
 */
#ifndef FXPIPE_TICKREC_H
#define FXPIPE_TICKREC_H

#include <stddef.h>
#include <stdint.h>

#include "fxpipe/types.h"

struct fxp_symtab;

#define FXP_TICKREC_MAX (2 + 15 + 5 * 8)

/* Encode t (its symbol named in st) with its source position into r
 * (FXP_TICKREC_MAX bytes); returns the record's length. */
uint32_t fxp_tickrec_encode(const struct fxp_symtab *st,
                            const struct fxp_tick *t, uint64_t pos,
                            unsigned char *r);

/* Decode a record; the symbol is interned into st. FXP_OK, FXP_EPARSE
 * (not a tick record of this format) or the symtab's error. */
int fxp_tickrec_decode(struct fxp_symtab *st, const void *data, uint32_t len,
                       struct fxp_tick *t, uint64_t *pos);

#endif
