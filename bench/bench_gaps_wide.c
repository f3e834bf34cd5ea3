/*
 * bench_gaps_wide.c - gap detection over many series end to end:
 * N symbols (28) x all 8 timeframes x 10 years (2015-2024) in one SQLite
 * store, ~1% of the 1m bars missing in random runs, the higher timeframes
 * built from the 1m bars by the engine, everything written through
 * fxp_store_write. Times fxp_gaps_detect over every series (median of 3)
 * and reports peak RSS of the detecting process (the database is built in
 * a child process so building does not count).
 *
 * usage: bench_gaps_wide [DB_PATH] [N_SYMBOLS]
 * The database (~20 GB for 28 symbols) is reused when it exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fxpipe/aggregate.h"
#include "fxpipe/calendar.h"
#include "fxpipe/gaps.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"
#include "fxpipe/tz.h"

#define FROM   1420070400000LL /* 2015-01-01 */
#define TO     1735689600000LL /* 2025-01-01 */
#define WBATCH 8192

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct sink {
    struct fxp_store *s;
    struct fxp_symtab *st;
    struct fxp_bar buf[WBATCH];
    size_t n;
    int rc;
};

static void flush(struct sink *k)
{
    if (!k->n || k->rc)
        return;
    struct fxp_store_batch b = {
        .bars = k->buf, .n_bars = k->n, .symtab = k->st};
    k->rc = fxp_store_write(k->s, &b);
    k->n = 0;
}

static void on_bar(void *ud, const struct fxp_bar *b, bool revision)
{
    (void)revision;
    struct sink *k = ud;
    k->buf[k->n++] = *b;
    if (k->n == WBATCH)
        flush(k);
}

static char names[64][8];

static int build(const char *path, int nsym, const struct fxp_calendar *cal,
                 const struct fxp_tz *ny)
{
    struct fxp_store_opts so;
    fxp_store_opts_default(&so);
    char err[512];
    struct sink *k = calloc(1, sizeof *k);
    if (fxp_store_open(path, &so, &k->s, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    k->st = fxp_symtab_new(64);
    struct fxp_align al = {FXP_SESSION_NY_CLOSE, ny};
    size_t cap = fxp_cal_expected_bars(cal, &al, FXP_TF_1M, FROM, TO, NULL, 0);
    int64_t *e = malloc(cap * sizeof *e);
    fxp_cal_expected_bars(cal, &al, FXP_TF_1M, FROM, TO, e, cap);
    uint32_t rng = 12345;
    for (int s = 0; s < nsym; s++) {
        uint32_t id;
        fxp_symtab_intern(k->st, names[s], strlen(names[s]), &id);
        struct fxp_agg_cfg ac;
        fxp_agg_cfg_default(&ac, ny);
        ac.source = FXP_SRC_HISTORICAL;
        ac.lateness_ms = 0;
        ac.max_symbols = 64;
        struct fxp_agg *a = fxp_agg_new(&ac, on_bar, k);
        double px = 1.0 + s * 0.1;
        size_t skip = 0;
        for (size_t i = 0; i < cap; i++) {
            rng = rng * 1664525u + 1013904223u;
            if (skip) {
                skip--;
                continue;
            }
            if (rng % 6000 == 0) { /* a run of ~60 missing minutes */
                skip = 1 + (rng >> 8) % 120;
                continue;
            }
            px *= 1 + ((double)((rng >> 4) % 201) - 100) * 1e-6;
            struct fxp_bar b = {.ts_ms = e[i],
                                .open = px,
                                .high = px * 1.0001,
                                .low = px * 0.9999,
                                .close = px,
                                .volume = 5,
                                .n_ticks = 5,
                                .sym = id,
                                .tf = FXP_TF_1M};
            fxp_agg_bar(a, &b);
        }
        fxp_agg_flush(a);
        fxp_agg_free(a);
        flush(k);
        if (k->rc) {
            fprintf(stderr, "write failed: %s\n", fxp_store_errmsg(k->s));
            return 1;
        }
        fprintf(stderr, "\rbuilt %d/%d symbols", s + 1, nsym);
    }
    fprintf(stderr, "\n");
    fxp_store_close(k->s);
    return 0;
}

int main(int argc, char **argv)
{
    char path[512];
    snprintf(path, sizeof path, "%s",
             argc > 1 ? argv[1] : "/tmp/fxp_bench_gaps_wide.db");
    int nsym = argc > 2 ? atoi(argv[2]) : 28;
    if (nsym < 1 || nsym > 64)
        return 2;
    static const char *cur[] = {"EUR", "GBP", "AUD", "NZD",
                                "USD", "CAD", "CHF", "JPY"};
    for (int s = 0; s < nsym; s++)
        snprintf(names[s], sizeof names[s], "%s%s%c", cur[s % 8],
                 cur[(s / 8 + s % 8 + 1) % 8], (char)('A' + s / 8));
    char err[512];
    struct fxp_tz *ny;
    struct fxp_calendar *cal;
    if (fxp_tz_load("America/New_York", &ny, err, sizeof err) ||
        fxp_cal_new(ny, "default", &cal, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        double t0 = now_ms();
        pid_t pid = fork();
        if (pid == 0)
            _exit(build(path, nsym, cal, ny));
        int status;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status))
            return 1;
        stat(path, &sb);
        printf("built '%s' (%.1f GB) in %.0f s\n", path,
               (double)sb.st_size / 1e9, (now_ms() - t0) / 1000);
    }
    struct fxp_store *s;
    struct fxp_store_opts so;
    fxp_store_opts_default(&so);
    if (fxp_store_open(path, &so, &s, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct fxp_align al = {FXP_SESSION_NY_CLOSE, ny};
    double runs[3];
    uint64_t ranges = 0, expected = 0, missing = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = now_ms();
        ranges = expected = missing = 0;
        for (int i = 0; i < nsym; i++)
            for (int tf = 0; tf < FXP_TF_COUNT; tf++) {
                struct fxp_gap_report rep;
                if (fxp_gaps_detect(s, cal, &al, names[i], (fxp_tf)tf, FROM, TO,
                                    NULL, &rep, err, sizeof err)) {
                    fprintf(stderr, "%s\n", err);
                    return 1;
                }
                ranges += rep.n_ranges;
                expected += rep.expected;
                missing += rep.missing;
                fxp_gap_report_release(&rep);
            }
        runs[r] = now_ms() - t0;
    }
    qsort(runs, 3, sizeof runs[0], cmp_double);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("gaps wide: %d symbols x 8 timeframes x 10 years: %llu expected "
           "bars, %llu missing in %llu ranges\n",
           nsym, (unsigned long long)expected, (unsigned long long)missing,
           (unsigned long long)ranges);
    printf("  fxp_gaps_detect over all %d series: %.0f ms (median of 3), peak "
           "RSS %.1f MB\n",
           nsym * 8, runs[1], (double)ru.ru_maxrss / 1024.0);
    fxp_store_close(s);
    fxp_cal_free(cal);
    fxp_tz_free(ny);
    return 0;
}
