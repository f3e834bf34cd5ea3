/*
 * bench_journal.c - the journal's append speed under each fsync policy,
 * next to the raw sequential write speed of the same disk measured in the
 * same run, and the time to recover (open, verify, replay) a 1 GB journal.
 *
 * usage: bench_journal [DIR] [--quick]   (DIR default /tmp)
 *
 * Everything is written under DIR/fxp_bench_journal_XXXXXX, which is
 * removed at the end. Records are 48-byte payloads (a tick) appended in
 * batches of 4096; each figure is the median of 3 runs. MB = 10^6 bytes;
 * "disk MB/s" counts the framed bytes (16-byte record headers included),
 * "payload MB/s" the 48-byte payloads only. --quick shrinks every size by
 * 16 for a smoke test.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <sys/stat.h>

#include "fxpipe/err.h"
#include "fxpipe/journal.h"
#include "../src/reliable/crc32c.h" /* internal: no src/ on the path */

#define REC    48
#define BATCH  4096
#define RUNS   3
#define FRAMED (REC + 16)
#define MB     1e6

static char base[512]; /* the scratch directory */
static char jdir[600]; /* base/j */
static unsigned scale = 1;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median3(double v[RUNS])
{
    qsort(v, RUNS, sizeof v[0], cmp_double);
    return v[RUNS / 2];
}

static void rm_journal(void)
{
    DIR *d = opendir(jdir);
    struct dirent *de;
    char path[1024];
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", jdir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(jdir);
}

static void die(const char *what, int rc, const char *err)
{
    fprintf(stderr, "bench_journal: %s: %s %s\n", what, fxp_err_name(rc),
            err ? err : "");
    rm_journal();
    rmdir(base);
    exit(1);
}

/* Evict a finished file from the page cache, so reads come from disk. */
static void drop_cache(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[1024];
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    closedir(d);
}

/* ---- raw sequential writes -------------------------------------------- */

static double raw_write(uint64_t total)
{
    static unsigned char block[1 << 20];
    char path[1024];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (unsigned char)(i * 2654435761u >> 13);
    snprintf(path, sizeof path, "%s/raw.bin", base);
    double t0 = now();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("open raw.bin", FXP_EIO, strerror(errno));
    for (uint64_t done = 0; done < total; done += sizeof block)
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
            die("write raw.bin", FXP_EIO, strerror(errno));
    if (fsync(fd) != 0)
        die("fsync raw.bin", FXP_EIO, strerror(errno));
    close(fd);
    double t = now() - t0;
    unlink(path);
    return (double)total / MB / t;
}

/* ---- appends ------------------------------------------------------------ */

struct run {
    double append_s; /* appends only */
    double total_s;  /* appends + close (its fsync) */
    uint64_t records;
    double lat_p50_ms, lat_p99_ms, lat_max_ms; /* per append call */
};

static unsigned char payload[BATCH][REC];
static const void *ptrs[BATCH];
static uint32_t lens[BATCH];

static void fill_batch(uint64_t seq0)
{
    for (size_t i = 0; i < BATCH; i++) {
        /* A plausible tick: ts, bid, ask, volume, symbol id, flags. */
        uint64_t v = (seq0 + i) * 0x9E3779B97F4A7C15ull;
        for (size_t k = 0; k < REC; k += 8) {
            v ^= v >> 29;
            v *= 0xBF58476D1CE4E5B9ull;
            memcpy(payload[i] + k, &v, 8);
        }
        ptrs[i] = payload[i];
        lens[i] = REC;
    }
}

/* Append up to max_batches batches of `batch` records (or for at most
 * max_s seconds) under `policy`, into a fresh journal. */
static struct run append_run(fxp_fsync_policy policy, size_t batch,
                             uint64_t max_batches, double max_s)
{
    struct fxp_journal_opts o;
    struct fxp_journal *j;
    struct run r = {0};
    char err[512];
    int rc;

    rm_journal();
    fxp_journal_opts_default(&o);
    o.fsync = policy;
    o.fsync_every_ms = 100;
    if ((rc = fxp_journal_open(jdir, &o, &j, err, sizeof err)))
        die("open", rc, err);
    double *lat = malloc(max_batches * sizeof *lat);
    if (!lat)
        die("malloc", FXP_ENOMEM, NULL);
    uint64_t n = 0;
    double t0 = now();
    while (n < max_batches) {
        double c0 = now();
        if ((rc = fxp_journal_append(j, ptrs, lens, batch, NULL)))
            die("append", rc, NULL);
        double c1 = now();
        lat[n++] = (c1 - c0) * 1e3;
        if (c1 - t0 > max_s)
            break;
    }
    r.append_s = now() - t0;
    fxp_journal_close(j);
    r.total_s = now() - t0;
    r.records = n * batch;
    qsort(lat, n, sizeof *lat, cmp_double);
    r.lat_p50_ms = lat[n / 2];
    r.lat_p99_ms = lat[n * 99 / 100];
    r.lat_max_ms = lat[n - 1];
    free(lat);
    return r;
}

static void bench_policy(const char *name, fxp_fsync_policy policy,
                         size_t batch, uint64_t max_batches, double max_s,
                         double raw)
{
    double rps[RUNS], rps_all[RUNS], p50[RUNS], p99[RUNS], mx[RUNS];
    uint64_t records = 0;
    for (int i = 0; i < RUNS; i++) {
        struct run r = append_run(policy, batch, max_batches, max_s);
        rps[i] = (double)r.records / r.append_s;
        rps_all[i] = (double)r.records / r.total_s;
        p50[i] = r.lat_p50_ms;
        p99[i] = r.lat_p99_ms;
        mx[i] = r.lat_max_ms;
        records = r.records;
    }
    double a = median3(rps), t = median3(rps_all);
    printf("%-14s %6zu %10" PRIu64 " %12.0f %9.1f %9.1f %6.0f%% %12.0f "
           "%8.3f %8.3f %8.3f\n",
           name, batch, records, a, a * REC / MB, a * FRAMED / MB,
           100.0 * a * FRAMED / MB / raw, t, median3(p50), median3(p99),
           median3(mx));
    fflush(stdout);
}

/* ---- recovery ------------------------------------------------------------ */

static void bench_recovery(uint64_t bytes)
{
    struct fxp_journal_opts o;
    struct fxp_journal *j;
    struct fxp_journal_info info;
    char err[512];
    int rc;

    rm_journal();
    fxp_journal_opts_default(&o);
    o.fsync = FXP_FSYNC_NEVER;
    if ((rc = fxp_journal_open(jdir, &o, &j, err, sizeof err)))
        die("open", rc, err);
    uint64_t batches = bytes / (BATCH * FRAMED);
    double t0 = now();
    for (uint64_t b = 0; b < batches; b++) {
        if ((b & 63) == 0)
            fill_batch(b * BATCH);
        if ((rc = fxp_journal_append(j, ptrs, lens, BATCH, NULL)))
            die("append", rc, NULL);
    }
    fxp_journal_close(j);
    double tw = now() - t0;
    if ((rc = fxp_journal_verify(jdir, NULL, &info, err, sizeof err)))
        die("verify", rc, err);
    const double gb = (double)info.bytes / 1e9;
    printf("\nrecovery: %.2f GB journal, %" PRIu64 " records of %d bytes in "
           "%" PRIu64 " segments (written in %.2f s, never policy)\n",
           gb, info.records, REC, info.segments, tw);
    printf("%-34s %10s %10s %10s\n", "step", "cache", "seconds", "GB/s");

    for (int cold = 1; cold >= 0; cold--) {
        const char *cache = cold ? "cold" : "warm";
        double t[3];
        if (cold)
            drop_cache(jdir);
        t0 = now();
        if ((rc = fxp_journal_open(jdir, &o, &j, err, sizeof err)))
            die("reopen", rc, err);
        t[0] = now() - t0;
        if (fxp_journal_next_seq(j) != info.records + 1)
            die("reopen: wrong next seq", FXP_EIO, NULL);
        fxp_journal_close(j);

        if (cold)
            drop_cache(jdir);
        t0 = now();
        if ((rc = fxp_journal_verify(jdir, NULL, &info, err, sizeof err)) ||
            info.corrupt || info.torn_bytes)
            die("verify", rc, err);
        t[1] = now() - t0;

        if (cold)
            drop_cache(jdir);
        struct fxp_journal_iter *it;
        uint64_t seq, n = 0, sum = 0;
        const void *data;
        uint32_t len;
        t0 = now();
        if ((rc = fxp_journal_iter_open(jdir, 0, NULL, &it, err, sizeof err)))
            die("iter_open", rc, err);
        while ((rc = fxp_journal_iter_next(it, &seq, &data, &len, err,
                                           sizeof err)) == FXP_OK) {
            n++;
            sum += ((const unsigned char *)data)[0];
        }
        fxp_journal_iter_close(it);
        t[2] = now() - t0;
        if (rc != FXP_ECLOSED || n != info.records)
            die("iterate", rc, err);
        (void)sum;
        printf("%-34s %10s %10.3f %10s\n", "open (tail check of last seg.)",
               cache, t[0], "-");
        printf("%-34s %10s %10.3f %10.2f\n", "verify (every CRC)", cache, t[1],
               gb / t[1]);
        printf("%-34s %10s %10.3f %10.2f\n", "replay (iterate every record)",
               cache, t[2], gb / t[2]);
    }
    rm_journal();
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            scale = 16;
        else
            dir = argv[i];
    }
    snprintf(base, sizeof base, "%s/fxp_bench_journal_XXXXXX", dir);
    if (!mkdtemp(base)) {
        fprintf(stderr, "bench_journal: cannot create '%s': %s\n", base,
                strerror(errno));
        return 1;
    }
    snprintf(jdir, sizeof jdir, "%s/j", base);
    fill_batch(0);

    static unsigned char crcbuf[1 << 20];
    double t0 = now();
    uint32_t c = 0;
    for (int i = 0; i < 256; i++)
        c = fxp__crc32c(c, crcbuf, sizeof crcbuf);
    double crc_gbs = 256.0 * sizeof crcbuf / 1e9 / (now() - t0);

    printf("bench_journal: %s, crc32c %s %.1f GB/s, median of %d runs\n\n",
           base, fxp__crc32c_hw() ? "sse4.2" : "table", crc_gbs, RUNS);
    (void)c;

    double raw[RUNS];
    uint64_t raw_bytes = (512ull << 20) / scale;
    for (int i = 0; i < RUNS; i++)
        raw[i] = raw_write(raw_bytes);
    double rawm = median3(raw);
    printf("raw sequential write: %.0f MB/s (1 MiB write()s, %" PRIu64
           " MiB, fsync at the end)\n\n",
           rawm, raw_bytes >> 20);

    printf("%-14s %6s %10s %12s %9s %9s %7s %12s %8s %8s %8s\n", "policy",
           "batch", "records", "records/s", "payload", "disk", "of raw",
           "rec/s+close", "p50 ms", "p99 ms", "max ms");
    printf("%-14s %6s %10s %12s %9s %9s %7s %12s %8s %8s %8s\n", "", "", "",
           "(appends)", "MB/s", "MB/s", "", "", "/call", "/call", "/call");
    const uint64_t nb = 1024 / scale; /* 4M records, 256 MiB framed */
    bench_policy("never", FXP_FSYNC_NEVER, BATCH, nb, 1e9, rawm);
    bench_policy("every 100 ms", FXP_FSYNC_EVERY, BATCH, nb, 1e9, rawm);
    bench_policy("always", FXP_FSYNC_ALWAYS, BATCH, nb, 10.0 / scale, rawm);
    bench_policy("always", FXP_FSYNC_ALWAYS, 64, 20000 / scale, 3.0 / scale,
                 rawm);
    bench_policy("always", FXP_FSYNC_ALWAYS, 1, 20000 / scale, 3.0 / scale,
                 rawm);

    bench_recovery((1000ull * 1000 * 1000) / scale);
    rm_journal();
    rmdir(base);
    return 0;
}
