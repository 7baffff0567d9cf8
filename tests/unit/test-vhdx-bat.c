/*
 * Unit tests: BAT geometry, interleaving and entry validation
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/bat.h"

#include <errno.h>
#include <string.h>

#define MiB VHDX_MiB
#define GiB VHDX_GiB

static VhdxBatGeometry geometry(uint64_t size, uint32_t block, uint32_t lss,
                                bool has_parent)
{
    VhdxBatGeometry g;

    g_assert_cmpint(vhdx_bat_geometry_init(&g, size, block, lss, has_parent,
                                           NULL), ==, 0);
    return g;
}

static void test_chunk_ratio(void)
{
    /* chunk ratio = 2^23 * logical sector size / block size */
    g_assert_cmpuint(geometry(GiB, 1 * MiB, 512, false).chunk_ratio, ==,
                     4096);
    g_assert_cmpuint(geometry(GiB, 2 * MiB, 512, false).chunk_ratio, ==,
                     2048);
    g_assert_cmpuint(geometry(GiB, 32 * MiB, 512, false).chunk_ratio, ==,
                     128);
    g_assert_cmpuint(geometry(GiB, 256 * MiB, 512, false).chunk_ratio, ==,
                     16);
    g_assert_cmpuint(geometry(GiB, 1 * MiB, 4096, false).chunk_ratio, ==,
                     32768);
    g_assert_cmpuint(geometry(GiB, 256 * MiB, 4096, false).chunk_ratio, ==,
                     128);
}

static void test_entry_counts(void)
{
    /* 10 GiB, 4 MiB blocks: 2560 payload blocks, 2 bitmap entries between */
    VhdxBatGeometry g = geometry(10 * GiB, 4 * MiB, 512, false);

    g_assert_cmpuint(g.payload_blocks, ==, 2560);
    g_assert_cmpuint(g.bitmap_blocks, ==, 3);
    g_assert_cmpuint(g.total_entries, ==, 2562);

    /* The same disk as a child: whole chunks, each with its bitmap entry */
    g = geometry(10 * GiB, 4 * MiB, 512, true);
    g_assert_cmpuint(g.total_entries, ==, 3 * 1025);

    /* A size that is not a whole number of blocks rounds up */
    g = geometry(10 * MiB + 512, 1 * MiB, 512, false);
    g_assert_cmpuint(g.payload_blocks, ==, 11);

    /* An empty disk has no entries */
    g = geometry(0, 8 * MiB, 512, false);
    g_assert_cmpuint(g.payload_blocks, ==, 0);
    g_assert_cmpuint(g.total_entries, ==, 0);
    g_assert_cmpuint(vhdx_bat_region_size(&g), ==, MiB);
}

static void test_chunk_boundaries(void)
{
    /* 256 MiB blocks, 512-byte sectors: 16 blocks a chunk (4 GiB) */
    VhdxBatGeometry exact = geometry(4 * GiB, 256 * MiB, 512, false);
    VhdxBatGeometry one_more = geometry(4 * GiB + 256 * MiB, 256 * MiB, 512,
                                        false);
    VhdxBatGeometry child = geometry(4 * GiB, 256 * MiB, 512, true);

    /* Exactly one chunk: no trailing bitmap entry in a dynamic file */
    g_assert_cmpuint(exact.total_entries, ==, 16);
    /* One block into the next chunk: its bitmap entry comes before it */
    g_assert_cmpuint(one_more.total_entries, ==, 18);
    /* A child always has the bitmap entry of its last chunk */
    g_assert_cmpuint(child.total_entries, ==, 17);

    g_assert_cmpuint(vhdx_bat_payload_index(&exact, 0), ==, 0);
    g_assert_cmpuint(vhdx_bat_payload_index(&exact, 15), ==, 15);
    g_assert_cmpuint(vhdx_bat_bitmap_index(&exact, 0), ==, 16);
    g_assert_cmpuint(vhdx_bat_payload_index(&exact, 16), ==, 17);
    g_assert_cmpuint(vhdx_bat_bitmap_index(&exact, 1), ==, 33);
    g_assert_true(vhdx_bat_index_is_bitmap(&exact, 16));
    g_assert_true(vhdx_bat_index_is_bitmap(&exact, 33));
    g_assert_false(vhdx_bat_index_is_bitmap(&exact, 17));
    g_assert_false(vhdx_bat_index_is_bitmap(&exact, 32));
}

static void test_entry_encoding(void)
{
    uint64_t e = vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT, 37 * MiB);

    g_assert_cmphex(e, ==, (UINT64_C(37) << 20) | 6);
    g_assert_cmpuint(vhdx_bat_state(e), ==, VHDX_PAYLOAD_FULLY_PRESENT);
    g_assert_cmpuint(vhdx_bat_offset(e), ==, 37 * MiB);
    /* Reserved bits 3-19 do not leak into the offset */
    g_assert_cmpuint(vhdx_bat_offset(e | 0xffff8), ==, 37 * MiB);
}

static void assert_check_fails(const VhdxBatGeometry *g, uint64_t index,
                               uint64_t entry, const char *needle)
{
    GError *err = NULL;

    g_assert_cmpint(vhdx_bat_entry_validate(g, index, entry, 64 * MiB, &err),
                    ==, -EINVAL);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, needle));
    g_error_free(err);
}

static void test_entry_validate(void)
{
    VhdxBatGeometry dyn = geometry(GiB, 8 * MiB, 512, false);
    VhdxBatGeometry diff = geometry(GiB, 8 * MiB, 512, true);
    uint64_t bitmap0 = vhdx_bat_bitmap_index(&dyn, 0);

    g_assert_cmpint(vhdx_bat_entry_validate(&dyn, 0,
                        vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT, 8 * MiB),
                        64 * MiB, NULL), ==, 0);
    g_assert_cmpint(vhdx_bat_entry_validate(&dyn, 0,
                        vhdx_bat_entry(VHDX_PAYLOAD_ZERO, 0),
                        64 * MiB, NULL), ==, 0);
    assert_check_fails(&dyn, 3, 4, "invalid payload block state 4");
    assert_check_fails(&dyn, 3, VHDX_PAYLOAD_PARTIALLY_PRESENT | 8 * MiB,
                       "invalid payload block state 7");
    assert_check_fails(&dyn, bitmap0, VHDX_BITMAP_PRESENT | 8 * MiB,
                       "invalid sector bitmap state 6");
    assert_check_fails(&dyn, 5, VHDX_PAYLOAD_FULLY_PRESENT | 60 * MiB,
                       "beyond the end of the file");
    assert_check_fails(&dyn, 5, VHDX_PAYLOAD_FULLY_PRESENT,
                       "header area");
    /* Offsets near 2^64 must not wrap around the end-of-file check */
    assert_check_fails(&dyn, 5, VHDX_PAYLOAD_FULLY_PRESENT |
                       (~UINT64_C(0) << 20), "beyond the end of the file");
    g_assert_cmpint(vhdx_bat_entry_validate(&diff, 3,
                        VHDX_PAYLOAD_PARTIALLY_PRESENT | 8 * MiB,
                        64 * MiB, NULL), ==, 0);
    g_assert_cmpint(vhdx_bat_entry_validate(&diff, bitmap0,
                        VHDX_BITMAP_PRESENT | 63 * MiB, 64 * MiB, NULL),
                    ==, 0);
}

/*
 * A child's BAT holds whole chunks: the payload entries of its last
 * chunk past the end of the disk may hold no data
 */
static void test_entry_past_disk(void)
{
    /* 3 blocks of 1 MiB, 4096 entries per chunk: entries 3..4095 unused */
    VhdxBatGeometry diff = geometry(3 * MiB, MiB, 512, true);
    uint64_t data = VHDX_PAYLOAD_FULLY_PRESENT | 8 * MiB;

    g_assert_cmpuint(diff.payload_blocks, ==, 3);
    g_assert_cmpuint(diff.total_entries, >, 4);
    g_assert_cmpint(vhdx_bat_entry_validate(&diff, 2, data, 64 * MiB, NULL),
                    ==, 0);
    assert_check_fails(&diff, 3, data, "past the end of the disk");
    assert_check_fails(&diff, 100, VHDX_PAYLOAD_PARTIALLY_PRESENT | 8 * MiB,
                       "past the end of the disk");
    g_assert_false(vhdx_bat_entry_state_valid(&diff, 3, data));
    /* States without data are harmless there */
    g_assert_true(vhdx_bat_entry_state_valid(&diff, 3, VHDX_PAYLOAD_ZERO));
    g_assert_cmpint(vhdx_bat_entry_validate(&diff, 3,
                        VHDX_PAYLOAD_NOT_PRESENT, 64 * MiB, NULL), ==, 0);
}

static void test_rejects_bad_block_size(void)
{
    VhdxBatGeometry g;
    GError *err = NULL;

    g_assert_cmpint(vhdx_bat_geometry_init(&g, GiB, 3 * MiB, 512, false,
                                           &err), ==, -EINVAL);
    g_assert_nonnull(strstr(err->message, "block size"));
    g_clear_error(&err);
    g_assert_cmpint(vhdx_bat_geometry_init(&g, GiB, 512 * MiB, 512, false,
                                           NULL), ==, -EINVAL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/bat/chunk-ratio", test_chunk_ratio);
    g_test_add_func("/bat/entry-counts", test_entry_counts);
    g_test_add_func("/bat/chunk-boundaries", test_chunk_boundaries);
    g_test_add_func("/bat/entry-encoding", test_entry_encoding);
    g_test_add_func("/bat/entry-check", test_entry_validate);
    g_test_add_func("/bat/entry-past-disk", test_entry_past_disk);
    g_test_add_func("/bat/bad-block-size", test_rejects_bad_block_size);
    return g_test_run();
}
