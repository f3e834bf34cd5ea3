/*
 * metrics.c - the metrics registry and its Prometheus text rendering
 * (health.h, docs/operations/health.md).
 *
 * Design notes
 *
 *  1. The registry is a list of families (name, help, type) in registration
 *     order, each with a list of series in registration order. Nothing is
 *     ever removed, so a handle (a pointer into a series) is stable until
 *     fxp_metrics_free.
 *  2. m->mu guards both lists and the series count. Values are atomics
 *     written without the lock; a render reads each value once, so a
 *     scrape sees every counter at some moment between the render's start
 *     and end - never a torn value.
 *  3. Label sets are parsed, checked and re-emitted sorted by label name
 *     (the canonical form), so `a="1",b="2"` and `b="2",a="1"` are one
 *     series and the rendered text never repeats a label set.
 *  4. Values: counters as decimal integers; gauges with the shortest %g
 *     precision (15 or 17 digits) that reads back to the same double, and
 *     NaN, +Inf, -Inf spelled as the format requires.
 *  5. The fxp_health_* registration shortcuts and the breaker gauge live
 *     here too; they only reach the server through fxp_health_metrics().
 */
#include "fxpipe/health.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/breaker.h"

enum kind { K_COUNTER, K_GAUGE, K_GAUGE_FN };

struct fxp_counter {
    _Atomic uint64_t v;
};

struct fxp_gauge {
    _Atomic double v;
};

struct series {
    struct series *next;
    char *labels; /* canonical, "" for none (note 3) */
    enum kind kind;
    struct fxp_counter c;
    struct fxp_gauge g;
    fxp_gauge_fn fn;
    void *ud;
};

struct family {
    struct family *next;
    char *name;
    char *help;
    bool is_counter;
    struct series *head, *tail;
};

struct fxp_metrics {
    pthread_mutex_t mu;
    struct family *head, *tail;
    size_t n_series;
};

/* ---- Names and label sets ---- */

static bool is_alpha_(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

bool fxp_metrics_name_valid(const char *name)
{
    if (!name || !(is_alpha_(name[0]) || name[0] == ':'))
        return false;
    for (const char *p = name + 1; *p; p++)
        if (!is_alpha_(*p) && !is_digit(*p) && *p != ':')
            return false;
    return true;
}

struct pair {
    const char *name, *value; /* value: between the quotes, escaped */
    size_t name_len, value_len;
};

/* Split labels into pairs; false when malformed (note 3). */
static bool parse_labels(const char *s, struct pair *p, size_t *n)
{
    *n = 0;
    if (!s || !*s)
        return true;
    for (;;) {
        if (*n == FXP_METRICS_MAX_LABELS || !is_alpha_(*s))
            return false;
        struct pair *q = &p[(*n)++];
        q->name = s;
        while (is_alpha_(*s) || is_digit(*s))
            s++;
        q->name_len = (size_t)(s - q->name);
        if (q->name_len >= 2 && q->name[0] == '_' && q->name[1] == '_')
            return false; /* reserved for Prometheus itself */
        if (s[0] != '=' || s[1] != '"')
            return false;
        s += 2;
        q->value = s;
        while (*s != '"') {
            unsigned char c = (unsigned char)*s;
            if (c == '\0' || (c < 0x20 && c != '\t'))
                return false;
            if (c == '\\') {
                if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
                    return false;
                s++;
            }
            s++;
        }
        q->value_len = (size_t)(s - q->value);
        s++;
        for (size_t i = 0; i + 1 < *n; i++)
            if (p[i].name_len == q->name_len &&
                memcmp(p[i].name, q->name, q->name_len) == 0)
                return false;
        if (*s == '\0')
            return true;
        if (*s != ',')
            return false;
        s++;
    }
}

bool fxp_metrics_labels_valid(const char *labels)
{
    struct pair p[FXP_METRICS_MAX_LABELS];
    size_t n;

    return parse_labels(labels, p, &n);
}

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int r = memcmp(x->name, y->name, n);

    if (r != 0)
        return r;
    return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

/* The canonical form of labels (malloc'd), or NULL when invalid or out of
 * memory (*bad tells which). */
static char *canonical_labels(const char *labels, bool *bad)
{
    struct pair p[FXP_METRICS_MAX_LABELS];
    size_t n, len = 1;

    *bad = !parse_labels(labels, p, &n);
    if (*bad)
        return NULL;
    qsort(p, n, sizeof p[0], pair_cmp);
    for (size_t i = 0; i < n; i++)
        len += p[i].name_len + p[i].value_len + 4; /* ="", */
    char *out = malloc(len), *w = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *w++ = ',';
        memcpy(w, p[i].name, p[i].name_len);
        w += p[i].name_len;
        *w++ = '=';
        *w++ = '"';
        memcpy(w, p[i].value, p[i].value_len);
        w += p[i].value_len;
        *w++ = '"';
    }
    *w = '\0';
    return out;
}

/* ---- Registry ---- */

struct fxp_metrics *fxp_metrics_new(void)
{
    struct fxp_metrics *m = calloc(1, sizeof *m);

    if (m && pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void fxp_metrics_free(struct fxp_metrics *m)
{
    if (!m)
        return;
    for (struct family *f = m->head, *fn; f; f = fn) {
        fn = f->next;
        for (struct series *s = f->head, *sn; s; s = sn) {
            sn = s->next;
            free(s->labels);
            free(s);
        }
        free(f->name);
        free(f->help);
        free(f);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}

static struct family *find_family(struct fxp_metrics *m, const char *name)
{
    for (struct family *f = m->head; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* Find or create the series (name, labels) of kind; m->mu held. *s is the
 * series found or made. FXP_EEXIST when it exists with another kind. */
static fxp_err get_series(struct fxp_metrics *m, const char *name,
                          const char *help, const char *labels, enum kind kind,
                          fxp_gauge_fn fn, void *ud, struct series **s)
{
    bool bad;
    char *canon = canonical_labels(labels, &bad);
    struct family *f = find_family(m, name);
    struct family *nf = NULL;
    struct series *ns = NULL;

    *s = NULL;
    if (!canon)
        return bad ? FXP_EINVAL : FXP_ENOMEM;
    if (f && f->is_counter != (kind == K_COUNTER)) {
        free(canon);
        return FXP_EINVAL;
    }
    for (struct series *it = f ? f->head : NULL; it; it = it->next) {
        if (strcmp(it->labels, canon) == 0) {
            free(canon);
            if (it->kind != kind || kind == K_GAUGE_FN)
                return FXP_EEXIST;
            *s = it;
            return FXP_OK;
        }
    }
    if (m->n_series >= FXP_METRICS_MAX_SERIES) {
        free(canon);
        return FXP_ETOOLARGE;
    }
    ns = calloc(1, sizeof *ns);
    if (!ns)
        goto fail;
    ns->labels = canon;
    canon = NULL;
    ns->kind = kind;
    ns->fn = fn;
    ns->ud = ud;
    atomic_init(&ns->c.v, 0);
    atomic_init(&ns->g.v, 0.0);
    if (!f) {
        nf = calloc(1, sizeof *nf);
        if (!nf || !(nf->name = dup_str(name)) || !(nf->help = dup_str(help)))
            goto fail;
        nf->is_counter = kind == K_COUNTER;
        if (m->tail)
            m->tail->next = nf;
        else
            m->head = nf;
        m->tail = nf;
        f = nf;
    }
    if (f->tail)
        f->tail->next = ns;
    else
        f->head = ns;
    f->tail = ns;
    m->n_series++;
    *s = ns;
    return FXP_OK;
fail:
    free(canon);
    if (ns)
        free(ns->labels);
    free(ns);
    if (nf) {
        free(nf->name);
        free(nf->help);
    }
    free(nf);
    return FXP_ENOMEM;
}

static fxp_err add_series(struct fxp_metrics *m, const char *name,
                          const char *help, const char *labels, enum kind kind,
                          fxp_gauge_fn fn, void *ud, struct series **s)
{
    fxp_err err;

    *s = NULL;
    if (!m || !fxp_metrics_name_valid(name) || !help)
        return FXP_EINVAL;
    pthread_mutex_lock(&m->mu);
    err = get_series(m, name, help, labels, kind, fn, ud, s);
    pthread_mutex_unlock(&m->mu);
    return err;
}

struct fxp_counter *fxp_metrics_counter(struct fxp_metrics *m, const char *name,
                                        const char *help, const char *labels)
{
    struct series *s;

    return add_series(m, name, help, labels, K_COUNTER, NULL, NULL, &s) ==
                   FXP_OK
               ? &s->c
               : NULL;
}

struct fxp_gauge *fxp_metrics_gauge(struct fxp_metrics *m, const char *name,
                                    const char *help, const char *labels)
{
    struct series *s;

    return add_series(m, name, help, labels, K_GAUGE, NULL, NULL, &s) == FXP_OK
               ? &s->g
               : NULL;
}

fxp_err fxp_metrics_gauge_fn(struct fxp_metrics *m, const char *name,
                             const char *help, const char *labels,
                             fxp_gauge_fn fn, void *ud)
{
    struct series *s;

    if (!fn)
        return FXP_EINVAL;
    return add_series(m, name, help, labels, K_GAUGE_FN, fn, ud, &s);
}

/* ---- Updates ---- */

void fxp_counter_inc(struct fxp_counter *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->v, 1, memory_order_relaxed);
}

void fxp_counter_add(struct fxp_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t fxp_counter_get(const struct fxp_counter *c)
{
    return c ? atomic_load_explicit(&c->v, memory_order_relaxed) : 0;
}

void fxp_gauge_set(struct fxp_gauge *g, double v)
{
    if (g)
        atomic_store_explicit(&g->v, v, memory_order_relaxed);
}

void fxp_gauge_add(struct fxp_gauge *g, double delta)
{
    if (!g)
        return;
    double old = atomic_load_explicit(&g->v, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        &g->v, &old, old + delta, memory_order_relaxed, memory_order_relaxed))
        ;
}

double fxp_gauge_get(const struct fxp_gauge *g)
{
    return g ? atomic_load_explicit(&g->v, memory_order_relaxed) : 0.0;
}

/* ---- Rendering ---- */

struct text {
    char *p;
    size_t len, cap;
    fxp_err err;
};

static void text_add(struct text *t, const char *s, size_t n)
{
    if (t->err)
        return;
    if (t->len + n + 1 > FXP_METRICS_MAX_TEXT) {
        t->err = FXP_ETOOLARGE;
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->err = FXP_ENOMEM;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

/* HELP text: backslash and newline escaped. */
static void text_help(struct text *t, const char *s)
{
    for (const char *run = s;; s++) {
        if (*s == '\\' || *s == '\n' || *s == '\0') {
            text_add(t, run, (size_t)(s - run));
            if (*s == '\0')
                return;
            text_str(t, *s == '\\' ? "\\\\" : "\\n");
            run = s + 1;
        }
    }
}

/* A double as the format reads it (note 4). */
static void format_double(double v, char *buf, size_t len)
{
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(buf, len, "%.15g", v);
        if (strtod(buf, NULL) != v)
            snprintf(buf, len, "%.17g", v);
    }
}

static void render_series(struct text *t, const struct family *f,
                          const struct series *s)
{
    char num[40];
    double v;

    text_str(t, f->name);
    if (s->labels[0]) {
        text_str(t, "{");
        text_str(t, s->labels);
        text_str(t, "}");
    }
    text_str(t, " ");
    if (s->kind == K_COUNTER) {
        snprintf(num, sizeof num, "%" PRIu64, atomic_load(&s->c.v));
    } else {
        v = s->kind == K_GAUGE ? atomic_load(&s->g.v) : s->fn(s->ud);
        format_double(v, num, sizeof num);
    }
    text_str(t, num);
    text_str(t, "\n");
}

fxp_err fxp_metrics_render(struct fxp_metrics *m, char **out, size_t *len)
{
    struct text t = {0};

    *out = NULL;
    *len = 0;
    if (!m)
        return FXP_EINVAL;
    text_add(&t, "", 0); /* an empty registry is "", not NULL */
    pthread_mutex_lock(&m->mu);
    for (const struct family *f = m->head; f; f = f->next) {
        text_str(&t, "# HELP ");
        text_str(&t, f->name);
        text_str(&t, " ");
        text_help(&t, f->help);
        text_str(&t, "\n# TYPE ");
        text_str(&t, f->name);
        text_str(&t, f->is_counter ? " counter\n" : " gauge\n");
        for (const struct series *s = f->head; s; s = s->next)
            render_series(&t, f, s);
    }
    pthread_mutex_unlock(&m->mu);
    if (t.err) {
        free(t.p);
        return t.err;
    }
    *out = t.p;
    *len = t.len;
    return FXP_OK;
}

/* ---- Shortcuts on the health server's registry ---- */

struct fxp_counter *fxp_health_counter(struct fxp_health *h, const char *name,
                                       const char *help, const char *labels)
{
    return fxp_metrics_counter(fxp_health_metrics(h), name, help, labels);
}

struct fxp_gauge *fxp_health_gauge(struct fxp_health *h, const char *name,
                                   const char *help, const char *labels)
{
    return fxp_metrics_gauge(fxp_health_metrics(h), name, help, labels);
}

fxp_err fxp_health_gauge_fn(struct fxp_health *h, const char *name,
                            const char *help, const char *labels,
                            fxp_gauge_fn fn, void *ud)
{
    return fxp_metrics_gauge_fn(fxp_health_metrics(h), name, help, labels, fn,
                                ud);
}

double fxp_health_breaker_value(void *br)
{
    return (double)fxp_breaker_state_get(br);
}
