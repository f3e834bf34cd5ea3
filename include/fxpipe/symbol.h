/*
 * symbol.h - symbol names: normalisation ("EUR/USD", "C:EURUSD", "eurusd"
 * -> "EURUSD") and a table that interns names into small dense ids, so the
 * hot paths carry a uint32_t instead of a string.
 *
 * A table is used by one thread at a time (no internal locking).
 */
#ifndef FXPIPE_SYMBOL_H
#define FXPIPE_SYMBOL_H

#include <stddef.h>
#include <stdint.h>

#define FXP_SYMBOL_MAX 16 /* bytes of a normalised name, NUL included */

struct fxp_symtab;

/* Normalise s[0..len) into out (FXP_SYMBOL_MAX bytes): strip a "C:" (or
 * "X:"/"FX:") prefix and separators '/', '-', '_', '.', ' ', upper-case.
 * The result must be 6 to 12 letters or digits, starting with a letter
 * (EURUSD, XAUUSD, USDJPY...). Returns FXP_OK or FXP_EINVAL (unknown
 * symbol format); out is always NUL-terminated. */
int fxp_symbol_normalize(const char *s, size_t len, char *out);

/* A table holding at most max_symbols names. NULL on allocation failure. */
struct fxp_symtab *fxp_symtab_new(uint32_t max_symbols);

/* Free a table; NULL is a no-op. */
void fxp_symtab_free(struct fxp_symtab *st);

/* Intern a raw name (normalised first). Returns FXP_OK with *id set,
 * FXP_EINVAL for a bad symbol, FXP_ETOOLARGE when the table is full. */
int fxp_symtab_intern(struct fxp_symtab *st, const char *s, size_t len,
                      uint32_t *id);

/* Look up an already normalised name; returns FXP_OK or FXP_ENOENT. */
int fxp_symtab_find(const struct fxp_symtab *st, const char *name,
                    uint32_t *id);

/* Name of id (normalised); NULL for an id never handed out. */
const char *fxp_symtab_name(const struct fxp_symtab *st, uint32_t id);

/* Number of names interned. */
uint32_t fxp_symtab_count(const struct fxp_symtab *st);

#endif
