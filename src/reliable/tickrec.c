/*
 * tickrec.c - ticks as journal records (tickrec.h).
 */
#include "fxpipe/tickrec.h"

#include <stdbool.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/symbol.h"

uint32_t fxp_tickrec_encode(const struct fxp_symtab *st,
                            const struct fxp_tick *t, uint64_t pos,
                            unsigned char *r)
{
    const char *name = fxp_symtab_name(st, t->sym);
    size_t n = strnlen(name, 15);
    bool vol = (t->flags & FXP_TICK_HAS_VOLUME) != 0;
    r[0] = (unsigned char)(0x10 | (vol ? 1 : 0));
    r[1] = (unsigned char)n;
    memcpy(r + 2, name, n);
    unsigned char *q = r + 2 + n;
    memcpy(q, &t->ts_ms, 8);
    memcpy(q + 8, &t->bid, 8);
    memcpy(q + 16, &t->ask, 8);
    memcpy(q + 24, &pos, 8);
    if (vol)
        memcpy(q + 32, &t->volume, 8);
    return (uint32_t)(2 + n + 32 + (vol ? 8 : 0));
}

int fxp_tickrec_decode(struct fxp_symtab *st, const void *data, uint32_t len,
                       struct fxp_tick *t, uint64_t *pos)
{
    const unsigned char *r = data;
    if (len < 2 || (r[0] & 0xf0) != 0x10 || r[1] == 0 || r[1] > 15)
        return FXP_EPARSE;
    size_t n = r[1];
    bool vol = r[0] & 1;
    if (len != 2 + n + 32 + (vol ? 8 : 0))
        return FXP_EPARSE;
    const unsigned char *q = r + 2 + n;
    memset(t, 0, sizeof *t);
    memcpy(&t->ts_ms, q, 8);
    memcpy(&t->bid, q + 8, 8);
    memcpy(&t->ask, q + 16, 8);
    memcpy(pos, q + 24, 8);
    if (vol) {
        memcpy(&t->volume, q + 32, 8);
        t->flags = FXP_TICK_HAS_VOLUME;
    }
    return fxp_symtab_intern(st, (const char *)r + 2, n, &t->sym);
}
