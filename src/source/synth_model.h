/*
 * synth_model.h - the market model of the synthetic feed (internal): the
 * random numbers, each symbol's start price, decimals, spread and
 * volatility, the activity of each UTC hour and one step of the price
 * walk (synth_model.c). When quotes arrive, the merge of the symbols and
 * the bad quotes are the feed's business (source_synth.c).
 */
#ifndef FXPIPE_SYNTH_MODEL_H
#define FXPIPE_SYNTH_MODEL_H

#include <stdint.h>

/* ---- random numbers (inline: they are on every quote's path) --------- */

/* splitmix64: seeds the generators and hashes the schedule. */
static inline uint64_t fxp__synth_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* FNV-1a of a symbol name: its generator's seed and its made-up price. */
static inline uint64_t fxp__synth_fnv1a(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ULL;
    return h;
}

static inline uint64_t fxp__synth_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman & Vigna). */
static inline uint64_t fxp__synth_next(uint64_t st[4])
{
    uint64_t r = fxp__synth_rotl(st[1] * 5, 7) * 9;
    uint64_t t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = fxp__synth_rotl(st[3], 45);
    return r;
}

/* [0, 1) from the top 53 bits. */
static inline double fxp__synth_unit(uint64_t r)
{
    return (double)(r >> 11) * 0x1.0p-53;
}

/* ---- prices ----------------------------------------------------------- */

/* The price state of one symbol. */
struct fxp__synth_walk {
    double mid;        /* current mid price */
    double inv_start;  /* 1 / start price (pull-back) */
    double scale;      /* 10^dec */
    double vol;        /* relative volatility per sqrt(s) */
    double spread_pts; /* typical spread in points (1 point = 10^-dec) */
};

/* Start the walk of the normalised symbol name ("EURUSD") at its start
 * price. Can't fail: a name the model does not know gets a price made up
 * from a hash of the name. */
void fxp__synth_walk_init(struct fxp__synth_walk *w, const char *name);

/* Move the mid dt_s seconds on, with sig the hour's volatility and spr
 * the hour's typical spread in points, drawing two numbers from rng. The
 * quote is *bid and *ask points (price = points / w->scale), ask > bid. */
void fxp__synth_walk_step(struct fxp__synth_walk *w, uint64_t rng[4],
                          double dt_s, double sig, double spr, int64_t *bid,
                          int64_t *ask);

/* ---- time of day ------------------------------------------------------ */

/* Per UTC hour: the quote rate factor (mean exactly 1 over the day), its
 * square root (volatility) and the spread factor (thin hours quote
 * wider). */
void fxp__synth_hour_factors(double mult[24], double sqrt_mult[24],
                             double spread_f[24]);

#endif
