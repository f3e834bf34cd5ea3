/*
 * bench_engine.c - in-memory throughput of the aggregation engine.
 *
 * 10M ticks (default) for 8 symbols over one trading week, all 8
 * timeframes, fed in batches to fxp_agg_ticks; next to it, in the same
 * run on the same ticks, a naive C loop that updates every timeframe's bar
 * per tick (one division per timeframe) and a plain read of the array
 * (the memory-read limit). Prints the median of the runs.
 *
 * usage: bench_engine [n_ticks] [runs]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fxpipe/aggregate.h"
#include "fxpipe/time.h"
#include "fxpipe/tz.h"

#define NSYM 8

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t n_bars;

static void count_bar(void *ud, const struct fxp_bar *b, bool revision)
{
    (void)ud;
    (void)b;
    (void)revision;
    n_bars++;
}

/* The naive loop: per tick, per timeframe, find the bucket and update. */
struct nbar {
    int64_t start;
    double o, h, l, c, v;
};

static double naive(const struct fxp_tick *t, size_t n)
{
    static const int64_t step[FXP_TF_COUNT] = {
        60000, 300000, 900000, 1800000, 3600000, 14400000, 86400000, 604800000};
    static struct nbar cur[NSYM][FXP_TF_COUNT];
    memset(cur, 0, sizeof cur);
    double emitted = 0;
    for (size_t i = 0; i < n; i++) {
        double px = (t[i].bid + t[i].ask) * 0.5;
        for (int k = 0; k < FXP_TF_COUNT; k++) {
            struct nbar *b = &cur[t[i].sym][k];
            int64_t s = t[i].ts_ms / step[k] * step[k];
            if (s != b->start) {
                emitted += b->c;
                b->start = s;
                b->o = b->h = b->l = px;
                b->v = 0;
            }
            b->h = px > b->h ? px : b->h;
            b->l = px < b->l ? px : b->l;
            b->c = px;
            b->v += 1;
        }
    }
    return emitted;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 50 || n == 0) {
        fprintf(stderr, "usage: bench_engine [n_ticks] [runs]\n");
        return 2;
    }
    char err[256];
    struct fxp_tz *ny;
    if (fxp_tz_load("America/New_York", &ny, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct fxp_tick *t = malloc(n * sizeof *t);
    if (!t)
        return 1;
    /* Sunday 2024-03-10 21:00Z .. Friday 21:00Z: 120 h of quotes. */
    int64_t t0 = 1710104400000LL, span = 120LL * 3600000;
    double px[NSYM];
    for (int s = 0; s < NSYM; s++)
        px[s] = 1.0 + s * 0.25;
    srand(42);
    for (size_t i = 0; i < n; i++) {
        uint32_t s = (uint32_t)(rand() % NSYM);
        px[s] *= 1 + ((rand() % 2001) - 1000) * 1e-8;
        t[i] = (struct fxp_tick){
            .ts_ms = t0 + (int64_t)((double)i / (double)n * (double)span),
            .bid = px[s],
            .ask = px[s] + 0.0001,
            .sym = s};
    }
    double r_eng[50], r_naive[50], r_read[50], sink = 0;
    for (int r = 0; r < runs; r++) {
        struct fxp_agg_cfg cfg;
        fxp_agg_cfg_default(&cfg, ny);
        cfg.max_symbols = NSYM;
        struct fxp_agg *a = fxp_agg_new(&cfg, count_bar, NULL);
        n_bars = 0;
        double s0 = now();
        for (size_t i = 0; i < n; i += 65536)
            fxp_agg_ticks(a, t + i, n - i < 65536 ? n - i : 65536, NULL);
        fxp_agg_flush(a);
        r_eng[r] = (double)n / (now() - s0);
        fxp_agg_free(a);

        s0 = now();
        sink += naive(t, n);
        r_naive[r] = (double)n / (now() - s0);

        s0 = now();
        double acc = 0;
        for (size_t i = 0; i < n; i++)
            acc += t[i].bid + (double)t[i].ts_ms;
        sink += acc;
        r_read[r] = (double)n / (now() - s0);
    }
    double e = median(r_eng, runs), nv = median(r_naive, runs),
           rd = median(r_read, runs);
    printf("engine: %zu ticks, %d symbols, 8 timeframes, %llu bars, "
           "median of %d runs\n",
           n, NSYM, (unsigned long long)n_bars, runs);
    printf("  fxpipe engine   %8.1f M ticks/s\n", e / 1e6);
    printf("  naive C loop    %8.1f M ticks/s   (engine is %.1fx)\n", nv / 1e6,
           e / nv);
    printf("  memory read     %8.1f M ticks/s   (engine at %.0f%%)\n", rd / 1e6,
           100 * e / rd);
    if (sink == 42.4242)
        puts("");
    free(t);
    fxp_tz_free(ny);
    return 0;
}
