/*
 * test_dlq.c - the dead-letter queue (dlq.h): put/list/get/remove/purge
 * round trips with a payload, persistence across reopen, count, error
 * messages naming the path, refusing a store file, the default path rule.
 * Every test works in its own mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/store.h"

struct fx {
    char dir[64];   /* the test's temporary directory */
    char path[128]; /* dir/t.dlq */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "%s/fxp_dlq_XXXXXX",
             tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.dlq", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    DIR *d = opendir(f->dir);
    struct dirent *e;
    char p[512];

    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct fxp_dlq *open_ok(const char *path)
{
    struct fxp_dlq *d;
    char err[512];
    int rc = fxp_dlq_open(path, &d, err, sizeof err);

    if (rc != FXP_OK)
        fail_msg("open '%s': %s (%s)", path, fxp_err_name(rc), err);
    return d;
}

static void fill(struct fxp_dlq_entry *e, int i)
{
    memset(e, 0, sizeof *e);
    snprintf(e->kind, sizeof e->kind, "batch");
    snprintf(e->reason, sizeof e->reason, "retries_exhausted");
    snprintf(e->error, sizeof e->error,
             "cannot write to 'fxpipe.db': disk I/O error (%d)", i);
    e->attempts = 6;
    snprintf(e->source, sizeof e->source, "run synthetic");
    snprintf(e->correlation_id, sizeof e->correlation_id, "corr-%04d", i);
    e->n_records = 100 + (uint64_t)i;
    e->first_ts = 1704067200000LL + i * 60000LL;
    e->last_ts = e->first_ts + 99 * 60000LL;
}

struct listed {
    int n;
    int64_t ids[16];
    char corr[16][64];
    int stop_after; /* 0 = never */
};

static int on_entry(void *ud, const struct fxp_dlq_entry *e)
{
    struct listed *l = ud;

    if (l->n < 16) {
        l->ids[l->n] = e->id;
        snprintf(l->corr[l->n], sizeof l->corr[0], "%s", e->correlation_id);
    }
    l->n++;
    return l->stop_after && l->n >= l->stop_after;
}

static void test_dlq__round_trip_with_payload(void **state)
{
    struct fx *f = *state;
    struct fxp_dlq *d = open_ok(f->path);
    struct fxp_dlq_entry e, got;
    unsigned char payload[3000];
    void *p;
    size_t len;

    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)(i * 7 + (i >> 8)); /* has NULs */
    assert_int_equal(fxp_dlq_count(d), 0);
    fill(&e, 1);
    e.id = -1;
    assert_int_equal(fxp_dlq_put(d, &e, payload, sizeof payload), FXP_OK);
    assert_true(e.id > 0);
    assert_int_equal(fxp_dlq_count(d), 1);

    assert_int_equal(fxp_dlq_get(d, e.id, &got, &p, &len), FXP_OK);
    assert_int_equal(got.id, e.id);
    assert_string_equal(got.kind, "batch");
    assert_string_equal(got.reason, "retries_exhausted");
    assert_string_equal(got.error, e.error);
    assert_int_equal(got.attempts, 6);
    assert_string_equal(got.source, "run synthetic");
    assert_string_equal(got.correlation_id, "corr-0001");
    assert_int_equal(got.n_records, 101);
    assert_int_equal(got.first_ts, e.first_ts);
    assert_int_equal(got.last_ts, e.last_ts);
    assert_int_equal(len, sizeof payload);
    assert_memory_equal(p, payload, sizeof payload);
    free(p);

    /* Metadata only. */
    assert_int_equal(fxp_dlq_get(d, e.id, &got, NULL, NULL), FXP_OK);
    assert_string_equal(got.correlation_id, "corr-0001");

    assert_int_equal(fxp_dlq_remove(d, e.id), FXP_OK);
    assert_int_equal(fxp_dlq_count(d), 0);
    assert_int_equal(fxp_dlq_get(d, e.id, &got, &p, &len), FXP_ENOENT);
    assert_null(p);
    assert_non_null(strstr(fxp_dlq_errmsg(d), f->path));
    assert_int_equal(fxp_dlq_remove(d, e.id), FXP_ENOENT);
    fxp_dlq_close(d);
}

static void test_dlq__empty_payload_and_full_fields(void **state)
{
    struct fx *f = *state;
    struct fxp_dlq *d = open_ok(f->path);
    struct fxp_dlq_entry e, got;
    void *p;
    size_t len = 99;

    fill(&e, 2);
    /* Fields filled to the last byte, without a NUL, are kept whole. */
    memset(e.kind, 'k', sizeof e.kind);
    memset(e.correlation_id, 'c', sizeof e.correlation_id);
    assert_int_equal(fxp_dlq_put(d, &e, NULL, 0), FXP_OK);
    assert_int_equal(fxp_dlq_get(d, e.id, &got, &p, &len), FXP_OK);
    assert_non_null(p);
    assert_int_equal(len, 0);
    free(p);
    /* Read back truncated to fit with a NUL. */
    assert_int_equal(strlen(got.kind), sizeof got.kind - 1);
    assert_int_equal(strlen(got.correlation_id), sizeof got.correlation_id - 1);
    fxp_dlq_close(d);
}

static void test_dlq__list_is_oldest_first_and_can_stop(void **state)
{
    struct fx *f = *state;
    struct fxp_dlq *d = open_ok(f->path);
    struct fxp_dlq_entry e;
    struct listed l = {0};
    int64_t ids[5];

    for (int i = 0; i < 5; i++) {
        fill(&e, i);
        assert_int_equal(fxp_dlq_put(d, &e, "x", 1), FXP_OK);
        ids[i] = e.id;
        if (i)
            assert_true(ids[i] > ids[i - 1]);
    }
    assert_int_equal(fxp_dlq_list(d, on_entry, &l), FXP_OK);
    assert_int_equal(l.n, 5);
    for (int i = 0; i < 5; i++) {
        char want[16];
        snprintf(want, sizeof want, "corr-%04d", i);
        assert_int_equal(l.ids[i], ids[i]);
        assert_string_equal(l.corr[i], want);
    }
    memset(&l, 0, sizeof l);
    l.stop_after = 2;
    assert_int_equal(fxp_dlq_list(d, on_entry, &l), FXP_OK);
    assert_int_equal(l.n, 2);
    fxp_dlq_close(d);
}

static void test_dlq__entries_survive_reopen_and_ids_are_not_reused(void **s)
{
    struct fx *f = *s;
    struct fxp_dlq *d = open_ok(f->path);
    struct fxp_dlq_entry e, got;
    int64_t last = 0;
    void *p;
    size_t len;

    for (int i = 0; i < 3; i++) {
        fill(&e, i);
        assert_int_equal(fxp_dlq_put(d, &e, "payload", 7), FXP_OK);
        last = e.id;
    }
    fxp_dlq_close(d);

    d = open_ok(f->path);
    assert_int_equal(fxp_dlq_count(d), 3);
    assert_int_equal(fxp_dlq_get(d, last, &got, &p, &len), FXP_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(p, "payload", 7);
    free(p);
    assert_string_equal(got.correlation_id, "corr-0002");
    /* Remove the newest; the next id is still a new one. */
    assert_int_equal(fxp_dlq_remove(d, last), FXP_OK);
    fxp_dlq_close(d);
    d = open_ok(f->path);
    assert_int_equal(fxp_dlq_count(d), 2);
    fill(&e, 9);
    assert_int_equal(fxp_dlq_put(d, &e, "y", 1), FXP_OK);
    assert_true(e.id > last);
    fxp_dlq_close(d);
}

static void test_dlq__purge_removes_everything(void **state)
{
    struct fx *f = *state;
    struct fxp_dlq *d = open_ok(f->path);
    struct fxp_dlq_entry e;

    for (int i = 0; i < 4; i++) {
        fill(&e, i);
        assert_int_equal(fxp_dlq_put(d, &e, "z", 1), FXP_OK);
    }
    assert_int_equal(fxp_dlq_count(d), 4);
    assert_int_equal(fxp_dlq_remove(d, -1), FXP_OK);
    assert_int_equal(fxp_dlq_count(d), 0);
    /* Purging an empty DLQ is fine too. */
    assert_int_equal(fxp_dlq_remove(d, -1), FXP_OK);
    fxp_dlq_close(d);
    d = open_ok(f->path);
    assert_int_equal(fxp_dlq_count(d), 0);
    fxp_dlq_close(d);
}

static void test_dlq__unwritable_path_is_eio_naming_it(void **state)
{
    struct fx *f = *state;
    char path[256], err[512];
    struct fxp_dlq *d = (struct fxp_dlq *)1;
    FILE *fp;

    /* A regular file where a directory should be: unwritable even for
     * root. */
    snprintf(path, sizeof path, "%s/file", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/file/x.dlq", f->dir);
    assert_int_equal(fxp_dlq_open(path, &d, err, sizeof err), FXP_EIO);
    assert_null(d);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "dead-letter queue"));

    assert_int_equal(fxp_dlq_open("", &d, err, sizeof err), FXP_EINVAL);
    fxp_dlq_close(NULL);
}

static void test_dlq__not_a_database_is_eio(void **state)
{
    struct fx *f = *state;
    char err[512];
    struct fxp_dlq *d;
    FILE *fp = fopen(f->path, "w");

    assert_non_null(fp);
    fputs("this is not a database, just some text that is long enough to "
          "fill a header of one hundred bytes or so........................",
          fp);
    fclose(fp);
    assert_int_equal(fxp_dlq_open(f->path, &d, err, sizeof err), FXP_EIO);
    assert_non_null(strstr(err, f->path));
}

static void test_dlq__refuses_to_write_into_a_store(void **state)
{
    struct fx *f = *state;
    char db[160], err[512];
    struct fxp_store *s;
    struct fxp_dlq *d;

    snprintf(db, sizeof db, "%s/t.db", f->dir);
    assert_int_equal(fxp_store_open(db, NULL, &s, err, sizeof err), FXP_OK);
    fxp_store_close(s);
    assert_int_equal(fxp_dlq_open(db, &d, err, sizeof err), FXP_EIO);
    assert_non_null(strstr(err, db));
    assert_non_null(strstr(err, "not a dead-letter queue"));
}

static void test_dlq__default_path_replaces_the_extension(void **state)
{
    static const struct {
        const char *store, *want;
    } cases[] = {
        {"fxpipe.db", "fxpipe.dlq"},
        {"data/fx.sqlite", "data/fx.dlq"},
        {"data/fx", "data/fx.dlq"},
        {"./data.d/fx", "./data.d/fx.dlq"},
        {"/var/lib/fxpipe/fxpipe.db", "/var/lib/fxpipe/fxpipe.dlq"},
        {"a.b.db", "a.b.dlq"},
        {".hidden", ".hidden.dlq"},
        {"dir/.hidden", "dir/.hidden.dlq"},
        {"sqlite:fxpipe.db", "fxpipe.dlq"},
        {"sqlite:///abs/fx.db", "/abs/fx.dlq"},
        {"sqlite://rel.db", "rel.dlq"},
        {"postgresql://localhost/fx", "fxpipe.dlq"},
        {"", "fxpipe.dlq"},
        {NULL, "fxpipe.dlq"},
    };
    char out[128];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fxp_dlq_default_path(cases[i].store, out, sizeof out);
        if (strcmp(out, cases[i].want))
            fail_msg("'%s' -> '%s', want '%s'",
                     cases[i].store ? cases[i].store : "(null)", out,
                     cases[i].want);
    }
    /* Truncates but terminates. */
    fxp_dlq_default_path("fxpipe.db", out, 5);
    assert_string_equal(out, "fxpi");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_dlq__round_trip_with_payload),
        T(test_dlq__empty_payload_and_full_fields),
        T(test_dlq__list_is_oldest_first_and_can_stop),
        T(test_dlq__entries_survive_reopen_and_ids_are_not_reused),
        T(test_dlq__purge_removes_everything),
        T(test_dlq__unwritable_path_is_eio_naming_it),
        T(test_dlq__not_a_database_is_eio),
        T(test_dlq__refuses_to_write_into_a_store),
        T(test_dlq__default_path_replaces_the_extension),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
