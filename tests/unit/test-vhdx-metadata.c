/*
 * Unit tests: VHDX metadata region
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/metadata.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/format.h"
#include "vhdx-memio.h"
#include "vhdx-test-util.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define REGION_SIZE     ((uint32_t)VHDX_MiB)
#define TABLE_SIZE      ((uint32_t)VHDX_METADATA_TABLE_SIZE)

/* Entry flags */
#define IS_USER         1u
#define IS_VIRTUAL_DISK 2u
#define IS_REQUIRED     4u

static const VhdxGuid other_guid =
    VHDX_GUID_INIT(0x01234567, 0x89ab, 0xcdef,
                   0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef);

static const uint8_t locator_bytes[] = "a stand-in for a parent locator";

static void make_md(VhdxMetadata *md, bool parent)
{
    memset(md, 0, sizeof(*md));
    md->block_size = 32 * VHDX_MiB;
    md->leave_blocks_allocated = !parent;
    md->has_parent = parent;
    md->virtual_disk_size = 10 * VHDX_GiB + 4096;
    md->logical_sector_size = 4096;
    md->physical_sector_size = 512;
    vhdx_guid_generate(&md->page83);
    if (parent) {
        md->parent_locator = (uint8_t *)locator_bytes;
        md->parent_locator_len = sizeof(locator_bytes);
    }
}

static uint8_t *region_new(bool parent)
{
    uint8_t *region = g_malloc(REGION_SIZE);
    VhdxMetadata md;
    GError *err = NULL;

    make_md(&md, parent);
    g_assert_cmpint(vhdx_metadata_encode(&md, region, REGION_SIZE, &err),
                    ==, 0);
    g_assert_no_error(err);
    return region;
}

static uint8_t *entry(uint8_t *region, uint32_t i)
{
    return region + VHDX_METADATA_HEADER_SIZE +
           i * VHDX_METADATA_ENTRY_SIZE;
}

static uint32_t entry_count(const uint8_t *region)
{
    return vhdx_ld16(region + 10);
}

/* The entry index of a known item */
static uint8_t *find_entry(uint8_t *region, const VhdxGuid *guid)
{
    for (uint32_t i = 0; i < entry_count(region); i++) {
        if (memcmp(entry(region, i), guid->bytes, 16) == 0) {
            return entry(region, i);
        }
    }
    g_assert_not_reached();
}

static void add_entry(uint8_t *region, const VhdxGuid *guid,
                      uint32_t offset, uint32_t length, uint32_t flags)
{
    uint32_t n = entry_count(region);
    uint8_t *p = entry(region, n);

    memcpy(p, guid->bytes, 16);
    vhdx_st32(p + 16, offset);
    vhdx_st32(p + 20, length);
    vhdx_st32(p + 24, flags);
    vhdx_st16(region + 10, n + 1);
}

static void remove_entry(uint8_t *region, const VhdxGuid *guid)
{
    uint8_t *p = find_entry(region, guid);
    uint32_t n = entry_count(region);

    memmove(p, p + VHDX_METADATA_ENTRY_SIZE,
            entry(region, n) - p - VHDX_METADATA_ENTRY_SIZE);
    vhdx_st16(region + 10, n - 1);
}

static uint8_t *item(uint8_t *region, const VhdxGuid *guid)
{
    return region + vhdx_ld32(find_entry(region, guid) + 16);
}

static void decode_fails(const uint8_t *region, uint32_t len, int errnum,
                         const char *needle)
{
    VhdxMetadata md;
    GError *err = NULL;
    int ret;

    memset(&md, 0xaa, sizeof(md));
    ret = vhdx_metadata_decode(region, len, &md, &err);
    assert_vhdx_error(err, ret, errnum, needle);
    g_assert_null(md.parent_locator);
    g_assert_cmpuint(md.block_size, ==, 0);
    g_error_free(err);
}

static void assert_md_equal(const VhdxMetadata *a, const VhdxMetadata *b)
{
    g_assert_cmpuint(a->block_size, ==, b->block_size);
    g_assert_cmpint(a->leave_blocks_allocated, ==, b->leave_blocks_allocated);
    g_assert_cmpint(a->has_parent, ==, b->has_parent);
    g_assert_cmpuint(a->virtual_disk_size, ==, b->virtual_disk_size);
    g_assert_cmpuint(a->logical_sector_size, ==, b->logical_sector_size);
    g_assert_cmpuint(a->physical_sector_size, ==, b->physical_sector_size);
    g_assert_true(vhdx_guid_equal(&a->page83, &b->page83));
    g_assert_cmpmem(a->parent_locator, a->parent_locator_len,
                    b->parent_locator, b->parent_locator_len);
}

static void check_round_trip(bool parent)
{
    g_autofree uint8_t *region = region_new(parent);
    VhdxMetadata in, out;
    GError *err = NULL;

    make_md(&in, parent);
    g_assert_cmpint(vhdx_metadata_encode(&in, region, REGION_SIZE, &err),
                    ==, 0);
    g_assert_cmpint(vhdx_metadata_decode(region, REGION_SIZE, &out, &err),
                    ==, 0);
    g_assert_no_error(err);
    assert_md_equal(&in, &out);
    if (parent) {
        /* A copy the caller owns, not a pointer into the region */
        g_assert_true(out.parent_locator != in.parent_locator);
        g_assert_true(out.parent_locator < region ||
                      out.parent_locator >= region + REGION_SIZE);
    }
    vhdx_metadata_clear(&out);
    g_assert_null(out.parent_locator);
    g_assert_cmpuint(out.parent_locator_len, ==, 0);
    g_assert_cmpuint(out.block_size, ==, 0);
}

static void test_round_trip(void)
{
    check_round_trip(false);
    check_round_trip(true);
}

static void test_encode_layout(void)
{
    g_autofree uint8_t *region = region_new(true);
    static const struct {
        const VhdxGuid *guid;
        uint32_t length;
        uint32_t flags;
    } expect[] = {
        { &vhdx_guid_file_parameters, 8, IS_REQUIRED },
        { &vhdx_guid_virtual_disk_size, 8, IS_REQUIRED | IS_VIRTUAL_DISK },
        { &vhdx_guid_page83, 16, IS_REQUIRED | IS_VIRTUAL_DISK },
        { &vhdx_guid_logical_sector_size, 4, IS_REQUIRED | IS_VIRTUAL_DISK },
        { &vhdx_guid_physical_sector_size, 4,
          IS_REQUIRED | IS_VIRTUAL_DISK },
        { &vhdx_guid_parent_locator, sizeof(locator_bytes), IS_REQUIRED },
    };
    uint32_t prev_end = TABLE_SIZE;

    g_assert_cmpmem(region, 8, "metadata", 8);
    g_assert_cmpuint(entry_count(region), ==, G_N_ELEMENTS(expect));
    for (size_t i = 0; i < G_N_ELEMENTS(expect); i++) {
        uint8_t *p = find_entry(region, expect[i].guid);
        uint32_t off = vhdx_ld32(p + 16);

        g_assert_cmpuint(vhdx_ld32(p + 20), ==, expect[i].length);
        g_assert_cmphex(vhdx_ld32(p + 24), ==, expect[i].flags);
        g_assert_cmpuint(off, >=, prev_end);
        g_assert_cmpuint(off % 8, ==, 0);
        prev_end = off + expect[i].length;
    }
    g_assert_cmphex(vhdx_ld32(item(region, &vhdx_guid_file_parameters)), ==,
                    32 * VHDX_MiB);
    /* HasParent set, LeaveBlockAllocated clear */
    g_assert_cmphex(vhdx_ld32(item(region, &vhdx_guid_file_parameters) + 4),
                    ==, 2);
    g_assert_cmpmem(item(region, &vhdx_guid_parent_locator),
                    sizeof(locator_bytes), locator_bytes,
                    sizeof(locator_bytes));

    /* Without a parent: five items, no locator */
    g_free(region);
    region = region_new(false);
    g_assert_cmpuint(entry_count(region), ==, 5);
    g_assert_cmphex(vhdx_ld32(item(region, &vhdx_guid_file_parameters) + 4),
                    ==, 1);
}

static void test_encode_rejects(void)
{
    g_autofree uint8_t *region = g_malloc(REGION_SIZE);
    VhdxMetadata md;
    GError *err = NULL;
    int ret;

    make_md(&md, false);
    md.block_size = 3 * VHDX_MiB;
    ret = vhdx_metadata_encode(&md, region, REGION_SIZE, &err);
    assert_vhdx_error(err, ret, EINVAL, "BlockSize 0x300000");
    g_clear_error(&err);

    make_md(&md, false);
    md.has_parent = true;
    ret = vhdx_metadata_encode(&md, region, REGION_SIZE, &err);
    assert_vhdx_error(err, ret, EINVAL, "no parent locator");
    g_clear_error(&err);

    make_md(&md, true);
    md.parent_locator_len = TABLE_SIZE;
    md.parent_locator = g_malloc0(md.parent_locator_len);
    ret = vhdx_metadata_encode(&md, region, 2 * TABLE_SIZE, &err);
    assert_vhdx_error(err, ret, ENOSPC, "do not fit");
    g_clear_error(&err);
    g_free(md.parent_locator);

    make_md(&md, false);
    ret = vhdx_metadata_encode(&md, region, TABLE_SIZE - 1, &err);
    assert_vhdx_error(err, ret, EINVAL, "smaller than its 64 KiB table");
    g_clear_error(&err);
}

static void test_decode_header(void)
{
    g_autofree uint8_t *region = region_new(false);

    decode_fails(region, TABLE_SIZE - 1, EINVAL, "length 0xffff");
    memcpy(region, "METADATA", 8);
    decode_fails(region, REGION_SIZE, EINVAL, "Signature");
    memcpy(region, "metadata", 8);
    vhdx_st16(region + 10, 2048);
    decode_fails(region, REGION_SIZE, EINVAL, "EntryCount 2048");
}

typedef struct BadPlacement {
    const char *name;
    uint32_t offset;
    uint32_t length;
    const char *needle;
} BadPlacement;

static void test_decode_bad_placement(void)
{
    static const BadPlacement cases[] = {
        { "too long", 2 * TABLE_SIZE, VHDX_MiB + 1,
          "entry 5: Length 0x100001 exceeds 1 MiB" },
        { "empty with offset", 2 * TABLE_SIZE, 0,
          "entry 5: Offset 0x20000 is not zero" },
        { "inside table", TABLE_SIZE - 8, 8,
          "entry 5: Offset 0xfff8 lies inside the 64 KiB table" },
        { "beyond region", REGION_SIZE - 4, 8,
          "entry 5: Offset 0xffffc plus Length 0x8 extends beyond" },
        { "u32 wrap", UINT32_MAX, 8, "Offset 0xffffffff plus Length" },
        { "overlap", TABLE_SIZE + 4, 8, "overlaps entry 0" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree uint8_t *region = region_new(false);

        g_test_message("%s", cases[i].name);
        add_entry(region, &other_guid, cases[i].offset, cases[i].length, 0);
        decode_fails(region, REGION_SIZE, EINVAL, cases[i].needle);
    }
}

static void test_decode_unknown_items(void)
{
    g_autofree uint8_t *region = region_new(false);
    VhdxMetadata md;
    GError *err = NULL;

    /* Optional unknown items, and an empty one, are kept as they are */
    memset(region + 2 * TABLE_SIZE, 0xa5, 100);
    add_entry(region, &other_guid, 2 * TABLE_SIZE, 100, IS_VIRTUAL_DISK);
    add_entry(region, &vhdx_guid_bat_region, 0, 0, 0);
    g_assert_cmpint(vhdx_metadata_decode(region, REGION_SIZE, &md, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(md.block_size, ==, 32 * VHDX_MiB);
    g_assert_cmpuint(md.n_others, ==, 2);
    g_assert_true(vhdx_guid_equal(&md.others[0].id, &other_guid));
    g_assert_cmpuint(md.others[0].flags, ==, IS_VIRTUAL_DISK);
    g_assert_cmpuint(md.others[0].length, ==, 100);
    g_assert_cmpmem(md.others[0].data, 100, region + 2 * TABLE_SIZE, 100);
    g_assert_cmpuint(md.others[1].length, ==, 0);
    g_assert_null(md.others[1].data);
    vhdx_metadata_clear(&md);

    /* A user item may reuse a system item's GUID */
    add_entry(region, &vhdx_guid_file_parameters, 3 * TABLE_SIZE, 8,
              IS_USER);
    g_assert_cmpint(vhdx_metadata_decode(region, REGION_SIZE, &md, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(md.block_size, ==, 32 * VHDX_MiB);
    g_assert_cmpuint(md.n_others, ==, 3);
    g_assert_cmpuint(md.others[2].flags, ==, IS_USER);
    /* ... and is not what a lookup of system items finds */
    g_assert_null(vhdx_metadata_find_other(&md,
                                           &vhdx_guid_file_parameters));
    vhdx_metadata_clear(&md);

    add_entry(region, &other_guid, 4 * TABLE_SIZE, 4,
              IS_REQUIRED | IS_USER);
    decode_fails(region, REGION_SIZE, ENOTSUP,
                 "item 01234567-89ab-cdef-0123-456789abcdef is marked "
                 "IsRequired");
}

/* Decoding, encoding and decoding again keeps the other items intact */
static void test_others_round_trip(void)
{
    g_autofree uint8_t *region = region_new(true);
    g_autofree uint8_t *again = g_malloc(REGION_SIZE);
    VhdxMetadata md, md2;
    GError *err = NULL;

    memset(region + 2 * TABLE_SIZE, 0x3c, 13);
    add_entry(region, &other_guid, 2 * TABLE_SIZE, 13, 0);
    add_entry(region, &vhdx_guid_page83, 3 * TABLE_SIZE, 16, IS_USER);
    g_assert_cmpint(vhdx_metadata_decode(region, REGION_SIZE, &md, &err),
                    ==, 0);
    g_assert_cmpint(vhdx_metadata_encode(&md, again, REGION_SIZE, &err),
                    ==, 0);
    g_assert_cmpint(vhdx_metadata_decode(again, REGION_SIZE, &md2, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(md2.n_others, ==, 2);
    for (uint32_t i = 0; i < 2; i++) {
        g_assert_true(vhdx_guid_equal(&md.others[i].id, &md2.others[i].id));
        g_assert_cmpuint(md.others[i].flags, ==, md2.others[i].flags);
        g_assert_cmpmem(md.others[i].data, md.others[i].length,
                        md2.others[i].data, md2.others[i].length);
    }
    g_assert_cmpmem(md.parent_locator, md.parent_locator_len,
                    md2.parent_locator, md2.parent_locator_len);
    vhdx_metadata_clear(&md2);
    vhdx_metadata_clear(&md);
}

/* Setting, replacing and removing an item; copies own their buffers */
static void test_set_other(void)
{
    g_autofree uint8_t *region = g_malloc(REGION_SIZE);
    VhdxMetadata md, copy;
    GError *err = NULL;

    make_md(&md, false);
    vhdx_metadata_set_other(&md, &other_guid, 0, g_memdup2("abc", 3), 3);
    vhdx_metadata_set_other(&md, &other_guid, 0, g_memdup2("wxyz", 4), 4);
    g_assert_cmpuint(md.n_others, ==, 1);
    g_assert_cmpmem(vhdx_metadata_find_other(&md, &other_guid)->data, 4,
                    "wxyz", 4);
    vhdx_metadata_copy(&copy, &md);
    vhdx_metadata_set_other(&md, &other_guid, 0, NULL, 0);
    g_assert_cmpuint(md.n_others, ==, 0);
    g_assert_null(vhdx_metadata_find_other(&md, &other_guid));
    g_assert_cmpmem(vhdx_metadata_find_other(&copy, &other_guid)->data, 4,
                    "wxyz", 4);
    g_assert_cmpint(vhdx_metadata_encode(&copy, region, REGION_SIZE, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(entry_count(region), ==, 6);
    g_assert_cmpmem(item(region, &other_guid), 4, "wxyz", 4);
    vhdx_metadata_clear(&md);
    vhdx_metadata_clear(&copy);
}

static void test_decode_duplicate(void)
{
    g_autofree uint8_t *region = region_new(false);

    add_entry(region, &vhdx_guid_page83, 2 * TABLE_SIZE, 16,
              IS_REQUIRED | IS_VIRTUAL_DISK);
    decode_fails(region, REGION_SIZE, EINVAL,
                 "entry 5: ItemId beca12ab-b2e6-4523-93ef-c309e000c746 "
                 "duplicates entry 2");
}

static void test_decode_too_many_user_items(void)
{
    g_autofree uint8_t *region = region_new(false);

    for (uint32_t i = 0; i < 1025; i++) {
        VhdxGuid g = other_guid;

        memcpy(g.bytes, &i, sizeof(i));
        add_entry(region, &g, 0, 0, IS_USER);
    }
    decode_fails(region, REGION_SIZE, EINVAL, "more than 1024 entries");
}

static void test_decode_missing_items(void)
{
    const VhdxGuid *required[] = {
        &vhdx_guid_file_parameters, &vhdx_guid_virtual_disk_size,
        &vhdx_guid_page83, &vhdx_guid_logical_sector_size,
        &vhdx_guid_physical_sector_size,
    };
    char guid[VHDX_GUID_STRING_LEN];

    for (size_t i = 0; i < G_N_ELEMENTS(required); i++) {
        g_autofree uint8_t *region = region_new(false);

        remove_entry(region, required[i]);
        vhdx_guid_format(required[i], guid);
        decode_fails(region, REGION_SIZE, EINVAL, guid);
    }
}

static void test_decode_wrong_sizes(void)
{
    g_autofree uint8_t *region = region_new(false);

    vhdx_st32(find_entry(region, &vhdx_guid_logical_sector_size) + 20, 8);
    decode_fails(region, REGION_SIZE, EINVAL,
                 "logical sector size item has Length 8, expected 4");

    g_free(region);
    region = region_new(false);
    vhdx_st32(find_entry(region, &vhdx_guid_page83) + 16, 0);
    vhdx_st32(find_entry(region, &vhdx_guid_page83) + 20, 0);
    decode_fails(region, REGION_SIZE, EINVAL,
                 "page 83 data item has Length 0, expected 16");
}

typedef struct BadValue {
    const char *name;
    const VhdxGuid *guid;
    int width;
    uint64_t value;
    const char *needle;
} BadValue;

static void test_decode_bad_values(void)
{
    static const BadValue cases[] = {
        { "block size small", &vhdx_guid_file_parameters, 4,
          VHDX_MiB / 2, "BlockSize 0x80000" },
        { "block size large", &vhdx_guid_file_parameters, 4,
          512 * VHDX_MiB, "BlockSize 0x20000000" },
        { "block size not 2^n", &vhdx_guid_file_parameters, 4,
          3 * VHDX_MiB, "BlockSize 0x300000" },
        { "logical sector", &vhdx_guid_logical_sector_size, 4, 1024,
          "LogicalSectorSize 1024" },
        { "physical sector", &vhdx_guid_physical_sector_size, 4, 0,
          "PhysicalSectorSize 0" },
        { "size unaligned", &vhdx_guid_virtual_disk_size, 8,
          VHDX_GiB + 512, "VirtualDiskSize 0x40000200 is not a multiple" },
        { "size too large", &vhdx_guid_virtual_disk_size, 8,
          VHDX_VIRTUAL_SIZE_MAX + 4096, "exceeds 64 TiB" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree uint8_t *region = region_new(false);
        uint8_t *p = item(region, cases[i].guid);

        g_test_message("%s", cases[i].name);
        if (cases[i].width == 4) {
            vhdx_st32(p, cases[i].value);
        } else {
            vhdx_st64(p, cases[i].value);
        }
        decode_fails(region, REGION_SIZE, EINVAL, cases[i].needle);
    }
}

static void test_decode_max_values(void)
{
    g_autofree uint8_t *region = region_new(false);
    VhdxMetadata md;
    GError *err = NULL;

    vhdx_st32(item(region, &vhdx_guid_file_parameters), 256 * VHDX_MiB);
    vhdx_st64(item(region, &vhdx_guid_virtual_disk_size),
              VHDX_VIRTUAL_SIZE_MAX);
    /* Reserved file parameter bits are ignored */
    vhdx_st32(item(region, &vhdx_guid_file_parameters) + 4, 0xfffffffc);
    g_assert_cmpint(vhdx_metadata_decode(region, REGION_SIZE, &md, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(md.block_size, ==, 256 * VHDX_MiB);
    g_assert_cmpuint(md.virtual_disk_size, ==, VHDX_VIRTUAL_SIZE_MAX);
    g_assert_false(md.has_parent);
    g_assert_false(md.leave_blocks_allocated);
}

static void test_decode_parent_mismatch(void)
{
    g_autofree uint8_t *region = region_new(true);
    uint8_t *fp;

    /* HasParent without a locator */
    remove_entry(region, &vhdx_guid_parent_locator);
    decode_fails(region, REGION_SIZE, EINVAL,
                 "HasParent is set but there is no parent locator");

    /* A locator without HasParent */
    g_free(region);
    region = region_new(true);
    fp = item(region, &vhdx_guid_file_parameters);
    vhdx_st32(fp + 4, 0);
    decode_fails(region, REGION_SIZE, EINVAL, "HasParent is clear");

    /* An empty locator */
    g_free(region);
    region = region_new(true);
    vhdx_st32(find_entry(region, &vhdx_guid_parent_locator) + 16, 0);
    vhdx_st32(find_entry(region, &vhdx_guid_parent_locator) + 20, 0);
    decode_fails(region, REGION_SIZE, EINVAL, "parent locator item is empty");
}

static void test_load(void)
{
    g_autoptr(MemIO) m = memio_new(4 * VHDX_MiB);
    g_autofree uint8_t *region = region_new(true);
    VhdxMetadata in, out;
    GError *err = NULL;
    int ret;

    make_md(&in, true);
    g_assert_cmpint(vhdx_metadata_encode(&in, region, REGION_SIZE, &err),
                    ==, 0);
    memcpy(memio_bytes(m) + 2 * VHDX_MiB, region, REGION_SIZE);
    g_assert_cmpint(vhdx_metadata_load(memio_io(m), 2 * VHDX_MiB,
                                       REGION_SIZE, &out, &err), ==, 0);
    g_assert_no_error(err);
    assert_md_equal(&in, &out);
    vhdx_metadata_clear(&out);
    /* The table with its first items, not the whole 1 MiB region */
    g_assert_cmpuint(m->reads, ==, 1);
    g_assert_cmpuint(m->bytes_read, ==, VHDX_METADATA_TABLE_SIZE + 4096);

    /* An item further on: then as far as it goes, in a second read */
    m->reads = 0;
    m->bytes_read = 0;
    add_entry(memio_bytes(m) + 2 * VHDX_MiB, &other_guid,
              VHDX_METADATA_TABLE_SIZE + 8192, 16, 0);
    g_assert_cmpint(vhdx_metadata_load(memio_io(m), 2 * VHDX_MiB,
                                       REGION_SIZE, &out, &err), ==, 0);
    g_assert_no_error(err);
    vhdx_metadata_clear(&out);
    g_assert_cmpuint(m->reads, ==, 2);
    g_assert_cmpuint(m->bytes_read, ==, VHDX_METADATA_TABLE_SIZE + 8192 + 16);

    /* A hostile region length: only its start is read */
    g_assert_cmpint(vhdx_metadata_load(memio_io(m), 2 * VHDX_MiB,
                                       UINT32_MAX - VHDX_MiB + 1, &out,
                                       &err), ==, 0);
    g_assert_no_error(err);
    vhdx_metadata_clear(&out);

    add_entry(memio_bytes(m) + 2 * VHDX_MiB, &other_guid, 0xf0000000, 16,
              0);
    ret = vhdx_metadata_load(memio_io(m), 2 * VHDX_MiB,
                             UINT32_MAX - VHDX_MiB + 1, &out, &err);
    assert_vhdx_error(err, ret, EFBIG, "all that is read");
    g_clear_error(&err);

    ret = vhdx_metadata_load(memio_io(m), 2 * VHDX_MiB, 4096, &out, &err);
    assert_vhdx_error(err, ret, EINVAL, "smaller than its 64 KiB table");
    g_clear_error(&err);

    m->fail_reads_errno = EIO;
    ret = vhdx_metadata_load(memio_io(m), 2 * VHDX_MiB, REGION_SIZE, &out,
                             &err);
    assert_vhdx_error(err, ret, EIO, "read failed");
    g_clear_error(&err);
    g_assert_cmpuint(m->writes, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/metadata/round-trip", test_round_trip);
    g_test_add_func("/metadata/encode-layout", test_encode_layout);
    g_test_add_func("/metadata/encode-rejects", test_encode_rejects);
    g_test_add_func("/metadata/decode-header", test_decode_header);
    g_test_add_func("/metadata/decode-bad-placement",
                    test_decode_bad_placement);
    g_test_add_func("/metadata/decode-unknown-items",
                    test_decode_unknown_items);
    g_test_add_func("/metadata/others-round-trip", test_others_round_trip);
    g_test_add_func("/metadata/set-other", test_set_other);
    g_test_add_func("/metadata/decode-duplicate", test_decode_duplicate);
    g_test_add_func("/metadata/decode-too-many-user-items",
                    test_decode_too_many_user_items);
    g_test_add_func("/metadata/decode-missing-items",
                    test_decode_missing_items);
    g_test_add_func("/metadata/decode-wrong-sizes", test_decode_wrong_sizes);
    g_test_add_func("/metadata/decode-bad-values", test_decode_bad_values);
    g_test_add_func("/metadata/decode-max-values", test_decode_max_values);
    g_test_add_func("/metadata/decode-parent-mismatch",
                    test_decode_parent_mismatch);
    g_test_add_func("/metadata/load", test_load);
    return g_test_run();
}
