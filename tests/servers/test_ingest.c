/*
 * test_ingest.c - `fxpipe ingest` against a real nats-server.
 * servers: nats
 *
 * A generated tick file (three symbols, crossed quotes, unparsable lines,
 * ticks in closed-market hours) replayed through the binary into a fresh
 * prefix, read back with a consumer group: every accepted tick exactly
 * once and in order per symbol with tick_pos = the journal sequence, the
 * same ticks `fxpipe run` keeps, the rejects in the dead-letter file;
 * kill -9 and restarts; nats-server stopped and started while ingest runs;
 * SIGTERM (also while the bus cannot be reached) and a resume.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/bus.h"
#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/journal.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"

#define T0     1709546400000LL /* 2024-03-04T10:00:00Z, a Monday */
#define SAT    1709337600000LL /* 2024-03-02, a Saturday: closed */
#define MAXT   20000
#define MAXGOT 60000

static const char *const SYMS[3] = {"EURUSD", "GBPUSD", "USDJPY"};

struct tk {
    int sym; /* index in SYMS */
    int64_t ts;
    double bid, ask;
    uint64_t pos;
};

static struct {          /* what the generated file should give */
    struct tk acc[MAXT]; /* accepted, in file order */
    size_t n_acc, n_crossed, n_closed, n_parse;
} ex;
static struct { /* what the consumer got */
    struct tk t[MAXGOT];
    size_t n, msgs;
} got;
static char dir[256], prefix[64]; /* the test's directory and bus prefix */

/* ---- helpers ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(double s)
{
    struct timespec d = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&d, NULL);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v)
        fail_msg("%s is not set (run through with_servers.sh)", name);
    return v;
}

static const char *nats(void)
{
    return env("FXP_NATS_URL");
}

static uint64_t rng = 88172645463325252ULL;

static double u01(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* n rows step_ms apart; rows 5 mod 97 crossed, 7 mod 211 unparsable,
 * 9 mod 301 on a Saturday. */
static void gen_csv(const char *path, int n, int step_ms)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "symbol,ts,bid,ask\n");
    double px[3] = {1.08, 1.27, 150.0};
    memset(&ex, 0, sizeof ex);
    for (int i = 0; i < n; i++) {
        int s = i % 3;
        long long ts = T0 + (long long)i * step_ms;
        double p = px[s] * (1 + (u01() * 2 - 1) * 0.0002);
        px[s] = p;
        char bid[32], ask[32];
        snprintf(bid, sizeof bid, "%.5f", p);
        snprintf(ask, sizeof ask, "%.5f", i % 97 == 5 ? p * 0.99 : p * 1.00001);
        if (i % 97 == 5) {
            ex.n_crossed++;
        } else if (i % 211 == 7) {
            fprintf(f, "%s,%lld,abc,%s\n", SYMS[s], ts, ask);
            ex.n_parse++;
            continue;
        } else if (i % 301 == 9) {
            ts = SAT + i;
            ex.n_closed++;
        } else {
            assert_true(ex.n_acc < MAXT);
            ex.acc[ex.n_acc++] = (struct tk){.sym = s,
                                             .ts = ts,
                                             .bid = strtod(bid, NULL),
                                             .ask = strtod(ask, NULL)};
        }
        fprintf(f, "%s,%lld,%s,%s\n", SYMS[s], ts, bid, ask);
    }
    assert_int_equal(fclose(f), 0);
}

/* dir/name into out. */
static char *in_dir(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
    return out;
}

/* Start the binary with the arguments after log (NULL-terminated),
 * stdout and stderr appended to dir/log. */
static pid_t spawn(const char *log, ...)
{
    char bin[600], logp[300];
    snprintf(bin, sizeof bin, "%s/fxpipe", env("FXP_BUILD_DIR"));
    in_dir(logp, sizeof logp, log);
    const char *argv[40] = {bin};
    size_t n = 1;
    va_list ap;
    va_start(ap, log);
    while (n < 39 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = fopen(logp, "a");
        if (!f || dup2(fileno(f), 1) < 0 || dup2(fileno(f), 2) < 0)
            _exit(127);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* An ingest of the test's file into prefix (stop deadline: NULL = 10 s). */
static pid_t ingest(const char *bus, const char *speed, const char *deadline)
{
    char csv[300], jdir[300], feed[320];
    snprintf(feed, sizeof feed, "replay:%s",
             in_dir(csv, sizeof csv, "ticks.csv"));
    return spawn("ingest.log", "ingest", "--bus", bus, "--bus-prefix", prefix,
                 "--journal", in_dir(jdir, sizeof jdir, "journal"), "--feed",
                 feed, "--speed", speed, "--breaker-open", "1",
                 "--stop-deadline", deadline ? deadline : "10", NULL);
}

/* Wait for pid to exit within limit_s; returns its exit status. */
static int wait_exit(pid_t pid, double limit_s)
{
    double end = now_s() + limit_s;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (now_s() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fail_msg("ingest did not exit within %.0f s (log: %s)", limit_s,
                     dir);
        }
        nap(0.05);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool log_has(const char *text)
{
    char path[300], line[2048];
    FILE *f = fopen(in_dir(path, sizeof path, "ingest.log"), "r");
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    if (f)
        fclose(f);
    return found;
}

static uint64_t journal_head(void)
{
    char jdir[300], err[512];
    struct fxp_journal_info info;
    assert_int_equal(fxp_journal_verify(in_dir(jdir, sizeof jdir, "journal"),
                                        NULL, &info, err, sizeof err),
                     FXP_OK);
    return info.records ? info.last_seq : 0;
}

static uint64_t state(void)
{
    char path[300];
    FILE *f = fopen(in_dir(path, sizeof path, "journal/published.state"), "r");
    unsigned long long v = 0;
    if (f) {
        assert_int_equal(fscanf(f, "%llu", &v), 1);
        fclose(f);
    }
    return v;
}

static int sym_index(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, SYMS[i]))
            return i;
    fail_msg("unexpected symbol '%s'", name);
    return -1;
}

static int on_msg(void *ud, const struct fxp_bus_msg *m)
{
    struct fxp_symtab *st = ud;
    struct fxp_decoded_batch *d = NULL;
    assert_int_equal(fxp_batch_decode(m->data, m->len, st, &d), FXP_OK);
    const struct fxp_store_batch *b = fxp_decoded_batch_view(d);
    assert_non_null(b->tick_pos);
    assert_true(b->n_ticks > 0 && b->n_ticks <= 4096);
    char id[80];
    snprintf(id, sizeof id, "%s:%llu-%llu", m->key,
             (unsigned long long)b->tick_pos[0],
             (unsigned long long)b->tick_pos[b->n_ticks - 1]);
    assert_string_equal(m->msg_id, id);
    assert_memory_equal(m->correlation_id, "ingest:", 7);
    for (size_t i = 0; i < b->n_ticks; i++) {
        const char *name = fxp_symtab_name(st, b->ticks[i].sym);
        assert_string_equal(name, m->key);
        assert_true(got.n < MAXGOT);
        got.t[got.n++] = (struct tk){.sym = sym_index(name),
                                     .ts = b->ticks[i].ts_ms,
                                     .bid = b->ticks[i].bid,
                                     .ask = b->ticks[i].ask,
                                     .pos = b->tick_pos[i]};
    }
    got.msgs++;
    fxp_decoded_batch_free(d);
    return 0;
}

/* Everything on the prefix's ticks stream (a new group reads from the start),
 * waiting until at least `want` ticks came and then 1 s of quiet. */
static void consume(size_t want)
{
    struct fxp_bus_opts o;
    fxp_bus_opts_default(&o);
    o.prefix = prefix;
    static int groups;
    char group[32];
    snprintf(group, sizeof group, "check%d", ++groups);
    o.group = group;
    o.client_id = "test_ingest";
    struct fxp_bus *b = NULL;
    char err[512];
    int rc = fxp_bus_open(nats(), &o, &b, err, sizeof err);
    if (rc != FXP_OK)
        fail_msg("open: %s", err);
    assert_int_equal(fxp_bus_subscribe(b, FXP_BUS_TICKS), FXP_OK);
    struct fxp_symtab *st = fxp_symtab_new(64);
    got.n = got.msgs = 0;
    double end = now_s() + 60;
    int quiet = 0;
    while (now_s() < end && !(got.n >= want && quiet >= 2)) {
        size_t n = 0;
        rc = fxp_bus_fetch(b, 256, 500, on_msg, st, &n);
        assert_int_equal(rc, FXP_OK);
        quiet = n ? 0 : quiet + 1;
    }
    assert_int_equal(fxp_bus_commit(b), FXP_OK);
    fxp_bus_close(b);
    fxp_symtab_free(st);
}

static bool same(const struct tk *a, const struct tk *b)
{
    return a->sym == b->sym && a->ts == b->ts && a->bid == b->bid &&
           a->ask == b->ask;
}

/* The first n accepted ticks arrived: each position 1..n with the tick the
 * journal got in that place; a repeated position carries the same tick;
 * per symbol a new position is always above the ones before (so a
 * consumer dropping seen positions loses nothing). exact: no repeats. */
static void check_got(size_t n, bool exact)
{
    static struct tk *by_pos[MAXT + 1];
    memset(by_pos, 0, sizeof by_pos);
    uint64_t hi[3] = {0, 0, 0};
    size_t distinct = 0;
    for (size_t i = 0; i < got.n; i++) {
        struct tk *t = &got.t[i];
        assert_true(t->pos >= 1 && t->pos <= n);
        if (by_pos[t->pos]) {
            if (exact)
                fail_msg("position %llu arrived twice",
                         (unsigned long long)t->pos);
            assert_true(same(by_pos[t->pos], t));
            continue;
        }
        if (t->pos <= hi[t->sym])
            fail_msg("%s: new position %llu after %llu", SYMS[t->sym],
                     (unsigned long long)t->pos,
                     (unsigned long long)hi[t->sym]);
        hi[t->sym] = t->pos;
        by_pos[t->pos] = t;
        distinct++;
    }
    assert_int_equal(distinct, n);
    for (size_t p = 1; p <= n; p++)
        if (!same(by_pos[p], &ex.acc[p - 1]))
            fail_msg("position %zu: not the tick the file has there", p);
}

static int on_dlq(void *ud, const struct fxp_dlq_entry *e)
{
    int64_t *ids = ud;
    ids[++ids[0]] = e->id;
    return ids[0] >= 999;
}

/* The dead-letter file holds each rejected record once, by reason. */
static void check_dlq(void)
{
    char path[300], err[512];
    struct fxp_dlq *d = NULL;
    assert_int_equal(
        fxp_dlq_open(in_dir(path, sizeof path, "journal/rejects.dlq"), &d, err,
                     sizeof err),
        FXP_OK);
    static int64_t ids[1000];
    ids[0] = 0;
    assert_int_equal(fxp_dlq_list(d, on_dlq, ids), FXP_OK);
    size_t n[FXP_R_COUNT] = {0};
    struct fxp_symtab *st = fxp_symtab_new(64);
    for (int64_t i = 1; i <= ids[0]; i++) {
        struct fxp_dlq_entry e;
        void *buf = NULL;
        size_t len = 0;
        assert_int_equal(fxp_dlq_get(d, ids[i], &e, &buf, &len), FXP_OK);
        struct fxp_decoded_batch *db = NULL;
        assert_int_equal(fxp_batch_decode(buf, len, st, &db), FXP_OK);
        const struct fxp_store_batch *b = fxp_decoded_batch_view(db);
        assert_int_equal(b->n_rejects, e.n_records);
        for (size_t k = 0; k < b->n_rejects; k++)
            n[b->rejects[k].reason]++;
        fxp_decoded_batch_free(db);
        free(buf);
    }
    fxp_symtab_free(st);
    fxp_dlq_close(d);
    assert_int_equal(n[FXP_R_CROSSED], ex.n_crossed);
    assert_int_equal(n[FXP_R_CLOSED], ex.n_closed);
    assert_int_equal(n[FXP_R_PARSE], ex.n_parse);
}

/* A fresh directory with a file of rows and a fresh bus prefix. */
static void setup_file(int rows, int step_ms)
{
    static int k;
    snprintf(prefix, sizeof prefix, "ing%dx%d", (int)getpid(), ++k);
    snprintf(dir, sizeof dir, "%s/ingest.XXXXXX", env("FXP_SERVERS_DIR"));
    assert_non_null(mkdtemp(dir));
    char csv[300];
    gen_csv(in_dir(csv, sizeof csv, "ticks.csv"), rows, step_ms);
}

/* ---- tests ---- */

/* The ticks `fxpipe run --keep-ticks` stores from the same file. */
static void check_like_run(void)
{
    char db[300], csv[300], feed[320];
    snprintf(feed, sizeof feed, "replay:%s",
             in_dir(csv, sizeof csv, "ticks.csv"));
    in_dir(db, sizeof db, "run.db");
    assert_int_equal(
        wait_exit(spawn("run.log", "run", "--db", db, "--feed", feed, "--speed",
                        "max", "--keep-ticks", NULL),
                  120),
        0);
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(db, &s), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(s,
                                        "SELECT symbol, ts, bid, ask FROM "
                                        "ticks ORDER BY symbol, ts",
                                        -1, &q, NULL),
                     SQLITE_OK);
    size_t k = 0;
    for (int sym = 0; sym < 3; sym++)
        for (size_t i = 0; i < ex.n_acc; i++) {
            if (ex.acc[i].sym != sym)
                continue;
            assert_int_equal(sqlite3_step(q), SQLITE_ROW);
            struct tk t = {
                .sym = sym_index((const char *)sqlite3_column_text(q, 0)),
                .ts = sqlite3_column_int64(q, 1),
                .bid = sqlite3_column_double(q, 2),
                .ask = sqlite3_column_double(q, 3)};
            assert_true(same(&t, &ex.acc[i]));
            k++;
        }
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    assert_int_equal(k, ex.n_acc);
    sqlite3_finalize(q);
    sqlite3_close(s);
}

static void test_publishes_every_accepted_tick_once(void **state_)
{
    (void)state_;
    setup_file(3000, 100);
    assert_int_equal(wait_exit(ingest(nats(), "max", NULL), 60), 0);
    assert_int_equal(journal_head(), ex.n_acc);
    assert_int_equal(state(), ex.n_acc);
    consume(ex.n_acc);
    check_got(ex.n_acc, true);
    check_dlq();
    check_like_run();
    /* A second start has nothing left to do. */
    assert_int_equal(wait_exit(ingest(nats(), "max", NULL), 60), 0);
    consume(ex.n_acc);
    check_got(ex.n_acc, true);
    check_dlq();
}

static void test_kill9_and_restart(void **state_)
{
    (void)state_;
    setup_file(6000, 100); /* 600 s of feed at 60x: 10 s */
    for (int k = 0; k < 3; k++) {
        pid_t pid = ingest(nats(), "60", NULL);
        nap(1.5 + k);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(wait_exit(pid, 10), 128 + SIGKILL);
    }
    assert_true(journal_head() < ex.n_acc);
    assert_int_equal(wait_exit(ingest(nats(), "60", NULL), 60), 0);
    assert_true(log_has("resuming"));
    assert_int_equal(journal_head(), ex.n_acc);
    assert_int_equal(state(), ex.n_acc);
    consume(ex.n_acc);
    check_got(ex.n_acc, false);
    check_dlq();
}

static void servers(const char *what)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "%s/scripts/servers.sh %s '%s' nats >/dev/null",
             env("FXP_SOURCE_DIR"), what, env("FXP_SERVERS_DIR"));
    assert_int_equal(system(cmd), 0);
}

static void test_bus_outage_is_spooled_and_drained(void **state_)
{
    (void)state_;
    setup_file(6000, 100);
    pid_t pid = ingest(nats(), "60", NULL);
    nap(2);
    servers("stop");
    double end = now_s() + 15;
    while (!log_has("bus breaker: closed -> open") && now_s() < end)
        nap(0.1);
    assert_true(log_has("bus breaker: closed -> open"));
    uint64_t h1 = journal_head(), p1 = state();
    nap(1.5);
    uint64_t h2 = journal_head();
    assert_true(h2 > h1);          /* intake goes on journaling */
    assert_int_equal(state(), p1); /* nothing published meanwhile */
    servers("start");
    assert_int_equal(wait_exit(pid, 60), 0);
    assert_true(log_has("half_open -> closed"));
    assert_int_equal(journal_head(), ex.n_acc);
    assert_int_equal(state(), ex.n_acc);
    consume(ex.n_acc);
    check_got(ex.n_acc, false);
    check_dlq();
}

static void test_sigterm_drains_and_exits(void **state_)
{
    (void)state_;
    setup_file(6000, 100); /* 30 s at 20x */
    pid_t pid = ingest(nats(), "20", "10");
    nap(3);
    double t = now_s();
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(wait_exit(pid, 15), 0);
    assert_true(now_s() - t < 10);
    uint64_t head = journal_head();
    assert_true(head > 0 && head < ex.n_acc);
    assert_int_equal(state(), head);
    assert_true(log_has("backlog left 0"));
    consume(head);
    check_got(head, true);
}

static void test_sigterm_with_the_bus_away_then_resume(void **state_)
{
    (void)state_;
    setup_file(3000, 100);
    pid_t pid = ingest("nats://127.0.0.1:1", "max", "2");
    nap(1);
    double t = now_s();
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(wait_exit(pid, 15), 0);
    assert_true(now_s() - t < 2 + 5 + 1); /* deadline + one attempt */
    assert_int_equal(journal_head(), ex.n_acc);
    assert_int_equal(state(), 0);
    assert_true(log_has("not published yet"));
    assert_int_equal(wait_exit(ingest(nats(), "max", NULL), 60), 0);
    assert_int_equal(state(), ex.n_acc);
    consume(ex.n_acc);
    check_got(ex.n_acc, true);
    check_dlq();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publishes_every_accepted_tick_once),
        cmocka_unit_test(test_kill9_and_restart),
        cmocka_unit_test(test_bus_outage_is_spooled_and_drained),
        cmocka_unit_test(test_sigterm_drains_and_exits),
        cmocka_unit_test(test_sigterm_with_the_bus_away_then_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
