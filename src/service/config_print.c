/*
 * config_print.c - writing a configuration as a commented INI file that
 * reads back to the same values, and the entry table as Markdown.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fxpipe/err.h"
#include "service/config_int.h"

/* "integer 0..600000", "one of mid, bid, ask", ... into buf. */
static void describe(const struct fxp__config_entry *e, char *buf, size_t len)
{
    char lo[32], hi[32], list[128];
    switch (e->type) {
    case FXP__CONFIG_STRING:
        snprintf(buf, len, "%s", e->allowed ? e->allowed : "text");
        break;
    case FXP__CONFIG_INT:
        snprintf(buf, len, "integer %" PRId64 "..%" PRId64, e->min, e->max);
        break;
    case FXP__CONFIG_DOUBLE:
        fxp__config_format_double(e->dmin, lo, sizeof lo);
        fxp__config_format_double(e->dmax, hi, sizeof hi);
        snprintf(buf, len, "number %s..%s", lo, hi);
        break;
    case FXP__CONFIG_BOOL:
        snprintf(buf, len, "true or false");
        break;
    case FXP__CONFIG_ENUM:
        fxp__config_join_words(e, ", ", list, sizeof list);
        snprintf(buf, len, "one of %s", list);
        break;
    }
}

/* Does text need quotes to read back the same (config_int.h, note 1)? */
static bool needs_quotes(const char *v)
{
    size_t n = strlen(v);
    if (n == 0)
        return false;
    return v[0] == ' ' || v[n - 1] == ' ' || v[0] == ';' || v[0] == '"';
}

/* A file name inside a comment: control characters as '?'. */
static void put_name(const char *s, FILE *f)
{
    for (; *s; s++)
        fputc(iscntrl((unsigned char)*s) ? '?' : *s, f);
}

int fxp_config_print(const struct fxp_config *c, FILE *f)
{
    char value[FXP_CONFIG_LIST_MAX + 8], what[160], var[FXP__CONFIG_MAX_NAME];
    const char *section = "";
    size_t section_len = 0;
    int rc = FXP_OK;

    fputs("# fxpipe configuration: the effective value of every setting and\n"
          "# where it came from. Save this as fxpipe.ini to reuse it.\n"
          "# Precedence, lowest first: built-in defaults < config file <\n"
          "# FXPIPE_* environment < command line.\n",
          f);
    for (size_t i = 0; i < FXP_CONFIG_N_ENTRIES; i++) {
        const struct fxp__config_entry *e = &fxp__config_entries[i];
        const char *dot = strchr(e->name, '.');
        size_t sl = (size_t)(dot - e->name);
        if (sl != section_len || strncmp(section, e->name, sl)) {
            fprintf(f, "\n[%.*s]\n", (int)sl, e->name);
            section = e->name;
            section_len = sl;
        } else {
            fputc('\n', f);
        }
        describe(e, what, sizeof what);
        fxp__config_env_name(e, var);
        fprintf(f, "# %s\n# %s; default '%s'; env %s\n", e->help, what, e->def,
                var);
        if (fxp__config_value_text(c, e, value, sizeof value) < 0) {
            /* Only a struct written by hand gets here. */
            fprintf(f, "; %s: invalid value in struct fxp_config\n", dot + 1);
            rc = FXP_EINVAL;
            continue;
        }
        const char *q = needs_quotes(value) ? "\"" : "";
        fprintf(f, "%s = %s%s%s  ; ", dot + 1, q, value, q);
        switch (c->origin[i]) {
        case FXP_CONFIG_FROM_FILE:
            fputs("from file '", f);
            put_name(c->file, f);
            if (c->origin_line[i] > 0)
                fprintf(f, "' line %d\n", c->origin_line[i]);
            else
                fputs("'\n", f);
            break;
        case FXP_CONFIG_FROM_ENV:
            fprintf(f, "from env %s\n", var);
            break;
        case FXP_CONFIG_FROM_FLAG:
            fputs("from command line\n", f);
            break;
        default:
            fputs("default\n", f);
            break;
        }
    }
    return ferror(f) ? FXP_EIO : rc;
}

/* Markdown text with '|' escaped. */
static void put_md(const char *s, FILE *f)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

int fxp_config_print_markdown(FILE *f)
{
    char what[160], var[FXP__CONFIG_MAX_NAME];
    fputs("| Key | Type and range | Default | Environment | Description |\n"
          "|-----|----------------|---------|-------------|-------------|\n",
          f);
    for (size_t i = 0; i < FXP_CONFIG_N_ENTRIES; i++) {
        const struct fxp__config_entry *e = &fxp__config_entries[i];
        describe(e, what, sizeof what);
        fxp__config_env_name(e, var);
        fprintf(f, "| `%s` | ", e->name);
        put_md(what, f);
        fputs(" | ", f);
        if (*e->def) {
            fputc('`', f);
            put_md(e->def, f);
            fputc('`', f);
        } else {
            fputs("(empty)", f);
        }
        fprintf(f, " | `%s` | ", var);
        put_md(e->help, f);
        fputs(" |\n", f);
    }
    return ferror(f) ? FXP_EIO : FXP_OK;
}
