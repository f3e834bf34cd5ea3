/*
 * test_journal.c - the journal (journal.h) and its io seam (io.h): CRC32C
 * vectors; append, reopen and replay from every sequence number across
 * segments; recovery from a torn tail, a torn header and a flipped bit;
 * disk full, failing and short writes, failing fsync and ftruncate through
 * fxp_io_faulty; retention; the fsync policies. Every test works in its
 * own mkdtemp directory and removes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fxpipe/err.h"
#include "fxpipe/io.h"
#include "fxpipe/journal.h"
#include "reliable/crc32c.h"

struct fx {
    char dir[64];     /* the test's temporary directory */
    char jdir[96];    /* dir/j, the journal */
    int warnings;     /* on_warn calls */
    char warn[4400];  /* the last warning */
    struct fxp_io io; /* fxp_io_faulty over `faults` */
    struct fxp_io_faults faults;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "%s/fxp_journal_XXXXXX",
             tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->jdir, sizeof f->jdir, "%s/j", f->dir);
    f->faults.base = fxp_io_posix();
    fxp_io_faulty(&f->io, &f->faults);
    *state = f;
    return 0;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];
    if (!d)
        return;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    rm_dir(f->jdir);
    rm_dir(f->dir);
    free(f);
    return 0;
}

static void on_warn(void *ud, const char *msg)
{
    struct fx *f = ud;
    f->warnings++;
    snprintf(f->warn, sizeof f->warn, "%s", msg);
}

static struct fxp_journal_opts opts(struct fx *f, uint64_t segment_bytes)
{
    struct fxp_journal_opts o;
    fxp_journal_opts_default(&o);
    o.fsync = FXP_FSYNC_NEVER;
    o.segment_bytes = segment_bytes;
    o.on_warn = on_warn;
    o.ud = f;
    return o;
}

static struct fxp_journal *open_j(struct fx *f,
                                  const struct fxp_journal_opts *o)
{
    struct fxp_journal *j = NULL;
    char err[512];
    int rc = fxp_journal_open(f->jdir, o, &j, err, sizeof err);
    if (rc != FXP_OK)
        fail_msg("open: %s: %s", fxp_err_name(rc), err);
    return j;
}

/* The payload of record `seq`: 1..60 bytes, derived from seq. */
static uint32_t payload(uint64_t seq, unsigned char *buf)
{
    uint32_t len = 1 + (uint32_t)(seq * 7 % 60);
    for (uint32_t i = 0; i < len; i++)
        buf[i] = (unsigned char)(seq * 31 + i);
    return len;
}

/* Append records first..first+count-1 in batches; returns the status of
 * the first failing call (FXP_OK when all worked). */
static int append_range(struct fxp_journal *j, uint64_t first, size_t count,
                        size_t batch)
{
    static unsigned char bufs[64][64];
    const void *ptrs[64];
    uint32_t lens[64];
    assert_true(batch <= 64);
    for (size_t done = 0; done < count;) {
        size_t n = count - done < batch ? count - done : batch;
        for (size_t i = 0; i < n; i++) {
            lens[i] = payload(first + done + i, bufs[i]);
            ptrs[i] = bufs[i];
        }
        uint64_t got = 0;
        int rc = fxp_journal_append(j, ptrs, lens, n, &got);
        if (rc != FXP_OK)
            return rc;
        assert_int_equal(got, first + done);
        done += n;
    }
    return FXP_OK;
}

/* Iterate from `from` and check records from..last are there, in order,
 * with the right payloads, then the end. */
static void expect_replay(struct fx *f, uint64_t from, uint64_t last)
{
    struct fxp_journal_iter *it;
    unsigned char want[64];
    char err[512];
    uint64_t seq;
    const void *data;
    uint32_t len;
    int rc = fxp_journal_iter_open(f->jdir, from, NULL, &it, err, sizeof err);
    if (rc != FXP_OK)
        fail_msg("iter_open: %s", err);
    for (uint64_t s = from ? from : 1; s <= last; s++) {
        rc = fxp_journal_iter_next(it, &seq, &data, &len, err, sizeof err);
        if (rc != FXP_OK)
            fail_msg("next at %llu: %s %s", (unsigned long long)s,
                     fxp_err_name(rc), err);
        assert_int_equal(seq, s);
        uint32_t wl = payload(s, want);
        assert_int_equal(len, wl);
        assert_memory_equal(data, want, wl);
    }
    assert_int_equal(
        fxp_journal_iter_next(it, &seq, &data, &len, err, sizeof err),
        FXP_ECLOSED);
    fxp_journal_iter_close(it);
}

static void seg_path(const struct fx *f, uint64_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%020llu.fxj", f->jdir, (unsigned long long)first);
}

/* The segments' first seqs, ascending; returns how many. */
static size_t list_segs(const struct fx *f, uint64_t *firsts, size_t cap)
{
    DIR *d = opendir(f->jdir);
    struct dirent *de;
    size_t n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".fxj") && n < cap)
            firsts[n++] = strtoull(de->d_name, NULL, 10);
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && firsts[k - 1] > firsts[k]; k--) {
            uint64_t t = firsts[k];
            firsts[k] = firsts[k - 1];
            firsts[k - 1] = t;
        }
    return n;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void flip_bit(const char *path, off_t off, int bit)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= (unsigned char)(1u << bit);
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* The file offset of record `seq` in the segment starting at `first`. */
static off_t record_offset(uint64_t first, uint64_t seq)
{
    unsigned char buf[64];
    off_t off = 16;
    for (uint64_t s = first; s < seq; s++)
        off += 16 + payload(s, buf);
    return off;
}

/* ---- CRC32C ------------------------------------------------------------ */

static void test_crc32c__matches_the_standard_vectors(void **state)
{
    (void)state;
    unsigned char zeros[32] = {0}, ones[32], inc[32], dec[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++) {
        inc[i] = (unsigned char)i;
        dec[i] = (unsigned char)(31 - i);
    }
    assert_int_equal(fxp__crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(fxp__crc32c_sw(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(fxp__crc32c(0, "", 0), 0);
    /* RFC 3720 (iSCSI) B.4. */
    assert_int_equal(fxp__crc32c(0, zeros, 32), 0x8A9136AAu);
    assert_int_equal(fxp__crc32c(0, ones, 32), 0x62A8AB43u);
    assert_int_equal(fxp__crc32c(0, inc, 32), 0x46DD794Eu);
    assert_int_equal(fxp__crc32c(0, dec, 32), 0x113FDB5Cu);
}

static void test_crc32c__hardware_table_and_pieces_agree(void **state)
{
    (void)state;
    unsigned char buf[1100];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    for (size_t start = 0; start < 9; start++) {
        for (size_t n = 0; n + start <= sizeof buf; n += 37) {
            uint32_t a = fxp__crc32c(0, buf + start, n);
            assert_int_equal(a, fxp__crc32c_sw(0, buf + start, n));
            size_t h = n / 3;
            assert_int_equal(a, fxp__crc32c(fxp__crc32c(0, buf + start, h),
                                            buf + start + h, n - h));
        }
    }
}

/* ---- append, reopen, replay -------------------------------------------- */

static void test_journal__empty_directory_starts_at_seq_1(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 4096);
    struct fxp_journal *j = open_j(f, &o);
    assert_int_equal(fxp_journal_first_seq(j), 1);
    assert_int_equal(fxp_journal_next_seq(j), 1);
    uint64_t first = 0;
    assert_int_equal(fxp_journal_append(j, NULL, NULL, 0, &first), FXP_OK);
    assert_int_equal(first, 1);
    fxp_journal_close(j);
    expect_replay(f, 0, 0);
    assert_int_equal(f->warnings, 0);
}

static void test_journal__replays_from_any_seq_across_segments(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 600);
    struct fxp_journal *j = open_j(f, &o);
    assert_int_equal(append_range(j, 1, 150, 7), FXP_OK);
    fxp_journal_close(j);

    uint64_t segs[64];
    size_t n = list_segs(f, segs, 64);
    assert_true(n >= 5);
    assert_int_equal(segs[0], 1);

    j = open_j(f, &o);
    assert_int_equal(fxp_journal_next_seq(j), 151);
    assert_int_equal(fxp_journal_first_seq(j), 1);
    assert_int_equal(append_range(j, 151, 50, 13), FXP_OK);
    fxp_journal_close(j);
    for (uint64_t from = 0; from <= 202; from++)
        expect_replay(f, from, 200);
    assert_int_equal(f->warnings, 0);

    struct fxp_journal_info info;
    char err[512];
    assert_int_equal(fxp_journal_verify(f->jdir, NULL, &info, err, sizeof err),
                     FXP_OK);
    assert_int_equal(info.records, 200);
    assert_int_equal(info.first_seq, 1);
    assert_int_equal(info.last_seq, 200);
    assert_int_equal(info.corrupt, 0);
    assert_int_equal(info.torn_bytes, 0);
    assert_int_equal(info.segments, list_segs(f, segs, 64));
}

static void test_journal__zero_length_and_large_records(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 1 << 20);
    o.max_record = 600000;
    struct fxp_journal *j = open_j(f, &o);
    unsigned char *big = malloc(600000);
    assert_non_null(big);
    for (size_t i = 0; i < 600000; i++)
        big[i] = (unsigned char)(i % 251);
    /* Three records of which the big ones need a write each. */
    const void *p[3] = {"", big, big};
    uint32_t lens[3] = {0, 600000, 300000};
    uint64_t first;
    assert_int_equal(fxp_journal_append(j, p, lens, 3, &first), FXP_OK);
    assert_int_equal(first, 1);
    fxp_journal_close(j);

    struct fxp_journal_iter *it;
    char err[256];
    uint64_t seq;
    const void *data;
    uint32_t len;
    assert_int_equal(
        fxp_journal_iter_open(f->jdir, 0, NULL, &it, err, sizeof err), FXP_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(
            fxp_journal_iter_next(it, &seq, &data, &len, err, sizeof err),
            FXP_OK);
        assert_int_equal(seq, (uint64_t)i + 1);
        assert_int_equal(len, lens[i]);
        if (len)
            assert_memory_equal(data, big, len);
    }
    fxp_journal_iter_close(it);
    free(big);
}

static void test_journal__iterator_follows_a_journal_being_written(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 400);
    struct fxp_journal *j = open_j(f, &o);
    struct fxp_journal_iter *it;
    char err[256];
    uint64_t seq = 0, want = 1;
    const void *data;
    uint32_t len;
    int rc;

    assert_int_equal(
        fxp_journal_iter_open(f->jdir, 0, NULL, &it, err, sizeof err), FXP_OK);
    for (int round = 0; round < 20; round++) {
        assert_int_equal(append_range(j, want, 9, 4), FXP_OK);
        while ((rc = fxp_journal_iter_next(it, &seq, &data, &len, err,
                                           sizeof err)) == FXP_OK)
            assert_int_equal(seq, want++);
        assert_int_equal(rc, FXP_ECLOSED);
        assert_int_equal(want, fxp_journal_next_seq(j));
    }
    fxp_journal_iter_close(it);
    fxp_journal_close(j);
}

static void test_journal__policies_always_every_never_read_back(void **state)
{
    struct fx *f = *state;
    const fxp_fsync_policy pol[3] = {FXP_FSYNC_ALWAYS, FXP_FSYNC_EVERY,
                                     FXP_FSYNC_NEVER};
    uint64_t next = 1;
    for (int i = 0; i < 3; i++) {
        struct fxp_journal_opts o = opts(f, 1000);
        o.fsync = pol[i];
        o.fsync_every_ms = 0; /* due at every append */
        struct fxp_journal *j = open_j(f, &o);
        assert_int_equal(fxp_journal_next_seq(j), next);
        assert_int_equal(append_range(j, next, 40, 8), FXP_OK);
        assert_int_equal(fxp_journal_sync(j), FXP_OK);
        next += 40;
        fxp_journal_close(j);
        expect_replay(f, 0, next - 1);
    }
}

static void test_journal__oversized_record_is_refused(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 4096);
    o.max_record = 100;
    struct fxp_journal *j = open_j(f, &o);
    static unsigned char big[101];
    const void *p[2] = {big, big};
    uint32_t lens[2] = {100, 101};
    assert_int_equal(fxp_journal_append(j, p, lens, 2, NULL), FXP_ETOOLARGE);
    assert_int_equal(fxp_journal_next_seq(j), 1);
    assert_int_equal(fxp_journal_append(j, p, lens, 1, NULL), FXP_OK);
    fxp_journal_close(j);

    char path[256];
    seg_path(f, 1, path, sizeof path);
    assert_int_equal(file_size(path), 16 + 16 + 100);

    o.max_record = 0;
    char err[256];
    assert_int_equal(fxp_journal_open(f->jdir, &o, &j, err, sizeof err),
                     FXP_EINVAL);
    assert_non_null(strstr(err, "max_record"));
}

/* ---- recovery ----------------------------------------------------------- */

static void test_journal__torn_tail_is_truncated_with_a_warning(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 1 << 20);
    struct fxp_journal *j = open_j(f, &o);
    char path[256];
    assert_int_equal(append_range(j, 1, 30, 5), FXP_OK);
    fxp_journal_close(j);

    /* Cut record 30 in the middle of its payload. */
    seg_path(f, 1, path, sizeof path);
    off_t end29 = record_offset(1, 30);
    assert_int_equal(truncate(path, end29 + 16 + 3), 0);

    j = open_j(f, &o);
    assert_int_equal(f->warnings, 1);
    char want[400];
    snprintf(want, sizeof want,
             "journal '%s': torn tail of 19 bytes at offset %lld truncated",
             path, (long long)end29);
    assert_string_equal(f->warn, want);
    assert_int_equal(fxp_journal_next_seq(j), 30);
    assert_int_equal(file_size(path), end29);
    assert_int_equal(append_range(j, 30, 5, 5), FXP_OK);
    fxp_journal_close(j);
    expect_replay(f, 0, 34);

    /* Garbage after the last record, as after a crash mid-write. */
    FILE *fp = fopen(path, "ab");
    assert_non_null(fp);
    for (int i = 0; i < 77; i++)
        fputc((i * 97 + 13) & 0xff, fp);
    fclose(fp);
    off_t good = file_size(path) - 77;

    struct fxp_journal_info info;
    char err[512];
    assert_int_equal(fxp_journal_verify(f->jdir, NULL, &info, err, sizeof err),
                     FXP_OK);
    assert_int_equal(info.torn_bytes, 77);
    assert_int_equal(info.corrupt, 0);
    assert_int_equal(info.records, 34);
    assert_non_null(strstr(err, "torn tail of 77 bytes"));

    j = open_j(f, &o);
    assert_int_equal(f->warnings, 2);
    assert_non_null(strstr(f->warn, "torn tail of 77 bytes"));
    assert_int_equal(file_size(path), good);
    assert_int_equal(fxp_journal_next_seq(j), 35);
    fxp_journal_close(j);

    /* A zero-filled tail (metadata ahead of data after a power cut). */
    fp = fopen(path, "ab");
    assert_non_null(fp);
    for (int i = 0; i < 4096; i++)
        fputc(0, fp);
    fclose(fp);
    j = open_j(f, &o);
    assert_int_equal(f->warnings, 3);
    assert_int_equal(fxp_journal_next_seq(j), 35);
    fxp_journal_close(j);
    expect_replay(f, 0, 34);
}

static void test_journal__torn_segment_header_is_rewritten(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 300);
    struct fxp_journal *j = open_j(f, &o);
    assert_int_equal(append_range(j, 1, 20, 20), FXP_OK);
    fxp_journal_close(j);
    /* The next segment was being created when the machine stopped. */
    char path[256];
    seg_path(f, 21, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "FXP", 3), 3);
    close(fd);

    j = open_j(f, &o);
    assert_int_equal(f->warnings, 1);
    assert_non_null(strstr(f->warn, "torn header of 3 bytes"));
    assert_int_equal(fxp_journal_next_seq(j), 21);
    assert_int_equal(append_range(j, 21, 10, 3), FXP_OK);
    fxp_journal_close(j);
    expect_replay(f, 0, 30);
}

static void
test_journal__flipped_bit_in_an_older_segment_stops_replay(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 2000);
    struct fxp_journal *j = open_j(f, &o);
    assert_int_equal(append_range(j, 1, 200, 10), FXP_OK);
    fxp_journal_close(j);
    uint64_t segs[64];
    assert_true(list_segs(f, segs, 64) >= 3);

    /* A bit of record segs[0] + 20's payload, in the first segment. */
    char path[256];
    seg_path(f, segs[0], path, sizeof path);
    off_t bad = record_offset(segs[0], segs[0] + 20);
    flip_bit(path, bad + 16, 3);

    /* Open trusts older segments (it checks their last record only). */
    j = open_j(f, &o);
    assert_int_equal(fxp_journal_next_seq(j), 201);
    fxp_journal_close(j);
    assert_int_equal(f->warnings, 0);

    struct fxp_journal_iter *it;
    char err[512], want[400];
    uint64_t seq;
    const void *data;
    uint32_t len;
    unsigned char buf[64];
    int rc;
    assert_int_equal(
        fxp_journal_iter_open(f->jdir, 0, NULL, &it, err, sizeof err), FXP_OK);
    uint64_t s = 1;
    while ((rc = fxp_journal_iter_next(it, &seq, &data, &len, err,
                                       sizeof err)) == FXP_OK) {
        assert_int_equal(seq, s);
        assert_int_equal(len, payload(s, buf));
        assert_memory_equal(data, buf, len);
        s++;
    }
    assert_int_equal(rc, FXP_EPARSE);
    assert_int_equal(s, segs[0] + 20); /* everything before it */
    snprintf(want, sizeof want,
             "journal '%s': corrupt record at offset %lld (crc mismatch)", path,
             (long long)bad);
    assert_string_equal(err, want);
    /* Sticky: recovery cannot step over it. */
    err[0] = '\0';
    assert_int_equal(
        fxp_journal_iter_next(it, &seq, &data, &len, err, sizeof err),
        FXP_EPARSE);
    assert_string_equal(err, want);
    fxp_journal_iter_close(it);

    /* Starting after the bad record still checks (and stops at) it. */
    assert_int_equal(fxp_journal_iter_open(f->jdir, segs[0] + 25, NULL, &it,
                                           err, sizeof err),
                     FXP_OK);
    assert_int_equal(
        fxp_journal_iter_next(it, &seq, &data, &len, err, sizeof err),
        FXP_EPARSE);
    fxp_journal_iter_close(it);

    /* Verify counts it, and sees everything after it. */
    struct fxp_journal_info info;
    assert_int_equal(fxp_journal_verify(f->jdir, NULL, &info, err, sizeof err),
                     FXP_OK);
    assert_int_equal(info.corrupt, 1);
    assert_int_equal(info.torn_bytes, 0);
    assert_int_equal(info.records, 199);
    assert_int_equal(info.last_seq, 200);
    assert_string_equal(err, want);
}

static void
test_journal__flipped_length_bit_in_the_last_segment_is_not_a_tail(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 1 << 20);
    struct fxp_journal *j = open_j(f, &o);
    assert_int_equal(append_range(j, 1, 100, 10), FXP_OK);
    fxp_journal_close(j);

    /* Record 40's length now points far past the end of the file. */
    char path[256];
    seg_path(f, 1, path, sizeof path);
    off_t bad = record_offset(1, 40);
    flip_bit(path, bad + 2, 2);
    size_t before_len, after_len;
    unsigned char *before = slurp(path, &before_len);

    /* Truncating here would throw 61 good records away: refuse. */
    char err[512];
    assert_int_equal(fxp_journal_open(f->jdir, &o, &j, err, sizeof err),
                     FXP_EPARSE);
    assert_non_null(strstr(err, path));
    char want[64];
    snprintf(want, sizeof want, "at offset %lld", (long long)bad);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "refusing to truncate"));
    unsigned char *after = slurp(path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    free(before);
    free(after);

    /* The iterator stops before it, verify counts it. */
    struct fxp_journal_iter *it;
    uint64_t seq, s = 1;
    const void *data;
    uint32_t len;
    int rc;
    assert_int_equal(
        fxp_journal_iter_open(f->jdir, 0, NULL, &it, err, sizeof err), FXP_OK);
    while ((rc = fxp_journal_iter_next(it, &seq, &data, &len, err,
                                       sizeof err)) == FXP_OK)
        assert_int_equal(seq, s++);
    assert_int_equal(rc, FXP_EPARSE);
    assert_int_equal(s, 40);
    assert_non_null(strstr(err, want));
    fxp_journal_iter_close(it);

    struct fxp_journal_info info;
    assert_int_equal(fxp_journal_verify(f->jdir, NULL, &info, err, sizeof err),
                     FXP_OK);
    assert_int_equal(info.corrupt, 1);
    assert_int_equal(info.records, 99);
}

static void test_journal__missing_segment_is_a_gap(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 500);
    struct fxp_journal *j = open_j(f, &o);
    assert_int_equal(append_range(j, 1, 120, 6), FXP_OK);
    fxp_journal_close(j);
    uint64_t segs[64];
    size_t n = list_segs(f, segs, 64);
    assert_true(n >= 4);
    char path[256], err[512];
    seg_path(f, segs[1], path, sizeof path);
    assert_int_equal(unlink(path), 0);

    assert_int_equal(fxp_journal_open(f->jdir, &o, &j, err, sizeof err),
                     FXP_EPARSE);
    assert_non_null(strstr(err, "a segment is missing"));

    struct fxp_journal_info info;
    assert_int_equal(fxp_journal_verify(f->jdir, NULL, &info, err, sizeof err),
                     FXP_OK);
    assert_int_equal(info.corrupt, 1);
    assert_non_null(strstr(err, "a segment is missing"));

    struct fxp_journal_iter *it;
    uint64_t seq, s = 1;
    const void *data;
    uint32_t len;
    int rc;
    assert_int_equal(
        fxp_journal_iter_open(f->jdir, 0, NULL, &it, err, sizeof err), FXP_OK);
    while ((rc = fxp_journal_iter_next(it, &seq, &data, &len, err,
                                       sizeof err)) == FXP_OK)
        assert_int_equal(seq, s++);
    assert_int_equal(rc, FXP_EPARSE);
    assert_int_equal(s, segs[1]);
    assert_non_null(strstr(err, "a segment is missing"));
    fxp_journal_iter_close(it);
}

/* ---- faults through the io seam ---------------------------------------- */

/* Appends a batch whose framing needs more than one write() (records of
 * 100 kB against the 256 KiB staging buffer of max_record = 100000). */
static int append_big(struct fxp_journal *j, uint64_t *first)
{
    static unsigned char big[100000];
    const void *p[5] = {big, big, big, big, big};
    uint32_t lens[5] = {100000, 100000, 100000, 100000, 100000};
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7);
    return fxp_journal_append(j, p, lens, 5, first);
}

static void test_journal__disk_full_keeps_the_file_and_resumes(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 64u << 20);
    o.io = &f->io;
    o.max_record = 100000;
    struct fxp_journal *j = open_j(f, &o);
    char path[256];
    size_t n0, n1;
    seg_path(f, 1, path, sizeof path);
    assert_int_equal(append_range(j, 1, 50, 10), FXP_OK);

    /* The disk fills in the middle of the second write of the batch. */
    unsigned char *before = slurp(path, &n0);
    f->faults.enospc_after = f->faults.bytes + 300000;
    uint64_t first = 0;
    assert_int_equal(append_big(j, &first), FXP_ENOSPC);
    unsigned char *after = slurp(path, &n1);
    assert_int_equal(n1, n0);
    assert_memory_equal(after, before, n0);
    free(after);
    assert_int_equal(fxp_journal_next_seq(j), 51);

    /* Small records too fail while the disk is full... */
    assert_int_equal(append_range(j, 51, 10, 10), FXP_ENOSPC);
    after = slurp(path, &n1);
    assert_int_equal(n1, n0);
    assert_memory_equal(after, before, n0);
    free(after);
    free(before);

    /* ...and work once space returns. */
    f->faults.enospc_after = 0;
    assert_int_equal(append_range(j, 51, 10, 10), FXP_OK);
    assert_int_equal(append_big(j, &first), FXP_OK);
    assert_int_equal(first, 61);
    fxp_journal_close(j);
    assert_int_equal(f->warnings, 0);

    struct fxp_journal_info info;
    char err[256];
    assert_int_equal(fxp_journal_verify(f->jdir, NULL, &info, err, sizeof err),
                     FXP_OK);
    assert_int_equal(info.records, 65);
    assert_int_equal(info.corrupt + info.torn_bytes, 0);
}

static void test_journal__nth_write_failing_is_eio_and_undone(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 64u << 20);
    o.io = &f->io;
    o.max_record = 100000;
    struct fxp_journal *j = open_j(f, &o);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    assert_int_equal(append_range(j, 1, 20, 10), FXP_OK);
    off_t size = file_size(path);

    f->faults.fail_write_at = f->faults.writes + 1;
    f->faults.fail_errno = EIO;
    assert_int_equal(append_range(j, 21, 10, 10), FXP_EIO);
    assert_int_equal(file_size(path), size);

    /* The second write of a two-write batch: the first is undone too. */
    f->faults.fail_write_at = f->faults.writes + 2;
    assert_int_equal(append_big(j, NULL), FXP_EIO);
    assert_int_equal(file_size(path), size);

    assert_int_equal(fxp_journal_next_seq(j), 21);
    assert_int_equal(append_range(j, 21, 10, 10), FXP_OK);
    fxp_journal_close(j);
    expect_replay(f, 0, 30);
}

static void test_journal__short_write_is_completed_or_undone(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 64u << 20);
    o.io = &f->io;
    struct fxp_journal *j = open_j(f, &o);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    assert_int_equal(append_range(j, 1, 20, 10), FXP_OK);

    /* A short write is followed by a write of the rest. */
    f->faults.short_write_at = f->faults.writes + 1;
    uint64_t w0 = f->faults.writes;
    assert_int_equal(append_range(j, 21, 10, 10), FXP_OK);
    assert_int_equal(f->faults.writes, w0 + 2);

    /* When that fails, the half already written is truncated away. */
    off_t size = file_size(path);
    f->faults.short_write_at = f->faults.writes + 1;
    f->faults.fail_write_at = f->faults.writes + 2;
    f->faults.fail_errno = ENOSPC;
    assert_int_equal(append_range(j, 31, 10, 10), FXP_ENOSPC);
    assert_int_equal(file_size(path), size);
    assert_int_equal(append_range(j, 31, 10, 10), FXP_OK);
    fxp_journal_close(j);
    expect_replay(f, 0, 40);
}

static void test_journal__failed_fsync_is_an_error_until_reopened(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 64u << 20);
    o.io = &f->io;
    o.fsync = FXP_FSYNC_ALWAYS;
    struct fxp_journal *j = open_j(f, &o);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    assert_int_equal(append_range(j, 1, 20, 10), FXP_OK);
    off_t size = file_size(path);

    f->faults.fail_fsync = 1;
    assert_int_equal(append_range(j, 21, 10, 10), FXP_EIO);
    assert_int_equal(f->warnings, 1);
    assert_non_null(strstr(f->warn, "fsync failed"));
    assert_int_equal(file_size(path), size);
    /* Once fsync failed, nothing more is accepted... */
    f->faults.fail_fsync = 0;
    assert_int_equal(append_range(j, 21, 10, 10), FXP_EIO);
    assert_int_equal(fxp_journal_sync(j), FXP_EIO);
    fxp_journal_close(j);

    /* ...until the journal is reopened from what is on disk. */
    j = open_j(f, &o);
    assert_int_equal(fxp_journal_next_seq(j), 21);
    assert_int_equal(append_range(j, 21, 10, 10), FXP_OK);
    fxp_journal_close(j);
    expect_replay(f, 0, 30);

    /* fxp_journal_sync reports it too (the never policy). */
    o.fsync = FXP_FSYNC_NEVER;
    j = open_j(f, &o);
    assert_int_equal(append_range(j, 31, 5, 5), FXP_OK);
    f->faults.fail_fsync = 1;
    assert_int_equal(fxp_journal_sync(j), FXP_EIO);
    fxp_journal_close(j);
    f->faults.fail_fsync = 0;
}

/* An io over fxp_io_faulty whose ftruncate can fail too: with a short
 * write, that tears the last record as a crash would. */
struct tear {
    struct fxp_io io;
    const struct fxp_io *base;
    int fail_ftruncate;
};

static int tear_open(const struct fxp_io *io, const char *p, int fl, int m)
{
    const struct tear *t = io->ud;
    return t->base->open(t->base, p, fl, m);
}

static ssize_t tear_write(const struct fxp_io *io, int fd, const void *b,
                          size_t n)
{
    const struct tear *t = io->ud;
    return t->base->write(t->base, fd, b, n);
}

static ssize_t tear_pread(const struct fxp_io *io, int fd, void *b, size_t n,
                          off_t off)
{
    const struct tear *t = io->ud;
    return t->base->pread(t->base, fd, b, n, off);
}

static int tear_fsync(const struct fxp_io *io, int fd)
{
    const struct tear *t = io->ud;
    return t->base->fsync(t->base, fd);
}

static int tear_ftruncate(const struct fxp_io *io, int fd, off_t len)
{
    const struct tear *t = io->ud;
    if (t->fail_ftruncate) {
        errno = EIO;
        return -1;
    }
    return t->base->ftruncate(t->base, fd, len);
}

static int tear_close(const struct fxp_io *io, int fd)
{
    const struct tear *t = io->ud;
    return t->base->close(t->base, fd);
}

static void test_journal__torn_write_that_cannot_be_undone(void **state)
{
    struct fx *f = *state;
    struct tear t = {{tear_open, tear_write, tear_pread, tear_fsync,
                      tear_ftruncate, tear_close, NULL},
                     &f->io,
                     0};
    t.io.ud = &t;
    struct fxp_journal_opts o = opts(f, 64u << 20);
    o.io = &t.io;
    struct fxp_journal *j = open_j(f, &o);
    char path[256];
    seg_path(f, 1, path, sizeof path);
    assert_int_equal(append_range(j, 1, 20, 10), FXP_OK);
    off_t size = file_size(path);

    /* Half a batch reaches the file and cannot be truncated away. */
    t.fail_ftruncate = 1;
    f->faults.short_write_at = f->faults.writes + 1;
    f->faults.fail_write_at = f->faults.writes + 2;
    f->faults.fail_errno = EIO;
    assert_int_equal(append_range(j, 21, 10, 10), FXP_EIO);
    assert_true(file_size(path) > size);
    /* Appends refuse while the tail cannot be cut... */
    assert_int_equal(append_range(j, 21, 10, 10), FXP_EIO);
    /* ...and the next one that can cut it goes on. */
    t.fail_ftruncate = 0;
    assert_int_equal(append_range(j, 21, 10, 10), FXP_OK);
    fxp_journal_close(j);
    expect_replay(f, 0, 30);
    assert_int_equal(f->warnings, 0);

    /* The same, then the process dies: the next open cuts the torn
     * record with a warning. The complete records in the half that got
     * out survive: an append that never returned FXP_OK is "in doubt"
     * after a crash, as with any per-record log. */
    j = open_j(f, &o);
    size = file_size(path);
    t.fail_ftruncate = 1;
    f->faults.short_write_at = f->faults.writes + 1;
    f->faults.fail_write_at = f->faults.writes + 2;
    assert_int_equal(append_range(j, 31, 10, 10), FXP_EIO);
    off_t half = file_size(path) - size, whole = 0;
    uint64_t kept = 30;
    unsigned char buf[64];
    while (whole + 16 + (off_t)payload(kept + 1, buf) <= half)
        whole += 16 + (off_t)payload(++kept, buf);
    assert_true(half > whole && kept < 40);
    fxp_journal_close(j); /* its ftruncate fails too: a warning */
    assert_int_equal(f->warnings, 1);
    assert_non_null(strstr(f->warn, "cannot truncate a failed append"));
    t.fail_ftruncate = 0;
    j = open_j(f, &o);
    assert_int_equal(f->warnings, 2);
    char want[400];
    snprintf(want, sizeof want,
             "journal '%s': torn tail of %lld bytes at offset %lld "
             "truncated",
             path, (long long)(half - whole), (long long)(size + whole));
    assert_string_equal(f->warn, want);
    assert_int_equal(fxp_journal_next_seq(j), kept + 1);
    fxp_journal_close(j);
    expect_replay(f, 0, kept);
}

/* ---- retention ------------------------------------------------------------
 */

static void
test_journal__retention_deletes_only_applied_old_segments(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 500);
    struct fxp_journal *j = open_j(f, &o);
    uint64_t segs[64], after[64];
    assert_int_equal(append_range(j, 1, 200, 5), FXP_OK);
    size_t n = list_segs(f, segs, 64);
    assert_true(n >= 6);

    /* Nothing applied: nothing goes. */
    assert_int_equal(fxp_journal_retain(j, 0), FXP_OK);
    assert_int_equal(fxp_journal_retain(j, segs[1] - 1), FXP_OK);
    assert_int_equal(list_segs(f, after, 64), n);

    /* Applied up to the middle of segment 3: segments 0..2 end below. */
    assert_int_equal(fxp_journal_retain(j, segs[3] + 1), FXP_OK);
    assert_int_equal(list_segs(f, after, 64), n - 3);
    assert_int_equal(after[0], segs[3]);
    assert_int_equal(fxp_journal_first_seq(j), segs[3]);
    /* Replay from an old seq starts at the first kept record. */
    struct fxp_journal_iter *it;
    char err[256];
    uint64_t seq;
    const void *data;
    uint32_t len;
    assert_int_equal(
        fxp_journal_iter_open(f->jdir, 1, NULL, &it, err, sizeof err), FXP_OK);
    assert_int_equal(
        fxp_journal_iter_next(it, &seq, &data, &len, err, sizeof err), FXP_OK);
    assert_int_equal(seq, segs[3]);
    fxp_journal_iter_close(it);

    /* Everything applied: all but the active segment. */
    assert_int_equal(fxp_journal_retain(j, UINT64_MAX), FXP_OK);
    assert_int_equal(list_segs(f, after, 64), 1);
    assert_int_equal(after[0], segs[n - 1]);
    assert_int_equal(append_range(j, 201, 5, 5), FXP_OK);
    fxp_journal_close(j);

    j = open_j(f, &o);
    assert_int_equal(fxp_journal_first_seq(j), segs[n - 1]);
    assert_int_equal(fxp_journal_next_seq(j), 206);
    fxp_journal_close(j);
    assert_int_equal(f->warnings, 0);
}

static void test_journal__retention_by_size_and_age(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_opts o = opts(f, 500);
    struct fxp_journal *j = open_j(f, &o);
    uint64_t segs[64], after[64];
    char path[256];
    assert_int_equal(append_range(j, 1, 200, 5), FXP_OK);
    fxp_journal_close(j);
    size_t n = list_segs(f, segs, 64);
    assert_true(n >= 6);
    off_t total = 0, last2 = 0;
    for (size_t i = 0; i < n; i++) {
        seg_path(f, segs[i], path, sizeof path);
        total += file_size(path);
        if (i + 2 >= n)
            last2 += file_size(path);
    }

    /* Size: keep at most what the two newest segments take. */
    o.retain_bytes = (uint64_t)last2;
    j = open_j(f, &o);
    assert_int_equal(fxp_journal_retain(j, UINT64_MAX), FXP_OK);
    assert_int_equal(list_segs(f, after, 64), 2);
    assert_int_equal(after[0], segs[n - 2]);
    fxp_journal_close(j);

    /* Age: only segments older than retain_ms go. */
    o.retain_bytes = 0;
    o.retain_ms = 3600 * 1000;
    j = open_j(f, &o);
    assert_int_equal(append_range(j, 201, 200, 5), FXP_OK);
    n = list_segs(f, segs, 64);
    assert_true(n >= 6);
    struct timespec old[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    for (size_t i = 0; i < 3; i++) {
        seg_path(f, segs[i], path, sizeof path);
        assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
    }
    assert_int_equal(fxp_journal_retain(j, UINT64_MAX), FXP_OK);
    assert_int_equal(list_segs(f, after, 64), n - 3);
    /* Old but not yet applied: kept. */
    for (size_t i = 0; i < n - 3; i++) {
        seg_path(f, after[i], path, sizeof path);
        assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
    }
    assert_int_equal(fxp_journal_retain(j, after[1]), FXP_OK);
    assert_int_equal(list_segs(f, segs, 64), n - 4);
    assert_int_equal(segs[0], after[1]);
    fxp_journal_close(j);
    (void)total;
}

/* ---- reading without a writer ------------------------------------------- */

static void test_journal__readers_on_missing_and_empty_directories(void **state)
{
    struct fx *f = *state;
    struct fxp_journal_iter *it;
    struct fxp_journal_info info;
    char err[512];
    uint64_t seq;
    const void *data;
    uint32_t len;

    assert_int_equal(
        fxp_journal_iter_open(f->jdir, 0, NULL, &it, err, sizeof err),
        FXP_ENOENT);
    assert_non_null(strstr(err, "cannot open journal"));
    assert_int_equal(fxp_journal_verify(f->jdir, NULL, &info, err, sizeof err),
                     FXP_ENOENT);

    assert_int_equal(mkdir(f->jdir, 0755), 0);
    assert_int_equal(fxp_journal_verify(f->jdir, NULL, &info, err, sizeof err),
                     FXP_OK);
    assert_int_equal(info.segments, 0);
    assert_int_equal(info.records, 0);
    assert_int_equal(
        fxp_journal_iter_open(f->jdir, 0, NULL, &it, err, sizeof err), FXP_OK);
    assert_int_equal(
        fxp_journal_iter_next(it, &seq, &data, &len, err, sizeof err),
        FXP_ECLOSED);
    /* A writer arrives later; the same iterator sees its records. */
    struct fxp_journal_opts o = opts(f, 4096);
    struct fxp_journal *j = open_j(f, &o);
    assert_int_equal(append_range(j, 1, 3, 3), FXP_OK);
    for (uint64_t s = 1; s <= 3; s++) {
        assert_int_equal(
            fxp_journal_iter_next(it, &seq, &data, &len, err, sizeof err),
            FXP_OK);
        assert_int_equal(seq, s);
    }
    fxp_journal_iter_close(it);
    fxp_journal_close(j);

    /* A file that is not a segment header. */
    char path[256];
    seg_path(f, 1, path, sizeof path);
    flip_bit(path, 0, 1);
    assert_int_equal(fxp_journal_open(f->jdir, &o, &j, err, sizeof err),
                     FXP_EPARSE);
    assert_non_null(strstr(err, "bad magic"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c__matches_the_standard_vectors),
        cmocka_unit_test(test_crc32c__hardware_table_and_pieces_agree),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_journal__empty_directory_starts_at_seq_1),
        T(test_journal__replays_from_any_seq_across_segments),
        T(test_journal__zero_length_and_large_records),
        T(test_journal__iterator_follows_a_journal_being_written),
        T(test_journal__policies_always_every_never_read_back),
        T(test_journal__oversized_record_is_refused),
        T(test_journal__torn_tail_is_truncated_with_a_warning),
        T(test_journal__torn_segment_header_is_rewritten),
        T(test_journal__flipped_bit_in_an_older_segment_stops_replay),
        T(test_journal__flipped_length_bit_in_the_last_segment_is_not_a_tail),
        T(test_journal__missing_segment_is_a_gap),
        T(test_journal__disk_full_keeps_the_file_and_resumes),
        T(test_journal__nth_write_failing_is_eio_and_undone),
        T(test_journal__short_write_is_completed_or_undone),
        T(test_journal__failed_fsync_is_an_error_until_reopened),
        T(test_journal__torn_write_that_cannot_be_undone),
        T(test_journal__retention_deletes_only_applied_old_segments),
        T(test_journal__retention_by_size_and_age),
        T(test_journal__readers_on_missing_and_empty_directories),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
