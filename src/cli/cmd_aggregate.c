/* cmd_aggregate.c - `fxpipe aggregate` (being built). */
#include "cli/commands.h"

int cmd_aggregate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fxp_cli_error("aggregate", "not built yet");
    return FXP_EXIT_USAGE;
}
