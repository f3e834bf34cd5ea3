/*
 * tz.h - IANA time zones read from the system's TZif files (tzdata).
 *
 * A loaded zone is immutable, so one handle may be shared by any number of
 * threads. Offsets come from the file's transition table and, beyond its
 * last transition, from the POSIX TZ rule in the file's footer. The process
 * TZ variable and libc's localtime are never touched.
 */
#ifndef FXPIPE_TZ_H
#define FXPIPE_TZ_H

#include <stddef.h>
#include <stdint.h>

struct fxp_tz;

/* Load zone `name` ("America/New_York") from $TZDIR, else
 * /usr/share/zoneinfo; a name starting with '/' is a file path.
 * On success *out owns a new zone (free with fxp_tz_free). On failure
 * returns FXP_ENOENT (no such zone file), FXP_EPARSE (not a valid TZif
 * file) or FXP_EINVAL (bad name), with a message in errbuf. */
int fxp_tz_load(const char *name, struct fxp_tz **out, char *errbuf,
                size_t errlen);

/* Free a zone; NULL is a no-op. */
void fxp_tz_free(struct fxp_tz *tz);

/* The zone's name as given to fxp_tz_load. */
const char *fxp_tz_name(const struct fxp_tz *tz);

/* UTC offset in seconds east of Greenwich in effect at instant utc_ms
 * (New York: -18000 in winter, -14400 in summer). */
int32_t fxp_tz_offset_s(const struct fxp_tz *tz, int64_t utc_ms);

/* The instant at which local wall-clock time `local_ms` (local fields
 * encoded as if UTC) occurs. For a wall time skipped by a forward jump the
 * result uses the offset before the jump (so it lands after the jump); for
 * a repeated wall time the earlier instant is returned. */
int64_t fxp_tz_local_to_utc(const struct fxp_tz *tz, int64_t local_ms);

/* Local wall-clock time (encoded as if UTC) of instant utc_ms. */
static inline int64_t fxp_tz_utc_to_local(const struct fxp_tz *tz,
                                          int64_t utc_ms)
{
    return utc_ms + (int64_t)fxp_tz_offset_s(tz, utc_ms) * 1000;
}

#endif
