/*
 * symbol.c - symbol normalisation and the intern table (symbol.h).
 *
 * Design notes
 *
 *  1. Ids are dense: the n-th distinct normalised name interned gets id n-1.
 *     An id is never reused or moved, so names[id] is stable for the life
 *     of the table and fxp_symtab_name() can hand out a pointer into it.
 *  2. names[] holds every name zero-padded to FXP_SYMBOL_MAX bytes, so two
 *     names compare with one fixed-size memcmp and hash as whole words.
 *  3. slots[] is an open-addressing hash (linear probing) of id + 1 (0 =
 *     empty), sized to a power of two >= 2 * max_symbols: the load factor
 *     stays <= 1/2 and there is always an empty slot, so every probe ends.
 *     Nothing is ever deleted, so no tombstones are needed.
 *  4. cache[] maps RAW spellings ("EUR/USD", "C:EURUSD") to ids, direct
 *     mapped. The CSV reader interns once per line, usually one of a few
 *     spellings, and a cache hit skips normalisation and the main probe.
 *     An entry is written only after a successful intern, so a hit always
 *     yields a valid id; a collision merely evicts.
 */
#include <stdlib.h>
#include <string.h>

#include "fxpipe/err.h"
#include "fxpipe/symbol.h"

/* Longest raw spelling accepted: separators may pad a name, but not
 * without end. */
#define RAW_MAX 64
/* Letters and digits of a normalised name, and the minimum. */
#define NAME_MAX_CHARS 12
#define NAME_MIN_CHARS 6
/* Raw-spelling cache: entries (a power of two) and key bytes. */
#define CACHE_SIZE 256
#define CACHE_KEY  24

struct cache_ent {
    uint64_t key[CACHE_KEY / 8]; /* the spelling, zero-padded */
    uint32_t id;                 /* its id */
    uint32_t len;                /* spelling length; 0 = empty entry */
};

struct fxp_symtab {
    uint32_t max;                       /* capacity in names */
    uint32_t count;                     /* names interned */
    uint32_t mask;                      /* slots - 1 */
    uint32_t *slots;                    /* id + 1, 0 = empty (note 3) */
    char (*names)[FXP_SYMBOL_MAX];      /* by id, zero-padded (note 2) */
    struct cache_ent cache[CACHE_SIZE]; /* raw spelling -> id (note 4) */
};

/* A 64-bit mix of three words. Not cryptographic: the inputs are a
 * handful of market symbols. */
static uint64_t hash_words(const uint64_t k[3], size_t len)
{
    uint64_t h = (k[0] * 0x9E3779B97F4A7C15ULL) ^
                 (k[1] * 0xC2B2AE3D27D4EB4FULL) ^
                 (k[2] * 0x165667B19E3779F9ULL) ^ (uint64_t)len;

    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return h;
}

/* Up to 24 bytes of s, zero-padded into three words. Built with shifts
 * rather than memcpy: reading a word back right after a short memcpy into
 * it stalls store forwarding, which showed up as most of the cost of a
 * cache hit. */
static void pack(uint64_t k[3], const char *s, size_t len)
{
    k[0] = k[1] = k[2] = 0;
    for (size_t i = 0; i < len; i++)
        k[i >> 3] |= (uint64_t)(unsigned char)s[i] << ((i & 7) * 8);
}

static int is_sep(unsigned char c)
{
    return c == '/' || c == '-' || c == '_' || c == '.' || c == ' ';
}

static unsigned char upper(unsigned char c)
{
    return (c >= 'a' && c <= 'z') ? (unsigned char)(c - ('a' - 'A')) : c;
}

/* Length of a "C:", "X:" or "FX:" prefix (any case) at s, else 0. */
static size_t prefix_len(const char *s, size_t len)
{
    if (len >= 2 && s[1] == ':' &&
        (upper((unsigned char)s[0]) == 'C' ||
         upper((unsigned char)s[0]) == 'X'))
        return 2;
    if (len >= 3 && s[2] == ':' && upper((unsigned char)s[0]) == 'F' &&
        upper((unsigned char)s[1]) == 'X')
        return 3;
    return 0;
}

int fxp_symbol_normalize(const char *s, size_t len, char *out)
{
    size_t n = 0;

    memset(out, 0, FXP_SYMBOL_MAX);
    if (s == NULL || len == 0 || len > RAW_MAX)
        return FXP_EINVAL;
    for (size_t i = prefix_len(s, len); i < len; i++) {
        unsigned char c = upper((unsigned char)s[i]);

        if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            if (n == NAME_MAX_CHARS)
                goto bad;
            out[n++] = (char)c;
        } else if (!is_sep(c)) {
            goto bad; /* ':' elsewhere, non-ASCII, control bytes, ... */
        }
    }
    if (n < NAME_MIN_CHARS || out[0] < 'A' || out[0] > 'Z')
        goto bad;
    return FXP_OK;
bad:
    memset(out, 0, FXP_SYMBOL_MAX);
    return FXP_EINVAL;
}

struct fxp_symtab *fxp_symtab_new(uint32_t max_symbols)
{
    struct fxp_symtab *st;
    uint64_t n_slots = 2;

    /* Note 3: at least twice the capacity, so one slot is always free. */
    while (n_slots < 2 * (uint64_t)max_symbols)
        n_slots *= 2;
    if (n_slots > UINT32_MAX)
        return NULL;
    st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    st->max = max_symbols;
    st->mask = (uint32_t)(n_slots - 1);
    st->slots = calloc((size_t)n_slots, sizeof *st->slots);
    st->names = calloc(max_symbols ? max_symbols : 1, sizeof *st->names);
    if (st->slots == NULL || st->names == NULL) {
        fxp_symtab_free(st);
        return NULL;
    }
    return st;
}

void fxp_symtab_free(struct fxp_symtab *st)
{
    if (st == NULL)
        return;
    free(st->slots);
    free(st->names);
    free(st);
}

/* Find a normalised, zero-padded name. Returns its slot index; the slot is
 * empty (0) when the name is absent, and is where it would go. */
static uint32_t probe(const struct fxp_symtab *st,
                      const char name[FXP_SYMBOL_MAX])
{
    uint64_t k[3];
    uint32_t i;

    pack(k, name, FXP_SYMBOL_MAX);
    i = (uint32_t)hash_words(k, FXP_SYMBOL_MAX) & st->mask;

    while (st->slots[i] != 0 &&
           memcmp(st->names[st->slots[i] - 1], name, FXP_SYMBOL_MAX) != 0)
        i = (i + 1) & st->mask;
    return i;
}

int fxp_symtab_intern(struct fxp_symtab *st, const char *s, size_t len,
                      uint32_t *id)
{
    struct cache_ent *ce = NULL;
    char name[FXP_SYMBOL_MAX];
    uint64_t k[3];
    uint32_t slot;
    int rc;

    if (len > 0 && len <= CACHE_KEY) {
        pack(k, s, len);
        ce = &st->cache[hash_words(k, len) & (CACHE_SIZE - 1)];
        if (ce->len == len && ce->key[0] == k[0] && ce->key[1] == k[1] &&
            ce->key[2] == k[2]) {
            *id = ce->id;
            return FXP_OK;
        }
    }
    rc = fxp_symbol_normalize(s, len, name);
    if (rc != FXP_OK)
        return rc;
    slot = probe(st, name);
    if (st->slots[slot] == 0) {
        if (st->count >= st->max)
            return FXP_ETOOLARGE;
        memcpy(st->names[st->count], name, FXP_SYMBOL_MAX);
        st->slots[slot] = ++st->count;
    }
    *id = st->slots[slot] - 1;
    if (ce != NULL) {
        memcpy(ce->key, k, sizeof ce->key);
        ce->id = *id;
        ce->len = (uint32_t)len;
    }
    return FXP_OK;
}

int fxp_symtab_find(const struct fxp_symtab *st, const char *name, uint32_t *id)
{
    char key[FXP_SYMBOL_MAX];
    size_t len = strnlen(name, FXP_SYMBOL_MAX);
    uint32_t slot;

    if (len == FXP_SYMBOL_MAX)
        return FXP_ENOENT; /* longer than any interned name */
    memset(key, 0, sizeof key);
    memcpy(key, name, len);
    slot = probe(st, key);
    if (st->slots[slot] == 0)
        return FXP_ENOENT;
    *id = st->slots[slot] - 1;
    return FXP_OK;
}

const char *fxp_symtab_name(const struct fxp_symtab *st, uint32_t id)
{
    return id < st->count ? st->names[id] : NULL;
}

uint32_t fxp_symtab_count(const struct fxp_symtab *st)
{
    return st->count;
}
