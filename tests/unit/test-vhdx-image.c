/*
 * Unit tests: whole images — create, open, allocate, flush, crash, replay
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/endian.h"
#include "vhdx-test-image.h"
#include "image-int.h"

#include <errno.h>
#include <string.h>

#define MiB VHDX_MiB

#define dynamic_params test_dynamic_params
#define created test_create
#define opened test_open

static void assert_extent(VhdxImage *img, uint64_t offset,
                          VhdxExtentKind kind, uint64_t length)
{
    test_assert_extent(img, offset, UINT64_MAX / 2, kind, length);
}

/* Collects "what" lines of the faults a check reports, if @lines */
static void collect_fault(void *opaque, const VhdxFault *fault,
                          bool repaired)
{
    GPtrArray *lines = opaque;

    if (lines) {
        g_ptr_array_add(lines, g_strdup_printf("%s%s: %s",
                                               repaired ? "repaired " : "",
                                               fault->what, fault->repair));
    }
}

static int checked(VhdxImage *img, bool repair, GPtrArray *lines,
                   VhdxCheckReport *r)
{
    return vhdx_image_check(img, repair, collect_fault, lines, r, NULL);
}

static void test_create_open_dynamic(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB + 512, 8 * MiB);
    g_autoptr(MemIO) m = created(&p);
    VhdxImage *img = opened(m, 0);

    g_assert_cmpuint(img->geo.virtual_size, ==, 64 * MiB + 512);
    g_assert_cmpuint(img->geo.block_size, ==, 8 * MiB);
    g_assert_cmpuint(img->metadata.logical_sector_size, ==, 512);
    g_assert_false(img->metadata.has_parent);
    g_assert_false(img->metadata.leave_blocks_allocated);
    /* Every block reads as zeros; the last one is 512 bytes */
    assert_extent(img, 0, VHDX_EXTENT_ZERO, 8 * MiB);
    assert_extent(img, 3 * MiB, VHDX_EXTENT_ZERO, 5 * MiB);
    assert_extent(img, 64 * MiB, VHDX_EXTENT_ZERO, 512);
    vhdx_image_free(img);
}

static void test_create_fixed(void)
{
    VhdxCreateParams p = dynamic_params(16 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img;

    p.fixed = true;
    m = created(&p);
    img = opened(m, 0);
    g_assert_true(img->metadata.leave_blocks_allocated);
    assert_extent(img, 5 * MiB, VHDX_EXTENT_DATA, 3 * MiB);
    vhdx_image_free(img);
}

/* Writes all of @block with @pattern; returns its file offset */
static uint64_t write_block(VhdxImage *img, MemIO *m, uint64_t block,
                            uint8_t pattern)
{
    uint64_t block_size = vhdx_image_block_size(img);
    VhdxExtent ext;

    test_write(img, m, block * block_size, block_size, pattern);
    g_assert_cmpint(vhdx_image_map(img, block * block_size, block_size, &ext,
                                   NULL), ==, 0);
    g_assert_cmpint(ext.kind, ==, VHDX_EXTENT_DATA);
    g_assert_cmpuint(ext.file_offset % MiB, ==, 0);
    return ext.file_offset;
}

/* Zeroes all of @block through the core's write-zeroes */
static void zero_block(VhdxImage *img, uint64_t block)
{
    uint64_t block_size = vhdx_image_block_size(img);
    VhdxZeroing z;

    g_assert_cmpint(vhdx_image_begin_data_change(img, NULL, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_plan_zero(img, block * block_size, block_size,
                                         VHDX_ZERO_WRITE, &z, NULL), ==, 0);
    g_assert_false(z.write_zeros);
    g_assert_cmpint(vhdx_image_apply_zero(img, &z, block, NULL), ==, 0);
}

static void test_allocate_flush_reopen(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = created(&p);
    VhdxImage *img = opened(m, VHDX_OPEN_WRITE);
    VhdxHeader before = img->header.current;
    uint64_t off;
    VhdxExtent ext;

    off = write_block(img, m, 3, 0x5a);
    /* The block went where the file ended */
    g_assert_cmpuint(off, ==, img->regions.bat_offset +
                              img->regions.bat_length);
    /* The header changed GUIDs before anything else was written */
    g_assert_false(vhdx_guid_equal(&before.file_write_guid,
                                   &img->header.current.file_write_guid));
    g_assert_false(vhdx_guid_equal(&before.data_write_guid,
                                   &img->header.current.data_write_guid));
    g_assert_false(vhdx_guid_is_zero(&img->header.current.log_guid));
    g_assert_cmpint(vhdx_image_map(img, 12 * MiB + 7, MiB, &ext, NULL), ==,
                    0);
    g_assert_cmpint(ext.kind, ==, VHDX_EXTENT_DATA);
    g_assert_cmpuint(ext.file_offset, ==, off + 7);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    img = opened(m, 0);
    g_assert_true(vhdx_guid_is_zero(&img->header.current.log_guid));
    assert_extent(img, 12 * MiB, VHDX_EXTENT_DATA, 4 * MiB);
    assert_extent(img, 8 * MiB, VHDX_EXTENT_ZERO, 4 * MiB);
    vhdx_image_free(img);
}

static void test_read_only_open_writes_nothing(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = created(&p);
    VhdxImage *img;

    m->read_only = true;
    m->writes = 0;
    img = opened(m, 0);
    assert_extent(img, 0, VHDX_EXTENT_ZERO, 4 * MiB);
    g_assert_cmpint(vhdx_image_flush(img, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
    g_assert_cmpuint(m->writes, ==, 0);
}

/* Reads the payload BAT entry of @block straight from the file */
static uint64_t raw_bat_entry(MemIO *m, const VhdxImage *img, uint64_t block)
{
    return vhdx_ld64(memio_bytes(m) + img->regions.bat_offset +
                     vhdx_bat_payload_index(&img->geo, block) * 8);
}

/*
 * Publishes blocks 2 and 700 of the image in @m (their BAT entries lie in
 * different pages) and checkpoints (a flush, whose log entry is then
 * written home), the power cut after @cut writes of it (0: none, it must
 * succeed).  Returns the writes it made.
 */
static unsigned flush_cut(MemIO *m, unsigned cut)
{
    VhdxImage *img = opened(m, VHDX_OPEN_WRITE);
    unsigned writes;
    int ret;

    write_block(img, m, 2, 0x11);
    write_block(img, m, 700, 0x22);
    m->writes = 0;
    m->cut_after_writes = cut;
    ret = vhdx_image_checkpoint(img, NULL);
    g_assert(cut || ret == 0);
    writes = m->writes;
    vhdx_image_free(img);
    m->cut_after_writes = 0;
    return writes;
}

/* How many writes flush_cut()'s flush makes on a copy of @base */
static unsigned flush_writes(MemIO *base)
{
    g_autoptr(MemIO) probe = memio_dup(base);

    return flush_cut(probe, 0);
}

/*
 * A flush publishing two blocks whose BAT entries lie in different pages
 * (one transaction of two sectors), cut at every write it makes: after
 * replay the image shows both blocks or neither, and opens cleanly.
 */
static void test_power_cut_during_flush(void)
{
    VhdxCreateParams p = dynamic_params(1024 * MiB, 1 * MiB);
    g_autoptr(MemIO) base = created(&p);
    unsigned total_writes;

    total_writes = flush_writes(base);
    g_assert_cmpuint(total_writes, >=, 3);

    for (unsigned cut = 1; cut <= total_writes; cut++) {
        g_autoptr(MemIO) m = memio_dup(base);
        VhdxImage *img;
        uint64_t e2, e700;

        flush_cut(m, cut);
        img = opened(m, VHDX_OPEN_WRITE);
        e2 = raw_bat_entry(m, img, 2);
        e700 = raw_bat_entry(m, img, 700);
        g_assert_cmpuint(vhdx_bat_state(e2), ==, vhdx_bat_state(e700));
        if (vhdx_payload_has_data(vhdx_bat_state(e2))) {
            g_assert_cmpuint(memio_bytes(m)[vhdx_bat_offset(e2)], ==, 0x11);
            g_assert_cmpuint(memio_bytes(m)[vhdx_bat_offset(e700)], ==, 0x22);
        }
        g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
    }
}

/* The kind and length of every extent: what a reader sees */
static GString *image_layout(VhdxImage *img)
{
    GString *out = g_string_new(NULL);
    uint64_t offset = 0;

    while (offset < img->geo.virtual_size) {
        VhdxExtent ext;

        g_assert_cmpint(vhdx_image_map(img, offset, UINT64_MAX / 2, &ext,
                                       NULL), ==, 0);
        g_string_append_printf(out, "%d:%" G_GUINT64_FORMAT ":%"
                               G_GUINT64_FORMAT " ", ext.kind,
                               ext.file_offset, ext.length);
        offset += ext.length;
    }
    return out;
}

/*
 * A writer dies during a flush, at every write it makes: a read-only
 * open writes nothing yet sees what a writable open (which replays the
 * log into the file) sees; written to later, it replays the log into
 * the file first and then works as usual.
 */
static void test_read_only_replays_in_memory(void)
{
    VhdxCreateParams p = dynamic_params(1024 * MiB, 1 * MiB);
    g_autoptr(MemIO) base = created(&p);
    unsigned total_writes, pending = 0;

    total_writes = flush_writes(base);

    for (unsigned cut = 1; cut <= total_writes; cut++) {
        g_autoptr(MemIO) m = memio_dup(base);
        g_autoptr(MemIO) replayed = NULL;
        g_autoptr(GString) want = NULL;
        g_autoptr(GString) have = NULL;
        VhdxImage *img;
        unsigned writes;

        flush_cut(m, cut);

        replayed = memio_dup(m);
        img = opened(replayed, VHDX_OPEN_WRITE);
        want = image_layout(img);
        vhdx_image_free(img);

        writes = m->writes;
        m->read_only = true;
        img = opened(m, 0);
        have = image_layout(img);
        g_assert_cmpstr(have->str, ==, want->str);
        pending += vhdx_image_log_state(img) == VHDX_LOG_PENDING;
        g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
        g_assert_cmpuint(m->writes, ==, writes);
        m->read_only = false;

        /* Made writable, closed without a write: the log goes home */
        if (cut % 2) {
            g_autoptr(MemIO) idle = memio_dup(m);

            img = opened(idle, 0);
            g_assert_cmpint(vhdx_image_scan_space(img, NULL), ==, 0);
            vhdx_image_set_writable(img, true);
            g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
            img = opened(idle, 0);
            g_assert_cmpint(vhdx_image_log_state(img), !=, VHDX_LOG_PENDING);
            g_string_free(have, true);
            have = image_layout(img);
            g_assert_cmpstr(have->str, ==, want->str);
            vhdx_image_free(img);
        }

        /* Made writable (a reopen), then written to */
        img = opened(m, 0);
        g_assert_cmpint(vhdx_image_scan_space(img, NULL), ==, 0);
        vhdx_image_set_writable(img, true);
        write_block(img, m, 5, 0x33);
        g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
        img = opened(m, 0);
        g_assert_cmpint(vhdx_image_log_state(img), !=, VHDX_LOG_PENDING);
        /* The flushed blocks are as the replay had them, home now */
        {
            VhdxImage *ref = opened(replayed, 0);
            VhdxExtent a, b;

            g_assert_cmpint(vhdx_image_map(img, 2 * MiB, MiB, &a, NULL), ==,
                            0);
            g_assert_cmpint(vhdx_image_map(ref, 2 * MiB, MiB, &b, NULL), ==,
                            0);
            g_assert_cmpint(a.kind, ==, b.kind);
            g_assert_cmpuint(a.file_offset, ==, b.file_offset);
            vhdx_image_free(ref);
        }
        assert_extent(img, 5 * MiB, VHDX_EXTENT_DATA, MiB);
        g_assert_cmpuint(vhdx_bat_state(raw_bat_entry(m, img, 700)), ==,
                         vhdx_bat_state(raw_bat_entry(m, img, 2)));
        vhdx_image_free(img);
    }
    /* Some cuts left the log holding what the file did not */
    g_assert_cmpuint(pending, >, 0);
}

static void assert_open_fails(MemIO *m, unsigned flags, const char *needle)
{
    VhdxImage *img = NULL;
    GError *err = NULL;
    unsigned writes = m->writes;

    g_assert_cmpint(vhdx_image_open(memio_io(m), flags, &img, &err), <, 0);
    g_assert_null(img);
    g_assert_nonnull(err);
    if (!strstr(err->message, needle)) {
        g_error("'%s' not in '%s'", needle, err->message);
    }
    g_error_free(err);
    g_assert_cmpuint(m->writes, ==, writes);
}

static void test_hostile_images(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) good = created(&p);
    VhdxImage *img = opened(good, 0);
    uint64_t bat = img->regions.bat_offset;

    vhdx_image_free(img);
    {
        g_autoptr(MemIO) m = memio_new_from(memio_bytes(good), 4096);

        assert_open_fails(m, VHDX_OPEN_WRITE, "header area");
    }
    {
        g_autoptr(MemIO) m = memio_dup(good);

        memcpy(memio_bytes(m), "vhdxfilf", 8);
        assert_open_fails(m, VHDX_OPEN_WRITE, "not a VHDX file");
    }
    {
        /* A BAT entry pointing far beyond the end of the file */
        g_autoptr(MemIO) m = memio_dup(good);

        vhdx_st64(memio_bytes(m) + bat + 8,
                  vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT, 4096 * MiB));
        assert_open_fails(m, VHDX_OPEN_WRITE, "BAT entry 1");
    }
    {
        /* Two entries sharing one block */
        g_autoptr(MemIO) m = memio_dup(good);
        uint64_t e = vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT,
                                    memio_size(m));

        g_byte_array_set_size(m->data, memio_size(m) + 4 * MiB);
        vhdx_st64(memio_bytes(m) + bat, e);
        vhdx_st64(memio_bytes(m) + bat + 16, e);
        assert_open_fails(m, VHDX_OPEN_WRITE, "overlaps");
        /* A consistency check may still open it, and counts the damage */
        img = opened(m, VHDX_OPEN_CHECK);
        g_assert_cmpuint(img->overlaps, ==, 1);
        vhdx_image_free(img);
    }
    {
        /* A BAT entry pointing into the metadata region */
        g_autoptr(MemIO) m = memio_dup(good);

        g_byte_array_set_size(m->data, memio_size(m) + 8 * MiB);
        vhdx_st64(memio_bytes(m) + bat + 8,
                  vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT, 2 * MiB));
        assert_open_fails(m, VHDX_OPEN_WRITE, "overlaps");
    }
}

static void test_freed_space_reused_after_commit(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = created(&p);
    VhdxImage *img = opened(m, VHDX_OPEN_WRITE);
    uint64_t first, again;
    bool fresh;

    first = write_block(img, m, 0, 0x33);
    write_block(img, m, 1, 0x44);
    g_assert_cmpint(vhdx_image_flush(img, NULL), ==, 0);
    zero_block(img, 0);
    /* Not reusable before the change that freed it is durable */
    g_assert_false(vhdx_image_seal_freed(img));
    g_assert_cmpint(image_alloc_block(img, &again, &fresh, NULL), ==, 0);
    g_assert_cmpuint(again, !=, first);
    image_unalloc_block(img, again);
    g_assert_cmpint(vhdx_image_flush(img, NULL), ==, 0);
    /* ...nor before the caller says old I/O on it is over */
    g_assert_true(vhdx_image_seal_freed(img));
    g_assert_cmpint(image_alloc_block(img, &again, &fresh, NULL), ==, 0);
    g_assert_cmpuint(again, !=, first);
    image_unalloc_block(img, again);
    vhdx_image_reuse_sealed(img);
    g_assert_cmpint(image_alloc_block(img, &again, &fresh, NULL), ==, 0);
    g_assert_cmpuint(again, ==, first);
    g_assert_false(fresh);
    image_unalloc_block(img, again);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    /* After reopening, the hole before block 1 is found by the scan */
    img = opened(m, VHDX_OPEN_WRITE);
    g_assert_cmpuint(vhdx_alloc_free_bytes(&img->alloc), ==, 4 * MiB);
    vhdx_image_free(img);
}

static void test_close_trims_freed_tail(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = created(&p);
    VhdxImage *img = opened(m, VHDX_OPEN_WRITE);
    uint64_t last;
    VhdxCheckReport r;

    write_block(img, m, 0, 0x10);
    last = write_block(img, m, 1, 0x20);
    zero_block(img, 1);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
    g_assert_cmpuint(memio_size(m), ==, last);

    img = opened(m, 0);
    g_assert_cmpint(checked(img, false, NULL, &r), ==, 0);
    g_assert_cmpuint(r.leaked_bytes, ==, 0);
    assert_extent(img, 0, VHDX_EXTENT_DATA, 4 * MiB);
    assert_extent(img, 4 * MiB, VHDX_EXTENT_ZERO, 4 * MiB);
    vhdx_image_free(img);
}

/* Junk a crashed session left part-way into the next block is not zero */
static void test_alloc_over_stale_tail_is_not_fresh(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = created(&p);
    size_t end = memio_size(m);
    VhdxImage *img;
    uint64_t off;
    bool fresh;

    g_byte_array_set_size(m->data, end + MiB);
    memset(memio_bytes(m) + end, 0xee, MiB);
    img = opened(m, VHDX_OPEN_WRITE);
    g_assert_cmpint(vhdx_image_begin_write(img, true, NULL), ==, 0);
    g_assert_cmpint(image_alloc_block(img, &off, &fresh, NULL), ==, 0);
    g_assert_cmpuint(off, ==, end);
    g_assert_false(fresh);
    image_unalloc_block(img, off);
    /* Past the stale bytes, space is fresh again */
    g_assert_cmpint(image_alloc_block(img, &off, &fresh, NULL), ==, 0);
    g_assert_cmpint(image_alloc_block(img, &off, &fresh, NULL), ==, 0);
    g_assert_cmpuint(off, ==, end + 4 * MiB);
    g_assert_true(fresh);
    g_assert_cmpuint(memio_size(m), >=, off + 4 * MiB);
    vhdx_image_free(img);
}

static void test_check_counts_leaks(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = created(&p);
    size_t clean_size = memio_size(m);
    VhdxCheckReport r;
    VhdxImage *img;

    g_byte_array_set_size(m->data, clean_size + 3 * MiB);
    img = opened(m, 0);
    g_assert_cmpint(checked(img, false, NULL, &r), ==, 0);
    g_assert_cmpuint(r.corruptions, ==, 0);
    g_assert_cmpuint(r.leaked_bytes, ==, 3 * MiB);
    g_assert_cmpuint(r.image_end, ==, clean_size);
    g_assert_cmpuint(r.total_blocks, ==, 16);
    g_assert_cmpuint(r.allocated_blocks, ==, 0);
    vhdx_image_free(img);

    /* Trimming the leak leaves a clean log and no leak */
    img = opened(m, VHDX_OPEN_WRITE);
    write_block(img, m, 2, 0x66);
    g_assert_cmpint(checked(img, false, NULL, &r), ==, 0);
    g_assert_cmpint(vhdx_image_trim(img, r.image_end, NULL), ==, 0);
    g_assert_cmpuint(memio_size(m), ==, r.image_end);
    g_assert_true(vhdx_guid_is_zero(&img->header.current.log_guid));
    vhdx_image_free(img);
    img = opened(m, 0);
    g_assert_cmpint(checked(img, false, NULL, &r), ==, 0);
    g_assert_cmpuint(r.leaked_bytes, ==, 0);
    g_assert_cmpuint(r.allocated_blocks, ==, 1);
    assert_extent(img, 8 * MiB, VHDX_EXTENT_DATA, 4 * MiB);
    vhdx_image_free(img);
}


static void test_grow_in_place(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = created(&p);
    VhdxImage *img = opened(m, VHDX_OPEN_WRITE);
    uint64_t bat = img->regions.bat_offset;
    uint64_t off = write_block(img, m, 15, 0x77);

    g_assert_cmpint(vhdx_image_grow(img, 128 * MiB + 4096, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    img = opened(m, 0);
    g_assert_cmpuint(img->geo.virtual_size, ==, 128 * MiB + 4096);
    g_assert_cmpuint(img->regions.bat_offset, ==, bat);
    assert_extent(img, 60 * MiB, VHDX_EXTENT_DATA, 4 * MiB);
    assert_extent(img, 64 * MiB, VHDX_EXTENT_ZERO, 4 * MiB);
    assert_extent(img, 128 * MiB, VHDX_EXTENT_ZERO, 4096);
    g_assert_cmpuint(vhdx_bat_offset(raw_bat_entry(m, img, 15)), ==, off);
    vhdx_image_free(img);
}

static void test_grow_refuses_shrink(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = created(&p);
    VhdxImage *img = opened(m, VHDX_OPEN_WRITE);
    GError *err = NULL;

    g_assert_cmpint(vhdx_image_grow(img, 32 * MiB, &err), ==, -ENOTSUP);
    g_assert_nonnull(strstr(err->message, "shrunk"));
    g_clear_error(&err);
    g_assert_cmpint(vhdx_image_grow(img, 64 * MiB + 100, &err), ==, -EINVAL);
    g_assert_nonnull(strstr(err->message, "logical sector size"));
    g_clear_error(&err);
    vhdx_image_free(img);
}

/* 1 MiB blocks: a 1 MiB BAT region holds 131072 entries, about 127 GiB */
#define SMALL_BAT_SIZE  (1024 * MiB)
#define BIG_SIZE        (200 * VHDX_GiB)

static void grow_relocating(MemIO *m, unsigned cut)
{
    VhdxImage *img = opened(m, VHDX_OPEN_WRITE);

    write_block(img, m, 5, 0x55);
    g_assert_cmpint(vhdx_image_flush(img, NULL), ==, 0);
    m->writes = 0;
    m->cut_after_writes = cut;
    /* The checkpoint writes the new region tables home: cut there too */
    if (vhdx_image_grow(img, BIG_SIZE, NULL) == 0) {
        vhdx_image_checkpoint(img, NULL);
    }
    vhdx_image_free(img);
    m->cut_after_writes = 0;
}

static void test_grow_relocates_bat(void)
{
    VhdxCreateParams p = dynamic_params(SMALL_BAT_SIZE, 1 * MiB);
    g_autoptr(MemIO) m = created(&p);
    VhdxCheckReport r;
    VhdxImage *img = opened(m, 0);
    uint64_t old_bat = img->regions.bat_offset;

    vhdx_image_free(img);
    grow_relocating(m, 0);
    img = opened(m, VHDX_OPEN_WRITE);
    g_assert_cmpuint(img->geo.virtual_size, ==, BIG_SIZE);
    g_assert_cmpuint(img->regions.bat_offset, !=, old_bat);
    g_assert_cmpuint(img->regions.bat_length, >=,
                     img->geo.total_entries * 8);
    assert_extent(img, 5 * MiB, VHDX_EXTENT_DATA, MiB);
    assert_extent(img, 6 * MiB, VHDX_EXTENT_ZERO, MiB);
    assert_extent(img, BIG_SIZE - MiB, VHDX_EXTENT_ZERO, MiB);
    /* The old BAT region is free space now */
    g_assert_cmpuint(vhdx_alloc_free_bytes(&img->alloc), ==, MiB);
    g_assert_cmpint(checked(img, false, NULL, &r), ==, 0);
    g_assert_cmpuint(r.corruptions, ==, 0);
    vhdx_image_free(img);
}

static void test_grow_power_cut(void)
{
    VhdxCreateParams p = dynamic_params(SMALL_BAT_SIZE, 1 * MiB);
    g_autoptr(MemIO) base = created(&p);
    unsigned total;

    {
        g_autoptr(MemIO) probe = memio_dup(base);

        grow_relocating(probe, 0);
        total = probe->writes;
    }
    g_assert_cmpuint(total, >=, 4);
    for (unsigned cut = 1; cut <= total; cut++) {
        g_autoptr(MemIO) m = memio_dup(base);
        VhdxImage *img;

        grow_relocating(m, cut);
        img = opened(m, VHDX_OPEN_WRITE);
        g_assert_true(img->geo.virtual_size == SMALL_BAT_SIZE ||
                      img->geo.virtual_size == BIG_SIZE);
        assert_extent(img, 5 * MiB, VHDX_EXTENT_DATA, MiB);
        g_assert_cmpuint(memio_bytes(m)[vhdx_bat_offset(
                             raw_bat_entry(m, img, 5))], ==, 0x55);
        g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
    }
}

static void test_grow_fixed_allocates(void)
{
    VhdxCreateParams p = dynamic_params(8 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img;

    p.fixed = true;
    m = created(&p);
    img = opened(m, VHDX_OPEN_WRITE);
    g_assert_cmpint(vhdx_image_grow(img, 16 * MiB, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
    img = opened(m, 0);
    assert_extent(img, 12 * MiB, VHDX_EXTENT_DATA, 4 * MiB);
    g_assert_cmpuint(memio_size(m), >=,
                     vhdx_bat_offset(raw_bat_entry(m, img, 3)) + 4 * MiB);
    vhdx_image_free(img);
}

/* Opens, maps every block and closes; any outcome but a crash is fine */
static void open_and_walk(MemIO *m, unsigned flags)
{
    VhdxImage *img = NULL;
    GError *err = NULL;

    if (vhdx_image_open(memio_io(m), flags, &img, &err) < 0) {
        g_assert_nonnull(err);
        g_assert_cmpstr(err->message, !=, "");
        g_error_free(err);
        return;
    }
    for (uint64_t off = 0; off < img->geo.virtual_size;
         off += img->geo.block_size) {
        VhdxExtent ext;

        if (vhdx_image_map(img, off, img->geo.block_size, &ext, NULL) < 0) {
            break;
        }
        g_assert_cmpuint(ext.length, >, 0);
    }
    vhdx_image_close(img, NULL);
}

/*
 * Damages one spot: mostly in @hot, the bytes that carry meaning, else
 * anywhere before @end; a bit flip or a whole 32-bit field overwritten.
 */
static void damage_somewhere(uint8_t *bytes, GRand *rand,
                             const VhdxRange *hot, size_t n_hot, uint64_t end)
{
    uint64_t at;

    if (g_rand_int_range(rand, 0, 4)) {
        const VhdxRange *r = &hot[g_rand_int_range(rand, 0, n_hot)];

        at = r->offset + g_rand_int_range(rand, 0, r->length);
    } else {
        at = g_rand_int_range(rand, 0, end);
    }
    if (g_rand_boolean(rand)) {
        bytes[at] ^= 1u << g_rand_int_range(rand, 0, 8);
    } else {
        vhdx_st32(bytes + (at & ~(uint64_t)3), g_rand_int(rand));
    }
}

/*
 * Random damage to the structures of a valid image (seeded, so a failure
 * can be replayed): opening must fail cleanly or work, never crash, read
 * out of bounds or hang; a read-only open must write nothing.
 */
static void test_mutations_never_crash(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 1 * MiB);
    g_autoptr(MemIO) good = created(&p);
    GRand *rand = g_rand_new_with_seed(20261122);
    VhdxImage *img = opened(good, VHDX_OPEN_WRITE);
    uint64_t structures_end;
    VhdxRange hot[9];

    /* Some data, and a log left dirty on purpose (no clean close) */
    write_block(img, good, 0, 0x41);
    write_block(img, good, 63, 0x42);
    g_assert_cmpint(vhdx_image_flush(img, NULL), ==, 0);
    structures_end = img->regions.bat_offset + img->regions.bat_length;
    {
        const VhdxRange ranges[] = {
            { VHDX_FILE_ID_OFFSET, 16 },
            { VHDX_HEADER1_OFFSET, 80 },
            { VHDX_HEADER2_OFFSET, 80 },
            { VHDX_REGION1_OFFSET, 80 },
            { VHDX_REGION2_OFFSET, 80 },
            { img->header.current.log_offset, 8192 },
            { img->regions.metadata_offset, 32 + 6 * 32 },
            { img->regions.metadata_offset + 64 * VHDX_KiB, 64 },
            { img->regions.bat_offset, 8 * 70 },
        };

        memcpy(hot, ranges, sizeof(ranges));
    }
    vhdx_image_free(img);

    for (int i = 0; i < 1000; i++) {
        g_autoptr(MemIO) m = memio_dup(good);
        int flips = g_rand_int_range(rand, 1, 5);

        for (int f = 0; f < flips; f++) {
            damage_somewhere(memio_bytes(m), rand, hot, G_N_ELEMENTS(hot),
                             structures_end);
        }
        m->writes = 0;
        m->read_only = true;
        open_and_walk(m, 0);
        g_assert_cmpuint(m->writes, ==, 0);
        m->read_only = false;
        open_and_walk(m, VHDX_OPEN_WRITE);
    }
    g_rand_free(rand);
}

/* Gives the image's header @guid as LogGuid, as a writer starting does */
static void set_log_guid(MemIO *m, const VhdxGuid *guid)
{
    VhdxImage *img = opened(m, 0);
    VhdxHeader h = img->header.current;

    h.log_guid = *guid;
    g_assert_cmpint(vhdx_header_update(memio_io(m), &img->header, &h, NULL),
                    ==, 0);
    vhdx_image_free(img);
}

/*
 * A LogGuid with no entry behind it (a writer died before its first entry
 * was durable) costs every open a scan: a writable open clears it, a
 * read-only one writes nothing.
 */
static void test_stale_log_guid_cleared(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = created(&p);
    VhdxGuid guid;
    VhdxImage *img;

    vhdx_guid_generate(&guid);
    set_log_guid(m, &guid);

    m->writes = 0;
    img = opened(m, 0);
    g_assert_true(vhdx_guid_equal(&img->header.current.log_guid, &guid));
    g_assert_cmpint(vhdx_image_log_state(img), ==, VHDX_LOG_CLEAN);
    vhdx_image_free(img);
    g_assert_cmpuint(m->writes, ==, 0);

    img = opened(m, VHDX_OPEN_WRITE);
    g_assert_true(vhdx_guid_is_zero(&img->header.current.log_guid));
    vhdx_image_free(img);
    img = opened(m, 0);
    g_assert_true(vhdx_guid_is_zero(&img->header.current.log_guid));
    vhdx_image_free(img);
}

/*
 * A log entry whose home sector lies far past the end of the file (inside
 * a LastFileOffset that covers it): replay writes it, then the writable
 * open cuts the file back, since no structure references that space.  A
 * read-only open leaves the file as it was.
 */
static void test_replay_leaves_no_growth(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = created(&p);
    size_t size = memio_size(m);
    uint8_t sector[VHDX_LOG_SECTOR_SIZE];
    VhdxLogSector s = { .file_offset = 200 * MiB, .data = sector };
    VhdxImage *img = opened(m, 0);
    VhdxHeader h = img->header.current;
    VhdxCheckReport r;
    VhdxGuid guid;
    VhdxLog log;

    vhdx_image_free(img);
    memset(sector, 0x3c, sizeof(sector));
    vhdx_guid_generate(&guid);
    set_log_guid(m, &guid);
    vhdx_log_init(&log, memio_io(m), h.log_offset, h.log_length, &guid);
    /* Power fails once the entry is written: nothing reaches home */
    m->cut_after_writes = m->writes + 1;
    g_assert_cmpint(vhdx_log_commit(&log, &s, 1, NULL), ==, 0);
    m->cut_after_writes = 0;
    g_assert_cmpuint(memio_size(m), ==, size);

    m->writes = 0;
    img = opened(m, 0);
    g_assert_cmpint(vhdx_image_log_state(img), ==, VHDX_LOG_PENDING);
    /* The view in memory is cut back too: no leak the file lacks */
    g_assert_cmpint(checked(img, false, NULL, &r), ==, 0);
    g_assert_cmpuint(r.leaked_bytes, ==, 0);
    vhdx_image_free(img);
    g_assert_cmpuint(m->writes, ==, 0);
    g_assert_cmpuint(memio_size(m), ==, size);

    img = opened(m, VHDX_OPEN_WRITE);
    g_assert_cmpint(vhdx_image_log_state(img), ==, VHDX_LOG_REPLAYED);
    vhdx_image_free(img);
    g_assert_cmpuint(memio_size(m), ==, size);
}

/*
 * A header whose log lies on the BAT, with an entry there: the open is
 * refused before the replay writes anything
 */
static void test_log_on_bat_refused_unchanged(void)
{
    VhdxCreateParams p = dynamic_params(64 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = created(&p);
    g_autoptr(MemIO) before = NULL;
    g_autoptr(GError) err = NULL;
    uint8_t sector[VHDX_LOG_SECTOR_SIZE];
    VhdxImage *img = opened(m, 0);
    VhdxHeader h = img->header.current;
    VhdxLogSector s = { .file_offset = 60 * MiB, .data = sector };
    VhdxLog log;

    h.log_offset = img->regions.bat_offset;
    vhdx_guid_generate(&h.log_guid);
    g_assert_cmpint(vhdx_header_update(memio_io(m), &img->header, &h, NULL),
                    ==, 0);
    vhdx_image_free(img);
    memset(sector, 0x5a, sizeof(sector));
    g_byte_array_set_size(m->data, 61 * MiB);
    vhdx_log_init(&log, memio_io(m), h.log_offset, h.log_length, &h.log_guid);
    m->cut_after_writes = m->writes + 1;
    g_assert_cmpint(vhdx_log_commit(&log, &s, 1, NULL), ==, 0);
    m->cut_after_writes = 0;

    before = memio_dup(m);
    img = NULL;
    g_assert_cmpint(vhdx_image_open(memio_io(m), VHDX_OPEN_WRITE, &img,
                                    &err), ==, -EINVAL);
    g_assert_nonnull(strstr(err->message, "overlaps the header area or a "
                            "region"));
    g_assert_cmpmem(memio_bytes(m), memio_size(m), memio_bytes(before),
                    memio_size(before));
}

/* A BAT that is a hole is not read at open: a huge disk opens at once */
static void test_open_skips_bat_holes(void)
{
    VhdxCreateParams p = dynamic_params(4 * VHDX_TiB, MiB);
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img;

    p.block_state_zero = false;
    m = created(&p);
    m->bytes_read = 0;
    img = opened(m, 0);
    g_assert_cmpuint(img->regions.bat_length, >=, 32 * MiB);
    g_assert_cmpuint(m->bytes_read, <, 4 * MiB);
    vhdx_image_free(img);
}

/*
 * A parent spec with a sector size no image has is refused cleanly (the
 * resolve used to divide by it; found by fuzz-create)
 */
static void test_resolve_bad_parent_sector_size(void)
{
    static const uint32_t bad[] = { 0, 1000, 8192 };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        VhdxParentSpec parent = {
            .name = "/vm/base.vhdx",
            .child_dir = "/vm",
            .logical_sector_size = bad[i],
        };
        VhdxCreateRequest req = {
            .virtual_size = 8 * MiB,
            .parent = &parent,
        };
        g_autoptr(GError) err = NULL;
        VhdxCreateParams p;

        g_assert_cmpint(vhdx_create_params_resolve(&req, &p, &err), ==,
                        -EINVAL);
        g_assert_nonnull(strstr(err->message, "parent's logical sector "
                                "size"));
    }
}

/*
 * By default a dynamic image's blocks start NOT_PRESENT (as Hyper-V
 * makes them), so its BAT is never written and stays a hole; ZERO
 * entries only when asked for.  Both read as zeros.
 */
/*
 * A reader opens without reading the BAT, however large and full it is;
 * a writer (or a reader becoming one) reads all of it.  The reader still
 * counts the blocks (when asked) and maps them.
 */
static void test_read_only_open_skips_bat(void)
{
    VhdxCreateParams p = dynamic_params(1024 * 1024 * MiB, MiB);
    g_autoptr(MemIO) m = NULL;
    VhdxBlockCounts counts;
    VhdxImage *img;
    uint64_t bat_len;

    /* ZERO in every entry: no hole in the BAT to skip; 8 MiB of BAT */
    p.block_state_zero = true;
    m = created(&p);
    img = opened(m, VHDX_OPEN_WRITE);
    bat_len = img->geo.total_entries * VHDX_BAT_ENTRY_SIZE;
    g_assert_cmpuint(bat_len, >=, 8 * MiB);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    m->bytes_read = 0;
    img = opened(m, 0);
    g_assert_cmpuint(m->bytes_read, <, bat_len / 4);
    assert_extent(img, 40 * 1024 * MiB, VHDX_EXTENT_ZERO, MiB);
    g_assert_cmpuint(m->bytes_read, <, bat_len / 4);
    g_assert_cmpint(vhdx_image_block_counts(img, &counts, NULL), ==, 0);
    g_assert_cmpuint(counts.by_state[VHDX_PAYLOAD_ZERO], ==, 1024 * 1024);

    m->bytes_read = 0;
    g_assert_cmpint(vhdx_image_scan_space(img, NULL), ==, 0);
    g_assert_cmpuint(m->bytes_read, >=, bat_len);
    vhdx_image_set_writable(img, true);
    test_write(img, m, 5 * MiB, 4096, 0x5a);
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);

    m->bytes_read = 0;
    img = opened(m, VHDX_OPEN_WRITE);
    g_assert_cmpuint(m->bytes_read, >=, bat_len);
    test_assert_reads(img, m, 5 * MiB, 4096, 0, 0x5a);
    vhdx_image_free(img);
}

static void test_create_default_sparse_bat(void)
{
    VhdxCreateRequest req = { .virtual_size = 1024 * MiB };
    VhdxCreateParams p;
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img;
    const uint8_t *bat;

    g_assert_cmpint(vhdx_create_params_resolve(&req, &p, NULL), ==, 0);
    g_assert_false(p.block_state_zero);
    m = created(&p);
    img = opened(m, 0);
    bat = memio_bytes(m) + img->regions.bat_offset;
    for (uint64_t i = 0; i < img->regions.bat_length; i++) {
        g_assert_cmpuint(bat[i], ==, 0);
    }
    assert_extent(img, 0, VHDX_EXTENT_ZERO, p.block_size);
    vhdx_image_free(img);

    req.has_block_state_zero = req.block_state_zero = true;
    g_assert_cmpint(vhdx_create_params_resolve(&req, &p, NULL), ==, 0);
    g_assert_true(p.block_state_zero);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/image/create-open-dynamic", test_create_open_dynamic);
    g_test_add_func("/image/create-fixed", test_create_fixed);
    g_test_add_func("/image/read-only-open-skips-bat",
                    test_read_only_open_skips_bat);
    g_test_add_func("/image/create-default-sparse-bat",
                    test_create_default_sparse_bat);
    g_test_add_func("/image/allocate-flush-reopen",
                    test_allocate_flush_reopen);
    g_test_add_func("/image/read-only-writes-nothing",
                    test_read_only_open_writes_nothing);
    g_test_add_func("/image/power-cut-during-flush",
                    test_power_cut_during_flush);
    g_test_add_func("/image/read-only-replays-in-memory",
                    test_read_only_replays_in_memory);
    g_test_add_func("/image/hostile", test_hostile_images);
    g_test_add_func("/image/freed-space-reuse",
                    test_freed_space_reused_after_commit);
    g_test_add_func("/image/close-trims-freed-tail",
                    test_close_trims_freed_tail);
    g_test_add_func("/image/check-leaks", test_check_counts_leaks);
    g_test_add_func("/image/alloc-over-stale-tail",
                    test_alloc_over_stale_tail_is_not_fresh);
    g_test_add_func("/image/grow-in-place", test_grow_in_place);
    g_test_add_func("/image/grow-refuses-shrink", test_grow_refuses_shrink);
    g_test_add_func("/image/grow-relocates-bat", test_grow_relocates_bat);
    g_test_add_func("/image/grow-power-cut", test_grow_power_cut);
    g_test_add_func("/image/grow-fixed", test_grow_fixed_allocates);
    g_test_add_func("/image/stale-log-guid-cleared",
                    test_stale_log_guid_cleared);
    g_test_add_func("/image/replay-leaves-no-growth",
                    test_replay_leaves_no_growth);
    g_test_add_func("/image/log-on-bat-refused-unchanged",
                    test_log_on_bat_refused_unchanged);
    g_test_add_func("/image/open-skips-bat-holes", test_open_skips_bat_holes);
    g_test_add_func("/image/resolve-bad-parent-sector-size",
                    test_resolve_bad_parent_sector_size);
    g_test_add_func("/image/mutations-never-crash",
                    test_mutations_never_crash);
    return g_test_run();
}
