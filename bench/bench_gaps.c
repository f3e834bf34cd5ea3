/*
 * bench_gaps.c - gap detection over ten years of 1m bars of one symbol.
 *
 * (a) In memory: the expected 1m bars of 2015-01-01 .. 2025-01-01 (default
 *     holidays, ny-close) enumerated by fxp_cal_expected_bars, present =
 *     expected minus ~1% removed in seeded random runs of 1..120 bars;
 *     times the enumeration and fxp_gaps_diff separately, median of 5.
 *     bench/gaps_pandas.py does the same with pandas.
 * (b) End to end: a SQLite database holding those present bars (built
 *     through fxp_store_write in batches by a child process, so its memory
 *     does not count; reused when the file already exists), then
 *     fxp_gaps_detect over the ten years, median of 3, with the peak RSS
 *     of the process, which has done nothing else yet.
 *
 * usage: bench_gaps [DB_PATH]   (default $TMPDIR/fxp_bench_gaps_10y.db;
 *                                the file is kept for the next run)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fxpipe/calendar.h"
#include "fxpipe/err.h"
#include "fxpipe/gaps.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/tz.h"
#include "fxpipe/version.h"

#define FROM_MS  1420070400000LL /* 2015-01-01T00:00:00Z */
#define TO_MS    1735689600000LL /* 2025-01-01T00:00:00Z */
#define SEED     20150101u
#define RUN_MAX  120
#define BATCH    100000
#define MEM_RUNS 5
#define E2E_RUNS 3

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
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

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* The expected bars of the ten years, heap-allocated. */
static int64_t *enumerate(const struct fxp_calendar *cal,
                          const struct fxp_align *al, size_t *n)
{
    *n = fxp_cal_count_bars(cal, al, FXP_TF_1M, FROM_MS, TO_MS);
    int64_t *e = malloc(*n * sizeof *e);
    if (!e)
        return NULL;
    fxp_cal_expected_bars(cal, al, FXP_TF_1M, FROM_MS, TO_MS, e, *n);
    return e;
}

/* Expected minus runs of 1..RUN_MAX bars starting with probability
 * 1 / (100 * mean run length): about 1% removed. */
static size_t make_present(const int64_t *e, size_t ne, int64_t *p)
{
    uint32_t s = SEED;
    size_t np = 0;
    for (size_t i = 0; i < ne; i++) {
        if (rnd(&s) % (100 * (RUN_MAX + 1) / 2) == 0) {
            i += rnd(&s) % RUN_MAX; /* this bar and up to RUN_MAX-1 more */
            continue;
        }
        p[np++] = e[i];
    }
    return np;
}

static int write_series(struct fxp_store *s, struct fxp_symtab *st,
                        uint32_t sym, const int64_t *p, size_t np)
{
    struct fxp_bar *b = malloc(BATCH * sizeof *b);
    int rc = FXP_OK;

    if (!b)
        return FXP_ENOMEM;
    for (size_t i = 0; i < np && !rc; i += BATCH) {
        size_t k = np - i < BATCH ? np - i : BATCH;
        for (size_t j = 0; j < k; j++) {
            double px = 1.1 + (double)((i + j) % 5000) * 1e-5;
            b[j] = (struct fxp_bar){
                .ts_ms = p[i + j],
                .open = px,
                .high = px + 0.0003,
                .low = px - 0.0002,
                .close = px + 0.0001,
                .volume = 40,
                .version = fxp_version_make(FXP_SRC_HISTORICAL, 40),
                .n_ticks = 40,
                .sym = sym,
                .tf = FXP_TF_1M,
                .source = FXP_SRC_HISTORICAL,
            };
        }
        struct fxp_store_batch bt = {.bars = b, .n_bars = k, .symtab = st};
        if ((rc = fxp_store_write(s, &bt)))
            fprintf(stderr, "bench_gaps: write: %s\n", fxp_store_errmsg(s));
    }
    free(b);
    return rc;
}

/* EURUSD: the ten years minus ~1% in runs; GBPUSD: all of them. */
static int build_db(const char *path, const struct fxp_calendar *cal,
                    const struct fxp_align *al)
{
    size_t ne, np = 0;
    int64_t *e = enumerate(cal, al, &ne);
    int64_t *p = e ? malloc(ne * sizeof *p) : NULL;
    struct fxp_symtab *st = fxp_symtab_new(4);
    struct fxp_store *s = NULL;
    struct fxp_store_opts o;
    char err[256];
    uint32_t eur = 0, gbp = 0;
    int rc = FXP_ENOMEM;

    if (!p || !st || fxp_symtab_intern(st, "EURUSD", 6, &eur) ||
        fxp_symtab_intern(st, "GBPUSD", 6, &gbp))
        goto out;
    np = make_present(e, ne, p);
    fxp_store_opts_default(&o);
    if ((rc = fxp_store_open(path, &o, &s, err, sizeof err))) {
        fprintf(stderr, "bench_gaps: %s\n", err);
        goto out;
    }
    double t0 = now_ms();
    if ((rc = write_series(s, st, eur, p, np)) ||
        (rc = write_series(s, st, gbp, e, ne)))
        goto out;
    printf("built '%s': %zu + %zu bars in %.1f s\n", path, np, ne,
           (now_ms() - t0) / 1e3);
out:
    fxp_store_close(s);
    fxp_symtab_free(st);
    free(p);
    free(e);
    return rc;
}

static int time_detect(struct fxp_store *s, const struct fxp_calendar *cal,
                       const struct fxp_align *al, const char *sym,
                       const char *what)
{
    struct fxp_gaps_opts go;
    char err[256];
    double t[E2E_RUNS];
    int rc = FXP_OK;

    fxp_gaps_opts_default(&go);
    for (int r = 0; r < E2E_RUNS; r++) {
        struct fxp_gap_report rep;
        double t0 = now_ms();
        rc = fxp_gaps_detect(s, cal, al, sym, FXP_TF_1M, FROM_MS, TO_MS, &go,
                             &rep, err, sizeof err);
        t[r] = now_ms() - t0;
        if (rc) {
            fprintf(stderr, "bench_gaps: detect: %s\n", err);
            return rc;
        }
        if (r == 0)
            printf("(b) %s (%s): %llu expected, %llu present, %zu ranges\n",
                   sym, what, (unsigned long long)rep.expected,
                   (unsigned long long)rep.present, rep.n_ranges);
        fxp_gap_report_release(&rep);
    }
    printf("(b) fxp_gaps_detect %s, 10 years of 1m from SQLite: %.2f ms "
           "(median of %d)\n",
           sym, median(t, E2E_RUNS), E2E_RUNS);
    return FXP_OK;
}

static int end_to_end(const char *path, const struct fxp_calendar *cal,
                      const struct fxp_align *al)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        /* Build in a child so the building does not count in our RSS. */
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            return FXP_EIO;
        if (pid == 0) {
            int brc = build_db(path, cal, al);
            fflush(stdout);
            _exit(brc ? 1 : 0);
        }
        int status = 0;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status)) {
            unlink(path);
            return FXP_EIO;
        }
    } else {
        printf("reusing '%s'\n", path);
    }

    struct fxp_store *s = NULL;
    struct fxp_store_opts o;
    long rss0 = peak_rss_kb();
    char err[256];
    int rc;

    fxp_store_opts_default(&o);
    if ((rc = fxp_store_open(path, &o, &s, err, sizeof err))) {
        fprintf(stderr, "bench_gaps: %s\n", err);
        return rc;
    }
    rc = time_detect(s, cal, al, "EURUSD", "1% missing in runs");
    if (!rc)
        rc = time_detect(s, cal, al, "GBPUSD", "complete");
    fxp_store_close(s);
    if (!rc)
        printf("(b) peak RSS %.1f MB (%.1f MB before the first detection)\n",
               peak_rss_kb() / 1024.0, rss0 / 1024.0);
    return rc;
}

static int in_memory(const struct fxp_calendar *cal, const struct fxp_align *al)
{
    double te[MEM_RUNS], td[MEM_RUNS];
    size_t ne = 0, np = 0, nr = 0;
    uint64_t miss = 0;
    int64_t *e = NULL, *p = NULL;
    struct fxp_gap_range *out = NULL;

    for (int r = 0; r < MEM_RUNS; r++) {
        free(e);
        double t0 = now_ms();
        e = enumerate(cal, al, &ne);
        te[r] = now_ms() - t0;
        if (!e)
            return FXP_ENOMEM;
    }
    p = malloc(ne * sizeof *p);
    if (!p) {
        free(e);
        return FXP_ENOMEM;
    }
    np = make_present(e, ne, p);
    nr = fxp_gaps_diff(al, FXP_TF_1M, e, ne, p, np, NULL, 0, NULL);
    out = malloc((nr ? nr : 1) * sizeof *out);
    for (int r = 0; out && r < MEM_RUNS; r++) {
        double t0 = now_ms();
        nr = fxp_gaps_diff(al, FXP_TF_1M, e, ne, p, np, out, nr, &miss);
        td[r] = now_ms() - t0;
    }
    if (out) {
        printf("(a) %zu expected 1m bars, %zu present (%.2f%% removed), "
               "%zu ranges, %llu missing\n",
               ne, np, 100.0 * (double)(ne - np) / (double)ne, nr,
               (unsigned long long)miss);
        printf("(a) enumeration (fxp_cal_expected_bars): %.2f ms, "
               "fxp_gaps_diff: %.2f ms (medians of %d)\n",
               median(te, MEM_RUNS), median(td, MEM_RUNS), MEM_RUNS);
    }
    free(out);
    free(p);
    free(e);
    return out ? FXP_OK : FXP_ENOMEM;
}

int main(int argc, char **argv)
{
    struct fxp_tz *ny = NULL;
    struct fxp_calendar *cal = NULL;
    char err[256], path[512];
    const char *tmp = getenv("TMPDIR");
    int rc;

    if (argc > 1)
        snprintf(path, sizeof path, "%s", argv[1]);
    else
        snprintf(path, sizeof path, "%s/fxp_bench_gaps_10y.db",
                 tmp && *tmp ? tmp : "/tmp");
    if (fxp_tz_load("America/New_York", &ny, err, sizeof err) ||
        fxp_cal_new(ny, NULL, &cal, err, sizeof err)) {
        fprintf(stderr, "bench_gaps: %s\n", err);
        return 1;
    }
    struct fxp_align al = {FXP_SESSION_NY_CLOSE, ny};
    rc = end_to_end(path, cal, &al);
    if (!rc)
        rc = in_memory(cal, &al);
    fxp_cal_free(cal);
    fxp_tz_free(ny);
    return rc ? 1 : 0;
}
