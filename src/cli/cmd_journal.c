/* cmd_journal.c - `fxpipe journal stats|verify|dump DIR`: inspect and
 * check an on-disk journal (journal.h) without writing to it. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "fxpipe/err.h"
#include "fxpipe/journal.h"

static const char usage_text[] =
    "usage: fxpipe journal stats DIR\n"
    "       fxpipe journal verify DIR\n"
    "       fxpipe journal dump DIR [--from SEQ] [--limit N]\n"
    "\n"
    "Inspect the journal in directory DIR; nothing is written to it.\n"
    "\n"
    "  stats   segments, bytes, records and sequence numbers (reads every\n"
    "          record)\n"
    "  verify  check every record's CRC and sequence number; exit 1 and\n"
    "          name the file and offset when a record is corrupt or the\n"
    "          newest segment ends in a torn tail (which the next writer\n"
    "          truncates)\n"
    "  dump    one line per record: seq=N len=N, then the payload as\n"
    "          text=\"...\" when it is printable ASCII, else as hex=...\n"
    "\n"
    "  --from SEQ  dump: start at sequence number SEQ (default: the first)\n"
    "  --limit N   dump: at most N records\n"
    "\n"
    "Exit status: 0 ok, 1 corruption found, 2 usage, 3 cannot read DIR.\n";

static int exit_for(int rc)
{
    return rc == FXP_EINVAL ? FXP_EXIT_USAGE : FXP_EXIT_IO;
}

static int run_info(const char *dir, bool verify)
{
    const char *cmd = verify ? "journal verify" : "journal stats";
    struct fxp_journal_info info;
    char err[4400];
    int rc = fxp_journal_verify(dir, NULL, &info, err, sizeof err);

    if (rc != FXP_OK) {
        fxp_cli_error(cmd, "%s", err);
        return exit_for(rc);
    }
    bool bad = info.corrupt || info.torn_bytes;
    if (!verify) {
        printf("journal:     %s\n", dir);
        printf("segments:    %" PRIu64 "\n", info.segments);
        printf("bytes:       %" PRIu64 "\n", info.bytes);
        printf("records:     %" PRIu64 "\n", info.records);
        if (info.records) {
            printf("first seq:   %" PRIu64 "\n", info.first_seq);
            printf("last seq:    %" PRIu64 "\n", info.last_seq);
        }
        printf("corrupt:     %" PRIu64 "\n", info.corrupt);
        printf("torn tail:   %" PRIu64 " bytes\n", info.torn_bytes);
        if (bad)
            fxp_cli_error(cmd, "%s", err);
        return FXP_EXIT_OK;
    }
    if (bad) {
        printf("%s: %" PRIu64 " records in %" PRIu64 " segments; %" PRIu64
               " corrupt, torn tail %" PRIu64 " bytes\n",
               dir, info.records, info.segments, info.corrupt, info.torn_bytes);
        fxp_cli_error(cmd, "%s", err);
        return FXP_EXIT_FAIL;
    }
    printf("%s: ok, %" PRIu64 " records in %" PRIu64 " segments", dir,
           info.records, info.segments);
    if (info.records)
        printf(", seq %" PRIu64 "..%" PRIu64, info.first_seq, info.last_seq);
    printf("\n");
    return FXP_EXIT_OK;
}

static void print_payload(const unsigned char *p, uint32_t len)
{
    bool text = true;
    for (uint32_t i = 0; i < len && text; i++)
        text = p[i] >= 0x20 && p[i] <= 0x7e;
    if (text) {
        fputs("text=\"", stdout);
        for (uint32_t i = 0; i < len; i++) {
            if (p[i] == '"' || p[i] == '\\')
                putchar('\\');
            putchar(p[i]);
        }
        putchar('"');
    } else {
        fputs("hex=", stdout);
        for (uint32_t i = 0; i < len; i++)
            printf("%02x", p[i]);
    }
}

static int run_dump(const char *dir, uint64_t from, uint64_t limit)
{
    struct fxp_journal_iter *it;
    char err[4400];
    int rc = fxp_journal_iter_open(dir, from, NULL, &it, err, sizeof err);

    if (rc != FXP_OK) {
        fxp_cli_error("journal dump", "%s", err);
        return rc == FXP_EPARSE ? FXP_EXIT_FAIL : exit_for(rc);
    }
    int status = FXP_EXIT_OK;
    for (uint64_t n = 0; !limit || n < limit; n++) {
        uint64_t seq;
        const void *data;
        uint32_t len;
        rc = fxp_journal_iter_next(it, &seq, &data, &len, err, sizeof err);
        if (rc == FXP_ECLOSED)
            break;
        if (rc != FXP_OK) {
            fflush(stdout);
            fxp_cli_error("journal dump", "%s", err);
            status = rc == FXP_EPARSE ? FXP_EXIT_FAIL : exit_for(rc);
            break;
        }
        printf("seq=%" PRIu64 " len=%" PRIu32 " ", seq, len);
        print_payload(data, len);
        putchar('\n');
    }
    fxp_journal_iter_close(it);
    if (fflush(stdout) != 0 && status == FXP_EXIT_OK)
        status = FXP_EXIT_IO;
    return status;
}

int cmd_journal(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int64_t from = 0, limit = 0;
    int c;

    if (argc < 2) {
        fputs(usage_text, stderr);
        return FXP_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        fputs(usage_text, stdout);
        return FXP_EXIT_OK;
    }
    bool dump = !strcmp(sub, "dump");
    if (!dump && strcmp(sub, "stats") != 0 && strcmp(sub, "verify") != 0) {
        fxp_cli_error("journal",
                      "unknown subcommand '%s' (stats, verify, "
                      "dump)",
                      sub);
        return FXP_EXIT_USAGE;
    }
    /* Options follow the subcommand: parse argv[1..] as its own argv. */
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
        case 'n':
            if (!dump) {
                fxp_cli_error("journal", "--%s is a dump option",
                              c == 'f' ? "from" : "limit");
                return FXP_EXIT_USAGE;
            }
            if (fxp_cli_int(optarg, 0, INT64_MAX, c == 'f' ? &from : &limit)) {
                fxp_cli_error("journal",
                              "--%s wants a whole number >= 0, "
                              "not '%s'",
                              c == 'f' ? "from" : "limit", optarg);
                return FXP_EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(usage_text, stdout);
            return FXP_EXIT_OK;
        default:
            fputs(usage_text, stderr);
            return FXP_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc - 1) {
        if (optind + 1 > argc - 1)
            fxp_cli_error("journal", "%s: missing the journal directory", sub);
        else
            fxp_cli_error("journal", "unexpected argument '%s'",
                          argv[optind + 2]);
        return FXP_EXIT_USAGE;
    }
    const char *dir = argv[optind + 1];
    if (dump)
        return run_dump(dir, (uint64_t)from, (uint64_t)limit);
    return run_info(dir, !strcmp(sub, "verify"));
}
