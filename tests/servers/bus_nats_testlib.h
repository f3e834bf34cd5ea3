/*
 * bus_nats_testlib.h - what the NATS bus tests share (test_bus_nats.c,
 * test_bus_nats_faults.c): handles on $FXP_NATS_URL with a prefix of
 * their own, numbered messages of three symbols with batch payloads, a
 * consumer that checks keys, headers and payloads, and a raw JetStream
 * connection to look at the streams. Included once per test program.
 */
#ifndef FXPIPE_TESTS_BUS_NATS_TESTLIB_H
#define FXPIPE_TESTS_BUS_NATS_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nats/nats.h>
#include <pthread.h>
#include <unistd.h>

#include "fxpipe/batchcodec.h"
#include "fxpipe/bus.h"
#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"

#define T0      1704067200000LL
#define MAX_GOT 120000

static const char *const SYMS[3] = {"EURUSD", "GBPUSD", "USDJPY"};

static inline const char *nats_url(void)
{
    const char *u = getenv("FXP_NATS_URL");

    assert_non_null(u);
    return u;
}

static inline void new_prefix(char *out, size_t cap)
{
    static int k;

    snprintf(out, cap, "t%dx%d", (int)getpid(), ++k);
}

static inline void opts_for(struct fxp_bus_opts *o, const char *prefix,
                            const char *group)
{
    fxp_bus_opts_default(o);
    o->prefix = prefix;
    o->group = group;
    o->client_id = "test_bus_nats";
    o->connect_timeout_ms = 5000;
    o->request_timeout_ms = 5000;
}

static inline struct fxp_bus *open_bus(const char *prefix, const char *group)
{
    struct fxp_bus_opts o;
    struct fxp_bus *b = NULL;
    char err[512];
    int rc;

    opts_for(&o, prefix, group);
    rc = fxp_bus_open(nats_url(), &o, &b, err, sizeof err);
    if (rc != FXP_OK)
        fail_msg("open: %s: %s", fxp_err_name(rc), err);
    assert_string_equal(fxp_bus_backend(b), "nats");
    return b;
}

static inline struct fxp_bus *open_sub(const char *prefix, const char *group,
                                       fxp_bus_stream st)
{
    struct fxp_bus *b = open_bus(prefix, group);
    int rc = fxp_bus_subscribe(b, st);

    if (rc != FXP_OK)
        fail_msg("subscribe: %s: %s", fxp_err_name(rc), fxp_bus_errmsg(b));
    return b;
}

/* The payload of message i: a batch of 1 + i % 4 ticks of its symbol. */
static inline void make_payload(int i, void **out, size_t *len)
{
    struct fxp_symtab *st = fxp_symtab_new(8);
    struct fxp_tick t[4];
    struct fxp_store_batch b = {0};
    const char *sym = SYMS[i % 3];
    uint32_t id;

    assert_int_equal(fxp_symtab_intern(st, sym, strlen(sym), &id), FXP_OK);
    for (int k = 0; k < 4; k++) {
        t[k] = (struct fxp_tick){.ts_ms = T0 + i * 1000 + k,
                                 .bid = 1.1 + i * 1e-5,
                                 .ask = 1.1002 + i * 1e-5,
                                 .sym = id};
    }
    b.ticks = t;
    b.n_ticks = 1 + (size_t)(i % 4);
    b.symtab = st;
    assert_int_equal(fxp_batch_encode(&b, out, len), FXP_OK);
    fxp_symtab_free(st);
}

static inline void msg_id(char *out, size_t cap, const char *tag, int i)
{
    snprintf(out, cap, "%s-%s-%d", tag ? tag : "", SYMS[i % 3], i);
}

/* Publish messages [from, to) of a run tagged tag; i % 5 == 0 has no
 * correlation id. Returns the first error. */
static inline int publish_range(struct fxp_bus *b, const char *tag, int from,
                                int to)
{
    for (int i = from; i < to; i++) {
        char id[64], corr[64];
        void *p;
        size_t len;
        int rc;

        make_payload(i, &p, &len);
        msg_id(id, sizeof id, tag, i);
        snprintf(corr, sizeof corr, "corr-%d", i);
        rc = fxp_bus_publish(b, FXP_BUS_TICKS, SYMS[i % 3], p, len, id,
                             i % 5 ? corr : NULL);
        free(p);
        if (rc != FXP_OK)
            return rc;
    }
    return FXP_OK;
}

/* What a consumer saw. */
struct got {
    int n;
    int idx[MAX_GOT]; /* message number parsed from the id, -1 if none */
    uint32_t redeliveries[MAX_GOT];
    uint64_t pos[MAX_GOT];
    const char *tag;
    int check;      /* verify key, headers and payload */
    int stop_after; /* fn returns non-zero at this many (0: never) */
    int calls;
};

static inline int on_msg(void *ud, const struct fxp_bus_msg *m)
{
    struct got *g = ud;
    int i = -1;
    const char *dash = strrchr(m->msg_id, '-');

    g->calls++;
    if (dash)
        i = atoi(dash + 1);
    if (g->check) {
        char id[64], corr[64];
        void *p;
        size_t len;

        assert_true(i >= 0);
        assert_string_equal(m->key, SYMS[i % 3]);
        msg_id(id, sizeof id, g->tag, i);
        assert_string_equal(m->msg_id, id);
        snprintf(corr, sizeof corr, "corr-%d", i);
        assert_string_equal(m->correlation_id, i % 5 ? corr : "");
        make_payload(i, &p, &len);
        assert_int_equal(m->len, len);
        assert_memory_equal(m->data, p, len);
        free(p);
    }
    assert_true(g->n < MAX_GOT);
    g->idx[g->n] = i;
    g->redeliveries[g->n] = m->redeliveries;
    g->pos[g->n++] = m->pos;
    return g->stop_after && g->calls >= g->stop_after;
}

/* Fetch until a fetch brings nothing (or want messages came). */
static inline void drain(struct fxp_bus *b, struct got *g, int want, int commit)
{
    for (;;) {
        size_t n = 0;
        int rc = fxp_bus_fetch(b, 100, want && g->n < want ? 2000 : 300, on_msg,
                               g, &n);

        if (rc != FXP_OK)
            fail_msg("fetch: %s: %s", fxp_err_name(rc), fxp_bus_errmsg(b));
        if (commit && n)
            assert_int_equal(fxp_bus_commit(b), FXP_OK);
        if (!n)
            return;
    }
}

/* A raw JetStream context for looking at what the backend made. */
struct raw {
    natsConnection *nc;
    jsCtx *js;
};

static inline void raw_open(struct raw *r)
{
    assert_int_equal(natsConnection_ConnectTo(&r->nc, nats_url()), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&r->js, r->nc, NULL), NATS_OK);
}

static inline void raw_close(struct raw *r)
{
    jsCtx_Destroy(r->js);
    natsConnection_Destroy(r->nc);
}

static inline void upper_name(char *out, size_t cap, const char *prefix,
                              const char *sfx)
{
    size_t i = 0;

    for (; prefix[i] && i + 1 < cap; i++)
        out[i] = prefix[i] >= 'a' && prefix[i] <= 'z'
                     ? (char)(prefix[i] - 'a' + 'A')
                 : prefix[i] == '.' ? '_'
                                    : prefix[i];
    snprintf(out + i, cap - i, "_%s", sfx);
}

static inline uint64_t stream_msgs(const char *prefix)
{
    struct raw r;
    jsStreamInfo *si = NULL;
    char name[128];
    uint64_t n;

    raw_open(&r);
    upper_name(name, sizeof name, prefix, "TICKS");
    assert_int_equal(js_GetStreamInfo(&si, r.js, name, NULL, NULL), NATS_OK);
    n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    raw_close(&r);
    return n;
}

static inline double now_s(void)
{
    return (double)nats_Now() / 1000.0;
}

#endif
