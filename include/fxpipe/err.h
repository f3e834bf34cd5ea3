/*
 * err.h - the one status type of fxpipe.
 *
 * Every library function that can fail returns an fxp_err: FXP_OK (0) or a
 * negative code. Human detail goes into an (errbuf, errlen) pair at the
 * boundaries (config, parse, connect); this header only names the codes.
 */
#ifndef FXPIPE_ERR_H
#define FXPIPE_ERR_H

#include <stdbool.h>

/* X(name, value, message): the single list that the enum, fxp_err_name()
 * and fxp_strerror() are generated from. */
#define FXP_ERRNO_MAP(X)                                                       \
    X(OK, 0, "success")                                                        \
    X(EINVAL, -1, "invalid argument")                                          \
    X(ENOMEM, -2, "out of memory")                                             \
    X(EIO, -3, "input/output error")                                           \
    X(ENOENT, -4, "no such file or entry")                                     \
    X(EPARSE, -5, "malformed input")                                           \
    X(ERANGE, -6, "value out of range")                                        \
    X(EAGAIN, -7, "resource temporarily unavailable")                          \
    X(ETOOLARGE, -8, "bounded buffer is full")                                 \
    X(ETIMEDOUT, -9, "operation timed out")                                    \
    X(ECLOSED, -10, "handle is closed")                                        \
    X(EREJECT, -11, "record rejected by validation")                           \
    X(ENOSPC, -12, "no space left on device")                                  \
    X(EUNAVAIL, -13, "dependency unavailable")                                 \
    X(EEXIST, -14, "conflicting state already exists")

typedef enum fxp_err {
#define FXP__ERR_ENUM(name, val, msg) FXP_##name = (val),
    FXP_ERRNO_MAP(FXP__ERR_ENUM)
#undef FXP__ERR_ENUM
} fxp_err;

/* The symbolic name of a code ("FXP_EINVAL"); "FXP_UNKNOWN" for others. */
const char *fxp_err_name(int err);

/* A short lower-case description of a code; never NULL. */
const char *fxp_strerror(int err);

/* True for codes a retry may cure (timeouts, unavailable dependencies,
 * backpressure); false for bad input and programming errors. */
bool fxp_err_is_retriable(int err);

#endif
