/* store_clickhouse.c - ClickHouse backend (placeholder until built). */
#include <stdio.h>

#include "fxpipe/err.h"
#include "store/store_int.h"

int fxp__store_open_clickhouse(struct fxp_store *s, const char *url,
                               char *errbuf, size_t errlen)
{
    (void)s;
    snprintf(errbuf, errlen, "store backend 'clickhouse' is not built in (%s)",
             url);
    return FXP_EINVAL;
}
