/*
 * commands.h - the subcommands of the fxpipe binary. Each cmd_<name>.c
 * holds one; main.c finds it through its commands[] table. A command
 * parses its own arguments (getopt_long), prints its own errors and
 * returns the process exit status.
 */
#ifndef FXPIPE_CLI_COMMANDS_H
#define FXPIPE_CLI_COMMANDS_H

/* Exit statuses shared by all commands. */
#define FXP_EXIT_OK    0 /* success */
#define FXP_EXIT_FAIL  1 /* the job ran but failed (or found problems) */
#define FXP_EXIT_USAGE 2 /* bad command line or configuration */
#define FXP_EXIT_IO    3 /* a file or dependency could not be used */

int cmd_calendar(int argc, char **argv);
int cmd_download(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_gaps(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_resample(int argc, char **argv);
int cmd_journal(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_aggregate(int argc, char **argv);
int cmd_bridge(int argc, char **argv);

/* How the binary was invoked (argv[0]), for hints like "./build/fxpipe
 * stats". */
extern const char *fxp_cli_argv0;

/* Print "fxpipe <cmd>: <message>\n" to stderr (printf-style). */
void fxp_cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
