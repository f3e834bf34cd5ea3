/*
 * config_int.h - what the files of the config module share (internal).
 * config_table.c holds the entry table, config_value.c parses, checks and
 * formats one value, config_load.c reads files and the environment and
 * config_print.c writes INI and Markdown. Nothing outside src/service/
 * includes this; the public interface is include/fxpipe/config.h.
 *
 * Design note shared by all four files
 *
 *  1. Every value must survive print -> load unchanged: strings may not
 *     hold control characters or a ';' after a blank (inih starts an
 *     inline comment there; fxp__config_apply() refuses both).
 *     fxp_config_print() wraps a value in double quotes when it has outer
 *     blanks or starts with ';' or '"'; the file loader removes one pair
 *     of enclosing quotes.
 */
#ifndef FXPIPE_CONFIG_INT_H
#define FXPIPE_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fxpipe/config.h"

/* Longest "section.key" and FXPIPE_* name. */
#define FXP__CONFIG_MAX_NAME 64

/* How an entry's text is parsed and stored. */
enum fxp__config_type {
    FXP__CONFIG_STRING, /* char[size], checked by check */
    FXP__CONFIG_INT,    /* int64_t in [min, max] */
    FXP__CONFIG_DOUBLE, /* finite double in [dmin, dmax] */
    FXP__CONFIG_BOOL,   /* bool: true/false, yes/no, on/off, 1/0 */
    FXP__CONFIG_ENUM    /* int: the index of a word in words[] */
};

struct fxp__config_entry;

/* Extra check of a string value: FXP_OK, or an error with a message. */
typedef int (*fxp__config_check_fn)(const struct fxp__config_entry *e,
                                    const char *v, char *err, size_t len);

/* One row of the table (config_table.c). */
struct fxp__config_entry {
    const char *name;           /* "section.key" */
    enum fxp__config_type type; /* how the text is parsed and stored */
    int64_t min, max;           /* FXP__CONFIG_INT: inclusive bounds */
    double dmin, dmax;          /* FXP__CONFIG_DOUBLE: inclusive bounds */
    const char *const *words; /* FXP__CONFIG_ENUM: allowed words, NULL-ended */
    const char *def;          /* default, as text */
    size_t off, size;         /* the field in struct fxp_config */
    fxp__config_check_fn check; /* extra check of a string, or NULL */
    const char *allowed;        /* string: allowed values, for the docs */
    const char *help;           /* one sentence */
};

/* The table (config_table.c): FXP_CONFIG_N_ENTRIES rows in print order;
 * the index of a row is the index of struct fxp_config's origin[]. Left
 * without a size here so that config_table.c can check its count. */
extern const struct fxp__config_entry fxp__config_entries[];

/* The entry called name ("store.db"), or NULL. */
const struct fxp__config_entry *fxp__config_find(const char *name);

/* Helpers (config_value.c). */

/* vsnprintf into err, unless err is NULL or len is 0. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void fxp__config_errf(char *err, size_t len, const char *fmt, ...);

/* A value as it appears in a message: at most 60 characters, control
 * characters as '?', "..." when cut. Returns buf. */
const char *fxp__config_shown(const char *v, char buf[72]);

/* "store.busy_timeout_ms" -> "FXPIPE_STORE_BUSY_TIMEOUT_MS" into buf. */
void fxp__config_env_name(const struct fxp__config_entry *e,
                          char buf[FXP__CONFIG_MAX_NAME]);

/* "unknown key 'x'", with a suggestion when one name is close. */
void fxp__config_unknown_key(const char *name, char *err, size_t len);

/* %.15g when it reads back exactly, else %.17g (which always does). */
void fxp__config_format_double(double d, char *buf, size_t len);

/* The words of an enum entry joined by sep (cut short if len is small). */
void fxp__config_join_words(const struct fxp__config_entry *e, const char *sep,
                            char *buf, size_t len);

/* Parse v for entry e and store it into c. Returns FXP_OK, or FXP_EINVAL /
 * FXP_ERANGE with a message naming the entry in err; c is untouched on
 * failure. */
int fxp__config_apply(struct fxp_config *c, const struct fxp__config_entry *e,
                      const char *v, char *err, size_t len);

/* Record where e's value came from (an fxp_config_origin) and the file
 * line, 0 when there is none. */
void fxp__config_set_origin(struct fxp_config *c,
                            const struct fxp__config_entry *e, int origin,
                            int line);

/* The value of e in c as text in buf; its length, or -1 when it does not
 * fit or the field holds no valid value (a struct written by hand). */
int fxp__config_value_text(const struct fxp_config *c,
                           const struct fxp__config_entry *e, char *buf,
                           size_t len);

#endif
