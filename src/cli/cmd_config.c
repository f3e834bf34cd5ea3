/*
 * cmd_config.c - `fxpipe config`: print the effective configuration as an
 * INI file that can be saved and read back, each value with its origin;
 * or one value (--get); or the table of settings in Markdown (--markdown,
 * pasted into docs/configuration.md). The settings themselves live in
 * src/service/config.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "fxpipe/config.h"
#include "fxpipe/err.h"

#define CMD "config"

/* Not declared by <unistd.h> under plain _POSIX_C_SOURCE. */
extern char **environ;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fxpipe config [--config FILE] [--set KEY=VALUE]... "
            "[--get KEY]\n"
            "       fxpipe config --markdown\n"
            "\n"
            "Print the effective configuration as an INI file, each value\n"
            "with where it came from. Save the output as fxpipe.ini to "
            "reuse it.\n"
            "Precedence, lowest first: built-in defaults < config file <\n"
            "FXPIPE_* environment < command line. The file is FILE, else\n"
            "$FXPIPE_CONFIG, else ./fxpipe.ini when it exists.\n"
            "\n"
            "  --config FILE     read this config file\n"
            "  --set KEY=VALUE   override one setting (KEY as in "
            "'store.db'); repeatable\n"
            "  --get KEY         print only that setting's value\n"
            "  --markdown        print the table of all settings in Markdown\n"
            "  -h, --help        show this help\n"
            "\n"
            "Exit status: 0 ok, 2 bad option, file or value, 3 unreadable "
            "file.\n");
}

/* Warn about FXPIPE_* variables that name no setting: a misspelt one
 * would otherwise be ignored without a word. */
static void warn_unknown_env(void)
{
    for (char **p = environ; p && *p; p++) {
        if (strncmp(*p, "FXPIPE_", 7))
            continue;
        const char *eq = strchr(*p, '=');
        size_t n = eq ? (size_t)(eq - *p) : strlen(*p);
        char var[128];
        if (n >= sizeof var)
            n = sizeof var - 1;
        memcpy(var, *p, n);
        var[n] = '\0';
        if (!fxp_config_env_known(var))
            fprintf(stderr,
                    "fxpipe %s: warning: ignoring %s, which names no "
                    "setting\n",
                    CMD, var);
    }
}

/* Apply one --set KEY=VALUE. */
static int apply_set(struct fxp_config *cfg, const char *arg)
{
    char err[512], key[128];
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof key) {
        fxp_cli_error(CMD, "--set needs KEY=VALUE, got '%s'", arg);
        return FXP_EXIT_USAGE;
    }
    memcpy(key, arg, (size_t)(eq - arg));
    key[eq - arg] = '\0';
    if (fxp_config_set(cfg, key, eq + 1, FXP_CONFIG_FROM_FLAG, err,
                       sizeof err) != FXP_OK) {
        fxp_cli_error(CMD, "--set %s: %s", key, err);
        return FXP_EXIT_USAGE;
    }
    return FXP_EXIT_OK;
}

int cmd_config(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"get", required_argument, NULL, 'g'},
        {"markdown", no_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *get = NULL;
    bool markdown = false;
    int c, rc = FXP_EXIT_OK;
    char err[1024];
    struct fxp_config *cfg = NULL;
    /* --set may come before --config, so the overrides are collected
     * and applied after the file and the environment. */
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t n_sets = 0;
    if (!sets) {
        fxp_cli_error(CMD, "out of memory");
        return FXP_EXIT_FAIL;
    }

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 's':
            sets[n_sets++] = optarg;
            break;
        case 'g':
            get = optarg;
            break;
        case 'm':
            markdown = true;
            break;
        case 'h':
            usage(stdout);
            goto done;
        case ':':
            fxp_cli_error(CMD, "option '%s' needs a value", argv[optind - 1]);
            rc = FXP_EXIT_USAGE;
            goto done;
        default:
            fxp_cli_error(CMD,
                          "unknown option '%s'; see 'fxpipe config --help'",
                          argv[optind - 1]);
            rc = FXP_EXIT_USAGE;
            goto done;
        }
    }
    if (optind < argc) {
        fxp_cli_error(CMD,
                      "unexpected argument '%s'; see 'fxpipe config "
                      "--help'",
                      argv[optind]);
        rc = FXP_EXIT_USAGE;
        goto done;
    }
    if (markdown) {
        if (fxp_config_print_markdown(stdout) != FXP_OK || fflush(stdout)) {
            fxp_cli_error(CMD, "cannot write output");
            rc = FXP_EXIT_IO;
        }
        goto done;
    }

    cfg = malloc(sizeof *cfg);
    if (!cfg) {
        fxp_cli_error(CMD, "out of memory");
        rc = FXP_EXIT_FAIL;
        goto done;
    }
    warn_unknown_env();
    int lrc = fxp_config_load_all(cfg, path, err, sizeof err);
    if (lrc != FXP_OK) {
        fxp_cli_error(CMD, "%s", err);
        rc = lrc == FXP_EIO ? FXP_EXIT_IO : FXP_EXIT_USAGE;
        goto done;
    }
    for (size_t i = 0; i < n_sets; i++) {
        rc = apply_set(cfg, sets[i]);
        if (rc != FXP_EXIT_OK)
            goto done;
    }

    if (get) {
        char value[FXP_CONFIG_LIST_MAX + 8];
        if (fxp_config_origin_of(cfg, get) < 0) {
            /* An unknown key: fxp_config_set() words the message (with
             * a suggestion) and changes nothing. */
            fxp_config_set(cfg, get, "", FXP_CONFIG_FROM_FLAG, err, sizeof err);
            fxp_cli_error(CMD, "--get: %s", err);
            rc = FXP_EXIT_USAGE;
            goto done;
        }
        printf("%s\n", fxp_config_get(cfg, get, value, sizeof value));
    } else if (fxp_config_print(cfg, stdout) != FXP_OK) {
        rc = FXP_EXIT_IO;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fxp_cli_error(CMD, "cannot write output");
        rc = FXP_EXIT_IO;
    }
done:
    free(cfg);
    free(sets);
    return rc;
}
