/*
 * Unit tests: the block state transitions of guest writes, write-zeroes
 * and discard, in every BAT state of a block, with and without a parent,
 * for whole blocks and parts of one, exactly as the QEMU glue drives them
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/endian.h"
#include "vhdx-test-image.h"
#include "image-int.h"

#include <string.h>

#define MiB VHDX_MiB

#define BLOCK_SIZE      MiB
#define DISK_SIZE       (16 * MiB)
#define BLOCK           2           /* the block under test */
#define PARENT_BYTE     0xaa        /* what the parent shows */
#define OLD_BYTE        0x77        /* data the block held before */
#define NEW_BYTE        0x5a
#define STALE_BYTE      0xee        /* junk past the used end of the file */
/* A child's partially present block: its first sectors are its own */
#define PARTIAL_BYTES   4096

typedef enum Kind { BASE, CHILD, FIXED } Kind;

static const char *const kind_names[] = { "base", "child", "fixed" };

static const unsigned states[] = {
    VHDX_PAYLOAD_NOT_PRESENT,
    VHDX_PAYLOAD_UNDEFINED,
    VHDX_PAYLOAD_ZERO,
    VHDX_PAYLOAD_UNMAPPED,
    VHDX_PAYLOAD_FULLY_PRESENT,
    VHDX_PAYLOAD_PARTIALLY_PRESENT,
};

/* The requests: the whole block, or sectors in its middle */
typedef struct Range {
    const char *name;
    uint64_t in_block;
    uint64_t bytes;
} Range;

static const Range ranges[] = {
    { "whole", 0, BLOCK_SIZE },
    { "part", 64 * 512, 16 * 512 },
};

static uint64_t raw_entry_offset(VhdxImage *img)
{
    return image_bat_entry_offset(img,
                                  vhdx_bat_payload_index(&img->geo, BLOCK));
}

static unsigned raw_state(VhdxImage *img, MemIO *m)
{
    return vhdx_bat_state(vhdx_ld64(memio_bytes(m) + raw_entry_offset(img)));
}

/*
 * An image of @kind with BLOCK in @state, and a file whose space past
 * its used end holds junk, so new blocks must be zeroed where written
 * around: the demanding case.  false if @state is not one @kind has.
 */
static bool setup(Kind kind, unsigned state, MemIO **out)
{
    VhdxCreateParams p = test_dynamic_params(DISK_SIZE, BLOCK_SIZE);
    VhdxGuid parent_dwg;
    VhdxImage *img;
    MemIO *m;
    size_t end;

    if (kind != CHILD && state == VHDX_PAYLOAD_PARTIALLY_PRESENT) {
        return false;
    }
    if (kind == FIXED && state != VHDX_PAYLOAD_FULLY_PRESENT) {
        return false;
    }
    vhdx_guid_generate(&parent_dwg);
    p.fixed = kind == FIXED;
    m = kind == CHILD ?
        test_create_child(DISK_SIZE, BLOCK_SIZE, 512, &parent_dwg) :
        test_create(&p);
    img = test_open(m, VHDX_OPEN_WRITE);
    if (state == VHDX_PAYLOAD_FULLY_PRESENT) {
        test_write(img, m, BLOCK * BLOCK_SIZE, BLOCK_SIZE, OLD_BYTE);
    } else if (state == VHDX_PAYLOAD_PARTIALLY_PRESENT) {
        test_write(img, m, BLOCK * BLOCK_SIZE, PARTIAL_BYTES, OLD_BYTE);
    }
    g_assert_cmpint(vhdx_image_checkpoint(img, NULL), ==, 0);
    if (!vhdx_payload_has_data(state)) {
        vhdx_st64(memio_bytes(m) + raw_entry_offset(img),
                  vhdx_bat_entry(state, 0));
    }
    g_assert_cmpuint(raw_state(img, m), ==, state);
    vhdx_image_free(img);

    end = memio_size(m);
    g_byte_array_set_size(m->data, end + 4 * BLOCK_SIZE);
    memset(memio_bytes(m) + end, STALE_BYTE, 4 * BLOCK_SIZE);
    *out = m;
    return true;
}

/* The state a write of @r leaves a block of @kind in @state in */
static unsigned written_state(Kind kind, unsigned state, const Range *r)
{
    if (vhdx_payload_has_data(state)) {
        return state;
    }
    if (kind == CHILD && state == VHDX_PAYLOAD_NOT_PRESENT &&
        r->bytes < BLOCK_SIZE) {
        return VHDX_PAYLOAD_PARTIALLY_PRESENT;
    }
    return VHDX_PAYLOAD_FULLY_PRESENT;
}

static void read_block(VhdxImage *img, MemIO *m, uint8_t *buf)
{
    test_read(img, m, BLOCK * BLOCK_SIZE, BLOCK_SIZE, PARENT_BYTE, buf);
}

/* The model of vhdx_image_block_counts(): every entry of the BAT on disk */
static void count_file_entries(VhdxImage *img, MemIO *m, VhdxBlockCounts *c)
{
    const VhdxBatGeometry *g = &img->geo;

    const uint8_t *bat = memio_bytes(m) + img->regions.bat_offset;

    *c = (VhdxBlockCounts) { 0 };
    for (uint64_t b = 0; b < g->payload_blocks; b++) {
        uint64_t i = vhdx_bat_payload_index(g, b);

        c->by_state[vhdx_bat_state(vhdx_ld64(bat + i * 8))]++;
    }
    for (uint64_t chunk = 0; chunk < g->bitmap_blocks; chunk++) {
        uint64_t i = vhdx_bat_bitmap_index(g, chunk);

        c->bitmap_blocks += vhdx_bat_state(vhdx_ld64(bat + i * 8)) ==
                            VHDX_BITMAP_PRESENT;
    }
}

static void assert_counts_equal(const VhdxBlockCounts *a,
                                const VhdxBlockCounts *b)
{
    for (int s = 0; s < G_N_ELEMENTS(a->by_state); s++) {
        g_assert_cmpuint(a->by_state[s], ==, b->by_state[s]);
    }
    g_assert_cmpuint(a->bitmap_blocks, ==, b->bitmap_blocks);
}

static void image_counts(VhdxImage *img, VhdxBlockCounts *c)
{
    g_assert_cmpint(vhdx_image_block_counts(img, c, NULL), ==, 0);
}

/*
 * The block reads @want, also after the metadata went through the log;
 * and the image's counts of blocks by state, kept up to date as it
 * changes, are those of the BAT in the file (checkpointed by the caller),
 * those a new open counts and those counted for an open that only peeks
 */
static void assert_block_reads(VhdxImage **img, MemIO *m, const uint8_t *want)
{
    g_autofree uint8_t *have = g_malloc(BLOCK_SIZE);
    VhdxBlockCounts kept, in_file, reopened, peeked;
    VhdxImage *peek;

    read_block(*img, m, have);
    g_assert_true(memcmp(have, want, BLOCK_SIZE) == 0);
    image_counts(*img, &kept);
    count_file_entries(*img, m, &in_file);
    assert_counts_equal(&kept, &in_file);
    g_assert_cmpint(vhdx_image_close(*img, NULL), ==, 0);
    peek = test_open(m, VHDX_OPEN_PEEK);
    image_counts(peek, &peeked);
    assert_counts_equal(&kept, &peeked);
    vhdx_image_free(peek);
    *img = test_open(m, 0);
    read_block(*img, m, have);
    g_assert_true(memcmp(have, want, BLOCK_SIZE) == 0);
    image_counts(*img, &reopened);
    assert_counts_equal(&kept, &reopened);
}

static void check_write(Kind kind, unsigned state, const Range *r)
{
    g_autoptr(MemIO) m = NULL;
    g_autofree uint8_t *want = g_malloc(BLOCK_SIZE);
    VhdxImage *img;
    VhdxWrite w;

    if (!setup(kind, state, &m)) {
        return;
    }
    img = test_open(m, VHDX_OPEN_WRITE);
    read_block(img, m, want);
    memset(want + r->in_block, NEW_BYTE, r->bytes);

    g_assert_cmpint(vhdx_image_begin_data_change(img, NULL, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_plan_write(img, BLOCK * BLOCK_SIZE +
                                          r->in_block, r->bytes, &w, NULL),
                    ==, 0);
    g_assert_cmpuint(w.bytes, ==, r->bytes);
    g_assert_cmpint(w.allocating, ==, !vhdx_payload_has_data(state));
    /* Until it is finished, the write is invisible */
    g_assert_cmpuint(raw_state(img, m), ==, state);
    vhdx_image_cancel_write(img, &w);

    test_write(img, m, BLOCK * BLOCK_SIZE + r->in_block, r->bytes, NEW_BYTE);
    g_assert_cmpint(vhdx_image_checkpoint(img, NULL), ==, 0);
    g_assert_cmpuint(raw_state(img, m), ==, written_state(kind, state, r));
    assert_block_reads(&img, m, want);
    vhdx_image_free(img);
}

/* What a write-zeroes or discard of @r must do to a block of @kind */
typedef struct ZeroOutcome {
    bool write_zeros;           /* the glue writes zeros as data */
    bool changes;               /* the block gets new_state */
    unsigned new_state;
} ZeroOutcome;

static ZeroOutcome zero_outcome(Kind kind, unsigned state, const Range *r,
                                VhdxZeroKind zk)
{
    bool whole = r->bytes == BLOCK_SIZE;

    if (zk == VHDX_ZERO_DISCARD) {
        if (!whole || kind == FIXED) {
            return (ZeroOutcome) { 0 };
        }
        return (ZeroOutcome) {
            .changes = true,
            .new_state = kind == CHILD ? VHDX_PAYLOAD_ZERO :
                                         VHDX_PAYLOAD_NOT_PRESENT,
        };
    }
    if (kind == FIXED) {
        return (ZeroOutcome) { .write_zeros = true };
    }
    if (whole) {
        return (ZeroOutcome) {
            .changes = true, .new_state = VHDX_PAYLOAD_ZERO,
        };
    }
    return (ZeroOutcome) { .write_zeros = state != VHDX_PAYLOAD_ZERO };
}

static void check_zero(Kind kind, unsigned state, const Range *r,
                       VhdxZeroKind zk)
{
    ZeroOutcome expect = zero_outcome(kind, state, r, zk);
    g_autoptr(MemIO) m = NULL;
    g_autofree uint8_t *want = g_malloc(BLOCK_SIZE);
    VhdxImage *img;
    VhdxZeroing z;

    if (!setup(kind, state, &m)) {
        return;
    }
    img = test_open(m, VHDX_OPEN_WRITE);
    read_block(img, m, want);
    g_assert_cmpint(vhdx_image_plan_zero(img, BLOCK * BLOCK_SIZE +
                                         r->in_block, r->bytes, zk, &z,
                                         NULL), ==, 0);
    g_assert_cmpint(z.write_zeros, ==, expect.write_zeros);
    if (!expect.changes) {
        g_assert_cmpuint(z.first_block, ==, z.end_block);
        vhdx_image_free(img);
        return;
    }
    g_assert_cmpuint(z.first_block, ==, BLOCK);
    g_assert_cmpuint(z.end_block, ==, BLOCK + 1);
    g_assert_cmpuint(z.new_state, ==, expect.new_state);
    g_assert_cmpint(vhdx_image_begin_data_change(img, NULL, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_apply_zero(img, &z, BLOCK, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_checkpoint(img, NULL), ==, 0);
    g_assert_cmpuint(raw_state(img, m), ==, expect.new_state);
    /* Whole blocks read zeros: a discarded child block too */
    memset(want, 0, BLOCK_SIZE);
    assert_block_reads(&img, m, want);
    vhdx_image_free(img);
}

static void for_each_case(void (*check)(Kind, unsigned, const Range *,
                                        VhdxZeroKind), VhdxZeroKind zk)
{
    for (Kind kind = BASE; kind <= FIXED; kind++) {
        for (int s = 0; s < G_N_ELEMENTS(states); s++) {
            for (int r = 0; r < G_N_ELEMENTS(ranges); r++) {
                if (g_test_verbose()) {
                    g_test_message("%s, state %u, %s", kind_names[kind],
                                   states[s], ranges[r].name);
                }
                check(kind, states[s], &ranges[r], zk);
            }
        }
    }
}

static void check_write_case(Kind kind, unsigned state, const Range *r,
                             VhdxZeroKind unused)
{
    check_write(kind, state, r);
}

static void test_write_every_state(void)
{
    for_each_case(check_write_case, VHDX_ZERO_WRITE);
}

static void test_zero_every_state(void)
{
    for_each_case(check_zero, VHDX_ZERO_WRITE);
}

static void test_discard_every_state(void)
{
    for_each_case(check_zero, VHDX_ZERO_DISCARD);
}

/* A write is planned up to the end of its block; the rest comes next */
static void test_write_spans_blocks(void)
{
    VhdxCreateParams p = test_dynamic_params(DISK_SIZE + 512, BLOCK_SIZE);
    g_autoptr(MemIO) m = test_create(&p);
    VhdxImage *img = test_open(m, VHDX_OPEN_WRITE);
    VhdxWrite w;

    g_assert_cmpint(vhdx_image_begin_data_change(img, NULL, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_plan_write(img, BLOCK_SIZE - 512, 4096, &w,
                                          NULL), ==, 0);
    g_assert_cmpuint(w.bytes, ==, 512);
    vhdx_image_cancel_write(img, &w);
    /* The last block is a single sector */
    g_assert_cmpint(vhdx_image_plan_write(img, DISK_SIZE, 4096, &w, NULL),
                    ==, 0);
    g_assert_cmpuint(w.bytes, ==, 512);
    vhdx_image_cancel_write(img, &w);
    test_write(img, m, BLOCK_SIZE - 512, 3 * BLOCK_SIZE, 0x42);
    test_assert_reads(img, m, BLOCK_SIZE - 512, 3 * BLOCK_SIZE, 0, 0x42);
    test_assert_reads(img, m, 0, BLOCK_SIZE - 512, 0, 0);
    vhdx_image_free(img);
}

/* A cancelled allocation gives its space back: the next one gets it */
static void test_cancel_gives_space_back(void)
{
    VhdxCreateParams p = test_dynamic_params(DISK_SIZE, BLOCK_SIZE);
    g_autoptr(MemIO) m = test_create(&p);
    VhdxImage *img = test_open(m, VHDX_OPEN_WRITE);
    VhdxWrite w, again;

    g_assert_cmpint(vhdx_image_begin_data_change(img, NULL, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_plan_write(img, 0, 512, &w, NULL), ==, 0);
    g_assert_true(w.allocating);
    vhdx_image_cancel_write(img, &w);
    test_assert_extent(img, 0, BLOCK_SIZE, VHDX_EXTENT_ZERO, BLOCK_SIZE);
    g_assert_cmpint(vhdx_image_plan_write(img, 5 * BLOCK_SIZE, 512, &again,
                                          NULL), ==, 0);
    g_assert_cmpuint(again.data_offset, ==, w.data_offset);
    vhdx_image_cancel_write(img, &again);
    vhdx_image_free(img);
}

/* Write-zeroes over whole blocks frees their space for reuse */
static void test_zero_frees_space(void)
{
    VhdxCreateParams p = test_dynamic_params(DISK_SIZE, BLOCK_SIZE);
    g_autoptr(MemIO) m = test_create(&p);
    VhdxImage *img = test_open(m, VHDX_OPEN_WRITE);
    VhdxZeroing z;

    test_write(img, m, 0, 4 * BLOCK_SIZE, 0x33);
    g_assert_cmpint(vhdx_image_checkpoint(img, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_plan_zero(img, BLOCK_SIZE, 2 * BLOCK_SIZE,
                                         VHDX_ZERO_WRITE, &z, NULL), ==, 0);
    g_assert_cmpuint(z.end_block - z.first_block, ==, 2);
    for (uint64_t b = z.first_block; b < z.end_block; b++) {
        g_assert_cmpint(vhdx_image_apply_zero(img, &z, b, NULL), ==, 0);
    }
    g_assert_cmpint(vhdx_image_checkpoint(img, NULL), ==, 0);
    vhdx_image_seal_freed(img);
    vhdx_image_reuse_sealed(img);
    g_assert_cmpuint(vhdx_alloc_free_bytes(&img->alloc), ==,
                     2 * BLOCK_SIZE);
    test_assert_reads(img, m, BLOCK_SIZE, 2 * BLOCK_SIZE, 0, 0);
    test_assert_reads(img, m, 3 * BLOCK_SIZE, BLOCK_SIZE, 0, 0x33);
    vhdx_image_free(img);
}

/*
 * A child's first write into a block grows the file twice (the payload
 * block, then its chunk's sector bitmap block), each allocated unless
 * the image is opened sparse or the storage cannot allocate
 */
static void check_new_block_growth(unsigned open_flags, bool cannot_allocate,
                                   unsigned want_allocated)
{
    VhdxGuid parent_dwg;
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img;
    size_t length;
    unsigned truncates;

    vhdx_guid_generate(&parent_dwg);
    m = test_create_child(DISK_SIZE, BLOCK_SIZE, 512, &parent_dwg);
    img = test_open(m, VHDX_OPEN_WRITE | open_flags);
    length = memio_size(m);
    truncates = m->truncates;

    m->cannot_allocate = cannot_allocate;
    test_write(img, m, BLOCK * BLOCK_SIZE, 4096, NEW_BYTE);
    g_assert_cmpuint(m->grows_allocated, ==, want_allocated);
    g_assert_cmpuint(m->truncates - truncates, ==, 2 - want_allocated);
    g_assert_cmpuint(memio_size(m), ==,
                     length + BLOCK_SIZE + VHDX_BITMAP_BLOCK_SIZE);
    test_assert_reads(img, m, BLOCK * BLOCK_SIZE, 4096, PARENT_BYTE,
                      NEW_BYTE);
    test_assert_reads(img, m, BLOCK * BLOCK_SIZE + 4096, BLOCK_SIZE - 4096,
                      PARENT_BYTE, PARENT_BYTE);
    vhdx_image_free(img);
}

static void test_new_block_allocated(void)
{
    check_new_block_growth(0, false, 2);
}

static void test_new_block_sparse(void)
{
    check_new_block_growth(VHDX_OPEN_SPARSE, false, 0);
}

static void test_new_block_cannot_allocate(void)
{
    check_new_block_growth(0, true, 0);
}

/*
 * Metadata committed to the log but not yet home is read back from the
 * log once the cache has dropped it, and a cache miss reads the 64 KiB
 * around the page: the BAT page and two sector bitmap pages 8 pages
 * apart cost two reads
 */
static void test_reread_committed_metadata(void)
{
    const uint64_t far = 130 * BLOCK_SIZE;  /* bitmap page 8 of the chunk */
    VhdxGuid parent_dwg;
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img;
    VhdxExtent ext;
    unsigned reads;

    vhdx_guid_generate(&parent_dwg);
    m = test_create_child(256 * MiB, BLOCK_SIZE, 512, &parent_dwg);
    img = test_open(m, VHDX_OPEN_WRITE);
    test_write(img, m, 0, 4096, NEW_BYTE);
    test_write(img, m, far, 4096, OLD_BYTE);
    g_assert_cmpint(vhdx_image_flush(img, NULL), ==, 0);
    /* Committed, not home: the BAT in the file still says not present */
    g_assert_cmpuint(vhdx_bat_state(vhdx_ld64(memio_bytes(m) +
                                              image_bat_entry_offset(img, 0))),
                     ==, VHDX_PAYLOAD_NOT_PRESENT);
    vhdx_cache_invalidate(img->cache);

    reads = m->reads;
    g_assert_cmpint(vhdx_image_map(img, 0, BLOCK_SIZE, &ext, NULL), ==, 0);
    g_assert_cmpint(ext.kind, ==, VHDX_EXTENT_DATA);
    g_assert_cmpuint(ext.length, ==, 4096);
    g_assert_cmpint(vhdx_image_map(img, far, BLOCK_SIZE, &ext, NULL), ==, 0);
    g_assert_cmpint(ext.kind, ==, VHDX_EXTENT_DATA);
    g_assert_cmpuint(m->reads - reads, ==, 2);

    test_assert_reads(img, m, 0, 4096, PARENT_BYTE, NEW_BYTE);
    test_assert_reads(img, m, far, 4096, PARENT_BYTE, OLD_BYTE);
    test_assert_reads(img, m, far + 4096, BLOCK_SIZE - 4096, PARENT_BYTE,
                      PARENT_BYTE);
    vhdx_image_free(img);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/write/every-state", test_write_every_state);
    g_test_add_func("/write/zero-every-state", test_zero_every_state);
    g_test_add_func("/write/discard-every-state", test_discard_every_state);
    g_test_add_func("/write/spans-blocks", test_write_spans_blocks);
    g_test_add_func("/write/cancel-gives-space-back",
                    test_cancel_gives_space_back);
    g_test_add_func("/write/zero-frees-space", test_zero_frees_space);
    g_test_add_func("/write/new-block-allocated", test_new_block_allocated);
    g_test_add_func("/write/reread-committed-metadata",
                    test_reread_committed_metadata);
    g_test_add_func("/write/new-block-sparse", test_new_block_sparse);
    g_test_add_func("/write/new-block-cannot-allocate",
                    test_new_block_cannot_allocate);
    return g_test_run();
}
