/* cmd_ingest.c - `fxpipe ingest` (being built). */
#include "cli/commands.h"

int cmd_ingest(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fxp_cli_error("ingest", "not built yet");
    return FXP_EXIT_USAGE;
}
