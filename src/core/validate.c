/*
 * validate.c - the one validator for ticks and bars, and the reason codes.
 *
 * Design notes
 *
 * 1. Every check is a plain comparison on the record; the only state is
 *    per symbol id, for the jump check: the last valid mid (the reference,
 *    sym[id].last_mid, 0.0 = none yet) and the re-anchoring count (note
 *    5). A tick rejected for any other reason never touches that state,
 *    and a JUMP-rejected tick only feeds the count, never the reference,
 *    so one bad quote cannot move the reference and let the next bad
 *    quote through.
 *
 * 2. Checks run in a fixed order and the FIRST failure is returned, so the
 *    same record always gets the same reason:
 *
 *      tick: TS_RANGE      ts_ms < min_ts_ms or ts_ms >= max_ts_ms
 *            SYMBOL        sym >= max_symbols (no jump state for it)
 *            NAN           bid, then ask is NaN
 *            INF           bid, then ask is +-Inf
 *            NONPOS_PRICE  bid, then ask is <= 0
 *            CROSSED       ask < bid (ask == bid is a valid, locked quote)
 *            SPREAD        (ask - bid) / mid > max_spread_frac (when > 0)
 *            VOLUME        flags has FXP_TICK_HAS_VOLUME and volume is
 *                          negative, NaN or infinite (else volume is
 *                          ignored)
 *            JUMP          |mid / last_mid - 1| > max_jump_frac (when > 0
 *                          and the symbol has a previous valid tick),
 *                          unless the tick re-anchors (note 5)
 *
 *      bar:  TS_RANGE      ts_ms < min_ts_ms or ts_ms >= max_ts_ms
 *            TS_ALIGN      tf >= FXP_TF_COUNT, or ts_ms is not the open
 *                          time of a tf bucket under `al`
 *            NAN           open, high, low, close (first NaN)
 *            INF           open, high, low, close (first infinite)
 *            NONPOS_PRICE  open, high, low, close (first <= 0)
 *            HIGH_LOW      high < low
 *            HIGH          high < max(open, close)
 *            LOW           low > min(open, close)
 *            VOLUME        volume negative, NaN or infinite
 *
 *    JUMP is last because it is the only check that depends on history:
 *    a tick that is wrong on its own is reported for that, not as a jump.
 *
 * 3. Limits are inclusive: a spread or jump exactly equal to its limit
 *    passes; only a strictly larger one is rejected. mid is computed as
 *    bid/2 + ask/2 so that two huge finite prices cannot overflow.
 *
 * 4. Reason names are the X-macro names lower-cased once (pthread_once),
 *    so the list in validate.h stays the single source of truth.
 *
 * 5. Re-anchoring. A reference can itself be wrong: if a symbol's FIRST
 *    quote is bad (say 30% off), it becomes the reference and every good
 *    quote after it would be a JUMP forever; a genuine level shift does
 *    the same. So JUMP rejections of a symbol are counted in n_agree by
 *    reanchor(), called from fxp_validate_tick():
 *
 *      0 --JUMP--> 1 --near JUMP--> 2 --near JUMP--> accepted, back to 0
 *      any --far JUMP--> 1          any --accepted tick--> 0
 *
 *    Going to 1, a JUMP's mid becomes the candidate level cand_mid. A
 *    "near" JUMP is within max_jump_frac of the candidate (|mid / cand_mid
 *    - 1| <= max_jump_frac), a "far" one is not. The REANCHOR_AGREE-th
 *    (3rd) agreeing JUMP is not rejected: it returns FXP_R_OK and becomes
 *    the reference. Ticks rejected for other reasons leave the count alone.
 *    So after a bad first quote at most two good quotes are rejected; a
 *    lone outlier is rejected, moves nothing and is forgotten at the next
 *    accepted tick; outliers that alternate with good quotes, or that
 *    disagree with each other, never re-anchor. The price: three
 *    consecutive bad quotes at one level do become the reference, and the
 *    good quotes after them win it back the same way.
 */
#include "fxpipe/validate.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fxpipe/time.h"

#define DEFAULT_MAX_SPREAD_FRAC 0.05
#define DEFAULT_MAX_JUMP_FRAC   0.10
#define DEFAULT_MIN_TS_MS       631152000000LL  /* 1990-01-01T00:00:00Z */
#define DEFAULT_MAX_TS_MS       4102444800000LL /* 2100-01-01T00:00:00Z */

/* Agreeing JUMP rejections in a row whose last one re-anchors (note 5). */
#define REANCHOR_AGREE 3u

/* Timestamps printed as ISO-8601 in messages: years 0001..9999. A rejected
 * record may carry any int64, and civil conversion of extreme values is
 * neither useful nor guaranteed to be safe. */
#define ISO_MIN_TS_MS (-62135596800000LL) /* 0001-01-01T00:00:00Z */
#define ISO_MAX_TS_MS 253402300800000LL   /* 10000-01-01T00:00:00Z */

/* Jump state of one symbol (notes 1 and 5). */
struct sym_state {
    double last_mid;  /* last valid mid, the reference; 0 = none */
    double cand_mid;  /* mid of the first JUMP of the run (when n_agree > 0) */
    uint32_t n_agree; /* agreeing JUMP rejections in a row; 0 = none */
};

struct fxp_validator {
    struct fxp_validate_cfg cfg; /* copied at creation */
    uint32_t max_symbols;        /* length of sym */
    struct sym_state sym[];      /* indexed by symbol id */
};

/* ---- reason names ---------------------------------------------------- */

/* Size of the longest X-macro name (with its NUL): one member per name. */
union reason_name_size {
#define FXP__REASON_SIZE(name, field, desc) char name##_[sizeof(#name)];
    FXP_REASON_MAP(FXP__REASON_SIZE)
#undef FXP__REASON_SIZE
};

static const char *const reason_upper[FXP_R_COUNT] = {
#define FXP__REASON_UPPER(name, field, desc) #name,
    FXP_REASON_MAP(FXP__REASON_UPPER)
#undef FXP__REASON_UPPER
};

static const char *const reason_fields[FXP_R_COUNT] = {
#define FXP__REASON_FIELD(name, field, desc) field,
    FXP_REASON_MAP(FXP__REASON_FIELD)
#undef FXP__REASON_FIELD
};

static const char *const reason_descs[FXP_R_COUNT] = {
#define FXP__REASON_DESC(name, field, desc) desc,
    FXP_REASON_MAP(FXP__REASON_DESC)
#undef FXP__REASON_DESC
};

static char reason_lower[FXP_R_COUNT][sizeof(union reason_name_size)];
static pthread_once_t reason_lower_once = PTHREAD_ONCE_INIT;

/* ASCII only: tolower() would follow the locale (Turkish 'I'). */
static void reason_lower_init(void)
{
    for (size_t r = 0; r < FXP_R_COUNT; r++) {
        const char *s = reason_upper[r];
        size_t i = 0;
        for (; s[i] != '\0'; i++) {
            char c = s[i];
            reason_lower[r][i] =
                (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        reason_lower[r][i] = '\0';
    }
}

static bool reason_valid(fxp_reason r)
{
    return (int)r >= 0 && (int)r < (int)FXP_R_COUNT;
}

const char *fxp_reason_name(fxp_reason r)
{
    if (!reason_valid(r))
        return "unknown";
    pthread_once(&reason_lower_once, reason_lower_init);
    return reason_lower[r];
}

const char *fxp_reason_field(fxp_reason r)
{
    return reason_valid(r) ? reason_fields[r] : "";
}

const char *fxp_reason_desc(fxp_reason r)
{
    return reason_valid(r) ? reason_descs[r] : "unknown reason";
}

/* ---- configuration and lifecycle ------------------------------------- */

void fxp_validate_cfg_default(struct fxp_validate_cfg *cfg)
{
    assert(cfg != NULL);
    cfg->max_spread_frac = DEFAULT_MAX_SPREAD_FRAC;
    cfg->max_jump_frac = DEFAULT_MAX_JUMP_FRAC;
    cfg->min_ts_ms = DEFAULT_MIN_TS_MS;
    cfg->max_ts_ms = DEFAULT_MAX_TS_MS;
}

/* A NULL cfg means the defaults. */
struct fxp_validator *fxp_validator_new(const struct fxp_validate_cfg *cfg,
                                        uint32_t max_symbols)
{
    struct fxp_validator *v;

#if SIZE_MAX / 32 < UINT32_MAX
    /* Only a 32-bit size_t can overflow the table size. */
    if ((size_t)max_symbols > (SIZE_MAX - sizeof(*v)) / sizeof(v->sym[0]))
        return NULL;
#endif
    /* calloc: every last_mid starts at 0.0, "no previous tick", and every
     * n_agree at 0. */
    v = calloc(1, sizeof(*v) + (size_t)max_symbols * sizeof(v->sym[0]));
    if (v == NULL)
        return NULL;
    if (cfg != NULL)
        v->cfg = *cfg;
    else
        fxp_validate_cfg_default(&v->cfg);
    v->max_symbols = max_symbols;
    return v;
}

void fxp_validator_free(struct fxp_validator *v)
{
    free(v);
}

/* ---- checks ---------------------------------------------------------- */

static bool ts_in_range(const struct fxp_validate_cfg *cfg, int64_t ts_ms)
{
    return ts_ms >= cfg->min_ts_ms && ts_ms < cfg->max_ts_ms;
}

/* Halves first, so two huge finite prices cannot overflow to Inf. */
static double mid_of(double bid, double ask)
{
    return bid * 0.5 + ask * 0.5;
}

/* (ask - bid) / mid for an uncrossed, positive, finite quote. */
static double spread_frac(double bid, double ask)
{
    return (ask - bid) / mid_of(bid, ask);
}

static bool volume_bad(double volume)
{
    return isnan(volume) || isinf(volume) || volume < 0.0;
}

/* Did the mid move more than frac from ref (limit inclusive, note 3)? */
static bool jumped(double ref, double mid, double frac)
{
    return fabs(mid / ref - 1.0) > frac;
}

/* Count a tick about to be rejected for JUMP (note 5). Returns true when
 * it is the REANCHOR_AGREE-th agreeing one in a row: the caller accepts
 * it as the new reference. */
static bool reanchor(struct sym_state *st, double mid, double frac)
{
    if (st->n_agree > 0 && !jumped(st->cand_mid, mid, frac)) {
        st->n_agree++;
    } else {
        st->cand_mid = mid;
        st->n_agree = 1;
    }
    return st->n_agree >= REANCHOR_AGREE;
}

fxp_reason fxp_validate_tick(struct fxp_validator *v, const struct fxp_tick *t)
{
    const struct fxp_validate_cfg *cfg;
    struct sym_state *st;
    double mid;

    assert(v != NULL && t != NULL);
    cfg = &v->cfg;

    if (!ts_in_range(cfg, t->ts_ms))
        return FXP_R_TS_RANGE;
    if (t->sym >= v->max_symbols)
        return FXP_R_SYMBOL;
    if (isnan(t->bid) || isnan(t->ask))
        return FXP_R_NAN;
    if (isinf(t->bid) || isinf(t->ask))
        return FXP_R_INF;
    if (t->bid <= 0.0 || t->ask <= 0.0)
        return FXP_R_NONPOS_PRICE;
    if (t->ask < t->bid)
        return FXP_R_CROSSED;
    if (cfg->max_spread_frac > 0.0 &&
        spread_frac(t->bid, t->ask) > cfg->max_spread_frac)
        return FXP_R_SPREAD;
    if ((t->flags & FXP_TICK_HAS_VOLUME) != 0 && volume_bad(t->volume))
        return FXP_R_VOLUME;

    mid = mid_of(t->bid, t->ask);
    st = &v->sym[t->sym];
    if (cfg->max_jump_frac > 0.0 && st->last_mid > 0.0 &&
        jumped(st->last_mid, mid, cfg->max_jump_frac) &&
        !reanchor(st, mid, cfg->max_jump_frac))
        return FXP_R_JUMP;

    /* Only a tick that passed everything (or re-anchors, note 5) becomes
     * the new reference; it ends any run of JUMP rejections. */
    st->last_mid = mid;
    st->n_agree = 0;
    return FXP_R_OK;
}

fxp_reason fxp_validate_bar(const struct fxp_validator *v,
                            const struct fxp_align *al, const struct fxp_bar *b)
{
    const double px[4] = {b->open, b->high, b->low, b->close};

    assert(v != NULL && al != NULL && b != NULL);

    if (!ts_in_range(&v->cfg, b->ts_ms))
        return FXP_R_TS_RANGE;
    if (b->tf >= FXP_TF_COUNT ||
        !fxp_tf_is_aligned(al, (fxp_tf)b->tf, b->ts_ms))
        return FXP_R_TS_ALIGN;
    for (size_t i = 0; i < 4; i++)
        if (isnan(px[i]))
            return FXP_R_NAN;
    for (size_t i = 0; i < 4; i++)
        if (isinf(px[i]))
            return FXP_R_INF;
    for (size_t i = 0; i < 4; i++)
        if (px[i] <= 0.0)
            return FXP_R_NONPOS_PRICE;
    if (b->high < b->low)
        return FXP_R_HIGH_LOW;
    if (b->high < fmax(b->open, b->close))
        return FXP_R_HIGH;
    if (b->low > fmin(b->open, b->close))
        return FXP_R_LOW;
    if (volume_bad(b->volume))
        return FXP_R_VOLUME;
    return FXP_R_OK;
}

/* ---- messages -------------------------------------------------------- */

/* ISO-8601 text for ts_ms, or "?" outside years 0001..9999. */
static const char *ts_iso(int64_t ts_ms, char *iso, size_t len)
{
    if (ts_ms < ISO_MIN_TS_MS || ts_ms >= ISO_MAX_TS_MS) {
        snprintf(iso, len, "?");
        return iso;
    }
    fxp_time_format_iso(ts_ms, iso, len);
    return iso;
}

/* Which price field of a tick a per-price reason is about. */
static const char *tick_price_field(fxp_reason r, const struct fxp_tick *t)
{
    switch (r) {
    case FXP_R_NAN:
        return isnan(t->bid) ? "bid" : "ask";
    case FXP_R_INF:
        return isinf(t->bid) ? "bid" : "ask";
    case FXP_R_NONPOS_PRICE:
        return t->bid <= 0.0 ? "bid" : "ask";
    default:
        return fxp_reason_field(r);
    }
}

char *fxp_reason_format_tick(fxp_reason r, const struct fxp_tick *t, char *buf,
                             size_t len)
{
    const char *field, *desc = fxp_reason_desc(r);
    char iso[32];

    if (buf == NULL || len == 0)
        return buf;
    if (r == FXP_R_OK) {
        snprintf(buf, len, "%s", desc);
        return buf;
    }
    assert(t != NULL);
    field = tick_price_field(r, t);

    switch (r) {
    case FXP_R_SPREAD:
        snprintf(buf, len,
                 "field '%s': %s (bid=%.10g ask=%.10g spread_frac=%.10g)",
                 field, desc, t->bid, t->ask, spread_frac(t->bid, t->ask));
        break;
    case FXP_R_JUMP:
        snprintf(buf, len, "field '%s': %s (bid=%.10g ask=%.10g mid=%.10g)",
                 field, desc, t->bid, t->ask, mid_of(t->bid, t->ask));
        break;
    case FXP_R_VOLUME:
        snprintf(buf, len, "field '%s': %s (volume=%.10g)", field, desc,
                 t->volume);
        break;
    case FXP_R_SYMBOL:
        snprintf(buf, len, "field '%s': %s (sym=%" PRIu32 ")", field, desc,
                 t->sym);
        break;
    case FXP_R_TS_RANGE:
    case FXP_R_TS_ALIGN:
    case FXP_R_LATE:
    case FXP_R_CLOSED:
    case FXP_R_DUPLICATE:
        snprintf(buf, len, "field '%s': %s (ts_ms=%" PRId64 " ts=%s)", field,
                 desc, t->ts_ms, ts_iso(t->ts_ms, iso, sizeof(iso)));
        break;
    default:
        /* NAN, INF, NONPOS_PRICE, CROSSED, PARSE and anything new. */
        snprintf(buf, len, "field '%s': %s (bid=%.10g ask=%.10g)", field, desc,
                 t->bid, t->ask);
        break;
    }
    return buf;
}

/* The first of open/high/low/close that the per-price reason r is about;
 * the reason's own field for the other reasons. */
static const char *bar_price_field(fxp_reason r, const struct fxp_bar *b)
{
    static const char *const names[4] = {"open", "high", "low", "close"};
    const double px[4] = {b->open, b->high, b->low, b->close};

    for (size_t i = 0; i < 4; i++) {
        if ((r == FXP_R_NAN && isnan(px[i])) ||
            (r == FXP_R_INF && isinf(px[i])) ||
            (r == FXP_R_NONPOS_PRICE && px[i] <= 0.0))
            return names[i];
    }
    return fxp_reason_field(r);
}

char *fxp_reason_format_bar(fxp_reason r, const struct fxp_bar *b, char *buf,
                            size_t len)
{
    const char *field, *desc = fxp_reason_desc(r);
    char iso[32];

    if (buf == NULL || len == 0)
        return buf;
    if (r == FXP_R_OK) {
        snprintf(buf, len, "%s", desc);
        return buf;
    }
    assert(b != NULL);
    field = bar_price_field(r, b);

    switch (r) {
    case FXP_R_VOLUME:
        snprintf(buf, len, "field '%s': %s (volume=%.10g)", field, desc,
                 b->volume);
        break;
    case FXP_R_SYMBOL:
        snprintf(buf, len, "field '%s': %s (sym=%" PRIu32 ")", field, desc,
                 b->sym);
        break;
    case FXP_R_TS_RANGE:
    case FXP_R_TS_ALIGN:
    case FXP_R_LATE:
    case FXP_R_CLOSED:
    case FXP_R_DUPLICATE:
        ts_iso(b->ts_ms, iso, sizeof(iso));
        if (b->tf < FXP_TF_COUNT)
            snprintf(buf, len, "field '%s': %s (ts_ms=%" PRId64 " ts=%s tf=%s)",
                     field, desc, b->ts_ms, iso, fxp_tf_name((fxp_tf)b->tf));
        else
            snprintf(buf, len,
                     "field '%s': %s (ts_ms=%" PRId64 " ts=%s tf=%u unknown)",
                     field, desc, b->ts_ms, iso, (unsigned)b->tf);
        break;
    default:
        /* NAN, INF, NONPOS_PRICE, HIGH_LOW, HIGH, LOW, and the rest. */
        snprintf(buf, len,
                 "field '%s': %s (open=%.10g high=%.10g low=%.10g "
                 "close=%.10g)",
                 field, desc, b->open, b->high, b->low, b->close);
        break;
    }
    return buf;
}
