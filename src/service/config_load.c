/*
 * config_load.c - applying INI files, INI text and the FXPIPE_*
 * environment to a configuration, with the file and line of a bad value.
 *
 * Design notes
 *
 *  1. A file or the environment is applied to a copy, which replaces the
 *     caller's struct only when every value passed: after a failure the
 *     caller still holds what it had.
 *  2. Debian's libinih is built without INI_HANDLER_LINENO, so the handler
 *     never learns the line. The file is therefore fed through our own
 *     reader (ini_parse_stream), which counts physical lines, strips
 *     leading blanks (so an indented key is not taken for a continuation
 *     of the previous value) and rejects an overlong line instead of
 *     letting inih cut it in two. The reader stops at the first error.
 */
#include <errno.h>
#include <ini.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "service/config_int.h"

/* Not declared by <unistd.h> under plain _POSIX_C_SOURCE. */
extern char **environ;

/* Longest line of a config file, in characters, newline excluded. Long
 * enough for the longest value (feed.symbols) with its origin comment. */
#define MAX_LINE_CHARS 2000

/* ------------------------------------------------------------------ */
/* The INI file                                                       */

struct file_ctx {
    struct fxp_config *c; /* the copy being filled */
    FILE *f;              /* input: a file, or */
    const char *text;     /* the rest of a string */
    const char *name;     /* file name for messages */
    int lineno;           /* physical line last handed to inih */
    int err_line;         /* line of the first error seen here; 0 = none */
    int rc;               /* its code */
    int io_errno;         /* errno of a read error, 0 = none */
    char msg[512];        /* its message, without "config 'f' line N: " */
    char line[MAX_LINE_CHARS + 1];
};

static void file_error(struct file_ctx *x, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void file_error(struct file_ctx *x, int rc, const char *fmt, ...)
{
    va_list ap;
    if (x->err_line)
        return;
    x->err_line = x->lineno;
    x->rc = rc;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof x->msg, fmt, ap);
    va_end(ap);
}

static int next_char(struct file_ctx *x)
{
    if (!x->f)
        return *x->text ? (unsigned char)*x->text++ : EOF;
    int ch = getc(x->f);
    if (ch == EOF && ferror(x->f))
        x->io_errno = errno ? errno : EIO;
    return ch;
}

/* Read one physical line into x->line, without its newline. Returns 0 at
 * the end of the input, 1 for a line, -1 for an overlong line and -2 for
 * a line holding a NUL byte. */
static int read_line(struct file_ctx *x)
{
    size_t n = 0;
    int ch = next_char(x);
    if (ch == EOF)
        return 0;
    for (; ch != EOF && ch != '\n'; ch = next_char(x)) {
        if (ch == '\0')
            return -2;
        if (n == MAX_LINE_CHARS)
            return -1;
        x->line[n++] = (char)ch;
    }
    x->line[n] = '\0';
    return 1;
}

/* The ini_reader: hands inih one physical line at a time (note 2). */
static char *reader(char *str, int num, void *stream)
{
    struct file_ctx *x = stream;
    if (x->err_line || x->io_errno)
        return NULL;
    int st = read_line(x);
    if (st == 0 || x->io_errno)
        return NULL;
    x->lineno++;
    if (st == -1) {
        file_error(x, FXP_EPARSE, "line is longer than %d characters",
                   MAX_LINE_CHARS);
        return NULL;
    }
    if (st == -2) {
        file_error(x, FXP_EPARSE, "line holds a NUL byte (not a text file?)");
        return NULL;
    }
    const char *s = x->line;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    if (num < 2 || n > (size_t)num - 2) {
        /* inih's own buffer is smaller than ours (see raise_line_limit). */
        file_error(x, FXP_EPARSE, "line is longer than %d characters", num - 2);
        return NULL;
    }
    memcpy(str, s, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

/* The ini_handler: one "key = value" of one [section]. */
static int handler(void *user, const char *section, const char *key,
                   const char *value)
{
    struct file_ctx *x = user;
    char name[2 * FXP__CONFIG_MAX_NAME], s[72];
    const struct fxp__config_entry *e = NULL;
    if (x->err_line)
        return 0;
    if (!*section) {
        file_error(x, FXP_EPARSE,
                   "key '%s' is not inside a [section] (write it under "
                   "'[section]' or as 'section.key' with --set)",
                   fxp__config_shown(key, s));
        return 0;
    }
    int n = snprintf(name, sizeof name, "%s.%s", section, key);
    if (n > 0 && (size_t)n < sizeof name)
        e = fxp__config_find(name);
    if (!e) {
        char msg[256];
        fxp__config_unknown_key(name, msg, sizeof msg);
        file_error(x, FXP_EPARSE, "%s", msg);
        return 0;
    }
    /* Remove one pair of enclosing double quotes (config_int.h, note 1). */
    size_t len = strlen(value);
    char v[MAX_LINE_CHARS + 1];
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
        memcpy(v, value + 1, len - 2);
        v[len - 2] = '\0';
    } else {
        memcpy(v, value, len + 1);
    }
    char msg[512];
    int rc = fxp__config_apply(x->c, e, v, msg, sizeof msg);
    if (rc != FXP_OK) {
        file_error(x, rc, "%s", msg);
        return 0;
    }
    fxp__config_set_origin(x->c, e, FXP_CONFIG_FROM_FILE, x->lineno);
    return 1;
}

static pthread_once_t line_limit_once = PTHREAD_ONCE_INIT;

/* inih reads lines into a buffer of ini_max_line bytes (200 unless told
 * otherwise; Debian's build exposes the setting). Make room for ours once,
 * before any parse. Only this module uses inih. */
static void raise_line_limit(void)
{
    if (ini_max_line < MAX_LINE_CHARS + 2)
        ini_max_line = MAX_LINE_CHARS + 2;
}

static int load(struct fxp_config *c, struct file_ctx *x, char *errbuf,
                size_t errlen)
{
    struct fxp_config tmp = *c;
    x->c = &tmp;
    pthread_once(&line_limit_once, raise_line_limit);
    int ret = ini_parse_stream(reader, x, handler, x);
    if (x->io_errno) {
        fxp__config_errf(errbuf, errlen, "cannot read config '%s': %s", x->name,
                         strerror(x->io_errno));
        return FXP_EIO;
    }
    if (ret < 0) {
        fxp__config_errf(errbuf, errlen, "cannot read config '%s': %s", x->name,
                         fxp_strerror(FXP_ENOMEM));
        return FXP_ENOMEM;
    }
    if (ret > 0 && (x->err_line == 0 || ret < x->err_line)) {
        fxp__config_errf(
            errbuf, errlen,
            "config '%s' line %d: expected '[section]' or 'key = value'",
            x->name, ret);
        return FXP_EPARSE;
    }
    if (x->err_line) {
        fxp__config_errf(errbuf, errlen, "config '%s' line %d: %s", x->name,
                         x->err_line, x->msg);
        return x->rc;
    }
    snprintf(tmp.file, sizeof tmp.file, "%s", x->name);
    *c = tmp;
    return FXP_OK;
}

int fxp_config_load_file(struct fxp_config *c, const char *path, char *errbuf,
                         size_t errlen)
{
    struct file_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        fxp__config_errf(errbuf, errlen, "cannot read config '%s': %s", path,
                         fxp_strerror(FXP_ENOMEM));
        return FXP_ENOMEM;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        fxp__config_errf(errbuf, errlen, "cannot open config '%s': %s", path,
                         strerror(e));
        free(x);
        return e == ENOENT ? FXP_ENOENT : FXP_EIO;
    }
    x->f = f;
    x->name = path;
    int rc = load(c, x, errbuf, errlen);
    fclose(f);
    free(x);
    return rc;
}

int fxp_config_load_string(struct fxp_config *c, const char *text,
                           const char *name, char *errbuf, size_t errlen)
{
    struct file_ctx *x = calloc(1, sizeof *x);
    if (!x) {
        fxp__config_errf(errbuf, errlen, "cannot read config '%s': %s", name,
                         fxp_strerror(FXP_ENOMEM));
        return FXP_ENOMEM;
    }
    x->text = text;
    x->name = name;
    int rc = load(c, x, errbuf, errlen);
    free(x);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The environment                                                    */

static const char *env_lookup(char *const *envp, const char *var)
{
    size_t n = strlen(var);
    for (char *const *p = envp; *p; p++)
        if (!strncmp(*p, var, n) && (*p)[n] == '=')
            return *p + n + 1;
    return NULL;
}

int fxp_config_load_env(struct fxp_config *c, char *const *envp, char *errbuf,
                        size_t errlen)
{
    struct fxp_config tmp = *c;
    char var[FXP__CONFIG_MAX_NAME], msg[512];
    if (!envp)
        envp = environ;
    if (!envp)
        return FXP_OK;
    for (size_t i = 0; i < FXP_CONFIG_N_ENTRIES; i++) {
        const struct fxp__config_entry *e = &fxp__config_entries[i];
        fxp__config_env_name(e, var);
        const char *v = env_lookup(envp, var);
        if (!v)
            continue;
        int rc = fxp__config_apply(&tmp, e, v, msg, sizeof msg);
        if (rc != FXP_OK) {
            fxp__config_errf(errbuf, errlen, "environment %s: %s", var, msg);
            return rc;
        }
        fxp__config_set_origin(&tmp, e, FXP_CONFIG_FROM_ENV, 0);
    }
    *c = tmp;
    return FXP_OK;
}

bool fxp_config_env_known(const char *var)
{
    char name[FXP__CONFIG_MAX_NAME];
    if (!strcmp(var, "FXPIPE_CONFIG"))
        return true;
    for (size_t i = 0; i < FXP_CONFIG_N_ENTRIES; i++) {
        fxp__config_env_name(&fxp__config_entries[i], name);
        if (!strcmp(var, name))
            return true;
    }
    return false;
}

int fxp_config_load_all(struct fxp_config *c, const char *path_or_null,
                        char *errbuf, size_t errlen)
{
    struct fxp_config tmp;
    int rc;
    fxp_config_init(&tmp);
    fxp_config_init(c);
    const char *path = path_or_null;
    if (!path) {
        const char *env = getenv("FXPIPE_CONFIG");
        if (env && *env)
            path = env;
    }
    if (path) {
        rc = fxp_config_load_file(&tmp, path, errbuf, errlen);
    } else {
        rc = fxp_config_load_file(&tmp, "fxpipe.ini", errbuf, errlen);
        if (rc == FXP_ENOENT) {
            rc = FXP_OK;
            if (errbuf && errlen)
                errbuf[0] = '\0';
        }
    }
    if (rc == FXP_OK)
        rc = fxp_config_load_env(&tmp, NULL, errbuf, errlen);
    if (rc == FXP_OK)
        *c = tmp;
    return rc;
}
