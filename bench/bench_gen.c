/*
 * bench_gen.c - write a tick CSV for benchmarks: N ticks of 8 symbols over
 * consecutive trading weeks (about 3 quotes/s per symbol), header
 * symbol,ts,bid,ask. Deterministic.
 *
 * usage: bench_gen N_TICKS > ticks.csv
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_gen N_TICKS > ticks.csv\n");
        return 2;
    }
    uint64_t n = strtoull(argv[1], NULL, 10);
    static const char *sym[8] = {"EURUSD", "GBPUSD", "USDJPY", "XAUUSD",
                                 "AUDUSD", "USDCHF", "USDCAD", "NZDUSD"};
    static const int dec[8] = {5, 5, 3, 2, 5, 5, 5, 5};
    double px[8] = {1.085, 1.265, 149.5, 2030, 0.66, 0.88, 1.36, 0.60};
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    puts("symbol,ts,bid,ask");
    /* Sunday 2024-01-07 22:00Z; 120 h weeks, 48 h weekends. */
    int64_t week0 = 1704664800000LL, open_ms = 120LL * 3600000;
    double step = 1000.0 / 24.0; /* 24 quotes/s over 8 symbols */
    for (uint64_t i = 0; i < n; i++) {
        int64_t t = (int64_t)((double)i * step);
        int64_t ts = week0 + t / open_ms * 168 * 3600000LL + t % open_ms;
        int s = (int)(next() % 8);
        px[s] *= 1 + ((double)(next() % 2001) - 1000) * 2e-8;
        double pip = dec[s] == 5 ? 1e-5 : dec[s] == 3 ? 1e-3 : 1e-2;
        double spread = pip * (double)(1 + next() % 20);
        printf("%s,%" PRId64 ",%.*f,%.*f\n", sym[s], ts, dec[s], px[s], dec[s],
               px[s] + spread);
    }
    return 0;
}
