/*
 * synth_model.c - the synthetic feed's market model: where each symbol's
 * price starts, how finely it is quoted, how wide and how volatile it is,
 * and how it moves from one quote to the next (synth_model.h).
 *
 * Design notes
 *
 *  1. Prices: the mid is a multiplicative random walk, sigma * sqrt(dt) *
 *     z per quote (dt in seconds, capped at one hour so a weekend moves
 *     the price like an hour would), with a weak pull back to the start
 *     price (half-life ~90 days) so years of data stay plausible. z is an
 *     Irwin-Hall sum of four 16-bit uniforms scaled to variance 1: cheap,
 *     symmetric and bounded (|z| < 3.5), which keeps every step far from
 *     making the price non-positive. Bid and ask are whole multiples of
 *     10^-dec computed as integers n, and the price is n / 10^dec: the
 *     double nearest the decimal, so "%.{dec}f" prints it exactly.
 *  2. Symbols: the table of known symbols, else a cross of two currencies
 *     of known USD value (EURJPY), else a log-uniform price from a hash of
 *     the name. The only floating-point library calls are log, sqrt, exp
 *     and floor, which keeps streams reproducible (source_synth.c note 1).
 */
#include <math.h>
#include <string.h>

#include "source/synth_model.h"

/* The walk's dt cap (s) and pull-back rate (per s, half-life ~90 days). */
#define DT_CAP_S  3600.0
#define REVERT_KP 8.9e-8

/* ---- symbol parameters ---------------------------------------------- */

struct sym_spec {
    const char *name;
    double px;     /* start price */
    int dec;       /* decimals */
    double spread; /* typical spread, price units */
    double vol;    /* relative volatility per sqrt(second) */
};

static const struct sym_spec known[] = {
    {"EURUSD", 1.08, 5, 0.00006, 1.1e-5}, {"GBPUSD", 1.27, 5, 0.00010, 1.3e-5},
    {"USDJPY", 150.0, 3, 0.010, 1.4e-5},  {"XAUUSD", 2300.0, 2, 0.25, 2.2e-5},
    {"AUDUSD", 0.66, 5, 0.00010, 1.4e-5}, {"USDCHF", 0.88, 5, 0.00012, 1.2e-5},
    {"USDCAD", 1.36, 5, 0.00014, 1.0e-5}, {"NZDUSD", 0.60, 5, 0.00014, 1.5e-5},
};

/* Value of one unit in USD, for crosses such as EURJPY. */
static const struct {
    const char *ccy;
    double usd;
} ccys[] = {
    {"USD", 1.0},      {"EUR", 1.08},     {"GBP", 1.27},     {"JPY", 1 / 150.0},
    {"AUD", 0.66},     {"NZD", 0.60},     {"CHF", 1 / 0.88}, {"CAD", 1 / 1.36},
    {"XAU", 2300.0},   {"XAG", 27.0},     {"SEK", 1 / 10.5}, {"NOK", 1 / 10.7},
    {"DKK", 1 / 6.9},  {"PLN", 1 / 4.0},  {"MXN", 1 / 17.0}, {"ZAR", 1 / 18.5},
    {"TRY", 1 / 32.0}, {"SGD", 1 / 1.35}, {"HKD", 1 / 7.8},  {"CNH", 1 / 7.2},
};

static double ccy_usd(const char *c)
{
    for (size_t i = 0; i < sizeof ccys / sizeof ccys[0]; i++)
        if (!memcmp(ccys[i].ccy, c, 3))
            return ccys[i].usd;
    return 0;
}

/* Decimals by magnitude, as brokers quote: 2300 -> 2, 150 -> 3, 1.08 -> 5. */
static int dec_for(double px)
{
    return px >= 1000 ? 2 : px >= 20 ? 3 : 5;
}

/* Parameters of a normalised name: the table, else a cross of two known
 * currencies, else a price derived from a hash of the name. */
static void spec_for(const char *name, struct sym_spec *sp)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(known[i].name, name)) {
            *sp = known[i];
            return;
        }
    double b = 0, q = 0;
    if (strlen(name) == 6) {
        b = ccy_usd(name);
        q = ccy_usd(name + 3);
    }
    sp->name = name;
    if (b > 0 && q > 0) {
        sp->px = b / q;
        sp->spread = sp->px * 1.0e-4;
        sp->vol = 1.3e-5;
    } else {
        /* Log-uniform in [0.5, 200). */
        double u =
            fxp__synth_unit(fxp__synth_fnv1a(name) * 0x9E3779B97F4A7C15ULL);
        sp->px = 0.5 * exp(u * log(400.0));
        sp->spread = sp->px * 1.5e-4;
        sp->vol = 1.5e-5;
    }
    sp->dec = dec_for(sp->px);
}

void fxp__synth_walk_init(struct fxp__synth_walk *w, const char *name)
{
    struct sym_spec sp;
    spec_for(name, &sp);
    w->scale = 1;
    for (int i = 0; i < sp.dec; i++)
        w->scale *= 10;
    w->mid = floor(sp.px * w->scale + 0.5) / w->scale;
    w->inv_start = 1.0 / w->mid;
    w->vol = sp.vol;
    w->spread_pts = sp.spread * w->scale;
}

/* ---- the walk (note 1) ------------------------------------------------ */

void fxp__synth_walk_step(struct fxp__synth_walk *w, uint64_t rng[4],
                          double dt_s, double sig, double spr_pts,
                          int64_t *bid_out, int64_t *ask_out)
{
    if (dt_s > DT_CAP_S)
        dt_s = DT_CAP_S;

    uint64_t r = fxp__synth_next(rng);
    /* Irwin-Hall(4): mean 131070, variance 4 * 65536^2 / 12. */
    double sum = (double)((r & 0xFFFF) + ((r >> 16) & 0xFFFF) +
                          ((r >> 32) & 0xFFFF) + (r >> 48));
    double z = (sum - 131070.0) * (1.7320508075688772 / 65536.0);
    double x =
        sig * sqrt(dt_s) * z - REVERT_KP * dt_s * (w->mid * w->inv_start - 1.0);
    w->mid *= 1.0 + x;

    /* Spread: the hour's typical spread times a jitter in [0.8, 1.3). */
    uint64_t r2 = fxp__synth_next(rng);
    double jit = 0.8 + 0.5 * fxp__synth_unit(r2);
    int64_t spr = (int64_t)(spr_pts * jit + 0.5);
    if (spr < 1)
        spr = 1;
    int64_t bid = (int64_t)floor(w->mid * w->scale - 0.5 * (double)spr + 0.5);
    if (bid < 1)
        bid = 1;
    *bid_out = bid;
    *ask_out = bid + spr;
}

/* ---- time of day ------------------------------------------------------ */

/* Relative quote activity by UTC hour (normalised to mean 1 at open):
 * Sydney/Tokyo, London from 07:00, the London/New York overlap, the
 * thin hours around the 17:00 New York rollover (21:00-22:00 UTC). */
static const double hour_raw[24] = {
    0.70, 0.70, 0.70, 0.60, 0.50, 0.50, 0.80, 1.30, 1.50, 1.40, 1.30, 1.30,
    1.60, 1.80, 1.80, 1.60, 1.20, 0.90, 0.80, 0.70, 0.60, 0.40, 0.40, 0.60,
};

void fxp__synth_hour_factors(double mult[24], double sqrt_mult[24],
                             double spread_f[24])
{
    double sum = 0;
    for (int h = 0; h < 24; h++)
        sum += hour_raw[h];
    for (int h = 0; h < 24; h++) {
        mult[h] = hour_raw[h] * 24.0 / sum;
        sqrt_mult[h] = sqrt(mult[h]);
        /* Thin hours quote wider. */
        spread_f[h] = 1.0 / sqrt_mult[h];
    }
}
