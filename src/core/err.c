/* err.c - names and messages for fxp_err, generated from FXP_ERRNO_MAP. */
#include "fxpipe/err.h"

const char *fxp_err_name(int err)
{
    switch (err) {
#define FXP__ERR_NAME(name, val, msg)                                          \
    case (val):                                                                \
        return "FXP_" #name;
        FXP_ERRNO_MAP(FXP__ERR_NAME)
#undef FXP__ERR_NAME
    }
    return "FXP_UNKNOWN";
}

const char *fxp_strerror(int err)
{
    switch (err) {
#define FXP__ERR_MSG(name, val, msg)                                           \
    case (val):                                                                \
        return msg;
        FXP_ERRNO_MAP(FXP__ERR_MSG)
#undef FXP__ERR_MSG
    }
    return "unknown error";
}

bool fxp_err_is_retriable(int err)
{
    return err == FXP_EAGAIN || err == FXP_ETIMEDOUT || err == FXP_EUNAVAIL ||
           err == FXP_ETOOLARGE || err == FXP_EIO;
}
