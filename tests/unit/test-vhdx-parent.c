/*
 * Unit tests: parent locators, linkage, and differencing images
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/parent.h"
#include "vhdx-test-image.h"
#include "image-int.h"

#include <errno.h>
#include <string.h>

#define MiB VHDX_MiB

static const char *candidate(const VhdxParentRef *ref, guint i)
{
    g_assert_cmpuint(i, <, ref->candidates->len);
    return g_array_index(ref->candidates, VhdxParentCandidate, i).path;
}

static void locator_with(VhdxLocator *loc, const char *const *kv)
{
    memset(loc, 0, sizeof(*loc));
    loc->type = vhdx_guid_vhdx_locator_type;
    for (; kv[0]; kv += 2) {
        vhdx_locator_set(loc, kv[0], kv[1]);
    }
}

static void test_candidates_order(void)
{
    static const char *const kv[] = {
        "parent_linkage", "{0A1B2C3D-0000-4000-8000-00000000000F}",
        "relative_path", ".\\dir\\base.vhdx",
        "absolute_win32_path", "\\\\?\\C:\\VMs\\disk\\Base.vhdx",
        "volume_path", "\\\\?\\Volume{1234}\\VMs\\other.vhdx",
        NULL,
    };
    VhdxLocator loc;
    VhdxParentRef ref;
    VhdxGuid g;

    locator_with(&loc, kv);
    g_assert_cmpint(vhdx_parent_ref_init(&ref, &loc, NULL), ==, 0);
    g_assert_cmpstr(candidate(&ref, 0), ==, "dir/base.vhdx");
    g_assert_cmpstr(candidate(&ref, 1), ==, "Base.vhdx");
    g_assert_cmpstr(candidate(&ref, 2), ==, "other.vhdx");
    g_assert_cmpstr(candidate(&ref, 3), ==, "//?/C:/VMs/disk/Base.vhdx");
    g_assert_cmpstr(candidate(&ref, 4), ==,
                    "//?/Volume{1234}/VMs/other.vhdx");
    g_assert_cmpuint(ref.candidates->len, ==, 5);
    /* The linkage compares in any case */
    g_assert_true(vhdx_guid_parse("0a1b2c3d-0000-4000-8000-00000000000f",
                                  &g));
    g_assert_true(vhdx_parent_ref_matches(&ref, &g));
    g.bytes[15] ^= 1;
    g_assert_false(vhdx_parent_ref_matches(&ref, &g));
    vhdx_parent_ref_clear(&ref);
    vhdx_locator_clear(&loc);
}

static void test_linkage2_matches_too(void)
{
    static const char *const kv[] = {
        "parent_linkage", "{00000000-0000-4000-8000-000000000001}",
        "parent_linkage2", "{00000000-0000-4000-8000-000000000002}",
        "relative_path", "base.vhdx",
        NULL,
    };
    VhdxLocator loc;
    VhdxParentRef ref;
    VhdxGuid g;

    locator_with(&loc, kv);
    g_assert_cmpint(vhdx_parent_ref_init(&ref, &loc, NULL), ==, 0);
    g_assert_true(vhdx_guid_parse("00000000-0000-4000-8000-000000000002",
                                  &g));
    g_assert_true(vhdx_parent_ref_matches(&ref, &g));
    vhdx_parent_ref_clear(&ref);
    vhdx_locator_clear(&loc);
}

static void assert_ref_fails(const char *const *kv, const char *needle)
{
    VhdxLocator loc;
    VhdxParentRef ref;
    GError *err = NULL;

    locator_with(&loc, kv);
    g_assert_cmpint(vhdx_parent_ref_init(&ref, &loc, &err), <, 0);
    g_assert_nonnull(strstr(err->message, needle));
    g_error_free(err);
    vhdx_locator_clear(&loc);
}

static void test_ref_errors(void)
{
    static const char *const no_linkage[] = {
        "relative_path", "base.vhdx", NULL,
    };
    static const char *const bad_linkage[] = {
        "parent_linkage", "not-a-guid", "relative_path", "b.vhdx", NULL,
    };
    static const char *const no_path[] = {
        "parent_linkage", "{00000000-0000-4000-8000-000000000001}", NULL,
    };
    VhdxLocator loc;
    VhdxParentRef ref;
    GError *err = NULL;

    assert_ref_fails(no_linkage, "no parent_linkage");
    assert_ref_fails(bad_linkage, "not a GUID");
    assert_ref_fails(no_path, "says where the parent is");

    locator_with(&loc, no_path);
    loc.type = vhdx_guid_page83;
    g_assert_cmpint(vhdx_parent_ref_init(&ref, &loc, &err), ==, -ENOTSUP);
    g_assert_nonnull(strstr(err->message, "type"));
    g_error_free(err);
    vhdx_locator_clear(&loc);
}

/* Builds the locator for a parent @name next to a child in @child_dir */
static void build(VhdxLocator *loc, const char *name, const char *child_dir,
                  const char *host_path, const VhdxGuid *dwg)
{
    VhdxParentSpec spec = {
        .name = name,
        .child_dir = child_dir,
        .host_path = host_path,
        .data_write_guid = *dwg,
        .logical_sector_size = 512,
    };

    vhdx_parent_locator_build(loc, &spec);
}

static void test_locator_build(void)
{
    g_autofree char *lower = NULL;
    VhdxLocator loc;
    VhdxParentRef ref;
    VhdxGuid g;

    vhdx_guid_generate(&g);
    build(&loc, "/vm/disks/base.vhdx", "/vm/disks", NULL, &g);
    g_assert_cmpstr(vhdx_locator_get(&loc, "relative_path"), ==,
                    ".\\base.vhdx");
    g_assert_cmpstr(vhdx_locator_get(&loc, "absolute_win32_path"), ==,
                    "/vm/disks/base.vhdx");
    /* libvhdi only parses lower case linkage GUIDs */
    lower = g_ascii_strdown(vhdx_locator_get(&loc, "parent_linkage"), -1);
    g_assert_cmpstr(vhdx_locator_get(&loc, "parent_linkage"), ==, lower);
    g_assert_cmpint(vhdx_parent_ref_init(&ref, &loc, NULL), ==, 0);
    g_assert_true(vhdx_parent_ref_matches(&ref, &g));
    g_assert_cmpstr(candidate(&ref, 0), ==, "base.vhdx");
    vhdx_parent_ref_clear(&ref);
    vhdx_locator_clear(&loc);

    build(&loc, "/vm/base.vhdx", "/vm/snaps/a", NULL, &g);
    g_assert_cmpstr(vhdx_locator_get(&loc, "relative_path"), ==,
                    "..\\..\\base.vhdx");
    vhdx_locator_clear(&loc);
    build(&loc, "/vm/x/base.vhdx", "/vm/y", NULL, &g);
    g_assert_cmpstr(vhdx_locator_get(&loc, "relative_path"), ==,
                    "..\\x\\base.vhdx");
    vhdx_locator_clear(&loc);
}

/*
 * A parent QEMU names with a protocol (json:, nbd://) is recorded as it
 * is, and read back as it is; the host file under it, when there is one,
 * is the absolute path other readers can use
 */
static void test_locator_qemu_filename(void)
{
    static const char json[] =
        "json:{\"driver\": \"vhdx\", \"file\": {\"driver\": \"blkdebug\", "
        "\"image\": {\"driver\": \"file\", \"filename\": \"/vm/b.vhdx\"}}}";
    VhdxLocator loc;
    VhdxParentRef ref;
    VhdxGuid g;

    g_assert_true(vhdx_parent_name_is_qemu_filename(json));
    g_assert_true(vhdx_parent_name_is_qemu_filename("nbd://h:10809/base"));
    g_assert_true(vhdx_parent_name_is_qemu_filename("nbd+unix:///x?"
                                                    "socket=/s"));
    g_assert_false(vhdx_parent_name_is_qemu_filename("C:\\VMs\\b.vhdx"));
    g_assert_false(vhdx_parent_name_is_qemu_filename("dir/a:b.vhdx"));
    g_assert_false(vhdx_parent_name_is_qemu_filename("base.vhdx"));

    vhdx_guid_generate(&g);
    build(&loc, json, "/vm", "/vm/b.vhdx", &g);
    g_assert_cmpstr(vhdx_locator_get(&loc, "relative_path"), ==, json);
    g_assert_cmpstr(vhdx_locator_get(&loc, "absolute_win32_path"), ==,
                    "/vm/b.vhdx");
    g_assert_cmpint(vhdx_parent_ref_init(&ref, &loc, NULL), ==, 0);
    g_assert_cmpstr(candidate(&ref, 0), ==, json);
    g_assert_cmpstr(candidate(&ref, 1), ==, "b.vhdx");
    vhdx_parent_ref_clear(&ref);
    vhdx_locator_clear(&loc);

    /* No host file: only QEMU can find the parent */
    build(&loc, "nbd://h:10809/base", "/vm", NULL, &g);
    g_assert_cmpstr(vhdx_locator_get(&loc, "relative_path"), ==,
                    "nbd://h:10809/base");
    g_assert_null(vhdx_locator_get(&loc, "absolute_win32_path"));
    vhdx_locator_clear(&loc);
}

/* ---- differencing images in the core ---- */

#define created_child test_create_child
#define assert_extent test_assert_extent

/* Opens @m for writing */
static VhdxImage *opened_for_writing(MemIO *m)
{
    return test_open(m, VHDX_OPEN_WRITE);
}

static void test_child_create_open(void)
{
    VhdxGuid pg;
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img = NULL;

    vhdx_guid_generate(&pg);
    m = created_child(64 * MiB, 2 * MiB, 512, &pg);
    g_assert_cmpint(vhdx_image_open(memio_io(m), 0, &img, NULL), ==, 0);
    g_assert_true(vhdx_image_is_differencing(img));
    g_assert_false(vhdx_image_is_fixed(img));
    /* A child's blocks are its parent's until written */
    assert_extent(img, 0, 64 * MiB, VHDX_EXTENT_UNALLOCATED, 2 * MiB);
    g_assert_true(vhdx_parent_ref_matches(vhdx_image_parent(img), &pg));
    g_assert_cmpstr(candidate(vhdx_image_parent(img), 0), ==, "base.vhdx");
    vhdx_image_free(img);
}

static void test_child_partial_blocks(void)
{
    const uint32_t lss = 4096;
    VhdxGuid pg;
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img = NULL;

    vhdx_guid_generate(&pg);
    /* 1 MiB blocks, 4 KiB sectors: 256 bits a block, chunk of 32768 blocks */
    m = created_child(64 * MiB, MiB, lss, &pg);
    img = opened_for_writing(m);
    /* Sectors 3..9 and 200..255 of block 5 are written */
    test_write(img, m, 5 * MiB + 3 * lss, 7 * lss, 0x35);
    test_write(img, m, 5 * MiB + 200 * lss, 56 * lss, 0x36);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    g_assert_cmpint(vhdx_image_open(memio_io(m), 0, &img, NULL), ==, 0);
    assert_extent(img, 5 * MiB, MiB, VHDX_EXTENT_UNALLOCATED, 3 * lss);
    assert_extent(img, 5 * MiB + 3 * lss, MiB, VHDX_EXTENT_DATA, 7 * lss);
    assert_extent(img, 5 * MiB + 10 * lss, MiB, VHDX_EXTENT_UNALLOCATED,
                  190 * lss);
    assert_extent(img, 5 * MiB + 200 * lss, MiB, VHDX_EXTENT_DATA, 56 * lss);
    /* A run stops where the request does */
    assert_extent(img, 5 * MiB + 4 * lss, 2 * lss, VHDX_EXTENT_DATA,
                  2 * lss);
    assert_extent(img, 6 * MiB, MiB, VHDX_EXTENT_UNALLOCATED, MiB);
    test_assert_reads(img, m, 5 * MiB, 3 * lss, 0xaa, 0xaa);
    test_assert_reads(img, m, 5 * MiB + 3 * lss, 7 * lss, 0xaa, 0x35);
    test_assert_reads(img, m, 5 * MiB + 200 * lss, 56 * lss, 0xaa, 0x36);
    vhdx_image_free(img);
}

static void test_child_bitmap_spans_pages(void)
{
    VhdxGuid pg;
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img = NULL;

    vhdx_guid_generate(&pg);
    /* 32 MiB blocks, 512-byte sectors: 65536 bits, two bitmap pages */
    m = created_child(128 * MiB, 32 * MiB, 512, &pg);
    img = opened_for_writing(m);
    /* 16 MiB - 4 KiB .. 16 MiB + 4 KiB straddles the two pages */
    test_write(img, m, 48 * MiB - 4096, 8192, 0x48);
    assert_extent(img, 32 * MiB, 32 * MiB, VHDX_EXTENT_UNALLOCATED,
                  16 * MiB - 4096);
    assert_extent(img, 48 * MiB - 4096, 32 * MiB, VHDX_EXTENT_DATA, 8192);
    assert_extent(img, 48 * MiB + 4096, 32 * MiB, VHDX_EXTENT_UNALLOCATED,
                  16 * MiB - 4096);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
}

static void test_child_make_empty(void)
{
    VhdxGuid pg, newer;
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img = NULL;
    uint64_t off, structures;
    VhdxBlockCounts counts;
    bool fresh;

    vhdx_guid_generate(&pg);
    m = created_child(64 * MiB, MiB, 512, &pg);
    structures = memio_size(m);
    img = opened_for_writing(m);
    for (uint64_t block = 0; block < 8; block += 3) {
        test_write(img, m, block * MiB, 4096, 0x11);
    }
    g_assert_cmpint(vhdx_image_flush(img, NULL), ==, 0);
    g_assert_cmpuint(memio_size(m), >, structures);
    g_assert_cmpint(vhdx_image_block_counts(img, &counts, NULL), ==, 0);
    g_assert_cmpuint(counts.by_state[VHDX_PAYLOAD_PARTIALLY_PRESENT], ==, 3);
    g_assert_cmpuint(counts.by_state[VHDX_PAYLOAD_NOT_PRESENT], ==, 61);
    g_assert_cmpuint(counts.bitmap_blocks, ==, 1);

    g_assert_cmpint(vhdx_image_make_empty(img, NULL, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_block_counts(img, &counts, NULL), ==, 0);
    g_assert_cmpuint(counts.by_state[VHDX_PAYLOAD_PARTIALLY_PRESENT], ==, 0);
    g_assert_cmpuint(counts.by_state[VHDX_PAYLOAD_NOT_PRESENT], ==, 64);
    g_assert_cmpuint(counts.bitmap_blocks, ==, 0);
    /* Blocks and the bitmap block are gone, and so is their space */
    g_assert_cmpuint(memio_size(m), ==, structures);
    g_assert_true(vhdx_guid_is_zero(&img->header.current.log_guid));
    g_assert_true(vhdx_parent_ref_matches(vhdx_image_parent(img), &pg));
    assert_extent(img, 0, MiB, VHDX_EXTENT_UNALLOCATED, MiB);
    /* It takes writes again, at the start of the free space */
    g_assert_cmpint(vhdx_image_begin_write(img, true, NULL), ==, 0);
    g_assert_cmpint(image_alloc_block(img, &off, &fresh, NULL), ==, 0);
    g_assert_cmpuint(off, ==, structures);
    image_unalloc_block(img, off);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    g_assert_cmpint(vhdx_image_open(memio_io(m), 0, &img, NULL), ==, 0);
    for (uint64_t block = 0; block < 64; block++) {
        assert_extent(img, block * MiB, MiB, VHDX_EXTENT_UNALLOCATED, MiB);
    }
    vhdx_image_free(img);

    /* Emptied again, it shows its parent as it is now: linkage follows */
    img = opened_for_writing(m);
    test_write(img, m, 0, 4096, 0x22);
    vhdx_guid_generate(&newer);
    g_assert_cmpint(vhdx_image_make_empty(img, &newer, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
    img = test_open(m, 0);
    g_assert_true(vhdx_parent_ref_matches(vhdx_image_parent(img), &newer));
    g_assert_false(vhdx_parent_ref_matches(vhdx_image_parent(img), &pg));
    assert_extent(img, 0, MiB, VHDX_EXTENT_UNALLOCATED, MiB);
    g_assert_cmpuint(memio_size(m), ==, structures);
    vhdx_image_free(img);
}

/* ---- linkage grants ---- */

static void some_grants(VhdxGrants *g)
{
    memset(g, 0, sizeof(*g));
    for (int i = 0; i < 3; i++) {
        VhdxGrant grant;

        vhdx_guid_generate(&grant.child);
        vhdx_guid_generate(&grant.linkage);
        vhdx_guid_generate(&grant.via);
        vhdx_grants_add(g, &grant);
    }
}

static VhdxImage *reopened(MemIO *m)
{
    VhdxImage *img = NULL;

    g_assert_cmpint(vhdx_image_open(memio_io(m), 0, &img, NULL), ==, 0);
    return img;
}

/*
 * Grants persist, survive a rewrite of the parent locator (the child of
 * a merge may itself be the parent of another one), and go away again
 */
static void test_grants_persist(void)
{
    VhdxGuid pg;
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img;
    VhdxLocator loc;
    VhdxGrants g;

    vhdx_guid_generate(&pg);
    m = created_child(64 * MiB, MiB, 512, &pg);
    some_grants(&g);
    img = opened_for_writing(m);
    g_assert_cmpint(vhdx_image_set_grants(img, &g, NULL), ==, 0);
    g_assert_true(vhdx_grants_equal(vhdx_image_grants(img), &g));
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    img = opened_for_writing(m);
    g_assert_true(vhdx_grants_equal(vhdx_image_grants(img), &g));
    {
        VhdxParentSpec spec = {
            .name = "/elsewhere/new.vhdx",
            .child_dir = "/vm",
            .data_write_guid = pg,
            .logical_sector_size = 512,
        };

        g_assert_cmpint(vhdx_image_set_parent(img, &spec, NULL), ==, 0);
    }
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    img = reopened(m);
    g_assert_true(vhdx_grants_equal(vhdx_image_grants(img), &g));
    g_assert_cmpint(vhdx_locator_decode(img->metadata.parent_locator,
                                        img->metadata.parent_locator_len,
                                        &loc, NULL), ==, 0);
    g_assert_cmpstr(vhdx_locator_get(&loc, "absolute_win32_path"), ==,
                    "/elsewhere/new.vhdx");
    vhdx_locator_clear(&loc);
    vhdx_image_free(img);

    memset(&g, 0, sizeof(g));
    img = opened_for_writing(m);
    g_assert_cmpint(vhdx_image_set_grants(img, &g, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
    img = reopened(m);
    g_assert_cmpuint(vhdx_image_grants(img)->count, ==, 0);
    g_assert_null(vhdx_metadata_find_other(&img->metadata,
                                           &vhdx_guid_linkage_grants));
    vhdx_image_free(img);
}

/*
 * Once a merge's via image is rebased onto the granting image, the grants
 * naming it go, in one write; an image no grant names changes nothing
 */
static void test_grants_retire_via(void)
{
    VhdxGuid pg, stranger;
    g_autoptr(MemIO) m = NULL;
    VhdxGuid fwg;
    VhdxImage *img;
    VhdxGrants g;

    vhdx_guid_generate(&pg);
    vhdx_guid_generate(&stranger);
    m = created_child(64 * MiB, MiB, 512, &pg);
    some_grants(&g);
    g_assert_cmpuint(g.count, >=, 2);
    img = opened_for_writing(m);
    g_assert_cmpint(vhdx_image_set_grants(img, &g, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    img = opened_for_writing(m);
    fwg = *vhdx_image_file_write_guid(img);
    g_assert_cmpint(vhdx_image_retire_via(img, &stranger, NULL), ==, 0);
    g_assert_true(vhdx_guid_equal(vhdx_image_file_write_guid(img), &fwg));
    g_assert_cmpint(vhdx_image_retire_via(img, &g.entries[0].via, NULL), ==,
                    0);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    img = reopened(m);
    g_assert_cmpuint(vhdx_image_grants(img)->count, ==, g.count - 1);
    for (uint32_t i = 1; i < g.count; i++) {
        g_assert_true(vhdx_grants_contain(vhdx_image_grants(img),
                                          &g.entries[i]));
    }
    vhdx_image_free(img);
}

/* A power cut at any write leaves the old grants or the new ones */
static void test_grants_power_cut(void)
{
    VhdxGuid pg;
    g_autoptr(MemIO) m = NULL;
    unsigned writes, old_seen = 0, new_seen = 0;
    VhdxGrants old, g;
    VhdxImage *img;

    vhdx_guid_generate(&pg);
    m = created_child(64 * MiB, MiB, 512, &pg);
    some_grants(&old);
    some_grants(&g);
    img = opened_for_writing(m);
    g_assert_cmpint(vhdx_image_set_grants(img, &old, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    /* How many writes a change of grants takes, up to the close */
    {
        g_autoptr(MemIO) t = memio_dup(m);

        g_assert_cmpint(vhdx_image_open(memio_io(t), VHDX_OPEN_WRITE, &img,
                                        NULL), ==, 0);
        writes = t->writes;
        g_assert_cmpint(vhdx_image_begin_write(img, false, NULL), ==, 0);
        g_assert_cmpint(vhdx_image_set_grants(img, &g, NULL), ==, 0);
        g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
        writes = t->writes - writes;
    }
    for (unsigned cut = 1; cut <= writes; cut++) {
        g_autoptr(MemIO) t = memio_dup(m);

        g_assert_cmpint(vhdx_image_open(memio_io(t), VHDX_OPEN_WRITE, &img,
                                        NULL), ==, 0);
        t->cut_after_writes = t->writes + cut;
        if (vhdx_image_begin_write(img, false, NULL) == 0) {
            vhdx_image_set_grants(img, &g, NULL);
        }
        vhdx_image_close(img, NULL);

        t->cut_after_writes = 0;
        g_assert_cmpint(vhdx_image_open(memio_io(t), VHDX_OPEN_WRITE, &img,
                                        NULL), ==, 0);
        if (vhdx_grants_equal(vhdx_image_grants(img), &old)) {
            old_seen++;
        } else {
            g_assert_true(vhdx_grants_equal(vhdx_image_grants(img), &g));
            new_seen++;
        }
        g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
    }
    g_assert_cmpuint(old_seen, >, 0);
    g_assert_cmpuint(new_seen, >, 0);
}

/*
 * A power cut at any write of the first data change of a session: if the
 * header has the new DataWriteGuid, the grants are there too.  Later
 * changes keep only the grants still called for.
 */
static void test_grants_before_data_write_guid(void)
{
    VhdxGuid pg, old_dwg;
    g_autoptr(MemIO) m = NULL;
    unsigned writes, changed = 0, unchanged = 0;
    VhdxGrants g, fewer;
    VhdxImage *img;

    vhdx_guid_generate(&pg);
    m = created_child(64 * MiB, MiB, 512, &pg);
    some_grants(&g);
    img = reopened(m);
    old_dwg = *vhdx_image_data_write_guid(img);
    vhdx_image_free(img);

    {
        g_autoptr(MemIO) t = memio_dup(m);

        g_assert_cmpint(vhdx_image_open(memio_io(t), VHDX_OPEN_WRITE, &img,
                                        NULL), ==, 0);
        writes = t->writes;
        g_assert_cmpint(vhdx_image_begin_data_change(img, &g, NULL), ==, 0);
        writes = t->writes - writes;
        /* Later in the session: one grant is no longer called for */
        fewer = g;
        fewer.count--;
        g_assert_cmpint(vhdx_image_begin_data_change(img, &fewer, NULL), ==,
                        0);
        g_assert_true(vhdx_grants_equal(vhdx_image_grants(img), &fewer));
        g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
        img = reopened(t);
        g_assert_true(vhdx_grants_equal(vhdx_image_grants(img), &fewer));
        vhdx_image_free(img);
    }
    for (unsigned cut = 1; cut <= writes; cut++) {
        g_autoptr(MemIO) t = memio_dup(m);

        g_assert_cmpint(vhdx_image_open(memio_io(t), VHDX_OPEN_WRITE, &img,
                                        NULL), ==, 0);
        t->cut_after_writes = t->writes + cut;
        vhdx_image_begin_data_change(img, &g, NULL);
        vhdx_image_free(img);
        t->cut_after_writes = 0;

        g_assert_cmpint(vhdx_image_open(memio_io(t), VHDX_OPEN_WRITE, &img,
                                        NULL), ==, 0);
        if (vhdx_guid_equal(vhdx_image_data_write_guid(img),
                            &old_dwg)) {
            unchanged++;
        } else {
            g_assert_true(vhdx_grants_equal(vhdx_image_grants(img), &g));
            changed++;
        }
        vhdx_image_free(img);
    }
    g_assert_cmpuint(changed, >, 0);
    g_assert_cmpuint(unchanged, >, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/parent/candidates-order", test_candidates_order);
    g_test_add_func("/parent/linkage2", test_linkage2_matches_too);
    g_test_add_func("/parent/ref-errors", test_ref_errors);
    g_test_add_func("/parent/locator-build", test_locator_build);
    g_test_add_func("/parent/locator-qemu-filename",
                    test_locator_qemu_filename);
    g_test_add_func("/parent/child-create-open", test_child_create_open);
    g_test_add_func("/parent/child-partial-blocks",
                    test_child_partial_blocks);
    g_test_add_func("/parent/child-bitmap-spans-pages",
                    test_child_bitmap_spans_pages);
    g_test_add_func("/parent/child-make-empty", test_child_make_empty);
    g_test_add_func("/parent/grants-persist", test_grants_persist);
    g_test_add_func("/parent/grants-retire-via", test_grants_retire_via);
    g_test_add_func("/parent/grants-power-cut", test_grants_power_cut);
    g_test_add_func("/parent/grants-before-data-write-guid",
                    test_grants_before_data_write_guid);
    return g_test_run();
}
