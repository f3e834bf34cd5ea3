/*
 * gaps_out.c - how `fxpipe gaps` shows its reports: a table for people,
 * JSON lines for scripts, and a self-contained HTML page with a coverage
 * heatmap (symbol x day, colour = completeness) and the gap list.
 */
#include "cli/gaps_out.h"

#include <inttypes.h>
#include <string.h>

#include "fxpipe/time.h"

static void iso(int64_t ts, char *buf)
{
    fxp_time_format_iso(ts, buf, 32);
}

void fxp_gaps_print_table(FILE *f, const struct fxp_gap_report *r,
                          size_t max_ranges)
{
    uint64_t empty = 0;
    for (size_t i = 0; i < r->n_ranges; i++)
        if (r->ranges[i].state == FXP_GAP_EMPTY)
            empty += r->ranges[i].bars;
    fprintf(f,
            "%-8s %-4s expected %9" PRIu64 "  present %9" PRIu64
            "  %7.3f%%  missing %7" PRIu64 "  confirmed-empty %6" PRIu64
            "  %s\n",
            r->symbol, fxp_tf_name(r->tf), r->expected, r->present,
            r->completeness * 100, r->missing, empty,
            r->complete ? "complete" : "GAPS");
    size_t shown = 0;
    for (size_t i = 0; i < r->n_ranges; i++) {
        const struct fxp_gap_range *g = &r->ranges[i];
        if (g->state == FXP_GAP_EMPTY)
            continue;
        if (shown++ == max_ranges) {
            fprintf(f, "    ... more ranges (use --json for all)\n");
            break;
        }
        char a[32], b[32];
        iso(g->start, a);
        iso(g->end, b);
        fprintf(f, "    %s .. %s  %6u bars  %s\n", a, b, g->bars,
                fxp_gap_state_name(g->state));
    }
}

void fxp_gaps_print_json(FILE *f, const struct fxp_gap_report *r)
{
    fprintf(f,
            "{\"symbol\":\"%s\",\"timeframe\":\"%s\",\"from\":%" PRId64
            ",\"to\":%" PRId64 ",\"expected\":%" PRIu64 ",\"present\":%" PRIu64
            ",\"completeness\":%.6f,\"complete\":%s,\"missing\":%" PRIu64
            ",\"ranges\":[",
            r->symbol, fxp_tf_name(r->tf), r->from, r->to, r->expected,
            r->present, r->completeness, r->complete ? "true" : "false",
            r->missing);
    for (size_t i = 0; i < r->n_ranges; i++) {
        const struct fxp_gap_range *g = &r->ranges[i];
        fprintf(f,
                "%s{\"start\":%" PRId64 ",\"end\":%" PRId64
                ",\"bars\":%u,\"state\":\"%s\"}",
                i ? "," : "", g->start, g->end, g->bars,
                fxp_gap_state_name(g->state));
    }
    fputs("]}\n", f);
}

/* A colour from red (0%) through yellow to green (100%). */
static void colour(double c, char *buf, size_t len)
{
    if (c >= 1.0) {
        snprintf(buf, len, "#1a9850");
        return;
    }
    int r = c < 0.5 ? 215 : (int)(215 - (c - 0.5) * 2 * 120);
    int g = c < 0.5 ? (int)(48 + c * 2 * 170) : 218;
    snprintf(buf, len, "#%02x%02x30", r, g);
}

int fxp_gaps_write_html(FILE *f, const struct fxp_gap_report *reports, size_t n,
                        const char *title)
{
    fprintf(f,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<title>%s</title>\n<style>\n"
            "body{font:14px system-ui,sans-serif;margin:2em;color:#222}\n"
            "table.h{border-collapse:collapse}\n"
            "table.h td{width:14px;height:18px;padding:0;border:1px solid "
            "#fff}\n"
            "table.h th{font-weight:normal;text-align:right;padding-right:"
            ".5em;white-space:nowrap}\n"
            "td.none{background:#eee}\n"
            "table.g{border-collapse:collapse;margin-top:1em}\n"
            "table.g td,table.g th{border-bottom:1px solid #ddd;padding:"
            "2px 8px;text-align:left}\n"
            ".legend span{display:inline-block;width:14px;height:14px;"
            "vertical-align:middle;margin:0 4px}\n"
            "</style></head><body>\n<h1>%s</h1>\n",
            title, title);
    fputs("<p class=\"legend\">completeness per UTC day: "
          "<span style=\"background:#d73030\"></span>0% "
          "<span style=\"background:#d7da30\"></span>50% "
          "<span style=\"background:#1a9850\"></span>100% "
          "<span class=\"none\" style=\"background:#eee\"></span>market "
          "closed</p>\n",
          f);
    /* One heatmap per timeframe: a row per symbol, a cell per day. */
    for (size_t k = 0; k < n;) {
        fxp_tf tf = reports[k].tf;
        fprintf(f, "<h2>%s</h2>\n<table class=\"h\">\n", fxp_tf_name(tf));
        for (size_t i = 0; i < n; i++) {
            const struct fxp_gap_report *r = &reports[i];
            if (r->tf != tf)
                continue;
            fprintf(f, "<tr><th>%s</th>", r->symbol);
            for (size_t d = 0; d < r->n_days; d++) {
                const struct fxp_gap_day *day = &r->days[d];
                char date[32];
                iso(day->day_ms, date);
                date[10] = '\0';
                if (!day->expected) {
                    fprintf(f, "<td class=\"none\" title=\"%s closed\"></td>",
                            date);
                    continue;
                }
                double c = (double)day->present / (double)day->expected;
                char col[16];
                colour(c, col, sizeof col);
                fprintf(f,
                        "<td style=\"background:%s\" title=\"%s %u/%u "
                        "(%.1f%%)\"></td>",
                        col, date, day->present, day->expected, c * 100);
            }
            fputs("</tr>\n", f);
        }
        fputs("</table>\n", f);
        while (k < n && reports[k].tf == tf)
            k++;
    }
    fputs("<h2>Gaps</h2>\n<table class=\"g\"><tr><th>symbol</th><th>tf</th>"
          "<th>start (UTC)</th><th>end (UTC)</th><th>bars</th>"
          "<th>state</th></tr>\n",
          f);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < reports[i].n_ranges; j++) {
            const struct fxp_gap_range *g = &reports[i].ranges[j];
            char a[32], b[32];
            iso(g->start, a);
            iso(g->end, b);
            fprintf(f,
                    "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                    "<td>%u</td><td>%s</td></tr>\n",
                    reports[i].symbol, fxp_tf_name(reports[i].tf), a, b,
                    g->bars, fxp_gap_state_name(g->state));
        }
    fputs("</table>\n</body></html>\n", f);
    return ferror(f) ? -1 : 0;
}
