/*
 * polygon.c - the Polygon.io REST aggregates client (polygon.h): libcurl's
 * easy interface for HTTP; the JSON is read by polygon_page.c (jansson).
 *
 * Design notes
 *
 * 1. One request is one call of send_once(). request() wraps it with the
 *    rate limit and the retries: it returns only a 2xx body in p->body or
 *    a final error. A retry re-sends the same URL, so pagination resumes
 *    with the page that failed and no page is delivered twice.
 * 2. Rate limit: a token bucket of capacity 1 refilled at rate_per_min/60
 *    tokens a second; every request, retries included, takes a token and
 *    waits for one when the bucket is empty. The first request is
 *    immediate.
 * 3. Retries: 429, 5xx, timeouts and connection errors, at most
 *    max_retries times per request, sleeping uniform(0, min(retry_max_ms,
 *    retry_base_ms * 2^attempt)) ("full jitter") before each. 401/403 and
 *    other 4xx are final at once.
 * 4. The API key is only ever in p->url (the URL sent). Messages show
 *    p->shown, the URL without its query, and every message is scrubbed
 *    of the key before it is returned all the same.
 * 5. next_url's path and query are requested on the configured base URL,
 *    so the key is never sent to a host other than the configured one.
 * 6. Pages are parsed by polygon_page.c (jansson stays there): bars in
 *    [from, to), strictly ascending across pages, nothing twice.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fxpipe/err.h"
#include "fxpipe/polygon.h"
#include "fxpipe/symbol.h"
#include "source/polygon_int.h"

#define URL_MAX   8192                       /* bytes of a URL, NUL included */
#define BODY_MAX  ((size_t)64 * 1024 * 1024) /* hard cap of a response body */
#define BODY_INIT ((size_t)64 * 1024)

struct fxp_polygon {
    struct fxp_polygon_cfg cfg; /* strings point at base/key below */
    char base[1024];            /* without trailing '/' */
    char key[256];
    CURL *curl;
    char curl_err[CURL_ERROR_SIZE];
    struct fxp_polygon_stats st;
    double tokens;   /* token bucket, 0..1 */
    double refill_s; /* monotonic time of the last refill */
    uint64_t rng;    /* xorshift64* state */
    char *body;      /* response body, body_len bytes */
    size_t body_len, body_cap;
    int body_toobig;     /* the write callback refused more */
    char url[URL_MAX];   /* what is sent, with the key */
    char shown[URL_MAX]; /* what messages show: url without the query */
    char prev[URL_MAX];  /* the previous page's url */
    struct fxp__poly_bars bars;
};

void fxp_polygon_cfg_default(struct fxp_polygon_cfg *c)
{
    c->base_url = "https://api.polygon.io";
    c->api_key = NULL;
    c->timeout_ms = 30000;
    c->rate_per_min = 5;
    c->max_retries = 6;
    c->retry_base_ms = 1000;
    c->retry_max_ms = 32000;
    c->limit = 50000;
}

/* ------------------------------------------------------------------------
 * Time, sleeping, randomness
 */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec req, rem;
    if (!(s > 0))
        return;
    req.tv_sec = (time_t)s;
    req.tv_nsec = (long)((s - (double)req.tv_sec) * 1e9);
    while (nanosleep(&req, &rem) != 0)
        req = rem; /* interrupted by a signal: sleep the rest */
}

static uint64_t rng_next(struct fxp_polygon *p)
{
    p->rng ^= p->rng >> 12;
    p->rng ^= p->rng << 25;
    p->rng ^= p->rng >> 27;
    return p->rng * 2685821657736338717ULL;
}

/* Take a token, waiting for one (design note 2). */
static void rate_wait(struct fxp_polygon *p)
{
    double rate = p->cfg.rate_per_min / 60.0, t;
    if (rate <= 0)
        return;
    for (;;) {
        t = now_s();
        p->tokens += (t - p->refill_s) * rate;
        if (p->tokens > 1)
            p->tokens = 1;
        p->refill_s = t;
        if (p->tokens >= 1 - 1e-9)
            break;
        sleep_s((1 - p->tokens) / rate);
    }
    p->tokens -= 1;
}

/* Full-jitter backoff before retry number `attempt` (0-based). */
static void backoff(struct fxp_polygon *p, int attempt)
{
    double cap = p->cfg.retry_base_ms * ldexp(1.0, attempt < 40 ? attempt : 40);
    if (cap > p->cfg.retry_max_ms)
        cap = p->cfg.retry_max_ms;
    sleep_s(cap * ((double)(rng_next(p) >> 11) / 9007199254740992.0) / 1e3);
}

/* ------------------------------------------------------------------------
 * Messages
 */

/* Replace every occurrence of the key in errbuf (design note 4). */
static void scrub(const struct fxp_polygon *p, char *errbuf, size_t errlen)
{
    size_t klen = strlen(p->key);
    char *s;
    if (errbuf == NULL || errlen == 0 || klen == 0)
        return;
    while ((s = strstr(errbuf, p->key)) != NULL)
        memset(s, '*', klen);
}

/* ------------------------------------------------------------------------
 * HTTP
 */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct fxp_polygon *p = ud;
    size_t n = size * nmemb, cap;
    char *nb;
    if (n > BODY_MAX - p->body_len) {
        p->body_toobig = 1;
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    }
    if (p->body_len + n > p->body_cap) {
        cap = p->body_cap ? p->body_cap : BODY_INIT;
        while (cap < p->body_len + n)
            cap *= 2;
        if (cap > BODY_MAX)
            cap = BODY_MAX;
        nb = realloc(p->body, cap);
        if (nb == NULL)
            return 0;
        p->body = nb;
        p->body_cap = cap;
    }
    memcpy(p->body + p->body_len, data, n);
    p->body_len += n;
    return n;
}

static int is_conn_error(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
           cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
           cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE ||
           cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM;
}

/* Send p->url once. Returns FXP_OK (2xx body in p->body), FXP_EAGAIN for
 * a retriable failure with the reason in `why`, or a final error. */
static int send_once(struct fxp_polygon *p, char *why, size_t whylen,
                     char *errbuf, size_t errlen)
{
    char msg[256];
    CURLcode cc;
    long st = 0;

    p->body_len = 0;
    p->body_toobig = 0;
    p->curl_err[0] = '\0';
    curl_easy_setopt(p->curl, CURLOPT_URL, p->url);
    p->st.requests++;
    cc = curl_easy_perform(p->curl);
    if (cc == CURLE_OPERATION_TIMEDOUT || is_conn_error(cc)) {
        if (cc == CURLE_OPERATION_TIMEDOUT)
            p->st.timeouts++;
        else
            p->st.conn_errors++;
        snprintf(why, whylen, "%s",
                 p->curl_err[0] ? p->curl_err : curl_easy_strerror(cc));
        return FXP_EAGAIN;
    }
    if (cc == CURLE_WRITE_ERROR && p->body_toobig) {
        snprintf(errbuf, errlen, "polygon response from '%s' exceeds %zu MiB",
                 p->shown, BODY_MAX >> 20);
        return FXP_ETOOLARGE;
    }
    if (cc != CURLE_OK) {
        snprintf(errbuf, errlen, "polygon request '%s' failed: %s", p->shown,
                 p->curl_err[0] ? p->curl_err : curl_easy_strerror(cc));
        return cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR
                   ? FXP_ENOMEM
                   : FXP_EUNAVAIL;
    }
    curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &st);
    if (st >= 200 && st < 300)
        return FXP_OK;
    if (st == 429 || (st >= 500 && st < 600)) {
        if (st == 429)
            p->st.http_429++;
        else
            p->st.http_5xx++;
        snprintf(why, whylen, "HTTP %ld", st);
        return FXP_EAGAIN;
    }
    fxp__polygon_server_message(p->body, p->body_len, msg, sizeof msg);
    if (st == 401 || st == 403)
        snprintf(errbuf, errlen, "polygon rejected the API key (HTTP %ld)%s",
                 st, msg);
    else
        snprintf(errbuf, errlen, "polygon request '%s' failed: HTTP %ld%s",
                 p->shown, st, msg);
    return FXP_EINVAL;
}

/* Send p->url with the rate limit and retries (design notes 1-3). */
static int request(struct fxp_polygon *p, char *errbuf, size_t errlen)
{
    char why[CURL_ERROR_SIZE + 32];
    int attempt, rc;

    for (attempt = 0;; attempt++) {
        rate_wait(p);
        rc = send_once(p, why, sizeof why, errbuf, errlen);
        if (rc != FXP_EAGAIN)
            return rc;
        if (attempt >= p->cfg.max_retries) {
            snprintf(errbuf, errlen,
                     "polygon request '%s' failed after %d retries: %s",
                     p->shown, attempt, why);
            return FXP_EUNAVAIL;
        }
        p->st.retries++;
        backoff(p, attempt);
    }
}

/* Set p->url to base + path_query + the key, and p->shown to base + path.
 * path_query starts with '/'. */
static int set_url(struct fxp_polygon *p, const char *path_query)
{
    size_t plen = strcspn(path_query, "?");
    const char *sep = path_query[plen] == '?' ? "&" : "?";
    int n = snprintf(p->url, sizeof p->url, "%s%s%sapiKey=%s", p->base,
                     path_query, sep, p->key);
    if (n < 0 || (size_t)n >= sizeof p->url)
        return FXP_ERANGE;
    snprintf(p->shown, sizeof p->shown, "%s%.*s", p->base, (int)plen,
             path_query);
    return FXP_OK;
}

/* ------------------------------------------------------------------------
 * Lifecycle
 */

static int key_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '~';
}

int fxp_polygon_new(const struct fxp_polygon_cfg *cfg, struct fxp_polygon **out,
                    char *errbuf, size_t errlen)
{
    const char *base = cfg->base_url ? cfg->base_url : "https://api.polygon.io";
    const char *host;
    struct fxp_polygon *p;
    struct timespec ts;
    size_t i, blen;

    *out = NULL;
    if (cfg->api_key == NULL || cfg->api_key[0] == '\0' ||
        strlen(cfg->api_key) >= sizeof p->key) {
        snprintf(errbuf, errlen, "polygon needs an API key");
        return FXP_EINVAL;
    }
    for (i = 0; cfg->api_key[i] != '\0'; i++) {
        if (!key_char_ok(cfg->api_key[i])) {
            snprintf(errbuf, errlen,
                     "polygon API key has a character that "
                     "is not a letter, digit, '-', '_', '.' or '~'");
            return FXP_EINVAL;
        }
    }
    host = strncmp(base, "https://", 8) == 0  ? base + 8
           : strncmp(base, "http://", 7) == 0 ? base + 7
                                              : NULL;
    blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (host == NULL || host >= base + blen || strpbrk(base, "?# \t") ||
        blen >= sizeof p->base) {
        snprintf(errbuf, errlen, "bad polygon base url '%.200s'", base);
        return FXP_EINVAL;
    }
    if (cfg->timeout_ms <= 0 || !(cfg->rate_per_min >= 0) ||
        !isfinite(cfg->rate_per_min) || cfg->max_retries < 0 ||
        cfg->retry_base_ms < 0 || cfg->retry_max_ms < 0 || cfg->limit < 1 ||
        cfg->limit > 50000) {
        snprintf(errbuf, errlen,
                 "bad polygon settings (timeout_ms %d, "
                 "rate_per_min %g, max_retries %d, "
                 "retry_base_ms %d, retry_max_ms %d, limit %d)",
                 cfg->timeout_ms, cfg->rate_per_min, cfg->max_retries,
                 cfg->retry_base_ms, cfg->retry_max_ms, cfg->limit);
        return FXP_EINVAL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(errbuf, errlen, "cannot initialise libcurl");
        return FXP_ENOMEM;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL || (p->curl = curl_easy_init()) == NULL) {
        free(p);
        curl_global_cleanup();
        snprintf(errbuf, errlen, "out of memory creating the polygon client");
        return FXP_ENOMEM;
    }
    memcpy(p->base, base, blen);
    memcpy(p->key, cfg->api_key, strlen(cfg->api_key) + 1);
    p->cfg = *cfg;
    p->cfg.base_url = p->base;
    p->cfg.api_key = p->key;
    p->tokens = 1;
    p->refill_s = now_s();
    clock_gettime(CLOCK_REALTIME, &ts);
    p->rng = ((uint64_t)ts.tv_sec * 1000000007ULL) ^ (uint64_t)ts.tv_nsec ^
             ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)p;
    if (p->rng == 0)
        p->rng = 0x9e3779b97f4a7c15ULL;

    curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
    curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(cfg->timeout_ms < 10000 ? cfg->timeout_ms : 10000));
    curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(p->curl, CURLOPT_ERRORBUFFER, p->curl_err);
    curl_easy_setopt(p->curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(p->curl, CURLOPT_USERAGENT, "fxpipe");
    curl_easy_setopt(p->curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS,
                     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    *out = p;
    return FXP_OK;
}

void fxp_polygon_free(struct fxp_polygon *p)
{
    if (p == NULL)
        return;
    curl_easy_cleanup(p->curl);
    free(p->body);
    free(p->bars.v);
    free(p);
    curl_global_cleanup();
}

void fxp_polygon_get_stats(const struct fxp_polygon *p,
                           struct fxp_polygon_stats *out)
{
    *out = p->st;
}

/* ------------------------------------------------------------------------
 * Pages
 */

static const struct {
    int mult;
    const char *span;
} spans[FXP_TF_COUNT] = {
    {1, "minute"}, {5, "minute"}, {15, "minute"}, {30, "minute"},
    {1, "hour"},   {4, "hour"},   {1, "day"},     {1, "week"},
};

/* The path and query of next_url, to be requested on the base URL. */
static const char *next_path(const char *next)
{
    const char *s = strstr(next, "://");
    if (next[0] == '/')
        return next;
    if (s == NULL ||
        (strncmp(next, "https://", 8) && strncmp(next, "http://", 7)))
        return NULL;
    return strchr(s + 3, '/');
}

int fxp_polygon_fetch(struct fxp_polygon *p, const char *symbol, fxp_tf tf,
                      int64_t from, int64_t to, fxp_polygon_page_fn fn,
                      void *ud, char *errbuf, size_t errlen)
{
    char sym[FXP_SYMBOL_MAX], path[256], *next = NULL;
    const char *np;
    int64_t last = INT64_MIN;
    size_t n;
    int rc;

    assert(p != NULL && fn != NULL);
    if (symbol == NULL ||
        fxp_symbol_normalize(symbol, strlen(symbol), sym) != FXP_OK) {
        snprintf(errbuf, errlen, "bad polygon symbol '%.40s'",
                 symbol ? symbol : "(null)");
        return FXP_EINVAL;
    }
    if ((unsigned)tf >= FXP_TF_COUNT || from < 0 || to < from) {
        snprintf(errbuf, errlen, "bad polygon time range for '%s'", sym);
        return FXP_EINVAL;
    }
    if (from == to)
        return FXP_OK;
    /* Polygon's range includes `to`. */
    snprintf(path, sizeof path,
             "/v2/aggs/ticker/C:%s/range/%d/%s/%lld/%lld"
             "?adjusted=true&sort=asc&limit=%d",
             sym, spans[tf].mult, spans[tf].span, (long long)from,
             (long long)(to - 1), p->cfg.limit);
    rc = set_url(p, path);
    while (rc == FXP_OK) {
        rc = request(p, errbuf, errlen);
        if (rc != FXP_OK)
            break;
        p->st.pages++;
        free(next);
        rc = fxp__polygon_parse_page(p->body, p->body_len, p->shown, tf, from,
                                     to, last, &p->bars, &n, &next, errbuf,
                                     errlen);
        if (rc != FXP_OK)
            break;
        if (n > 0) {
            last = p->bars.v[n - 1].ts_ms;
            p->st.bars += n;
            if (fn(ud, p->bars.v, n) != 0) {
                snprintf(errbuf, errlen,
                         "polygon fetch of '%s' stopped by the caller", sym);
                rc = FXP_ECLOSED;
                break;
            }
        }
        if (next == NULL)
            break;
        /* A next_url that is no URL, or names the page just read, would
         * loop forever: fail instead. */
        np = next_path(next);
        memcpy(p->prev, p->url, sizeof p->prev);
        if (np == NULL || strpbrk(np, " \t\r\n") != NULL ||
            set_url(p, np) != FXP_OK || strcmp(p->url, p->prev) == 0) {
            snprintf(errbuf, errlen,
                     "polygon response from '%s' has a bad 'next_url'",
                     p->shown);
            rc = FXP_EPARSE;
        }
    }
    free(next);
    if (rc != FXP_OK)
        scrub(p, errbuf, errlen);
    return rc;
}
