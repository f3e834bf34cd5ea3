/*
 * bridge_world.h - helpers of test_bridge.c: a world per test (bus prefix,
 * a SQLite file, PostgreSQL and ClickHouse databases of its own), a
 * publisher of encoded bar batches, the expected bars (the highest version
 * published of each), reading stores back, running the fxpipe binary and
 * stopping or starting a server. Included once; static functions.
 */
#ifndef FXP_TEST_BRIDGE_WORLD_H
#define FXP_TEST_BRIDGE_WORLD_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/bridge.h"
#include "fxpipe/bus.h"
#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/health.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"

#define T0     1704067200000LL /* 2024-01-01T00:00:00Z */
#define N_SYM  3
#define N_BARS 1000

static const char *const SYMS[N_SYM] = {"EURUSD", "GBPUSD", "USDJPY"};

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !v[0])
        fail_msg("%s is not set (run through with_servers.sh)", name);
    return v;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void msleep(long ms)
{
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

static const char *fxpipe(void)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/fxpipe", env("FXP_BUILD_DIR"));
    return path;
}

static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The first number a command prints, -1 when none. */
static long sh_number(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    long v = -1;
    if (!f)
        return -1;
    if (fscanf(f, "%ld", &v) != 1)
        v = -1;
    pclose(f);
    return v;
}

/* ---- Log lines of the bridge run in a thread ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[1 << 20];
static size_t log_len;

static void log_line(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "  [bridge] %s\n", msg);
    pthread_mutex_lock(&log_mu);
    int n = snprintf(log_buf + log_len, sizeof log_buf - log_len, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof log_buf - log_len)
        log_len += (size_t)n;
    pthread_mutex_unlock(&log_mu);
}

static bool log_has(const char *s)
{
    pthread_mutex_lock(&log_mu);
    bool yes = strstr(log_buf, s) != NULL;
    pthread_mutex_unlock(&log_mu);
    return yes;
}

static bool file_has(const char *path, const char *s)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, s) != NULL;
}

/* ---- The world of one test ---- */

struct world {
    char prefix[48], db[48], dir[64];
    char sqlite[128], pg[400], ch[400], dlq[128], log[128];
    int64_t want[N_SYM][N_BARS]; /* highest version published, 0 none */
    int n_rejects;
};

/* What a failed test leaves behind, for the teardown. */
static struct world *g_world;
static pid_t g_pid;
static bool g_ch_down;

static struct world *world_new(const char *name)
{
    struct world *w = calloc(1, sizeof *w);
    char cmd[1200];
    assert_non_null(w);
    snprintf(w->prefix, sizeof w->prefix, "br%s%d", name, (int)getpid());
    snprintf(w->db, sizeof w->db, "br_%s_%d", name, (int)getpid());
    snprintf(w->dir, sizeof w->dir, "/tmp/fxp-bridge.XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->sqlite, sizeof w->sqlite, "sqlite:%s/bars.db", w->dir);
    snprintf(w->dlq, sizeof w->dlq, "%s/bridge.dlq", w->dir);
    snprintf(w->log, sizeof w->log, "%s/bridge.log", w->dir);
    const char *pg = env("FXP_PG_URL"), *ch = env("FXP_CH_URL");
    snprintf(w->pg, sizeof w->pg, "%.*s/%s", (int)(strrchr(pg, '/') - pg), pg,
             w->db);
    snprintf(w->ch, sizeof w->ch, "%.*s/%s", (int)(strrchr(ch, '/') - ch), ch,
             w->db);
    snprintf(cmd, sizeof cmd, "psql '%s' -qc 'CREATE DATABASE %s' >/dev/null",
             pg, w->db);
    assert_int_equal(sh(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "clickhouse-client --port %s -q 'CREATE DATABASE %s'",
             env("FXP_CH_TCP"), w->db);
    assert_int_equal(sh(cmd), 0);
    g_world = w;
    return w;
}

static void world_free(struct world *w)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", w->dir);
    sh(cmd);
    free(w);
    g_world = NULL;
}

/* scripts/servers.sh VERB $FXP_SERVERS_DIR NAME (stop, start). */
static void server_ctl(const char *verb, const char *name)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s/scripts/servers.sh' %s '%s' %s >/dev/null",
             env("FXP_SOURCE_DIR"), verb, env("FXP_SERVERS_DIR"), name);
    fprintf(stderr, "  servers.sh %s %s\n", verb, name);
    assert_int_equal(sh(cmd), 0);
    if (!strcmp(name, "clickhouse"))
        g_ch_down = !strcmp(verb, "stop");
}

/* ---- Publishing ---- */

struct pub {
    struct fxp_bus *b;
    struct fxp_symtab *st;
    int seq;
    const char *prefix;
};

static struct pub *pub_open_url(struct world *w, const char *url)
{
    struct pub *p = calloc(1, sizeof *p);
    struct fxp_bus_opts o;
    char err[512];
    assert_non_null(p);
    fxp_bus_opts_default(&o);
    o.prefix = w->prefix;
    o.client_id = "test_bridge";
    int rc = fxp_bus_open(url, &o, &p->b, err, sizeof err);
    if (rc != FXP_OK)
        fail_msg("bus open: %s", err);
    p->st = fxp_symtab_new(16);
    assert_non_null(p->st);
    for (int s = 0; s < N_SYM; s++) {
        uint32_t id;
        assert_int_equal(
            fxp_symtab_intern(p->st, SYMS[s], strlen(SYMS[s]), &id), FXP_OK);
    }
    p->prefix = w->prefix;
    return p;
}

static struct pub *pub_open(struct world *w)
{
    return pub_open_url(w, env("FXP_NATS_URL"));
}

static void pub_close(struct pub *p)
{
    fxp_bus_close(p->b);
    fxp_symtab_free(p->st);
    free(p);
}

static void pub_raw(struct pub *p, const char *key, const void *data,
                    size_t len)
{
    char id[96];
    snprintf(id, sizeof id, "%s-%d", p->prefix, ++p->seq);
    int rc = fxp_bus_publish(p->b, FXP_BUS_BARS, key, data, len, id, id);
    if (rc != FXP_OK)
        fail_msg("publish: %s", fxp_bus_errmsg(p->b));
}

static void pub_batch(struct pub *p, const char *key,
                      const struct fxp_store_batch *b)
{
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(fxp_batch_encode(b, &buf, &len), FXP_OK);
    pub_raw(p, key, buf, len);
    free(buf);
}

/* Bar i of symbol s at version v: its close tells the version. */
static struct fxp_bar mkbar(int s, int i, int64_t v)
{
    double px = 1.0 + s * 0.25 + i * 0.0001;
    return (struct fxp_bar){.ts_ms = T0 + i * 60000LL,
                            .open = px,
                            .high = px + 0.001,
                            .low = px - 0.001,
                            .close = px + (double)v * 0.00001,
                            .volume = 10,
                            .version = v,
                            .n_ticks = 5,
                            .sym = (uint32_t)s,
                            .tf = FXP_TF_1M,
                            .source = FXP_SRC_LIVE};
}

/* One message: bars [i0, i0 + n) of symbol s at version v. */
static void pub_bars(struct pub *p, struct world *w, int s, int i0, int n,
                     int64_t v)
{
    struct fxp_bar bars[100];
    assert_true(n <= 100 && i0 + n <= N_BARS);
    for (int k = 0; k < n; k++) {
        bars[k] = mkbar(s, i0 + k, v);
        if (w->want[s][i0 + k] < v)
            w->want[s][i0 + k] = v;
    }
    struct fxp_store_batch b = {
        .bars = bars, .n_bars = (size_t)n, .symtab = p->st};
    pub_batch(p, SYMS[s], &b);
}

static void pub_rejects(struct pub *p, struct world *w, int n)
{
    struct fxp_reject r[8];
    char origin[8][32];
    assert_true(n <= 8);
    for (int k = 0; k < n; k++) {
        snprintf(origin[k], sizeof origin[k], "%s:%d", p->prefix, k);
        r[k] = (struct fxp_reject){.origin = origin[k],
                                   .ts_ms = T0,
                                   .symbol = "EURUSD",
                                   .reason = FXP_R_CROSSED,
                                   .detail = "bid above ask",
                                   .raw = "x"};
    }
    struct fxp_store_batch b = {.rejects = r, .n_rejects = (size_t)n};
    pub_batch(p, "EURUSD", &b);
    w->n_rejects += n;
}

static void pub_flush(struct pub *p)
{
    int rc = fxp_bus_flush(p->b, 10000);
    if (rc != FXP_OK)
        fail_msg("flush: %s", fxp_bus_errmsg(p->b));
}

/* ---- Reading the stores back ---- */

static const char *store_url(struct world *w, int k)
{
    return k == 0 ? w->sqlite : k == 1 ? w->pg : w->ch;
}

struct model {
    int n[N_SYM];
    int64_t ver[N_SYM][N_BARS];
    int bad; /* bars outside the range or with a wrong close */
};

struct scan_ud {
    struct model *m;
    int s;
};

static int on_bar(void *ud, const char *symbol, const struct fxp_bar *b)
{
    struct scan_ud *u = ud;
    (void)symbol;
    int64_t i = (b->ts_ms - T0) / 60000;
    struct fxp_bar want = mkbar(u->s, (int)i, b->version);
    if (i < 0 || i >= N_BARS || b->close != want.close)
        u->m->bad++;
    else
        u->m->ver[u->s][i] = b->version;
    u->m->n[u->s]++;
    return 0;
}

/* Read store k back into m; false (why in err) when it cannot be read. */
static bool model_load(struct world *w, int k, struct model *m, char *err,
                       size_t len)
{
    struct fxp_store *st = NULL;
    struct fxp_store_opts o;
    memset(m, 0, sizeof *m);
    fxp_store_opts_default(&o);
    if (fxp_store_open(store_url(w, k), &o, &st, err, len) != FXP_OK)
        return false;
    bool ok = true;
    for (int s = 0; s < N_SYM && ok; s++) {
        struct scan_ud u = {m, s};
        ok = fxp_store_scan_bars(st, SYMS[s], FXP_TF_1M, 0, INT64_MAX, on_bar,
                                 &u) == FXP_OK;
    }
    uint64_t nt = 0, nr = 0;
    if (ok && fxp_store_counts(st, &nt, &nr) == FXP_OK &&
        nr != (uint64_t)w->n_rejects)
        snprintf(err, len, "%llu rejects, want %d", (unsigned long long)nr,
                 w->n_rejects);
    else if (ok)
        err[0] = '\0';
    else
        snprintf(err, len, "%s", fxp_store_errmsg(st));
    fxp_store_close(st);
    return ok && !err[0];
}

/* Does store k hold exactly the highest version published of every bar?
 * If not, err says how it differs. */
static bool store_ok(struct world *w, int k, char *err, size_t len)
{
    struct model m;
    if (!model_load(w, k, &m, err, len))
        return false;
    if (m.bad) {
        snprintf(err, len, "%d bars that were never published", m.bad);
        return false;
    }
    for (int s = 0; s < N_SYM; s++) {
        int want = 0;
        for (int i = 0; i < N_BARS; i++) {
            want += w->want[s][i] > 0;
            if (m.ver[s][i] != w->want[s][i]) {
                snprintf(err, len, "%s bar %d has version %lld, want %lld",
                         SYMS[s], i, (long long)m.ver[s][i],
                         (long long)w->want[s][i]);
                return false;
            }
        }
        if (m.n[s] != want) {
            snprintf(err, len, "%d %s bars, want %d", m.n[s], SYMS[s], want);
            return false;
        }
    }
    return true;
}

static void check_store(struct world *w, int k)
{
    char err[600];
    if (!store_ok(w, k, err, sizeof err))
        fail_msg("store %s: %s", store_url(w, k), err);
}

/* Wait up to secs for every store to hold what was published. */
static void wait_stores(struct world *w, int secs)
{
    char err[600] = "";
    double end = now_s() + secs;
    for (int k = 0; k < 3; k++)
        while (!store_ok(w, k, err, sizeof err) && now_s() < end)
            msleep(200);
    for (int k = 0; k < 3; k++)
        check_store(w, k);
}

static int want_total(struct world *w)
{
    int n = 0;
    for (int s = 0; s < N_SYM; s++)
        for (int i = 0; i < N_BARS; i++)
            n += w->want[s][i] > 0;
    return n;
}

/* Rows of the bars table counted by the server's own client: k 1
 * PostgreSQL, k 2 ClickHouse (FINAL: after merging revisions). */
static long sql_count(struct world *w, int k)
{
    char cmd[1200];
    if (k == 1)
        snprintf(cmd, sizeof cmd,
                 "psql '%s' -tAc 'SELECT count(*) FROM bars' 2>/dev/null",
                 w->pg);
    else
        snprintf(cmd, sizeof cmd,
                 "clickhouse-client --port %s -d %s -q "
                 "'SELECT count() FROM bars FINAL' 2>/dev/null",
                 env("FXP_CH_TCP"), w->db);
    return sh_number(cmd);
}

/* 1m bars in the SQLite store, read by `fxpipe stats`. */
static long sqlite_count(struct world *w)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "%s stats --db %s 2>/dev/null | awk '$2 == \"1m\" {n += $3} "
             "END {print n + 0}'",
             fxpipe(), w->sqlite + 7);
    return sh_number(cmd);
}

/* ---- HTTP and processes ---- */

/* GET a health endpoint with curl: the status, the body in out. */
static int http_get(uint16_t port, const char *path, char *out, size_t len)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd,
             "curl -s -w '\\n%%{http_code}' http://127.0.0.1:%u%s",
             (unsigned)port, path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, len - 1, f);
    pclose(f);
    out[n] = '\0';
    char *nl = strrchr(out, '\n');
    if (!nl)
        return -1;
    *nl = '\0';
    return atoi(nl + 1);
}

/* A loopback port nothing listens on. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* fxpipe bridge on the world's bus prefix and three stores, more args
 * after; its output is appended to w->log. */
static pid_t spawn(struct world *w, const char *const *more)
{
    const char *argv[40] = {
        fxpipe(),   "bridge",  "--bus",   env("FXP_NATS_URL"),
        "--prefix", w->prefix, "--store", w->sqlite,
        "--store",  w->pg,     "--store", w->ch,
        "--dlq",    w->dlq};
    size_t n = 14;
    for (; *more && n < 38; more++)
        argv[n++] = *more;
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(w->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    g_pid = pid;
    return pid;
}

/* Wait for pid at most secs: its exit status, 128 + signal if killed. */
static int reap(pid_t pid, int secs)
{
    int st;
    for (int i = 0; i < secs * 20; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            g_pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        msleep(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    g_pid = 0;
    fail_msg("fxpipe bridge did not exit within %d s", secs);
    return -1;
}

/* After a failed test: no process, ClickHouse up, no world. */
static void world_cleanup(void)
{
    if (g_pid > 0) {
        kill(g_pid, SIGKILL);
        waitpid(g_pid, NULL, 0);
        g_pid = 0;
    }
    if (g_ch_down)
        server_ctl("start", "clickhouse");
    if (g_world)
        world_free(g_world);
}

#endif
