/* cmd_bridge.c - `fxpipe bridge` (being built). */
#include "cli/commands.h"

int cmd_bridge(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fxp_cli_error("bridge", "not built yet");
    return FXP_EXIT_USAGE;
}
