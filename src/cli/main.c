/*
 * main.c - the fxpipe binary: finds the subcommand in commands[] (as git
 * does) and hands it argc/argv. Nothing else lives here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"run", cmd_run, "the pipeline in one process: feed -> bars -> SQLite"},
    {"import", cmd_import, "import tick or bar files into the store"},
    {"export", cmd_export, "write stored bars as CSV or JSON lines"},
    {"stats", cmd_stats, "what the store holds"},
    {"gaps", cmd_gaps, "completeness and missing ranges; --fill back-fills"},
    {"download", cmd_download, "download missing 1m history (Polygon)"},
    {"calendar", cmd_calendar, "print the forex market's open sessions"},
    {"config", cmd_config, "print the effective configuration"},
    {"resample", cmd_resample, "turn a tick CSV into OHLCV bars (CSV)"},
    {"journal", cmd_journal, "inspect and verify an on-disk journal"},
    {"dlq", cmd_dlq, "list, show, replay or purge dead-lettered batches"},
    {"ingest", cmd_ingest, "service: feed -> validate -> journal -> bus ticks"},
    {"aggregate", cmd_aggregate, "service: bus ticks -> bars -> bus bars"},
    {"bridge", cmd_bridge, "service: bus bars -> one or more stores"},
};

const char *fxp_cli_argv0 = "fxpipe";

void fxp_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fxpipe %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fxpipe <command> [options]\n\n"
               "A forex market-data pipeline: quotes in, complete OHLCV "
               "candles out.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'fxpipe <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc > 0 && argv[0] && strchr(argv[0], '/'))
        fxp_cli_argv0 = argv[0];
    if (argc < 2) {
        usage(stderr);
        return FXP_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") ||
        !strcmp(name, "help")) {
        usage(stdout);
        return FXP_EXIT_OK;
    }
    if (!strcmp(name, "--version")) {
        printf("fxpipe %s\n", FXP_VERSION_STRING);
        return FXP_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "fxpipe: '%s' is not a command; see 'fxpipe --help'\n",
            name);
    return FXP_EXIT_USAGE;
}
