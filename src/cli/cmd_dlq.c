/*
 * cmd_dlq.c - `fxpipe dlq`: list, show, replay or purge the batches the
 * pipeline dead-lettered (dlq.h, docs/internals/retry-and-dlq.md).
 *
 * replay decodes each entry's payload (batchcodec.h), writes it to the
 * store in one fxp_store_write and removes the entry only after that write
 * returned FXP_OK; an entry that cannot be decoded or stored stays.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "fxpipe/batchcodec.h"
#include "fxpipe/dlq.h"
#include "fxpipe/err.h"
#include "fxpipe/store.h"
#include "fxpipe/symbol.h"
#include "fxpipe/time.h"

static const char usage_text[] =
    "usage: fxpipe dlq list   [options]\n"
    "       fxpipe dlq show ID [options]\n"
    "       fxpipe dlq replay [ID] [options]\n"
    "       fxpipe dlq purge --yes [options]\n"
    "\n"
    "The dead-letter queue holds batches that could not be stored after\n"
    "every retry, with the reason, the last error, the source and the\n"
    "correlation id.\n"
    "  list     one line per entry, oldest first\n"
    "  show     one entry in full, with a summary of its records\n"
    "  replay   store the entry ID (default: every entry) and remove it\n"
    "           once the store has accepted it; exit 1 if any is left\n"
    "  purge    delete every entry (needs --yes)\n"
    "\n"
    "options:\n"
    "      --dlq PATH         the dead-letter queue file (default: the\n"
    "                         store's path with extension .dlq,\n"
    "                         fxpipe.db -> fxpipe.dlq)\n"
    "      --db PATH          SQLite store (default: store.db, fxpipe.db)\n"
    "      --store URL        a store URL instead (sqlite:PATH)\n"
    "  -y, --yes              confirm purge\n"
    "  -c, --config FILE      configuration file\n"
    "  -h, --help             show this help\n";

/* Distinct symbols a payload may name (batchcodec.c). */
#define PAYLOAD_MAX_SYMS 65535u

struct dlq_cli {
    struct fxp_cli_store cs;
    const char *dlq; /* --dlq, else derived from the store */
    char path[FXP_CONFIG_PATH_MAX + 8];
    bool yes;
};

/* The DLQ file: --dlq, else next to the store named by --db/--store or
 * the configuration. Returns an exit status. */
static int resolve_path(struct dlq_cli *c)
{
    if (c->dlq) {
        snprintf(c->path, sizeof c->path, "%s", c->dlq);
        return FXP_EXIT_OK;
    }
    if (!c->cs.url) {
        int status = fxp_cli_config_load(&c->cs.cfg, c->cs.config, "dlq");
        if (status != FXP_EXIT_OK)
            return status;
        c->cs.have_cfg = true;
    }
    fxp_dlq_default_path(c->cs.url ? c->cs.url : c->cs.cfg.store_db, c->path,
                         sizeof c->path);
    return FXP_EXIT_OK;
}

/* Open the DLQ if its file exists (reading commands never create one).
 * *d is NULL when there is no file. Returns an exit status. */
static int open_existing(const char *path, struct fxp_dlq **d)
{
    struct stat sb;
    char err[600];

    *d = NULL;
    if (stat(path, &sb) != 0)
        return FXP_EXIT_OK;
    int rc = fxp_dlq_open(path, d, err, sizeof err);
    if (rc != FXP_OK) {
        fxp_cli_error("dlq", "%s", err);
        return FXP_EXIT_IO;
    }
    return FXP_EXIT_OK;
}

/* "2024-01-01T00:00:00Z", or "-" for an unknown (0) time. */
static const char *iso(int64_t ts, char *buf, size_t len)
{
    if (ts == 0)
        snprintf(buf, len, "-");
    else
        fxp_time_format_iso(ts, buf, len);
    return buf;
}

static const char *entries(uint64_t n)
{
    return n == 1 ? "entry" : "entries";
}

static const char *or_dash(const char *s)
{
    return s[0] ? s : "-";
}

/* ---- list ---- */

static int on_list(void *ud, const struct fxp_dlq_entry *e)
{
    uint64_t *n = ud;
    char a[32], b[32];

    if ((*n)++ == 0)
        printf("%6s  %-6s %-18s %3s %8s  %-20s  %-20s  %-16s %-20s %s\n", "id",
               "kind", "reason", "att", "records", "first", "last", "source",
               "correlation id", "error");
    printf("%6" PRId64 "  %-6s %-18s %3d %8" PRIu64
           "  %-20s  %-20s  %-16s %-20s %s\n",
           e->id, or_dash(e->kind), or_dash(e->reason), e->attempts,
           e->n_records, iso(e->first_ts, a, sizeof a),
           iso(e->last_ts, b, sizeof b), or_dash(e->source),
           or_dash(e->correlation_id), or_dash(e->error));
    return 0;
}

static int do_list(struct dlq_cli *c)
{
    struct fxp_dlq *d;
    uint64_t n = 0;
    int status = open_existing(c->path, &d);

    if (status != FXP_EXIT_OK)
        return status;
    if (!d) {
        printf("dead-letter queue '%s': no entries (no file)\n", c->path);
        return FXP_EXIT_OK;
    }
    uint64_t total = fxp_dlq_count(d);
    printf("dead-letter queue '%s': %" PRIu64 " %s\n", c->path, total,
           entries(total));
    if (fxp_dlq_list(d, on_list, &n) != FXP_OK) {
        fxp_cli_error("dlq", "%s", fxp_dlq_errmsg(d));
        status = FXP_EXIT_IO;
    }
    fxp_dlq_close(d);
    return status;
}

/* ---- show ---- */

/* Print what a payload holds. */
static void show_payload(const void *buf, size_t len)
{
    struct fxp_symtab *st = fxp_symtab_new(PAYLOAD_MAX_SYMS);
    struct fxp_decoded_batch *db = NULL;
    int rc = st ? fxp_batch_decode(buf, len, st, &db) : FXP_ENOMEM;

    printf("payload:        %zu bytes", len);
    if (rc != FXP_OK) {
        printf(", cannot be decoded (%s)\n", fxp_strerror(rc));
        fxp_symtab_free(st);
        return;
    }
    const struct fxp_store_batch *v = fxp_decoded_batch_view(db);
    printf(": %zu bars, %zu ticks, %zu rejects\n", v->n_bars, v->n_ticks,
           v->n_rejects);
    if (fxp_symtab_count(st)) {
        printf("symbols:       ");
        for (uint32_t i = 0; i < fxp_symtab_count(st); i++)
            printf(" %s", fxp_symtab_name(st, i));
        printf("\n");
    }
    if (v->meta_key)
        printf("meta:           %s = %s (not replayed)\n", v->meta_key,
               v->meta_value ? v->meta_value : "NULL");
    fxp_decoded_batch_free(db);
    fxp_symtab_free(st);
}

static int do_show(struct dlq_cli *c, int64_t id)
{
    struct fxp_dlq *d;
    struct fxp_dlq_entry e;
    void *payload = NULL;
    size_t len = 0;
    char a[32], b[32];
    int status = open_existing(c->path, &d);

    if (status != FXP_EXIT_OK)
        return status;
    if (!d) {
        fxp_cli_error("dlq", "no entry %" PRId64 " in '%s' (no file)", id,
                      c->path);
        return FXP_EXIT_FAIL;
    }
    int rc = fxp_dlq_get(d, id, &e, &payload, &len);
    if (rc != FXP_OK) {
        fxp_cli_error("dlq", "%s", fxp_dlq_errmsg(d));
        fxp_dlq_close(d);
        return rc == FXP_ENOENT ? FXP_EXIT_FAIL : FXP_EXIT_IO;
    }
    printf("id:             %" PRId64 "\n"
           "kind:           %s\n"
           "reason:         %s\n"
           "error:          %s\n"
           "attempts:       %d\n"
           "source:         %s\n"
           "correlation id: %s\n"
           "records:        %" PRIu64 "\n"
           "first:          %s\n"
           "last:           %s\n",
           e.id, e.kind, e.reason, e.error, e.attempts, e.source,
           e.correlation_id, e.n_records, iso(e.first_ts, a, sizeof a),
           iso(e.last_ts, b, sizeof b));
    show_payload(payload, len);
    free(payload);
    fxp_dlq_close(d);
    return FXP_EXIT_OK;
}

/* ---- replay ---- */

/* The first entry with an id above `after` (entries that failed to replay
 * stay below it), so the walk holds one id at a time, not the DLQ. */
struct next {
    int64_t after, id;
};

static int on_next(void *ud, const struct fxp_dlq_entry *e)
{
    struct next *nx = ud;

    if (e->id <= nx->after)
        return 0;
    nx->id = e->id;
    return 1;
}

/* Store one entry and remove it. Returns 0 when it is gone from the DLQ,
 * -1 when it stays (the reason printed). */
static int replay_one(struct fxp_dlq *d, struct fxp_store *s, int64_t id,
                      const char *dlq_path, uint64_t *n_records)
{
    struct fxp_dlq_entry e;
    struct fxp_symtab *st = NULL;
    struct fxp_decoded_batch *db = NULL;
    void *payload = NULL;
    size_t len = 0;
    int ret = -1;

    int rc = fxp_dlq_get(d, id, &e, &payload, &len);
    if (rc != FXP_OK) {
        fxp_cli_error("dlq", "%s", fxp_dlq_errmsg(d));
        return -1;
    }
    st = fxp_symtab_new(PAYLOAD_MAX_SYMS);
    rc = st ? fxp_batch_decode(payload, len, st, &db) : FXP_ENOMEM;
    if (rc != FXP_OK) {
        fxp_cli_error("dlq",
                      "entry %" PRId64 " in '%s': cannot decode its payload "
                      "(%s); left in place",
                      id, dlq_path, fxp_strerror(rc));
        goto done;
    }
    /* A cursor stored with the batch is stale by now (later batches have
     * moved it on); replay stores the records only. */
    struct fxp_store_batch b = *fxp_decoded_batch_view(db);
    b.meta_key = NULL;
    b.meta_value = NULL;
    rc = fxp_store_write(s, &b);
    if (rc != FXP_OK) {
        fxp_cli_error("dlq", "entry %" PRId64 ": %s; left in '%s'", id,
                      fxp_store_errmsg(s), dlq_path);
        goto done;
    }
    /* Only now may the entry go (an interrupted replay stores it again,
     * which the store's version rule makes harmless). */
    rc = fxp_dlq_remove(d, id);
    if (rc != FXP_OK) {
        fxp_cli_error("dlq", "entry %" PRId64 " was stored but not removed: %s",
                      id, fxp_dlq_errmsg(d));
        goto done;
    }
    *n_records += b.n_bars + b.n_ticks + b.n_rejects;
    printf("entry %" PRId64 ": stored %zu bars, %zu ticks, %zu rejects "
           "(%s, %s)\n",
           id, b.n_bars, b.n_ticks, b.n_rejects, or_dash(e.source),
           or_dash(e.correlation_id));
    ret = 0;
done:
    fxp_decoded_batch_free(db);
    fxp_symtab_free(st);
    free(payload);
    return ret;
}

static int do_replay(struct dlq_cli *c, bool have_id, int64_t id)
{
    struct fxp_dlq *d;
    uint64_t n_ok = 0, n_left = 0, n_records = 0;
    int status = open_existing(c->path, &d);

    if (status != FXP_EXIT_OK)
        return status;
    if (!d && have_id) {
        fxp_cli_error("dlq", "no entry %" PRId64 " in '%s' (no file)", id,
                      c->path);
        return FXP_EXIT_FAIL;
    }
    if (!d || (!have_id && fxp_dlq_count(d) == 0)) {
        printf("dead-letter queue '%s': nothing to replay\n", c->path);
        fxp_dlq_close(d);
        return FXP_EXIT_OK;
    }
    if (have_id) {
        struct fxp_dlq_entry e;
        int rc = fxp_dlq_get(d, id, &e, NULL, NULL);
        if (rc != FXP_OK) {
            fxp_cli_error("dlq", "%s", fxp_dlq_errmsg(d));
            fxp_dlq_close(d);
            return rc == FXP_ENOENT ? FXP_EXIT_FAIL : FXP_EXIT_IO;
        }
    }
    status = fxp_cli_store_open(&c->cs, "dlq", false);
    if (status != FXP_EXIT_OK) {
        fxp_dlq_close(d);
        return status;
    }
    if (have_id) {
        if (replay_one(d, c->cs.store, id, c->path, &n_records) == 0)
            n_ok++;
        else
            n_left++;
    } else {
        struct next nx = {0, 0};
        for (;;) {
            nx.id = 0;
            if (fxp_dlq_list(d, on_next, &nx) != FXP_OK) {
                fxp_cli_error("dlq", "%s", fxp_dlq_errmsg(d));
                n_left++;
                break;
            }
            if (nx.id == 0)
                break;
            if (replay_one(d, c->cs.store, nx.id, c->path, &n_records) == 0)
                n_ok++;
            else
                n_left++;
            nx.after = nx.id;
        }
    }
    printf("replayed %" PRIu64 " of %" PRIu64 " %s (%" PRIu64
           " records) into '%s'; %" PRIu64 " left in '%s'\n",
           n_ok, n_ok + n_left, entries(n_ok + n_left), n_records, c->cs.url,
           fxp_dlq_count(d), c->path);
    fxp_cli_store_close(&c->cs);
    fxp_dlq_close(d);
    return n_left ? FXP_EXIT_FAIL : FXP_EXIT_OK;
}

/* ---- purge ---- */

static int do_purge(struct dlq_cli *c)
{
    struct fxp_dlq *d;
    int status = open_existing(c->path, &d);

    if (status != FXP_EXIT_OK)
        return status;
    uint64_t n = d ? fxp_dlq_count(d) : 0;
    if (!c->yes) {
        fxp_cli_error("dlq",
                      "refusing to purge %" PRIu64 " %s from '%s' without "
                      "--yes (they hold records that were never stored)",
                      n, entries(n), c->path);
        fxp_dlq_close(d);
        return FXP_EXIT_USAGE;
    }
    if (d && fxp_dlq_remove(d, -1) != FXP_OK) {
        fxp_cli_error("dlq", "%s", fxp_dlq_errmsg(d));
        fxp_dlq_close(d);
        return FXP_EXIT_IO;
    }
    printf("purged %" PRIu64 " %s from '%s'\n", n, entries(n), c->path);
    fxp_dlq_close(d);
    return FXP_EXIT_OK;
}

int cmd_dlq(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dlq", required_argument, NULL, 'Q'},
        {"db", required_argument, NULL, 'D'},
        {"store", required_argument, NULL, 'U'},
        {"yes", no_argument, NULL, 'y'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct dlq_cli c;
    int opt;

    memset(&c, 0, sizeof c);
    fxp_cli_store_init(&c.cs);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "yc:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'Q':
            c.dlq = optarg;
            break;
        case 'D':
        case 'U':
            c.cs.url = optarg;
            break;
        case 'y':
            c.yes = true;
            break;
        case 'c':
            c.cs.config = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return FXP_EXIT_OK;
        default:
            fputs(usage_text, stderr);
            return FXP_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fxp_cli_error("dlq", "missing action: list, show, replay or purge");
        fputs(usage_text, stderr);
        return FXP_EXIT_USAGE;
    }
    const char *action = argv[optind++];
    bool takes_id = !strcmp(action, "show") || !strcmp(action, "replay");
    bool have_id = false;
    int64_t id = 0;

    if (strcmp(action, "list") && strcmp(action, "purge") && !takes_id) {
        fxp_cli_error("dlq",
                      "unknown action '%s' (expected list, show, replay or "
                      "purge)",
                      action);
        return FXP_EXIT_USAGE;
    }
    if (takes_id && optind < argc) {
        if (fxp_cli_int(argv[optind], 1, INT64_MAX, &id)) {
            fxp_cli_error("dlq", "bad entry id '%s' (a positive integer)",
                          argv[optind]);
            return FXP_EXIT_USAGE;
        }
        have_id = true;
        optind++;
    }
    if (optind < argc) {
        fxp_cli_error("dlq", "unexpected argument '%s'", argv[optind]);
        return FXP_EXIT_USAGE;
    }
    if (!strcmp(action, "show") && !have_id) {
        fxp_cli_error("dlq", "show needs an entry id (see 'fxpipe dlq list')");
        return FXP_EXIT_USAGE;
    }
    if (c.yes && strcmp(action, "purge")) {
        fxp_cli_error("dlq", "--yes only applies to purge");
        return FXP_EXIT_USAGE;
    }

    int status = resolve_path(&c);
    if (status != FXP_EXIT_OK)
        return status;
    if (!strcmp(action, "list"))
        return do_list(&c);
    if (!strcmp(action, "show"))
        return do_show(&c, id);
    if (!strcmp(action, "replay"))
        return do_replay(&c, have_id, id);
    return do_purge(&c);
}
