/*
 * Unit tests: VHDX region table
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/region.h"
#include "vhdx/crc32c.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/format.h"
#include "vhdx-memio.h"
#include "vhdx-test-util.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define FILE_SIZE (8 * VHDX_MiB)

static const VhdxRegions default_regions = {
    .bat_offset = 2 * VHDX_MiB,
    .bat_length = VHDX_MiB,
    .metadata_offset = 3 * VHDX_MiB,
    .metadata_length = VHDX_MiB,
};

/* An unknown region GUID for tests */
static const VhdxGuid other_guid =
    VHDX_GUID_INIT(0x01234567, 0x89ab, 0xcdef,
                   0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef);

static void assert_regions(const VhdxRegions *r, const VhdxRegions *expect)
{
    g_assert_cmphex(r->bat_offset, ==, expect->bat_offset);
    g_assert_cmphex(r->bat_length, ==, expect->bat_length);
    g_assert_cmphex(r->metadata_offset, ==, expect->metadata_offset);
    g_assert_cmphex(r->metadata_length, ==, expect->metadata_length);
}

static uint8_t *table_new(void)
{
    uint8_t *buf = g_malloc(VHDX_REGION_TABLE_SIZE);

    vhdx_region_table_encode(&default_regions, buf);
    return buf;
}

static void reseal(uint8_t *buf)
{
    vhdx_checksum_store(buf, VHDX_REGION_TABLE_SIZE, 4);
}

static uint8_t *entry(uint8_t *buf, uint32_t i)
{
    return buf + VHDX_REGION_HEADER_SIZE + i * VHDX_REGION_ENTRY_SIZE;
}

/* Appends an entry and re-seals the table */
static void add_entry(uint8_t *buf, const VhdxGuid *guid, uint64_t offset,
                      uint32_t length, uint32_t flags)
{
    uint32_t n = vhdx_ld32(buf + 8);
    uint8_t *p = entry(buf, n);

    memcpy(p, guid->bytes, 16);
    vhdx_st64(p + 16, offset);
    vhdx_st32(p + 24, length);
    vhdx_st32(p + 28, flags);
    vhdx_st32(buf + 8, n + 1);
    reseal(buf);
}

static void decode_fails(uint8_t *buf, int errnum, const char *needle)
{
    VhdxRegions r = { 0 };
    GError *err = NULL;
    int ret;

    ret = vhdx_region_table_decode(buf, &r, &err);
    assert_vhdx_error(err, ret, errnum, needle);
    g_assert_cmpuint(r.bat_offset, ==, 0);
    g_error_free(err);
}

static void test_encode_decode(void)
{
    g_autofree uint8_t *buf = table_new();
    VhdxRegions r;
    GError *err = NULL;

    g_assert_cmpmem(buf, 4, "regi", 4);
    g_assert_cmpuint(vhdx_ld32(buf + 8), ==, 2);
    g_assert_cmphex(vhdx_ld32(buf + 4), ==,
                    vhdx_checksum(buf, VHDX_REGION_TABLE_SIZE, 4));
    g_assert_true(vhdx_guid_equal((VhdxGuid *)entry(buf, 0),
                                  &vhdx_guid_bat_region));
    g_assert_cmpuint(vhdx_ld32(entry(buf, 0) + 28), ==, 1);
    g_assert_cmpuint(vhdx_ld32(entry(buf, 1) + 28), ==, 1);

    g_assert_cmpint(vhdx_region_table_decode(buf, &r, &err), ==, 0);
    g_assert_no_error(err);
    assert_regions(&r, &default_regions);
}

static void test_decode_optional_unknown(void)
{
    g_autofree uint8_t *buf = table_new();
    VhdxRegions r;
    GError *err = NULL;

    /* Unknown, not required: skipped; reserved flag bits ignored */
    add_entry(buf, &other_guid, 5 * VHDX_MiB, VHDX_MiB, 0xfffffffe);
    g_assert_cmpint(vhdx_region_table_decode(buf, &r, &err), ==, 0);
    g_assert_no_error(err);
    assert_regions(&r, &default_regions);
}

static void test_decode_required_unknown(void)
{
    g_autofree uint8_t *buf = table_new();

    add_entry(buf, &other_guid, 5 * VHDX_MiB, VHDX_MiB, 1);
    decode_fails(buf, ENOTSUP, "01234567-89ab-cdef-0123-456789abcdef");
}

static void test_decode_integrity(void)
{
    g_autofree uint8_t *buf = table_new();

    buf[30000] ^= 1;
    decode_fails(buf, EINVAL, "Checksum");
    buf[30000] ^= 1;
    memcpy(buf, "REGI", 4);
    reseal(buf);
    decode_fails(buf, EINVAL, "Signature");
}

static void test_decode_entry_count(void)
{
    g_autofree uint8_t *buf = table_new();

    vhdx_st32(buf + 8, 2048);
    reseal(buf);
    decode_fails(buf, EINVAL, "EntryCount 2048");
    vhdx_st32(buf + 8, UINT32_MAX);
    reseal(buf);
    decode_fails(buf, EINVAL, "EntryCount 4294967295");
}

typedef struct BadEntry {
    const char *name;
    uint64_t offset;
    uint32_t length;
    const char *needle;
} BadEntry;

static void test_decode_bad_placement(void)
{
    static const BadEntry cases[] = {
        { "unaligned offset", 5 * VHDX_MiB + 512, VHDX_MiB,
          "entry 2: FileOffset 0x500200 is not a multiple of 1 MiB" },
        { "offset in header", 0, VHDX_MiB,
          "entry 2: FileOffset 0x0 lies inside" },
        { "zero length", 5 * VHDX_MiB, 0, "entry 2: Length is zero" },
        { "unaligned length", 5 * VHDX_MiB, 4096,
          "entry 2: Length 0x1000 is not a multiple" },
        { "overflow", UINT64_MAX & ~(VHDX_MiB - 1), VHDX_MiB,
          "overflows" },
        { "overlaps BAT", VHDX_MiB, 2 * VHDX_MiB, "overlaps entry 0" },
        { "overlaps metadata", 3 * VHDX_MiB, VHDX_MiB,
          "overlaps entry 1" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree uint8_t *buf = table_new();

        g_test_message("%s", cases[i].name);
        add_entry(buf, &other_guid, cases[i].offset, cases[i].length, 0);
        decode_fails(buf, EINVAL, cases[i].needle);
    }
}

static void test_decode_duplicate(void)
{
    g_autofree uint8_t *buf = table_new();

    add_entry(buf, &vhdx_guid_bat_region, 6 * VHDX_MiB, VHDX_MiB, 1);
    decode_fails(buf, EINVAL, "2dc27766-f623-4200-9d64-115e9bfd4a08 "
                 "duplicates entry 0");
}

static void test_decode_missing(void)
{
    g_autofree uint8_t *buf = table_new();

    /* Drop the metadata entry */
    vhdx_st32(buf + 8, 1);
    reseal(buf);
    decode_fails(buf, EINVAL, "no metadata region");

    /* Drop the BAT entry: move metadata into slot 0 */
    vhdx_region_table_encode(&default_regions, buf);
    memmove(entry(buf, 0), entry(buf, 1), VHDX_REGION_ENTRY_SIZE);
    vhdx_st32(buf + 8, 1);
    reseal(buf);
    decode_fails(buf, EINVAL, "no BAT region");
}

static MemIO *memio_with_tables(void)
{
    MemIO *m = memio_new(FILE_SIZE);

    vhdx_region_table_encode(&default_regions,
                             memio_bytes(m) + VHDX_REGION1_OFFSET);
    vhdx_region_table_encode(&default_regions,
                             memio_bytes(m) + VHDX_REGION2_OFFSET);
    return m;
}

static void load_ok(MemIO *m, const VhdxRegions *expect)
{
    VhdxRegions r;
    GError *err = NULL;

    g_assert_cmpint(vhdx_region_load(memio_io(m), memio_size(m), &r, &err),
                    ==, 0);
    g_assert_no_error(err);
    assert_regions(&r, expect);
    g_assert_cmpuint(m->writes, ==, 0);
}

static void load_fails(MemIO *m, uint64_t file_length, int errnum,
                       const char *needle)
{
    VhdxRegions r = { 0 };
    GError *err = NULL;
    int ret;

    ret = vhdx_region_load(memio_io(m), file_length, &r, &err);
    assert_vhdx_error(err, ret, errnum, needle);
    g_assert_cmpuint(r.bat_offset, ==, 0);
    g_assert_cmpuint(m->writes, ==, 0);
    g_error_free(err);
}

static void test_load(void)
{
    g_autoptr(MemIO) m = memio_with_tables();
    VhdxRegions second = default_regions;

    load_ok(m, &default_regions);

    /* The first copy wins when both are valid, even if they differ */
    second.bat_offset = 5 * VHDX_MiB;
    vhdx_region_table_encode(&second, memio_bytes(m) + VHDX_REGION2_OFFSET);
    load_ok(m, &default_regions);
}

static void test_load_falls_back(void)
{
    g_autoptr(MemIO) m = memio_with_tables();
    VhdxRegions second = default_regions;

    second.bat_offset = 5 * VHDX_MiB;
    vhdx_region_table_encode(&second, memio_bytes(m) + VHDX_REGION2_OFFSET);

    memio_bytes(m)[VHDX_REGION1_OFFSET + 100] ^= 0xff;
    load_ok(m, &second);

    memcpy(memio_bytes(m) + VHDX_REGION1_OFFSET, "xxxx", 4);
    load_ok(m, &second);
}

static void test_load_both_corrupt(void)
{
    g_autoptr(MemIO) m = memio_with_tables();

    memio_bytes(m)[VHDX_REGION1_OFFSET + 100] ^= 0xff;
    memcpy(memio_bytes(m) + VHDX_REGION2_OFFSET, "xxxx", 4);
    load_fails(m, memio_size(m), EINVAL, "VHDX region table 1: Checksum");
    load_fails(m, memio_size(m), EINVAL, "VHDX region table 2: Signature");
}

static void test_load_sound_copy_with_bad_entries(void)
{
    g_autoptr(MemIO) m = memio_with_tables();
    uint8_t *t1 = memio_bytes(m) + VHDX_REGION1_OFFSET;

    /* A checksummed copy with bad content is not skipped */
    add_entry(t1, &other_guid, 7 * VHDX_MiB, VHDX_MiB, 1);
    load_fails(m, memio_size(m), ENOTSUP, "VHDX region table 1, entry 2");
}

static void test_load_beyond_eof(void)
{
    g_autoptr(MemIO) m = memio_with_tables();

    load_fails(m, 4 * VHDX_MiB - 1, EINVAL,
               "metadata region at 0x300000 (0x100000 bytes) extends "
               "beyond the end of the file (0x3fffff)");
    load_fails(m, 2 * VHDX_MiB, EINVAL, "BAT region");
    load_ok(m, &default_regions);
}

static void test_load_io_error(void)
{
    g_autoptr(MemIO) m = memio_with_tables();

    m->fail_reads_errno = EIO;
    load_fails(m, memio_size(m), EIO, "VHDX region table 1: read failed");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/region/encode-decode", test_encode_decode);
    g_test_add_func("/region/decode-optional-unknown",
                    test_decode_optional_unknown);
    g_test_add_func("/region/decode-required-unknown",
                    test_decode_required_unknown);
    g_test_add_func("/region/decode-integrity", test_decode_integrity);
    g_test_add_func("/region/decode-entry-count", test_decode_entry_count);
    g_test_add_func("/region/decode-bad-placement",
                    test_decode_bad_placement);
    g_test_add_func("/region/decode-duplicate", test_decode_duplicate);
    g_test_add_func("/region/decode-missing", test_decode_missing);
    g_test_add_func("/region/load", test_load);
    g_test_add_func("/region/load-falls-back", test_load_falls_back);
    g_test_add_func("/region/load-both-corrupt", test_load_both_corrupt);
    g_test_add_func("/region/load-sound-copy-with-bad-entries",
                    test_load_sound_copy_with_bad_entries);
    g_test_add_func("/region/load-beyond-eof", test_load_beyond_eof);
    g_test_add_func("/region/load-io-error", test_load_io_error);
    return g_test_run();
}
