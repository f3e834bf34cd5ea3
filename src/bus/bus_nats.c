/* bus_nats.c - NATS JetStream backend (placeholder until built). */
#include <stdio.h>

#include "bus/bus_int.h"
#include "fxpipe/err.h"

int fxp__bus_open_nats(struct fxp_bus *b, const char *servers, char *errbuf,
                       size_t errlen)
{
    (void)b;
    snprintf(errbuf, errlen, "bus backend 'nats' is not built in (%s)",
             servers);
    return FXP_EINVAL;
}
