/* fetch.c - Polygon or bar files as the back-fill source (fetch.h). */
#include "cli/fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "fxpipe/config.h"
#include "fxpipe/err.h"
#include "fxpipe/source.h"
#include "fxpipe/symbol.h"

#define PAGE 4096

/* The first line of the key file, without surrounding white space. */
static int read_key(const char *path, char *key, size_t len, const char *cmd)
{
    FILE *kf = fopen(path, "r");
    if (!kf || !fgets(key, (int)len, kf)) {
        fxp_cli_error(cmd, "cannot read the API key file '%s'", path);
        if (kf)
            fclose(kf);
        return -1;
    }
    fclose(kf);
    key[strcspn(key, " \t\r\n")] = '\0';
    return 0;
}

int fxp_cli_fetch_open(struct fxp_cli_fetch *f, const char *cmd,
                       const char *source, char **files, int n_files,
                       const struct fxp_config *cfg, const char *base_url,
                       double rate_per_min, int timeout_ms, int retry_base_ms)
{
    memset(f, 0, sizeof *f);
    if (strcmp(source, "polygon")) {
        f->files = files;
        f->n_files = n_files;
        snprintf(f->desc, sizeof f->desc, "%d bar file%s", n_files,
                 n_files == 1 ? "" : "s");
        return FXP_EXIT_OK;
    }
    struct fxp_polygon_cfg pc;
    fxp_polygon_cfg_default(&pc);
    pc.api_key = getenv("POLYGON_API_KEY");
    if ((!pc.api_key || !*pc.api_key) && cfg->polygon_api_key_file[0]) {
        if (read_key(cfg->polygon_api_key_file, f->key, sizeof f->key, cmd))
            return FXP_EXIT_USAGE;
        pc.api_key = f->key;
    }
    pc.base_url = base_url ? base_url : cfg->polygon_base_url;
    pc.rate_per_min =
        rate_per_min >= 0 ? rate_per_min : cfg->polygon_rate_limit;
    pc.timeout_ms = timeout_ms > 0 ? timeout_ms : (int)cfg->polygon_timeout_ms;
    if (retry_base_ms >= 0)
        pc.retry_base_ms = retry_base_ms;
    if (!pc.api_key || !*pc.api_key) {
        fxp_cli_error(cmd, "no Polygon API key: set POLYGON_API_KEY or "
                           "polygon.api_key_file");
        return FXP_EXIT_USAGE;
    }
    char err[512];
    if (fxp_polygon_new(&pc, &f->polygon, err, sizeof err) != FXP_OK) {
        fxp_cli_error(cmd, "%s", err);
        return FXP_EXIT_USAGE;
    }
    snprintf(f->desc, sizeof f->desc, "polygon %s", pc.base_url);
    return FXP_EXIT_OK;
}

void fxp_cli_fetch_close(struct fxp_cli_fetch *f)
{
    fxp_polygon_free(f->polygon);
    f->polygon = NULL;
}

/* Deliver the bars of one file that match symbol/tf/[from, to). */
static int fetch_file(const char *path, const char *symbol, int64_t from,
                      int64_t to, fxp_polygon_page_fn fn, void *page_ud,
                      char *errbuf, size_t errlen)
{
    struct fxp_symtab *st = fxp_symtab_new(1024);
    struct fxp_bar *bars = malloc(PAGE * sizeof *bars);
    struct fxp_bar *page = malloc(PAGE * sizeof *page);
    struct fxp_source *src = NULL;
    int rc = FXP_ENOMEM;
    if (!st || !bars || !page)
        goto done;
    struct fxp_source_opts o;
    fxp_source_opts_default(&o);
    o.kind = FXP_KIND_BARS;
    rc = fxp_source_open_file(path, &o, st, &src, errbuf, errlen);
    if (rc != FXP_OK)
        goto done;
    uint32_t want;
    bool any = fxp_symtab_intern(st, symbol, strlen(symbol), &want) == FXP_OK;
    size_t n;
    int err = FXP_OK;
    while (any && (n = fxp_source_read_bars(src, bars, NULL, PAGE, &err))) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (bars[i].sym == want && bars[i].ts_ms >= from &&
                bars[i].ts_ms < to)
                page[k++] = bars[i];
        if (k && fn(page_ud, page, k)) {
            rc = FXP_ECLOSED;
            goto done;
        }
    }
    if (err != FXP_OK) {
        snprintf(errbuf, errlen, "cannot read '%s': %s", path,
                 fxp_strerror(err));
        rc = FXP_EIO;
    }
done:
    fxp_source_close(src);
    fxp_symtab_free(st);
    free(bars);
    free(page);
    return rc;
}

int fxp_cli_fetch(void *ud, const char *symbol, fxp_tf tf, int64_t from,
                  int64_t to, fxp_polygon_page_fn fn, void *page_ud,
                  char *errbuf, size_t errlen)
{
    struct fxp_cli_fetch *f = ud;
    if (f->polygon)
        return fxp_polygon_fetch(f->polygon, symbol, tf, from, to, fn, page_ud,
                                 errbuf, errlen);
    for (int i = 0; i < f->n_files; i++) {
        int rc = fetch_file(f->files[i], symbol, from, to, fn, page_ud, errbuf,
                            errlen);
        if (rc != FXP_OK)
            return rc;
    }
    return FXP_OK;
}
