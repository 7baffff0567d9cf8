/*
 * Unit tests for the consistency check: each fault class is found and
 * named, a read-only check writes nothing, and repair leaves an image
 * that opens normally, reads what was intact as before and checks clean
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/endian.h"
#include "vhdx-test-image.h"
#include "image-int.h"

#include <string.h>

#define MiB VHDX_MiB

/* ---- helpers ---- */

static void collect_fault(void *opaque, const VhdxFault *fault,
                          bool repaired)
{
    GPtrArray *lines = opaque;

    g_ptr_array_add(lines, g_strdup_printf("%s%s: %s",
                                           repaired ? "repaired " : "",
                                           fault->what, fault->repair));
}

/* Checks (and repairs) @m; returns the report lines */
static GPtrArray *check_lines(MemIO *m, bool repair, VhdxCheckReport *r)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    unsigned flags = VHDX_OPEN_CHECK | (repair ? VHDX_OPEN_WRITE : 0);
    VhdxImage *img = test_open(m, flags);
    GError *err = NULL;

    if (vhdx_image_check(img, repair, collect_fault, lines, r, &err) < 0) {
        g_error("check failed: %s", err->message);
    }
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
    return lines;
}

static void assert_line(GPtrArray *lines, guint i, const char *needle)
{
    g_assert_cmpuint(i, <, lines->len);
    if (!strstr(g_ptr_array_index(lines, i), needle)) {
        g_error("line '%s' lacks '%s'", (char *)g_ptr_array_index(lines, i),
                needle);
    }
}

/* A check without repair finds @n faults and writes nothing */
static GPtrArray *assert_found(MemIO *m, uint64_t n)
{
    g_autoptr(MemIO) before = memio_dup(m);
    VhdxCheckReport r;
    GPtrArray *lines;

    lines = check_lines(m, false, &r);
    g_assert_cmpuint(r.corruptions, ==, n);
    g_assert_cmpuint(r.remaining, ==, n);
    g_assert_cmpuint(lines->len, ==, n);
    g_assert_cmpuint(memio_size(m), ==, memio_size(before));
    g_assert_cmpmem(memio_bytes(m), memio_size(m), memio_bytes(before),
                    memio_size(before));
    return lines;
}

/* Repairs @m, then it opens normally and a second check is clean */
static GPtrArray *assert_repaired(MemIO *m, uint64_t n)
{
    VhdxCheckReport r;
    GPtrArray *lines = check_lines(m, true, &r);
    g_autoptr(GPtrArray) again = NULL;
    VhdxImage *img;

    g_assert_cmpuint(r.corruptions, ==, n);
    g_assert_cmpuint(r.repaired, >=, n);
    g_assert_cmpuint(r.remaining, ==, 0);
    img = test_open(m, 0);
    vhdx_image_free(img);
    again = check_lines(m, false, &r);
    g_assert_cmpuint(r.corruptions, ==, 0);
    g_assert_cmpuint(again->len, ==, 0);
    return lines;
}

static uint64_t entry_offset(MemIO *m, uint64_t index)
{
    VhdxImage *img = test_open(m, VHDX_OPEN_CHECK);
    uint64_t at = img->regions.bat_offset + index * VHDX_BAT_ENTRY_SIZE;

    vhdx_image_free(img);
    return at;
}

static uint64_t get_entry(MemIO *m, uint64_t index)
{
    return vhdx_ld64(memio_bytes(m) + entry_offset(m, index));
}

static void set_entry(MemIO *m, uint64_t index, uint64_t entry)
{
    vhdx_st64(memio_bytes(m) + entry_offset(m, index), entry);
}

/*
 * A writer refuses the image: opened read-write, or opened read-only
 * (which does not scan the BAT) and then made ready for writes
 */
static void assert_open_fails(MemIO *m)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err_later = NULL;
    VhdxImage *img = NULL;

    g_assert_cmpint(vhdx_image_open(memio_io(m), VHDX_OPEN_WRITE, &img,
                                    &err), <, 0);
    g_assert_nonnull(err);
    g_assert_cmpint(vhdx_image_open(memio_io(m), 0, &img, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_scan_space(img, &err_later), <, 0);
    g_assert_cmpstr(err_later->message, ==, err->message);
    g_assert_false(vhdx_image_is_writable(img));
    vhdx_image_free(img);
}

/*
 * A reader (read-only, no BAT scan) opens the image, refuses to map
 * @block with an error saying @why, maps @good, and reads nothing but
 * the structures
 */
static void assert_reader_refuses(MemIO *m, uint64_t block, uint64_t good,
                                  const char *why)
{
    g_autoptr(GError) err = NULL;
    VhdxImage *img = NULL;
    VhdxExtent ext;

    g_assert_cmpint(vhdx_image_open(memio_io(m), 0, &img, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_map(img, block * MiB, MiB, &ext, &err), <, 0);
    g_assert_nonnull(strstr(err->message, why));
    g_assert_cmpint(vhdx_image_map(img, good * MiB, MiB, &ext, NULL), ==, 0);
    vhdx_image_free(img);
}

/* A dynamic image of 16 MiB in 1 MiB blocks; blocks 0-2 hold 0x10-0x12 */
static MemIO *dynamic_with_data(void)
{
    VhdxCreateParams p = test_dynamic_params(16 * MiB, MiB);
    MemIO *m = test_create(&p);
    VhdxImage *img = test_open(m, VHDX_OPEN_WRITE);

    for (int b = 0; b < 3; b++) {
        test_write(img, m, b * MiB, MiB, 0x10 + b);
    }
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
    return m;
}

static void assert_block_reads(MemIO *m, uint64_t block, uint8_t byte)
{
    VhdxImage *img = test_open(m, 0);

    test_assert_reads(img, m, block * MiB, MiB, 0xee, byte);
    vhdx_image_free(img);
}

/* ---- dynamic images ---- */

static void test_beyond_eof(void)
{
    g_autoptr(MemIO) m = dynamic_with_data();
    g_autoptr(GPtrArray) found = NULL;
    g_autoptr(GPtrArray) fixed = NULL;

    set_entry(m, 1, vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT, 1024 * MiB));
    assert_open_fails(m);
    assert_reader_refuses(m, 1, 0, "BAT entry 1: block at FileOffsetMB 1024 "
                          "lies beyond the end of the file");
    found = assert_found(m, 1);
    assert_line(found, 0, "BAT entry 1 (payload block 1): block at "
                "FileOffsetMB 1024 lies beyond the end of the file");
    assert_line(found, 0, "becomes ZERO; its data is lost");
    fixed = assert_repaired(m, 1);
    assert_line(fixed, 0, "repaired BAT entry 1");
    assert_block_reads(m, 0, 0x10);
    assert_block_reads(m, 1, 0);
    assert_block_reads(m, 2, 0x12);
}

static void test_invalid_state(void)
{
    g_autoptr(MemIO) m = dynamic_with_data();
    g_autoptr(GPtrArray) found = NULL;

    set_entry(m, 2, (get_entry(m, 2) & ~UINT64_C(7)) | 4);
    assert_open_fails(m);
    assert_reader_refuses(m, 2, 1, "BAT entry 2: invalid payload block "
                          "state 4");
    found = assert_found(m, 1);
    assert_line(found, 0, "BAT entry 2 (payload block 2): state 4 is not "
                "valid here");
    g_ptr_array_unref(assert_repaired(m, 1));
    assert_block_reads(m, 2, 0);
    assert_block_reads(m, 1, 0x11);
}

/* PARTIALLY_PRESENT without a parent: FULLY_PRESENT was meant */
static void test_partial_without_parent(void)
{
    g_autoptr(MemIO) m = dynamic_with_data();
    g_autoptr(GPtrArray) found = NULL;

    set_entry(m, 1, (get_entry(m, 1) & ~UINT64_C(7)) |
                    VHDX_PAYLOAD_PARTIALLY_PRESENT);
    assert_open_fails(m);
    found = assert_found(m, 1);
    assert_line(found, 0, "state 7 is not valid here");
    assert_line(found, 0, "becomes FULLY_PRESENT; its data is kept");
    g_ptr_array_unref(assert_repaired(m, 1));
    assert_block_reads(m, 1, 0x11);
}

/* Two blocks on one place: the later one gets a copy */
static void test_shared_space(void)
{
    g_autoptr(MemIO) m = dynamic_with_data();
    g_autoptr(GPtrArray) found = NULL;
    uint64_t e0 = get_entry(m, 0);

    set_entry(m, 2, e0);
    assert_open_fails(m);
    found = assert_found(m, 1);
    assert_line(found, 0, "BAT entry 2 (payload block 2): block at "
                "FileOffsetMB");
    assert_line(found, 0, "uses space an earlier block uses");
    g_ptr_array_unref(assert_repaired(m, 1));
    assert_block_reads(m, 0, 0x10);
    assert_block_reads(m, 2, 0x10);
    g_assert_cmpuint(get_entry(m, 0), ==, e0);
    g_assert_cmpuint(vhdx_bat_offset(get_entry(m, 2)), !=,
                     vhdx_bat_offset(e0));
}

static void test_on_metadata(void)
{
    g_autoptr(MemIO) m = dynamic_with_data();
    g_autoptr(GPtrArray) found = NULL;
    VhdxImage *img = test_open(m, 0);
    uint64_t bat = img->regions.bat_offset;

    vhdx_image_free(img);
    set_entry(m, 1, vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT, bat));
    assert_open_fails(m);
    assert_reader_refuses(m, 1, 2, "BAT entry 1: block at FileOffsetMB");
    found = assert_found(m, 1);
    assert_line(found, 0, "lies on the headers, log, BAT or metadata region");
    g_ptr_array_unref(assert_repaired(m, 1));
    assert_block_reads(m, 1, 0);
    assert_block_reads(m, 2, 0x12);
}

/* Many faults of several kinds at once, each named on its own line */
static void test_several(void)
{
    g_autoptr(MemIO) m = dynamic_with_data();
    g_autoptr(GPtrArray) found = NULL;

    set_entry(m, 3, vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT, 4096 * MiB));
    set_entry(m, 4, 5);
    set_entry(m, 5, get_entry(m, 1));
    set_entry(m, 6, vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT, 0));
    found = assert_found(m, 4);
    assert_line(found, 0, "BAT entry 3 (payload block 3)");
    assert_line(found, 1, "BAT entry 4 (payload block 4)");
    assert_line(found, 2, "BAT entry 5 (payload block 5)");
    assert_line(found, 3, "BAT entry 6 (payload block 6): block at "
                "FileOffsetMB 0 lies in the header area");
    g_ptr_array_unref(assert_repaired(m, 4));
    assert_block_reads(m, 1, 0x11);
    assert_block_reads(m, 5, 0x11);
    assert_block_reads(m, 3, 0);
}

/* ---- region tables ---- */

static void test_region_copy(void)
{
    g_autoptr(MemIO) m = dynamic_with_data();
    g_autoptr(GPtrArray) found = NULL;
    g_autoptr(GPtrArray) fixed = NULL;
    uint8_t *rt2 = memio_bytes(m) + VHDX_REGION2_OFFSET;

    /* A torn or stale second copy: its checksum no longer matches */
    rt2[100] ^= 0xff;
    found = assert_found(m, 1);
    assert_line(found, 0, "region table 2: differs from region table 1, "
                "the copy in use");
    fixed = assert_repaired(m, 1);
    assert_line(fixed, 0, "region table 2 is rewritten from region table 1");
    g_assert_cmpmem(rt2, VHDX_REGION_TABLE_SIZE,
                    memio_bytes(m) + VHDX_REGION1_OFFSET,
                    VHDX_REGION_TABLE_SIZE);
    assert_block_reads(m, 0, 0x10);
}

/* ---- differencing images ---- */

/* A child with partially present blocks 0 and 1 (one chunk) */
static MemIO *child_with_partial_blocks(void)
{
    VhdxGuid dwg;
    MemIO *m;
    VhdxImage *img;

    vhdx_guid_generate(&dwg);
    m = test_create_child(16 * MiB, MiB, 512, &dwg);
    img = test_open(m, VHDX_OPEN_WRITE);
    test_write(img, m, 0, 64 * 1024, 0x21);
    test_write(img, m, MiB, 64 * 1024, 0x22);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
    return m;
}

static void test_no_bitmap(void)
{
    g_autoptr(MemIO) m = child_with_partial_blocks();
    g_autoptr(GPtrArray) found = NULL;
    VhdxImage *img = test_open(m, 0);
    uint64_t bitmap_index = vhdx_bat_bitmap_index(&img->geo, 0);

    vhdx_image_free(img);
    set_entry(m, bitmap_index, 0);
    found = assert_found(m, 2);
    assert_line(found, 0, "BAT entry 0 (payload block 0): partially present, "
                "but its chunk has no sector bitmap block");
    assert_line(found, 0, "NOT_PRESENT (read from the parent); its data is "
                "lost");
    assert_line(found, 1, "(payload block 1)");
    g_ptr_array_unref(assert_repaired(m, 2));
    img = test_open(m, 0);
    test_assert_extent(img, 0, MiB, VHDX_EXTENT_UNALLOCATED, MiB);
    test_assert_extent(img, MiB, MiB, VHDX_EXTENT_UNALLOCATED, MiB);
    vhdx_image_free(img);
}

/* A bitmap entry beyond the end: it and the blocks needing it */
static void test_bitmap_beyond_eof(void)
{
    g_autoptr(MemIO) m = child_with_partial_blocks();
    g_autoptr(GPtrArray) found = NULL;
    VhdxImage *img = test_open(m, 0);
    uint64_t bitmap_index = vhdx_bat_bitmap_index(&img->geo, 0);

    vhdx_image_free(img);
    set_entry(m, bitmap_index, vhdx_bat_entry(VHDX_BITMAP_PRESENT,
                                              2048 * MiB));
    assert_open_fails(m);
    found = assert_found(m, 3);
    assert_line(found, 0, "(sector bitmap of chunk 0): block at FileOffsetMB "
                "2048");
    assert_line(found, 0, "the entry becomes NOT_PRESENT");
    g_ptr_array_unref(assert_repaired(m, 3));
    img = test_open(m, 0);
    test_assert_extent(img, 0, MiB, VHDX_EXTENT_UNALLOCATED, MiB);
    test_assert_extent(img, MiB, MiB, VHDX_EXTENT_UNALLOCATED, MiB);
    vhdx_image_free(img);
}

/*
 * A payload entry of the last chunk past the end of the disk that holds
 * data: refused by a writer, found, and repaired to NOT_PRESENT; the
 * disk's blocks keep their data
 */
static void test_child_past_disk(void)
{
    g_autoptr(MemIO) m = child_with_partial_blocks();
    g_autoptr(GPtrArray) found = NULL;
    VhdxCheckReport r;
    VhdxImage *img;

    set_entry(m, 20, vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT,
                                    vhdx_bat_offset(get_entry(m, 0))));
    assert_open_fails(m);
    found = assert_found(m, 1);
    assert_line(found, 0, "BAT entry 20 (payload block 20): state 6 holds "
                "data past the end of the disk");
    g_ptr_array_unref(check_lines(m, false, &r));
    g_assert_cmpuint(r.allocated_blocks, ==, 2);
    g_assert_cmpuint(r.total_blocks, ==, 16);
    g_ptr_array_unref(assert_repaired(m, 1));
    g_assert_cmpuint(get_entry(m, 20), ==, VHDX_PAYLOAD_NOT_PRESENT);
    img = test_open(m, 0);
    test_assert_reads(img, m, 0, 64 * 1024, 0xee, 0x21);
    test_assert_reads(img, m, MiB, 64 * 1024, 0xee, 0x22);
    vhdx_image_free(img);
}

/*
 * A child's block on another's space keeps its bitmap and reads what it
 * read before the repair: a copy of the shared space
 */
static void test_child_shared(void)
{
    g_autoptr(MemIO) m = child_with_partial_blocks();
    VhdxImage *img;

    set_entry(m, 1, get_entry(m, 0));
    g_ptr_array_unref(assert_found(m, 1));
    g_ptr_array_unref(assert_repaired(m, 1));
    img = test_open(m, 0);
    test_assert_reads(img, m, 0, 64 * 1024, 0xee, 0x21);
    test_assert_reads(img, m, MiB, 64 * 1024, 0xee, 0x21);
    test_assert_reads(img, m, MiB + 64 * 1024, 64 * 1024, 0xee, 0xee);
    vhdx_image_free(img);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/check/beyond-eof", test_beyond_eof);
    g_test_add_func("/check/invalid-state", test_invalid_state);
    g_test_add_func("/check/partial-without-parent",
                    test_partial_without_parent);
    g_test_add_func("/check/shared-space", test_shared_space);
    g_test_add_func("/check/on-metadata", test_on_metadata);
    g_test_add_func("/check/several", test_several);
    g_test_add_func("/check/region-copy", test_region_copy);
    g_test_add_func("/check/no-bitmap", test_no_bitmap);
    g_test_add_func("/check/bitmap-beyond-eof", test_bitmap_beyond_eof);
    g_test_add_func("/check/child-shared", test_child_shared);
    g_test_add_func("/check/child-past-disk", test_child_past_disk);
    return g_test_run();
}
