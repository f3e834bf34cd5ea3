/* jobs.c - shared parts of `fxpipe run` and `fxpipe import` (jobs.h). */
#include "cli/jobs.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/commands.h"
#include "fxpipe/calendar.h"
#include "fxpipe/dlq.h"
#include "fxpipe/err.h"

volatile sig_atomic_t fxp_cli_stop;
static char job_id[64];

static void on_signal(int sig)
{
    (void)sig;
    if (fxp_cli_stop) {
        static const char msg[] = "\nfxpipe: second signal, exiting now\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    fxp_cli_stop = 1;
}

void fxp_cli_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void on_event(void *ud, const char *msg)
{
    fprintf(stderr, "%s: %s\n", (const char *)ud, msg);
}

int fxp_cli_pipeline_cfg(const struct fxp_config *cfg,
                         const struct fxp_cli_core *core, const char *cmd,
                         struct fxp_pipeline_cfg *pc)
{
    fxp_pipeline_cfg_default(pc, core->ny);
    pc->agg.align.session = (fxp_session)cfg->bars_session;
    pc->agg.price = (fxp_price)cfg->bars_price;
    pc->agg.lateness_ms = cfg->bars_lateness_ms;
    if (fxp_tf_parse_list(cfg->bars_timeframes, &pc->agg.tf_mask, NULL)) {
        fxp_cli_error(cmd, "bad bars.timeframes '%s'", cfg->bars_timeframes);
        return FXP_EXIT_USAGE;
    }
    pc->cal = core->cal;
    pc->batch_size = (size_t)cfg->pipeline_batch_size;
    pc->queue_batches = (size_t)cfg->pipeline_queue_batches;
    pc->keep_ticks = cfg->store_keep_ticks;
    pc->validate.max_spread_frac = cfg->validate_max_spread_frac;
    pc->validate.max_jump_frac = cfg->validate_max_jump_frac;
    /* Test and benchmark knob, deliberately not a config entry: slows
     * every store write to show that memory stays bounded. */
    const char *delay = getenv("FXPIPE_TEST_WRITE_DELAY_MS");
    int64_t d;
    if (delay && !fxp_cli_int(delay, 0, 60000, &d))
        pc->write_delay_ms = (int)d;
    /* Test knob: "FROM:COUNT" store writes fail (COUNT -1: all). */
    const char *fail = getenv("FXPIPE_TEST_STORE_FAIL");
    long long from, count;
    if (fail && sscanf(fail, "%lld:%lld", &from, &count) == 2) {
        pc->test_fail_from = from;
        pc->test_fail_count = count;
    }
    pc->retry.max_attempts = (int)cfg->store_retry_attempts;
    pc->retry.base_ms = cfg->store_retry_base_ms;
    pc->retry.max_ms = cfg->store_retry_max_ms;
    pc->breaker_threshold = (uint32_t)cfg->store_breaker_threshold;
    pc->breaker_open_ms = cfg->store_breaker_open_ms;
    pc->stop_deadline_ms = cfg->store_stop_deadline_ms;
    pc->pause_warn_ms = cfg->pipeline_pause_warn_ms;
    pc->on_event = on_event;
    pc->event_ud = (void *)cmd;
    snprintf(job_id, sizeof job_id, "%s-%ld", cmd, (long)getpid());
    pc->correlation_id = job_id;
    return FXP_EXIT_OK;
}

const char *fxp_cli_dlq_path(const struct fxp_config *cfg,
                             const char *store_url, char *buf, size_t len)
{
    if (!strcmp(cfg->store_dlq, "none"))
        return NULL;
    if (cfg->store_dlq[0])
        snprintf(buf, len, "%s", cfg->store_dlq);
    else
        fxp_dlq_default_path(store_url, buf, len);
    return buf;
}

static int progress_drawn;

static void human(double v, char *buf, size_t len)
{
    if (v >= 1e9)
        snprintf(buf, len, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, len, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, len, "%.1fk", v / 1e3);
    else
        snprintf(buf, len, "%.0f", v);
}

void fxp_cli_progress(void *ud, const struct fxp_pipeline_stats *s)
{
    if (!isatty(2))
        return;
    const char *label = ud;
    double recs = (double)(s->ticks_read + s->bars_read);
    char n[16], rate[16];
    human(recs, n, sizeof n);
    human(s->elapsed_s > 0 ? recs / s->elapsed_s : 0, rate, sizeof rate);
    if (s->bytes_total) {
        double f = (double)s->bytes_done / (double)s->bytes_total;
        if (f > 1)
            f = 1;
        int w = 30, k = (int)(f * w);
        char bar[32];
        for (int i = 0; i < w; i++)
            bar[i] = i < k ? '=' : (i == k ? '>' : ' ');
        bar[w] = '\0';
        double eta = f > 0 ? s->elapsed_s * (1 - f) / f : 0;
        fprintf(stderr, "\r%s [%s] %3.0f%% %s records %s/s ETA %02d:%02d ",
                label, bar, f * 100, n, rate, (int)eta / 60, (int)eta % 60);
    } else {
        fprintf(stderr, "\r%s %s records %s/s %.0f s ", label, n, rate,
                s->elapsed_s);
    }
    progress_drawn = 1;
}

void fxp_cli_progress_done(void)
{
    if (progress_drawn)
        fprintf(stderr, "\r\033[K");
    progress_drawn = 0;
}

void fxp_cli_summary(FILE *f, const char *cmd,
                     const struct fxp_pipeline_stats *s)
{
    uint64_t rej = 0, bars = 0;
    for (int r = 0; r < FXP_R_COUNT; r++)
        rej += s->rejected[r];
    for (int k = 0; k < FXP_TF_COUNT; k++)
        bars += s->bars_stored[k];
    double recs = (double)(s->ticks_read + s->bars_read + s->bad_lines);
    fprintf(f,
            "%s: %" PRIu64 " ticks and %" PRIu64 " bars read, %" PRIu64
            " rejected, in %.2f s (%.2f M records/s)\n",
            cmd, s->ticks_read, s->bars_read, rej, s->elapsed_s,
            s->elapsed_s > 0 ? recs / s->elapsed_s / 1e6 : 0.0);
    fprintf(f, "%s: %" PRIu64 " bar rows written:", cmd, bars);
    for (int k = 0; k < FXP_TF_COUNT; k++)
        fprintf(f, " %s %" PRIu64, fxp_tf_name((fxp_tf)k), s->bars_stored[k]);
    fputc('\n', f);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(f,
            "%s: peak RSS %.1f MB; queue high-water marks %zu (in) %zu "
            "(out) batches, growth up to %" PRIu64 " batches/s; source "
            "paused %" PRIu64 " times, %.2f s; %" PRIu64
            " store transactions\n",
            cmd, (double)ru.ru_maxrss / 1024.0, s->max_depth_in,
            s->max_depth_out, s->max_queue_growth, s->pauses,
            (double)s->paused_ms / 1000.0, s->store_writes);
    if (s->store_retries || s->dead_lettered)
        fprintf(f,
                "%s: %" PRIu64 " store writes retried, %" PRIu64
                " batches dead-lettered%s\n",
                cmd, s->store_retries, s->dead_lettered,
                s->dead_lettered ? " (store them later: fxpipe dlq replay)"
                                 : "");
    if (s->ticks_stored)
        fprintf(f, "%s: %" PRIu64 " ticks stored\n", cmd, s->ticks_stored);
    for (int r = 1; r < FXP_R_COUNT; r++)
        if (s->rejected[r])
            fprintf(f, "%s:   rejected %-13s %" PRIu64 "  (%s)\n", cmd,
                    fxp_reason_name((fxp_reason)r), s->rejected[r],
                    fxp_reason_desc((fxp_reason)r));
}
