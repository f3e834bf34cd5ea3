/*
 * jobs.h - what `fxpipe run` and `fxpipe import` share: turning the
 * configuration into a pipeline configuration, signal handling for a clean
 * stop, the progress bar and the summary.
 */
#ifndef FXPIPE_CLI_JOBS_H
#define FXPIPE_CLI_JOBS_H

#include <signal.h>
#include <stdio.h>

#include "cli/common.h"
#include "fxpipe/pipeline.h"

/* Set by the first SIGINT/SIGTERM; a second one exits at once (130). */
extern volatile sig_atomic_t fxp_cli_stop;
void fxp_cli_signals_install(void);

/* Pipeline settings from the configuration (core must be open). Prints
 * errors naming cmd; returns an exit status. */
int fxp_cli_pipeline_cfg(const struct fxp_config *cfg,
                         const struct fxp_cli_core *core, const char *cmd,
                         struct fxp_pipeline_cfg *pc);

struct fxp_dlq;

/* The dead-letter file named by store.dlq (default: the store path with
 * .dlq) in buf, or NULL for "none". */
const char *fxp_cli_dlq_path(const struct fxp_config *cfg,
                             const char *store_url, char *buf, size_t len);

/* A progress callback drawing a bar with rate and ETA on stderr when it is
 * a terminal (ud: const char *label). */
void fxp_cli_progress(void *ud, const struct fxp_pipeline_stats *s);
/* Clear the progress line (call once the pipeline returned). */
void fxp_cli_progress_done(void);

/* The job summary: records in, bars written per timeframe, rejected by
 * reason, elapsed. */
void fxp_cli_summary(FILE *f, const char *cmd,
                     const struct fxp_pipeline_stats *s);

#endif
