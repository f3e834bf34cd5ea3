/*
 * ingest_recover.c - where a starting ingest service picks up: the feed
 * check, the published state, the validator's reference prices and the
 * source position to skip through (from the journal), and the rejects an
 * earlier run already put into the dead-letter file.
 *
 * Design notes
 *  1. DIR/feed.id names the feed the journal was written from; a start
 *     with another feed is refused (positions would mean nothing).
 *  2. DIR/published.state holds the last sequence the bus confirmed. A
 *     state beyond the journal's head (a journal that lost its tail in a
 *     machine crash under fsync `never`) is clamped to the head; one
 *     below the first sequence kept is raised to it. Both are warned
 *     about.
 *  3. One pass over the journal gives the source position of the newest
 *     record (the source skips through it, as pipeline_reader.c does)
 *     and each symbol's newest tick, which is validated once so that it
 *     is the jump check's reference again, as it was before the restart.
 *  4. The dead-letter entries of this ingest id carry the highest source
 *     positions they hold (ingest_intake.c, note 2).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/journal.h"
#include "fxpipe/tickrec.h"
#include "fxpipe/validate.h"
#include "service/ingest_int.h"

/* Read a small file whole into buf (NUL-terminated, trailing newline
 * cut). 1 when read, 0 when missing, -1 on an error. */
static int read_small(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    size_t n = fread(buf, 1, len - 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return -1;
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return 1;
}

/* Write a small file atomically: a temporary file, fsync, rename. */
static int write_small(const char *path, const char *text)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return FXP_EIO;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1 &&
             fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    return ok && rename(tmp, path) == 0 ? FXP_OK : FXP_EIO;
}

/* Note 1. A journal that holds nothing yet takes any feed. */
static int check_feed(struct fxp_ingest *g, char *errbuf, size_t errlen)
{
    if (!g->cfg.feed_id)
        return FXP_OK;
    char path[1100], have[1300];
    snprintf(path, sizeof path, "%s/%s", g->cfg.journal_dir, ING_FEED_FILE);
    int r = read_small(path, have, sizeof have);
    if (r < 0) {
        snprintf(errbuf, errlen, "cannot read '%s': %s", path, strerror(errno));
        return FXP_EIO;
    }
    bool empty = fxp_journal_next_seq(g->j) <= 1;
    if (r == 1 && strcmp(have, g->cfg.feed_id) && empty) {
        /* Nothing journaled from that feed: start afresh with this one
         * (its rejects' positions in the dead-letter file mean nothing). */
        g->new_feed = true;
        r = 0;
    }
    if (r == 1 && strcmp(have, g->cfg.feed_id)) {
        snprintf(errbuf, errlen,
                 "the journal '%s' was written from the feed '%s', not "
                 "'%s'; give that feed (with the same range and seed) or "
                 "another journal directory",
                 g->cfg.journal_dir, have, g->cfg.feed_id);
        return FXP_EEXIST;
    }
    if (r == 0 && write_small(path, g->cfg.feed_id) != FXP_OK) {
        snprintf(errbuf, errlen, "cannot write '%s': %s", path,
                 strerror(errno));
        return FXP_EIO;
    }
    return FXP_OK;
}

/* Note 2. */
static int load_state(struct fxp_ingest *g, char *errbuf, size_t errlen)
{
    char path[1100], text[64];
    snprintf(path, sizeof path, "%s/%s", g->cfg.journal_dir, ING_STATE_FILE);
    uint64_t p = 0;
    int r = read_small(path, text, sizeof text);
    if (r < 0) {
        snprintf(errbuf, errlen, "cannot read '%s': %s", path, strerror(errno));
        return FXP_EIO;
    }
    if (r == 1) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (end == text || *end || errno) {
            snprintf(errbuf, errlen,
                     "'%s' does not hold a sequence number ('%.32s'); "
                     "remove it to publish the whole journal again",
                     path, text);
            return FXP_EPARSE;
        }
        p = v;
    }
    uint64_t head = fxp_journal_next_seq(g->j) - 1;
    uint64_t first = fxp_journal_first_seq(g->j);
    if (p > head) {
        fxp__ing_event(g,
                       "warning: '%s' says %" PRIu64 " published but the "
                       "journal ends at %" PRIu64
                       " (it lost its tail); publishing from there",
                       path, p, head);
        p = head;
    }
    if (first > 1 && p + 1 < first) {
        fxp__ing_event(g,
                       "warning: the journal '%s' starts at %" PRIu64
                       " but only %" PRIu64 " were published; records "
                       "%" PRIu64 "..%" PRIu64 " are gone",
                       g->cfg.journal_dir, first, p, p + 1, first - 1);
        p = first - 1;
    }
    atomic_store(&g->published, p);
    atomic_store(&g->head, head);
    atomic_store(&g->durable, head);
    g->start_seq = p;
    return FXP_OK;
}

/* Note 3. */
static int prime(struct fxp_ingest *g, char *errbuf, size_t errlen)
{
    struct fxp_journal_iter *it = NULL;
    int rc =
        fxp_journal_iter_open(g->cfg.journal_dir, 0, NULL, &it, errbuf, errlen);
    if (rc != FXP_OK)
        return rc;
    uint32_t n_sym = g->cfg.max_symbols;
    struct fxp_tick *last = calloc(n_sym, sizeof *last);
    bool *seen = calloc(n_sym, sizeof *seen);
    if (!last || !seen) {
        free(last);
        free(seen);
        fxp_journal_iter_close(it);
        snprintf(errbuf, errlen, "out of memory");
        return FXP_ENOMEM;
    }
    uint64_t seq;
    const void *data;
    uint32_t len;
    while ((rc = fxp_journal_iter_next(it, &seq, &data, &len, errbuf,
                                       errlen)) == FXP_OK) {
        struct fxp_tick t;
        uint64_t pos;
        if (fxp_tickrec_decode(g->st, data, len, &t, &pos) != FXP_OK) {
            snprintf(errbuf, errlen,
                     "journal record %" PRIu64 " in '%s' is not a tick of "
                     "this fxpipe's format; move the journal away to start "
                     "afresh",
                     seq, g->cfg.journal_dir);
            rc = FXP_EPARSE;
            break;
        }
        g->skip_pos = pos;
        if (t.sym < n_sym) {
            last[t.sym] = t;
            seen[t.sym] = true;
        }
    }
    fxp_journal_iter_close(it);
    if (rc == FXP_ECLOSED) {
        rc = FXP_OK;
        for (uint32_t s = 0; s < n_sym; s++)
            if (seen[s])
                fxp_validate_tick(g->val, &last[s]);
    }
    free(last);
    free(seen);
    return rc;
}

struct dlq_scan {
    const char *prefix;
    size_t plen;
    uint64_t val, parse;
};

static int scan_entry(void *ud, const struct fxp_dlq_entry *e)
{
    struct dlq_scan *s = ud;
    unsigned long long v, p;
    if (strncmp(e->correlation_id, s->prefix, s->plen) ||
        sscanf(e->correlation_id + s->plen, "%llu:%llu", &v, &p) != 2)
        return 0;
    if (v > s->val)
        s->val = v;
    if (p > s->parse)
        s->parse = p;
    return 0;
}

/* Note 4. */
static int open_dlq(struct fxp_ingest *g, char *errbuf, size_t errlen)
{
    if (!g->cfg.dlq_path)
        return FXP_OK;
    int rc = fxp_dlq_open(g->cfg.dlq_path, &g->dlq, errbuf, errlen);
    if (rc != FXP_OK)
        return rc;
    char prefix[FXP_INGEST_ID_MAX + 8];
    snprintf(prefix, sizeof prefix, "%s:rej:", g->id);
    struct dlq_scan s = {.prefix = prefix, .plen = strlen(prefix)};
    rc = fxp_dlq_list(g->dlq, scan_entry, &s);
    if (rc != FXP_OK) {
        snprintf(errbuf, errlen, "%s", fxp_dlq_errmsg(g->dlq));
        return rc;
    }
    if (!g->new_feed) {
        g->dlq_val_pos = s.val;
        g->dlq_parse_pos = s.parse;
    }
    return FXP_OK;
}

int fxp__ing_recover(struct fxp_ingest *g, char *errbuf, size_t errlen)
{
    int rc = check_feed(g, errbuf, errlen);
    if (rc == FXP_OK)
        rc = load_state(g, errbuf, errlen);
    if (rc == FXP_OK)
        rc = prime(g, errbuf, errlen);
    if (rc == FXP_OK)
        rc = open_dlq(g, errbuf, errlen);
    return rc;
}
