/*
 * version.h - deterministic, ranked bar versions (docs/internals/versions.md).
 *
 *     version = rank << 40 | min(n_ticks, 2^40 - 1)
 *
 * rank orders sources (live 3 > live gap-fill 2 > historical 1 by default);
 * n_ticks is the number of quotes merged into the bar, so the same input
 * always gives the same version, a late tick that revises a bar raises it,
 * and among bars of one rank the more complete one wins. Stores keep the
 * row with the highest version.
 */
#ifndef FXPIPE_VERSION_H
#define FXPIPE_VERSION_H

#include <stdint.h>

#define FXP_VERSION_RANK_SHIFT 40
#define FXP_VERSION_COUNT_MAX  ((1LL << FXP_VERSION_RANK_SHIFT) - 1)
#define FXP_VERSION_RANK_MAX   0x7fffff /* keeps the version positive */

static inline int64_t fxp_version_make(uint32_t rank, uint64_t n_ticks)
{
    uint64_t n = n_ticks > (uint64_t)FXP_VERSION_COUNT_MAX
                     ? (uint64_t)FXP_VERSION_COUNT_MAX
                     : n_ticks;
    return (int64_t)(((uint64_t)(rank & FXP_VERSION_RANK_MAX)
                      << FXP_VERSION_RANK_SHIFT) |
                     n);
}

static inline uint32_t fxp_version_rank(int64_t version)
{
    return (uint32_t)((uint64_t)version >> FXP_VERSION_RANK_SHIFT);
}

static inline uint64_t fxp_version_count(int64_t version)
{
    return (uint64_t)version & (uint64_t)FXP_VERSION_COUNT_MAX;
}

#endif
