/*
 * Unit tests: VHDX parent locator
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/locator.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/format.h"
#include "vhdx-test-util.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define HDR     VHDX_LOCATOR_HEADER_SIZE
#define ENT     VHDX_LOCATOR_ENTRY_SIZE

static const char *const usual[][2] = {
    { "parent_linkage", "{83ed0ec3-24c8-49a6-a959-5e4bf1288bfb}" },
    { "parent_linkage2", "{00000000-0000-0000-0000-000000000001}" },
    { "relative_path", ".\\base.vhdx" },
    { "volume_path", "\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}"
      "\\images\\base.vhdx" },
    { "absolute_win32_path", "\\\\?\\d:\\images\\base.vhdx" },
};

static void make_usual(VhdxLocator *loc)
{
    memset(loc, 0, sizeof(*loc));
    loc->type = vhdx_guid_vhdx_locator_type;
    for (size_t i = 0; i < G_N_ELEMENTS(usual); i++) {
        vhdx_locator_set(loc, usual[i][0], usual[i][1]);
    }
}

static void encode_ok(const VhdxLocator *loc, uint8_t **buf, size_t *len)
{
    GError *err = NULL;

    g_assert_cmpint(vhdx_locator_encode(loc, buf, len, &err), ==, 0);
    g_assert_no_error(err);
}

static void assert_loc_equal(const VhdxLocator *a, const VhdxLocator *b)
{
    g_assert_true(vhdx_guid_equal(&a->type, &b->type));
    g_assert_cmpuint(a->count, ==, b->count);
    for (size_t i = 0; i < a->count; i++) {
        g_assert_cmpstr(a->entries[i].key, ==, b->entries[i].key);
        g_assert_cmpstr(a->entries[i].value, ==, b->entries[i].value);
    }
}

static void test_round_trip(void)
{
    VhdxLocator in, out;
    g_autofree uint8_t *buf = NULL;
    size_t len, expect_len = HDR + G_N_ELEMENTS(usual) * ENT;
    GError *err = NULL;

    make_usual(&in);
    encode_ok(&in, &buf, &len);
    for (size_t i = 0; i < G_N_ELEMENTS(usual); i++) {
        expect_len += 2 * (strlen(usual[i][0]) + strlen(usual[i][1]));
    }
    g_assert_cmpuint(len, ==, expect_len);
    g_assert_cmpmem(buf, 16, vhdx_guid_vhdx_locator_type.bytes, 16);
    g_assert_cmpuint(vhdx_ld16(buf + 18), ==, G_N_ELEMENTS(usual));
    /* The first key starts right after the entry table */
    g_assert_cmpuint(vhdx_ld32(buf + HDR), ==,
                     HDR + G_N_ELEMENTS(usual) * ENT);
    g_assert_cmpuint(vhdx_ld16(buf + HDR + 8), ==, 2 * strlen(usual[0][0]));
    g_assert_cmphex(vhdx_ld16(buf + vhdx_ld32(buf + HDR)), ==, 'p');

    g_assert_cmpint(vhdx_locator_decode(buf, len, &out, &err), ==, 0);
    g_assert_no_error(err);
    assert_loc_equal(&in, &out);
    g_assert_cmpstr(vhdx_locator_get(&out, "relative_path"), ==,
                    ".\\base.vhdx");
    vhdx_locator_clear(&in);
    vhdx_locator_clear(&out);
    g_assert_cmpuint(out.count, ==, 0);
    g_assert_null(out.entries);
}

static void test_non_ascii(void)
{
    /* U+00E9 and U+1F600 (a surrogate pair in UTF-16) */
    static const char value[] = "..\\caf\xc3\xa9\\\xf0\x9f\x98\x80.vhdx";
    VhdxLocator in = { 0 }, out;
    g_autofree uint8_t *buf = NULL;
    const uint8_t *v;
    GError *err = NULL;
    size_t len;

    in.type = vhdx_guid_vhdx_locator_type;
    vhdx_locator_set(&in, "relative_path", value);
    vhdx_locator_set(&in, "cl\xc3\xa9", "x");
    encode_ok(&in, &buf, &len);

    v = buf + vhdx_ld32(buf + HDR + 4);
    g_assert_cmpuint(vhdx_ld16(buf + HDR + 10), ==, 2 * 15);
    g_assert_cmphex(vhdx_ld16(v + 2 * 6), ==, 0xe9);
    g_assert_cmphex(vhdx_ld16(v + 2 * 8), ==, 0xd83d);
    g_assert_cmphex(vhdx_ld16(v + 2 * 9), ==, 0xde00);

    g_assert_cmpint(vhdx_locator_decode(buf, len, &out, &err), ==, 0);
    g_assert_no_error(err);
    assert_loc_equal(&in, &out);
    g_assert_cmpstr(vhdx_locator_get(&out, "CL\xc3\xa9"), ==, "x");
    vhdx_locator_clear(&in);
    vhdx_locator_clear(&out);
}

static void test_unaligned(void)
{
    VhdxLocator in, out;
    g_autofree uint8_t *buf = NULL;
    g_autofree uint8_t *shifted = NULL;
    uint8_t *item, *last;
    uint32_t voff, vlen;
    GError *err = NULL;
    size_t len;

    make_usual(&in);
    encode_ok(&in, &buf, &len);

    /* The item at an odd address */
    shifted = g_malloc(len + 2);
    item = shifted + 1;
    memcpy(item, buf, len);
    g_assert_cmpint(vhdx_locator_decode(item, len, &out, &err), ==, 0);
    g_assert_no_error(err);
    assert_loc_equal(&in, &out);
    vhdx_locator_clear(&out);

    /* ... and the last value moved to an odd offset within it */
    last = item + HDR + (in.count - 1) * ENT;
    voff = vhdx_ld32(last + 4);
    vlen = vhdx_ld16(last + 10);
    g_assert_cmpuint(voff + vlen, ==, len);
    memmove(item + voff + 1, item + voff, vlen);
    vhdx_st32(last + 4, voff + 1);
    g_assert_cmpint(vhdx_locator_decode(item, len + 1, &out, &err), ==, 0);
    g_assert_no_error(err);
    assert_loc_equal(&in, &out);
    vhdx_locator_clear(&out);
    vhdx_locator_clear(&in);
}

static void test_get_set(void)
{
    VhdxLocator loc = { 0 };

    g_assert_null(vhdx_locator_get(&loc, "parent_linkage"));
    vhdx_locator_set(&loc, "parent_linkage", "{a}");
    vhdx_locator_set(&loc, "relative_path", "a.vhdx");
    g_assert_cmpstr(vhdx_locator_get(&loc, "PARENT_Linkage"), ==, "{a}");
    vhdx_locator_set(&loc, "Parent_Linkage", "{b}");
    g_assert_cmpuint(loc.count, ==, 2);
    g_assert_cmpstr(loc.entries[0].key, ==, "parent_linkage");
    g_assert_cmpstr(vhdx_locator_get(&loc, "parent_linkage"), ==, "{b}");
    /* Setting a value from the entry itself is safe */
    vhdx_locator_set(&loc, "relative_path", loc.entries[1].value);
    g_assert_cmpstr(vhdx_locator_get(&loc, "relative_path"), ==, "a.vhdx");
    g_assert_null(vhdx_locator_get(&loc, "absolute_win32_path"));
    vhdx_locator_clear(&loc);
    g_assert_cmpuint(loc.count, ==, 0);
}

static void test_empty(void)
{
    VhdxLocator in = { 0 }, out;
    g_autofree uint8_t *buf = NULL;
    GError *err = NULL;
    size_t len;

    in.type = vhdx_guid_vhdx_locator_type;
    encode_ok(&in, &buf, &len);
    g_assert_cmpuint(len, ==, HDR);
    g_assert_cmpint(vhdx_locator_decode(buf, len, &out, &err), ==, 0);
    g_assert_cmpuint(out.count, ==, 0);
    vhdx_locator_clear(&out);
}

/* A one-entry item: key "k" at 32, value "v" at 34 */
static uint8_t *one_entry(size_t *len)
{
    uint8_t *buf = g_malloc0(HDR + ENT + 4);

    memcpy(buf, vhdx_guid_vhdx_locator_type.bytes, 16);
    vhdx_st16(buf + 18, 1);
    vhdx_st32(buf + HDR, HDR + ENT);
    vhdx_st32(buf + HDR + 4, HDR + ENT + 2);
    vhdx_st16(buf + HDR + 8, 2);
    vhdx_st16(buf + HDR + 10, 2);
    vhdx_st16(buf + HDR + ENT, 'k');
    vhdx_st16(buf + HDR + ENT + 2, 'v');
    *len = HDR + ENT + 4;
    return buf;
}

typedef struct Corruption {
    const char *name;
    size_t offset;      /* into the one-entry item */
    int width;
    uint32_t value;
    const char *needle;
} Corruption;

static void test_corruptions(void)
{
    static const Corruption cases[] = {
        { "count", 18, 2, 2, "KeyValueCount 2 needs 44 bytes" },
        { "count max", 18, 2, 0xffff, "KeyValueCount 65535" },
        { "key offset zero", HDR, 4, 0, "entry 0: KeyOffset is zero" },
        { "key offset out", HDR, 4, HDR + ENT + 3,
          "KeyOffset 0x23 plus KeyLength 2 extends beyond the 36-byte" },
        { "key offset huge", HDR, 4, UINT32_MAX, "KeyOffset 0xffffffff" },
        { "value offset zero", HDR + 4, 4, 0, "ValueOffset is zero" },
        { "value offset out", HDR + 4, 4, HDR + ENT + 4,
          "ValueOffset 0x24 plus ValueLength" },
        { "key length zero", HDR + 8, 2, 0, "KeyLength is zero" },
        { "key length odd", HDR + 8, 2, 1, "KeyLength 1 is odd" },
        { "key length long", HDR + 8, 2, 6,
          "keys and values claim 8 bytes but the item has 4" },
        { "value length zero", HDR + 10, 2, 0, "ValueLength is zero" },
        { "value length odd", HDR + 10, 2, 1, "ValueLength 1 is odd" },
        { "key NUL", HDR + ENT, 2, 0, "key contains a NUL" },
        { "value NUL", HDR + ENT + 2, 2, 0, "value contains a NUL" },
        { "lone high surrogate", HDR + ENT + 2, 2, 0xd800,
          "value is not valid UTF-16" },
        { "lone low surrogate", HDR + ENT, 2, 0xdc00,
          "key is not valid UTF-16" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        size_t len;
        g_autofree uint8_t *buf = one_entry(&len);
        VhdxLocator loc;
        GError *err = NULL;
        int ret;

        if (cases[i].width == 2) {
            vhdx_st16(buf + cases[i].offset, cases[i].value);
        } else {
            vhdx_st32(buf + cases[i].offset, cases[i].value);
        }
        memset(&loc, 0xaa, sizeof(loc));
        ret = vhdx_locator_decode(buf, len, &loc, &err);
        assert_vhdx_error(err, ret, EINVAL, cases[i].needle);
        g_test_message("%s: %s", cases[i].name, err->message);
        g_assert_cmpuint(loc.count, ==, 0);
        g_assert_null(loc.entries);
        g_error_free(err);
    }
}

static void test_short_item(void)
{
    uint8_t buf[HDR] = { 0 };
    VhdxLocator loc;
    GError *err = NULL;
    int ret;

    ret = vhdx_locator_decode(buf, HDR - 1, &loc, &err);
    assert_vhdx_error(err, ret, EINVAL, "shorter than its 20-byte header");
    g_clear_error(&err);
}

static void test_duplicate_keys(void)
{
    VhdxLocator in = { 0 }, loc;
    g_autofree uint8_t *buf = NULL;
    uint8_t *none = (uint8_t *)&in;
    GError *err = NULL;
    size_t len;
    int ret;

    /* Keys differing only in case are refused on encode */
    vhdx_locator_set(&in, "relative_path", "a");
    vhdx_locator_set(&in, "other", "b");
    g_free(in.entries[1].key);
    in.entries[1].key = g_strdup("RELATIVE_PATH");
    ret = vhdx_locator_encode(&in, &none, &len, &err);
    assert_vhdx_error(err, ret, EINVAL, "entry 1: duplicate key");
    g_clear_error(&err);
    g_assert_null(none);
    vhdx_locator_clear(&in);

    in.type = vhdx_guid_vhdx_locator_type;
    vhdx_locator_set(&in, "k", "v");
    vhdx_locator_set(&in, "j", "w");
    encode_ok(&in, &buf, &len);
    vhdx_locator_clear(&in);

    /* ... and on decode: rename "j" to "K" */
    vhdx_st16(buf + vhdx_ld32(buf + HDR + ENT), 'K');
    ret = vhdx_locator_decode(buf, len, &loc, &err);
    assert_vhdx_error(err, ret, EINVAL, "entry 1: duplicate key \"K\"");
    g_clear_error(&err);

    /* Two entries sharing the same key bytes */
    vhdx_st32(buf + HDR + ENT, vhdx_ld32(buf + HDR));
    ret = vhdx_locator_decode(buf, len, &loc, &err);
    assert_vhdx_error(err, ret, EINVAL, "entry 1: duplicate key \"k\"");
    g_clear_error(&err);
}

/*
 * Hostile items: entries whose strings share bytes are refused before
 * anything is decoded, and a locator with tens of thousands of distinct
 * keys decodes with its duplicate found (the check is linear).
 */
static void test_shared_strings(void)
{
    const uint32_t count = 10000;
    const uint32_t units = 16;
    size_t strings = HDR + (size_t)count * ENT;
    size_t len = strings + (size_t)count * 2 * units * 2;
    g_autofree uint8_t *buf = g_malloc0(len);
    VhdxLocator loc;
    GError *err = NULL;
    int ret;

    memcpy(buf, vhdx_guid_vhdx_locator_type.bytes, 16);
    vhdx_st16(buf + 18, count);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *e = buf + HDR + (size_t)i * ENT;
        size_t key = strings + (size_t)i * 4 * units;
        g_autofree char *text = g_strdup_printf("%0*u", units, i);

        for (uint32_t u = 0; u < units; u++) {
            vhdx_st16(buf + key + 2 * u, text[u]);
            vhdx_st16(buf + key + 2 * units + 2 * u, 'v');
        }
        vhdx_st32(e, key);
        vhdx_st32(e + 4, key + 2 * units);
        vhdx_st16(e + 8, 2 * units);
        vhdx_st16(e + 10, 2 * units);
    }
    g_assert_cmpint(vhdx_locator_decode(buf, len, &loc, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(loc.count, ==, count);
    vhdx_locator_clear(&loc);

    /* The last key made equal to the first one */
    vhdx_st32(buf + HDR + (size_t)(count - 1) * ENT, strings);
    ret = vhdx_locator_decode(buf, len, &loc, &err);
    assert_vhdx_error(err, ret, EINVAL, "entry 9999: duplicate key");
    g_clear_error(&err);

    /* Every value pointing at one string longer than its share */
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *e = buf + HDR + (size_t)i * ENT;

        vhdx_st32(e + 4, strings);
        vhdx_st16(e + 10, 0xfffe);
    }
    ret = vhdx_locator_decode(buf, len, &loc, &err);
    assert_vhdx_error(err, ret, EINVAL, "keys and values claim");
    g_assert_nonnull(strstr(err->message, "bytes but the item has"));
    g_clear_error(&err);
    g_assert_cmpuint(loc.count, ==, 0);
}

static void test_encode_rejects(void)
{
    VhdxLocator in = { 0 };
    uint8_t *buf = (uint8_t *)&in;
    g_autofree char *huge = g_strnfill(32768, 'x');
    GError *err = NULL;
    size_t len = 1;
    int ret;

    vhdx_locator_set(&in, "", "v");
    ret = vhdx_locator_encode(&in, &buf, &len, &err);
    assert_vhdx_error(err, ret, EINVAL, "entry 0: key is empty");
    g_clear_error(&err);
    g_assert_null(buf);
    g_assert_cmpuint(len, ==, 0);
    vhdx_locator_clear(&in);

    vhdx_locator_set(&in, "k", "\xc3\x28");
    ret = vhdx_locator_encode(&in, &buf, &len, &err);
    assert_vhdx_error(err, ret, EINVAL, "entry 0: value is not valid UTF-8");
    g_clear_error(&err);
    vhdx_locator_clear(&in);

    vhdx_locator_set(&in, "k", huge);
    ret = vhdx_locator_encode(&in, &buf, &len, &err);
    assert_vhdx_error(err, ret, EINVAL, "does not fit ValueLength");
    g_clear_error(&err);
    vhdx_locator_clear(&in);

    /* 40 values of 32767 units: each fits, together over 1 MiB */
    huge[32767] = '\0';
    for (int i = 0; i < 40; i++) {
        g_autofree char *key = g_strdup_printf("key%d", i);

        vhdx_locator_set(&in, key, huge);
    }
    ret = vhdx_locator_encode(&in, &buf, &len, &err);
    assert_vhdx_error(err, ret, EINVAL, "exceed the 1 MiB");
    g_clear_error(&err);
    vhdx_locator_clear(&in);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/locator/round-trip", test_round_trip);
    g_test_add_func("/locator/non-ascii", test_non_ascii);
    g_test_add_func("/locator/unaligned", test_unaligned);
    g_test_add_func("/locator/get-set", test_get_set);
    g_test_add_func("/locator/empty", test_empty);
    g_test_add_func("/locator/corruptions", test_corruptions);
    g_test_add_func("/locator/short-item", test_short_item);
    g_test_add_func("/locator/duplicate-keys", test_duplicate_keys);
    g_test_add_func("/locator/shared-strings", test_shared_strings);
    g_test_add_func("/locator/encode-rejects", test_encode_rejects);
    return g_test_run();
}
