/*
 * VHDX parent locator: UTF-16LE key/value pairs naming a parent
 *
 * The item is a 20-byte header (locator type GUID, key/value count), a
 * table of 12-byte entries, and the strings they point at.  Strings are
 * UTF-16LE without a terminator; in memory we keep them as UTF-8.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/locator.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/format.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Header fields */
#define LOC_TYPE            0
#define LOC_COUNT           18

/* Entry fields */
#define LOCE_KEY_OFFSET     0
#define LOCE_VALUE_OFFSET   4
#define LOCE_KEY_LENGTH     8
#define LOCE_VALUE_LENGTH   10

/* Lengths are u16 byte counts of UTF-16 code units */
#define LOC_STRING_MAX      0xfffe

/* Field names of a key or a value, for error messages */
typedef struct LocatorString {
    const char *what;
    const char *offset_field;
    const char *length_field;
} LocatorString;

static const LocatorString loc_key = { "key", "KeyOffset", "KeyLength" };
static const LocatorString loc_value = {
    "value", "ValueOffset", "ValueLength"
};

static int locator_string_validate(size_t len, uint32_t i,
                                   const LocatorString *ls, uint32_t off,
                                   uint16_t slen, GError **errp)
{
    if (slen == 0) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator entry %" PRIu32
                          ": %s is zero", i, ls->length_field);
    }
    if (slen % 2) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator entry %" PRIu32
                          ": %s %u is odd", i, ls->length_field, slen);
    }
    if (off == 0) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator entry %" PRIu32
                          ": %s is zero", i, ls->offset_field);
    }
    if ((uint64_t)off + slen > len) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator entry %" PRIu32
                          ": %s 0x%" PRIx32 " plus %s %u extends beyond "
                          "the %zu-byte item", i, ls->offset_field, off,
                          ls->length_field, slen, len);
    }
    return 0;
}

/*
 * Copies the string into an aligned buffer (the item need not be, and
 * offsets may be odd), decoding each unit as little-endian, then converts
 * it.  The spec forbids NUL characters inside the strings.
 */
static char *locator_string_decode(const uint8_t *buf, size_t len,
                                   uint32_t i, const LocatorString *ls,
                                   uint32_t off, uint16_t slen,
                                   GError **errp)
{
    g_autofree gunichar2 *units = NULL;
    g_autoptr(GError) conv_err = NULL;
    size_t n = slen / 2;
    char *str;

    if (locator_string_validate(len, i, ls, off, slen, errp) < 0) {
        return NULL;
    }
    units = g_new(gunichar2, n);
    for (size_t u = 0; u < n; u++) {
        units[u] = vhdx_ld16(buf + off + 2 * u);
        if (units[u] == 0) {
            vhdx_error(errp, EINVAL, "VHDX parent locator entry %" PRIu32
                       ": %s contains a NUL character", i, ls->what);
            return NULL;
        }
    }
    str = g_utf16_to_utf8(units, n, NULL, NULL, &conv_err);
    if (!str) {
        vhdx_error(errp, EINVAL, "VHDX parent locator entry %" PRIu32
                   ": %s is not valid UTF-16: %s", i, ls->what,
                   conv_err->message);
    }
    return str;
}

static int locator_entry_decode(const uint8_t *buf, size_t len, uint32_t i,
                                VhdxLocatorEntry *e, GError **errp)
{
    const uint8_t *p = buf + VHDX_LOCATOR_HEADER_SIZE +
                       (size_t)i * VHDX_LOCATOR_ENTRY_SIZE;

    e->key = locator_string_decode(buf, len, i, &loc_key,
                                   vhdx_ld32(p + LOCE_KEY_OFFSET),
                                   vhdx_ld16(p + LOCE_KEY_LENGTH), errp);
    if (!e->key) {
        return -EINVAL;
    }
    e->value = locator_string_decode(buf, len, i, &loc_value,
                                     vhdx_ld32(p + LOCE_VALUE_OFFSET),
                                     vhdx_ld16(p + LOCE_VALUE_LENGTH),
                                     errp);
    if (!e->value) {
        return -EINVAL;
    }
    return 0;
}

/*
 * The index of @key among the first @count entries, or -1.  Keys compare
 * ASCII case-insensitively (the spec's keys are ASCII).  The spec calls
 * keys case sensitive, but since lookups ignore case, two keys differing
 * only in case would make a lookup ambiguous; the decoder and encoder
 * therefore treat them as duplicates.
 */
static long locator_find(const VhdxLocatorEntry *entries, size_t count,
                         const char *key)
{
    for (size_t i = 0; i < count; i++) {
        if (g_ascii_strcasecmp(entries[i].key, key) == 0) {
            return i;
        }
    }
    return -1;
}

/*
 * The index of the first entry whose key an earlier entry already has
 * (compared as locator_find does), or -1.  A hash set keeps this linear:
 * an item can hold tens of thousands of entries.
 */
static long locator_find_duplicate(const VhdxLocatorEntry *entries,
                                   size_t count)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash,
                                                       g_str_equal,
                                                       g_free, NULL);

    for (size_t i = 0; i < count; i++) {
        char *folded = g_ascii_strdown(entries[i].key, -1);

        if (!g_hash_table_add(seen, folded)) {
            return i;
        }
    }
    return -1;
}

static int locator_validate_header(const uint8_t *buf, size_t len,
                                   uint32_t *count, GError **errp)
{
    uint64_t need;

    if (len < VHDX_LOCATOR_HEADER_SIZE) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator: the %zu-byte "
                          "item is shorter than its %d-byte header", len,
                          VHDX_LOCATOR_HEADER_SIZE);
    }
    *count = vhdx_ld16(buf + LOC_COUNT);
    need = VHDX_LOCATOR_HEADER_SIZE +
           (uint64_t)*count * VHDX_LOCATOR_ENTRY_SIZE;
    if (need > len) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator: KeyValueCount "
                          "%" PRIu32 " needs %" PRIu64 " bytes of entries "
                          "but the item has %zu", *count, need, len);
    }
    return 0;
}

/*
 * Strings may not claim more bytes, in all, than the item holds after its
 * entry table.  The spec has no such rule, but every writer stores each
 * string once; without it, 65,535 entries all pointing at one 64 KiB
 * string would decode into gigabytes.  With it, decoding costs at most a
 * small multiple of the item's 1 MiB.
 */
static int locator_validate_string_total(const uint8_t *buf, size_t len,
                                         uint32_t count, GError **errp)
{
    uint64_t room = len - VHDX_LOCATOR_HEADER_SIZE -
                    (uint64_t)count * VHDX_LOCATOR_ENTRY_SIZE;
    uint64_t total = 0;

    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *p = buf + VHDX_LOCATOR_HEADER_SIZE +
                           (size_t)i * VHDX_LOCATOR_ENTRY_SIZE;

        total += vhdx_ld16(p + LOCE_KEY_LENGTH) +
                 vhdx_ld16(p + LOCE_VALUE_LENGTH);
    }
    if (total > room) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator: keys and "
                          "values claim %" PRIu64 " bytes but the item has "
                          "%" PRIu64 " after its entries\n"
                          "Each string must have bytes of its own; strings "
                          "that share bytes are refused.", total, room);
    }
    return 0;
}

int vhdx_locator_decode(const uint8_t *buf, size_t len, VhdxLocator *loc,
                        GError **errp)
{
    VhdxLocator tmp = { 0 };
    uint32_t count = 0;
    long dup;
    int ret;

    memset(loc, 0, sizeof(*loc));
    ret = locator_validate_header(buf, len, &count, errp);
    if (ret == 0) {
        ret = locator_validate_string_total(buf, len, count, errp);
    }
    if (ret < 0) {
        return ret;
    }
    memcpy(tmp.type.bytes, buf + LOC_TYPE, 16);
    /* count is bounded by the item length, checked just above */
    tmp.entries = g_new0(VhdxLocatorEntry, count ? count : 1);
    for (uint32_t i = 0; i < count; i++) {
        ret = locator_entry_decode(buf, len, i, &tmp.entries[i], errp);
        tmp.count = i + 1;
        if (ret < 0) {
            vhdx_locator_clear(&tmp);
            return ret;
        }
    }
    dup = locator_find_duplicate(tmp.entries, tmp.count);
    if (dup >= 0) {
        ret = vhdx_error(errp, EINVAL, "VHDX parent locator entry %ld: "
                         "duplicate key \"%s\"", dup, tmp.entries[dup].key);
        vhdx_locator_clear(&tmp);
        return ret;
    }
    *loc = tmp;
    return 0;
}

/* One string converted for encoding */
typedef struct EncodedString {
    gunichar2 *units;
    uint16_t bytes;
} EncodedString;

static int locator_string_encode(const char *str, size_t i,
                                 const LocatorString *ls, EncodedString *es,
                                 GError **errp)
{
    g_autoptr(GError) conv_err = NULL;
    glong n = 0;

    es->units = g_utf8_to_utf16(str, -1, NULL, &n, &conv_err);
    if (!es->units) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator entry %zu: %s "
                          "is not valid UTF-8: %s", i, ls->what,
                          conv_err->message);
    }
    if (n == 0) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator entry %zu: %s "
                          "is empty", i, ls->what);
    }
    if (n * 2 > LOC_STRING_MAX) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator entry %zu: %s "
                          "of %ld UTF-16 units does not fit %s", i,
                          ls->what, n, ls->length_field);
    }
    es->bytes = n * 2;
    return 0;
}

static void encoded_strings_free(EncodedString *es, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g_free(es[i].units);
    }
    g_free(es);
}

/* Converts every key and value; es[2 * i] is key i, es[2 * i + 1] value i */
static int locator_strings_encode(const VhdxLocator *loc, EncodedString *es,
                                  uint64_t *total, GError **errp)
{
    long dup = locator_find_duplicate(loc->entries, loc->count);
    int ret;

    *total = 0;
    if (dup >= 0) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator entry %ld: "
                          "duplicate key \"%s\"", dup,
                          loc->entries[dup].key);
    }
    *total = VHDX_LOCATOR_HEADER_SIZE +
             (uint64_t)loc->count * VHDX_LOCATOR_ENTRY_SIZE;
    for (size_t i = 0; i < loc->count; i++) {
        const VhdxLocatorEntry *e = &loc->entries[i];

        ret = locator_string_encode(e->key, i, &loc_key, &es[2 * i], errp);
        if (ret == 0) {
            ret = locator_string_encode(e->value, i, &loc_value,
                                        &es[2 * i + 1], errp);
        }
        if (ret < 0) {
            return ret;
        }
        *total += es[2 * i].bytes + es[2 * i + 1].bytes;
    }
    if (*total > VHDX_METADATA_ITEM_MAX) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator: %" PRIu64
                          " bytes exceed the 1 MiB a metadata item can "
                          "hold", *total);
    }
    return 0;
}

static void locator_put_string(uint8_t *out, const EncodedString *es)
{
    for (size_t u = 0; u < es->bytes / 2u; u++) {
        vhdx_st16(out + 2 * u, es->units[u]);
    }
}

/* Header, the entry table, then every key followed by its value */
static void locator_layout(const VhdxLocator *loc, const EncodedString *es,
                           uint8_t *out)
{
    uint32_t pos = VHDX_LOCATOR_HEADER_SIZE +
                   loc->count * VHDX_LOCATOR_ENTRY_SIZE;

    memcpy(out + LOC_TYPE, loc->type.bytes, 16);
    vhdx_st16(out + LOC_COUNT, loc->count);
    for (size_t i = 0; i < loc->count; i++) {
        uint8_t *p = out + VHDX_LOCATOR_HEADER_SIZE +
                     i * VHDX_LOCATOR_ENTRY_SIZE;
        const EncodedString *key = &es[2 * i];
        const EncodedString *value = &es[2 * i + 1];

        vhdx_st32(p + LOCE_KEY_OFFSET, pos);
        vhdx_st16(p + LOCE_KEY_LENGTH, key->bytes);
        locator_put_string(out + pos, key);
        pos += key->bytes;
        vhdx_st32(p + LOCE_VALUE_OFFSET, pos);
        vhdx_st16(p + LOCE_VALUE_LENGTH, value->bytes);
        locator_put_string(out + pos, value);
        pos += value->bytes;
    }
}

int vhdx_locator_encode(const VhdxLocator *loc, uint8_t **buf, size_t *len,
                        GError **errp)
{
    EncodedString *es;
    uint64_t total;
    int ret;

    *buf = NULL;
    *len = 0;
    if (loc->count > UINT16_MAX) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator: %zu entries "
                          "do not fit KeyValueCount", loc->count);
    }
    es = g_new0(EncodedString, 2 * loc->count + 1);
    ret = locator_strings_encode(loc, es, &total, errp);
    if (ret == 0) {
        *buf = g_malloc0(total);
        *len = total;
        locator_layout(loc, es, *buf);
    }
    encoded_strings_free(es, 2 * loc->count);
    return ret;
}

const char *vhdx_locator_get(const VhdxLocator *loc, const char *key)
{
    long i = locator_find(loc->entries, loc->count, key);

    return i < 0 ? NULL : loc->entries[i].value;
}

void vhdx_locator_set(VhdxLocator *loc, const char *key, const char *value)
{
    long i = locator_find(loc->entries, loc->count, key);
    char *copy = g_strdup(value);

    if (i >= 0) {
        g_free(loc->entries[i].value);
        loc->entries[i].value = copy;
        return;
    }
    loc->entries = g_renew(VhdxLocatorEntry, loc->entries, loc->count + 1);
    loc->entries[loc->count].key = g_strdup(key);
    loc->entries[loc->count].value = copy;
    loc->count++;
}

void vhdx_locator_clear(VhdxLocator *loc)
{
    for (size_t i = 0; i < loc->count; i++) {
        g_free(loc->entries[i].key);
        g_free(loc->entries[i].value);
    }
    g_free(loc->entries);
    memset(loc, 0, sizeof(*loc));
}
