/*
 * Writes small valid seeds for the libFuzzer harnesses
 *
 * usage: gen-corpus DIR
 * Creates DIR/open, DIR/session, DIR/locator and DIR/log.  The images are
 * made with the core's create API and written to as the unit tests do:
 * data in dynamic, fixed and differencing images, logs left dirty by a
 * power cut (memio's cut_after_writes), a relocated BAT, grants, parent
 * locators; the session seeds are operation sequences (fuzz-session.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-log.h"
#include "fuzz-session.h"
#include "fuzz-sparse.h"
#include "vhdx/endian.h"
#include "vhdx/header.h"
#include "vhdx/log.h"
#include "vhdx/parent.h"
#include "vhdx-test-image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB VHDX_MiB

static const char *out_root;
static unsigned n_written;

static void save(const char *harness, const char *name, const void *data,
                 size_t len)
{
    g_autofree char *dir = g_build_filename(out_root, harness, NULL);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) err = NULL;

    if (g_mkdir_with_parents(dir, 0755) < 0) {
        g_error("cannot create %s: %s", dir, g_strerror(errno));
    }
    if (!g_file_set_contents(path, data, len, &err)) {
        g_error("%s", err->message);
    }
    n_written++;
}

/* ---- images for fuzz-open ---- */

/* Saves the image in @m in sparse form, its length rounded up to 4 KiB */
static void save_image(const char *name, MemIO *m, unsigned skip)
{
    size_t len = VHDX_ALIGN_UP(memio_size(m), FUZZ_SPARSE_UNIT);
    g_autoptr(GByteArray) out = NULL;

    g_byte_array_set_size(m->data, len);
    out = fuzz_sparse_encode(memio_bytes(m), len, skip);
    save("open", name, out->data, out->len);
}

static VhdxImage *open_rw(MemIO *m)
{
    return test_open(m, VHDX_OPEN_WRITE);
}

static void close_ok(VhdxImage *img)
{
    g_assert_cmpint(vhdx_image_close(img, NULL), ==, 0);
}

/* A block of zeros written as data is fully present yet compact */
static void zero_data_block(VhdxImage *img, MemIO *m, uint64_t block)
{
    uint64_t bs = vhdx_image_block_size(img);

    test_write(img, m, block * bs, bs, 0);
}

static void seed_dynamic(void)
{
    VhdxCreateParams p = test_dynamic_params(8 * MiB, MiB);
    g_autoptr(MemIO) m = test_create(&p);
    VhdxImage *img = open_rw(m);

    test_write(img, m, 0, 512, 0x41);
    test_write(img, m, 5 * MiB + 4096, 1024, 0x42);
    zero_data_block(img, m, 7);
    close_ok(img);
    save_image("dynamic", m, 0);
}

static void seed_empty(void)
{
    VhdxCreateParams p = test_dynamic_params(3 * MiB + 512, MiB);
    g_autoptr(MemIO) m = NULL;

    p.block_state_zero = false;
    m = test_create(&p);
    save_image("empty-not-present", m, 0);
    /* The same with both bad CRCs left alone: a torn header */
    save_image("empty-no-fixup", m, 0x1f);
}

static void seed_fixed(void)
{
    VhdxCreateParams p = test_dynamic_params(4 * MiB, MiB);
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img;

    p.fixed = true;
    m = test_create(&p);
    img = open_rw(m);
    test_write(img, m, MiB + 512, 512, 0x43);
    close_ok(img);
    save_image("fixed", m, 0);
}

static void seed_4k(void)
{
    VhdxCreateParams p = test_dynamic_params(16 * MiB, 4 * MiB);
    g_autoptr(MemIO) m = NULL;
    VhdxImage *img;

    p.logical_sector_size = 4096;
    m = test_create(&p);
    img = open_rw(m);
    test_write(img, m, 4 * MiB, 4096, 0x44);
    close_ok(img);
    save_image("dynamic-4k", m, 0);
}

static void seed_child(uint32_t lss)
{
    VhdxGuid dwg = VHDX_GUID_INIT(0x11223344, 0x5566, 0x4788, 0x99, 0xaa,
                                  0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00);
    g_autoptr(MemIO) m = test_create_child(8 * MiB, 2 * MiB, lss, &dwg);
    g_autofree char *name = g_strdup_printf("child-%u", lss);
    VhdxImage *img = open_rw(m);

    /* A partially present block, a fully present one */
    test_write(img, m, 2 * MiB + lss, lss, 0x45);
    zero_data_block(img, m, 3);
    close_ok(img);
    save_image(name, m, 0);
}

/* Blocks published, then a flush cut after @cut writes: a dirty log */
static void seed_dirty_log(unsigned cut)
{
    VhdxCreateParams p = test_dynamic_params(64 * MiB, MiB);
    g_autoptr(MemIO) m = test_create(&p);
    g_autofree char *name = g_strdup_printf("dirty-log-%u", cut);
    VhdxImage *img = open_rw(m);

    test_write(img, m, 0, 512, 0x46);
    test_write(img, m, 63 * MiB, 4096, 0x47);
    m->cut_after_writes = m->writes + cut;
    vhdx_image_flush(img, NULL);
    vhdx_image_free(img);
    m->cut_after_writes = 0;
    save_image(name, m, 0);
}

/* A BAT too small for the new size moves; the old region is free */
static void seed_grown(void)
{
    VhdxCreateParams p = test_dynamic_params(1024 * MiB, MiB);
    g_autoptr(MemIO) m = test_create(&p);
    VhdxImage *img = open_rw(m);

    test_write(img, m, 5 * MiB, 512, 0x48);
    g_assert_cmpint(vhdx_image_begin_data_change(img, NULL, NULL), ==, 0);
    g_assert_cmpint(vhdx_image_grow(img, 200 * VHDX_GiB, NULL), ==, 0);
    close_ok(img);
    save_image("grown-relocated-bat", m, 0);
}

static void seed_grants(void)
{
    VhdxCreateParams p = test_dynamic_params(8 * MiB, MiB);
    g_autoptr(MemIO) m = test_create(&p);
    VhdxImage *img = open_rw(m);
    VhdxGrants g = { .count = 2 };

    for (int i = 0; i < 2; i++) {
        memset(&g.entries[i].child, 0x10 + i, sizeof(VhdxGuid));
        memset(&g.entries[i].linkage, 0x20 + i, sizeof(VhdxGuid));
        memset(&g.entries[i].via, 0x30 + i, sizeof(VhdxGuid));
    }
    g_assert_cmpint(vhdx_image_set_grants(img, &g, NULL), ==, 0);
    test_write(img, m, MiB, 512, 0x49);
    close_ok(img);
    save_image("grants", m, 0);
}

static void seed_rebased(void)
{
    VhdxGuid dwg = VHDX_GUID_INIT(0x01020304, 0x0506, 0x4708, 0x89, 0x0a,
                                  0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10);
    g_autoptr(MemIO) m = test_create_child(4 * MiB, MiB, 512, &dwg);
    VhdxParentSpec spec = {
        .name = "json:{\"file\":{\"filename\":\"/other/dir/base.vhdx\"}}",
        .child_dir = "/vm",
        .host_path = "/other/dir/base.vhdx",
        .data_write_guid = dwg,
        .logical_sector_size = 512,
    };
    VhdxImage *img = open_rw(m);

    g_assert_cmpint(vhdx_image_set_parent(img, &spec, NULL), ==, 0);
    close_ok(img);
    save_image("child-rebased", m, 0);
}

/* Sets BAT entry @index of the image in @m (its BAT at @bat) */
static void poke_bat(MemIO *m, uint64_t bat, uint64_t index, unsigned state,
                     uint64_t offset)
{
    vhdx_st64(memio_bytes(m) + bat + index * 8, offset | state);
}

/*
 * Damage a consistency check finds and repairs: blocks sharing space,
 * on the metadata region, partially present without a parent, an
 * invalid state, a block past the end of the file
 */
static void seed_damaged(void)
{
    /* Dynamic, 1 MiB log: metadata at 2 MiB, BAT at 3 MiB, data at 4 */
    VhdxCreateParams p = test_dynamic_params(8 * MiB, MiB);
    g_autoptr(MemIO) m = test_create(&p);
    VhdxImage *img = open_rw(m);
    const uint64_t bat = 3 * MiB;

    test_write(img, m, 0, 512, 0x51);
    test_write(img, m, MiB, 512, 0x52);
    close_ok(img);
    poke_bat(m, bat, 2, VHDX_PAYLOAD_FULLY_PRESENT, 4 * MiB);
    poke_bat(m, bat, 3, VHDX_PAYLOAD_FULLY_PRESENT, 2 * MiB);
    poke_bat(m, bat, 4, VHDX_PAYLOAD_PARTIALLY_PRESENT, 5 * MiB);
    poke_bat(m, bat, 5, 5, 0);
    poke_bat(m, bat, 6, VHDX_PAYLOAD_FULLY_PRESENT, 64 * MiB);
    save_image("damaged", m, 0);
}

/* A child whose sector bitmap entry is lost, another on a data block */
static void seed_damaged_child(void)
{
    VhdxGuid dwg = VHDX_GUID_INIT(0x0badf00d, 0x5566, 0x4788, 0x99, 0xaa,
                                  0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01);
    g_autoptr(MemIO) m = test_create_child(8 * MiB, 2 * MiB, 512, &dwg);
    g_autoptr(MemIO) shared = NULL;
    VhdxImage *img = open_rw(m);
    /* 2 MiB blocks of 512-byte sectors: 2048 blocks to a chunk */
    const uint64_t bat = 3 * MiB, bitmap_index = 2048;
    uint64_t bitmap;

    test_write(img, m, 512, 512, 0x53);
    test_write(img, m, 2 * MiB + 512, 512, 0x54);
    close_ok(img);
    bitmap = vhdx_ld64(memio_bytes(m) + bat + bitmap_index * 8);
    shared = memio_dup(m);
    poke_bat(m, bat, bitmap_index, 0, 0);
    save_image("damaged-child-no-bitmap", m, 0);
    /* The bitmap block and block 1 on the same space */
    poke_bat(shared, bat, 1, VHDX_PAYLOAD_PARTIALLY_PRESENT,
             bitmap & VHDX_BAT_OFFSET_MASK);
    save_image("damaged-child-shared", shared, 0);
}

static void seeds_open(void)
{
    static const char raw[] = "vhdxfile\0Q\0E\0M\0U\0";

    seed_dynamic();
    seed_empty();
    seed_fixed();
    seed_4k();
    seed_child(512);
    seed_child(4096);
    for (unsigned cut = 1; cut <= 4; cut++) {
        seed_dirty_log(cut);
    }
    seed_grown();
    seed_grants();
    seed_rebased();
    seed_damaged();
    seed_damaged_child();
    /* A raw file: too short, but the input form a real image takes */
    save("open", "raw-truncated", raw, sizeof(raw));
}

/* ---- operation sequences for fuzz-session ---- */

typedef struct Seq {
    GByteArray *b;
} Seq;

static void seq_start(Seq *q, uint8_t base)
{
    uint8_t hdr[2] = { base, 0 };

    q->b = g_byte_array_new();
    g_byte_array_append(q->b, hdr, sizeof(hdr));
}

/* A sequence with one patch instead of none (model off) */
static void seq_start_patched(Seq *q, uint8_t base, SessionTarget t,
                              uint16_t offset, const uint8_t *data,
                              uint8_t len)
{
    uint8_t p[SESSION_PATCH_SIZE] = { t };

    q->b = g_byte_array_new();
    g_byte_array_append(q->b, &base, 1);
    g_byte_array_append(q->b, (const uint8_t *)"\1", 1);
    vhdx_st16(p + 1, offset);
    p[3] = len;
    memcpy(p + 4, data, len);
    g_byte_array_append(q->b, p, sizeof(p));
}

static void op(Seq *q, SessionOp o, uint8_t arg, uint16_t sectors,
               uint32_t start)
{
    uint8_t r[SESSION_OP_SIZE] = { o, arg };

    vhdx_st16(r + 2, sectors - 1);
    vhdx_st32(r + 4, start);
    g_byte_array_append(q->b, r, sizeof(r));
}

static void seq_save(Seq *q, const char *name)
{
    save("session", name, q->b->data, q->b->len);
    g_byte_array_unref(q->b);
}

/* Base bytes: kind, 4 MiB blocks, 4 KiB sectors, size index, 2 MiB log */
static uint8_t base(SessionKind kind, bool b4m, bool lss4k, unsigned size,
                    bool log2m)
{
    return kind | (b4m ? SESSION_BASE_BLOCK_4M : 0) |
           (lss4k ? SESSION_BASE_LSS_4K : 0) |
           size << SESSION_BASE_SIZE_SHIFT | (log2m ? SESSION_BASE_LOG_2M : 0);
}

/* Writes, partial and whole blocks, flush, reopen both ways, check */
static void seq_basic(const char *name, uint8_t b)
{
    Seq q;

    seq_start(&q, b);
    op(&q, OP_WRITE, 0x11, 8, 0);
    op(&q, OP_WRITE, 0x22, 2048, 2048);
    op(&q, OP_WRITE, 0x33, 1, 4097);
    op(&q, OP_FLUSH, 0, 1, 0);
    op(&q, OP_READ, 0, 2048, 0);
    op(&q, OP_REOPEN_RW, 0, 1, 0);
    op(&q, OP_WRITE, 0x44, 100, 3000);
    op(&q, OP_REOPEN_RO, 0, 1, 0);
    op(&q, OP_READ, 0, 2048, 2048);
    op(&q, OP_WRITE, 0x55, 16, 64);
    op(&q, OP_CHECK, 0, 1, 0);
    seq_save(&q, name);
}

/* Write-zeroes and discard: whole blocks, parts, unaligned */
static void seq_zero(const char *name, uint8_t b)
{
    Seq q;

    seq_start(&q, b);
    op(&q, OP_WRITE, 0x66, 2048, 0);
    op(&q, OP_WRITE, 0x67, 2048, 2048);
    op(&q, OP_WRITE_ZEROES, 0, 2048, 0);
    op(&q, OP_WRITE_ZEROES, 0, 17, 2100);
    op(&q, OP_DISCARD, 0, 2048, 2048);
    op(&q, OP_DISCARD, 0, 8, 4096);
    op(&q, OP_WRITE_ZEROES, 0, 2048, 1024);
    op(&q, OP_FLUSH, 0, 1, 0);
    op(&q, OP_WRITE, 0x68, 4, 2048);
    op(&q, OP_REOPEN_RW, 0, 1, 0);
    op(&q, OP_READ, 0, 2048, 1024);
    seq_save(&q, name);
}

/* Grow, write the new space, make_empty, reopen */
static void seq_grow(const char *name, uint8_t b)
{
    Seq q;

    seq_start(&q, b);
    op(&q, OP_WRITE, 0x77, 64, 0);
    op(&q, OP_GROW, 3, 2048, 0);
    op(&q, OP_WRITE, 0x78, 2048, 20000);
    op(&q, OP_GROW, OP_GROW_SHRINK, 1, 0);
    op(&q, OP_REOPEN_RW, 0, 1, 0);
    op(&q, OP_READ, 0, 2048, 20000);
    op(&q, OP_MAKE_EMPTY, 1, 1, 0);
    op(&q, OP_WRITE, 0x79, 8, 100);
    op(&q, OP_TRIM, 0, 1, 0);
    op(&q, OP_REOPEN_RO, 0, 1, 0);
    seq_save(&q, name);
}

/* Rebase a child, power cuts in flushes, clean, trim */
static void seq_crash(const char *name, uint8_t b, uint8_t cut)
{
    Seq q;

    seq_start(&q, b);
    op(&q, OP_WRITE, 0x81, 8, 0);
    op(&q, OP_FLUSH, 0, 1, 0);
    op(&q, OP_WRITE, 0x82, 2048, 2048);
    op(&q, OP_WRITE, 0x83, 1, 9000);
    op(&q, OP_CRASH, cut, 1, 0);
    op(&q, OP_SET_PARENT, 2, 1, 0);
    op(&q, OP_WRITE, 0x84, 300, 50);
    op(&q, OP_DISCARD, 0, 2048, 2048);
    op(&q, OP_CRASH, cut | OP_CRASH_CLEAN | OP_CRASH_REOPEN_RO, 1, 0);
    op(&q, OP_WRITE, 0x85, 1, 7);
    op(&q, OP_MAKE_CLEAN, 0, 1, 0);
    op(&q, OP_SET_PARENT, 7, 4000, 0);
    op(&q, OP_SET_PARENT, OP_SET_PARENT_BAD_LSS, 1, 0);
    op(&q, OP_CHECK, 0, 1, 0);
    seq_save(&q, name);
}

/* Grants recorded and pruned; a grow that moves the BAT */
static void seq_grants(const char *name, uint8_t b)
{
    Seq q;

    seq_start(&q, b);
    op(&q, OP_GRANTS, 2, 1, 0);
    op(&q, OP_WRITE, 0xa1, 8, 0);
    op(&q, OP_GRANTS, 1, 1, 0);
    op(&q, OP_REOPEN_RW, 0, 1, 0);
    op(&q, OP_GRANTS, 3, 1, 0);
    op(&q, OP_WRITE, 0xa2, 8, 4096);
    op(&q, OP_CRASH, 2, 1, 0);
    op(&q, OP_GROW, OP_GROW_HUGE, 1, 0);
    op(&q, OP_WRITE, 0xa3, 8, 0x7fffffff);
    op(&q, OP_REOPEN_RO, 0, 1, 0);
    op(&q, OP_CHECK, OP_CHECK_REPAIR, 1, 0);
    seq_save(&q, name);
}

static void seq_patched(void)
{
    static const uint8_t bad_state[8] = { 0x07 };
    static const uint8_t big_size[8] = { 0, 0, 0, 0, 0, 0x10 };
    Seq q;

    /* A BAT entry with an invalid state */
    seq_start_patched(&q, base(SESSION_DYNAMIC, false, false, 0, false),
                      TARGET_BAT, 8, bad_state, 1);
    op(&q, OP_WRITE, 0x91, 8, 2048);
    op(&q, OP_CHECK, 0, 1, 0);
    seq_save(&q, "patched-bat");
    /* Header 2 rewritten: sequence number (checksum fixed up) */
    seq_start_patched(&q, base(SESSION_CHILD, false, false, 0, false),
                      TARGET_HEADER2, 8, big_size, 8);
    op(&q, OP_WRITE, 0x92, 8, 2048);
    op(&q, OP_REOPEN_RW, 0, 1, 0);
    seq_save(&q, "patched-header");
    /* The virtual disk size item (offset from the items' start) */
    seq_start_patched(&q, base(SESSION_DYNAMIC, false, true, 0, false),
                      TARGET_METADATA_ITEMS, 8, big_size, 8);
    op(&q, OP_GROW, 1, 1, 0);
    op(&q, OP_WRITE, 0x93, 8, 0);
    seq_save(&q, "patched-metadata");
}

static void seeds_session(void)
{
    seq_basic("basic-dynamic", base(SESSION_DYNAMIC, false, false, 0,
                                    false));
    seq_basic("basic-fixed-4k", base(SESSION_FIXED, false, true, 1, false));
    seq_basic("basic-child", base(SESSION_CHILD, false, false, 2, false));
    seq_basic("basic-child-4m", base(SESSION_CHILD, true, true, 0, true));
    seq_zero("zero-dynamic", base(SESSION_DYNAMIC, false, false, 1, false));
    seq_zero("zero-not-present", base(SESSION_DYNAMIC_NOT_PRESENT, true,
                                      false, 2, false));
    seq_zero("zero-child", base(SESSION_CHILD, false, false, 0, false));
    seq_zero("zero-fixed", base(SESSION_FIXED, false, false, 3, false));
    seq_grow("grow-dynamic", base(SESSION_DYNAMIC, false, false, 3, false));
    seq_grow("grow-fixed", base(SESSION_FIXED, true, false, 3, true));
    seq_grow("grow-child", base(SESSION_CHILD, false, true, 0, false));
    for (uint8_t cut = 1; cut <= 7; cut += 3) {
        g_autofree char *c = g_strdup_printf("crash-child-%u", cut);
        g_autofree char *d = g_strdup_printf("crash-dynamic-%u", cut);

        seq_crash(c, base(SESSION_CHILD, false, false, 0, false), cut);
        seq_crash(d, base(SESSION_DYNAMIC, false, false, 0, true), cut);
    }
    seq_grants("grants-dynamic", base(SESSION_DYNAMIC, false, false, 0,
                                      false));
    seq_grants("grants-child", base(SESSION_CHILD, false, true, 2, false));
    seq_patched();
}

/* ---- parent locators for fuzz-locator ---- */

static void save_locator(const char *name, const VhdxLocator *loc)
{
    g_autofree uint8_t *buf = NULL;
    size_t len;

    g_assert_cmpint(vhdx_locator_encode(loc, &buf, &len, NULL), ==, 0);
    save("locator", name, buf, len);
}

static void seeds_locator(void)
{
    VhdxParentSpec spec = {
        .name = "/vm/images/base.vhdx",
        .child_dir = "/vm/children",
        .host_path = "/vm/images/base.vhdx",
        .logical_sector_size = 512,
    };
    VhdxLocator loc = { .type = vhdx_guid_vhdx_locator_type };

    vhdx_parent_locator_build(&loc, &spec);
    save_locator("built", &loc);
    vhdx_locator_set(&loc, VHDX_KEY_PARENT_LINKAGE2,
                     "{00000000-0000-0000-0000-000000000001}");
    vhdx_locator_set(&loc, VHDX_KEY_VOLUME_PATH,
                     "\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}"
                     "\\images\\base.vhdx");
    vhdx_locator_set(&loc, VHDX_KEY_ABSOLUTE_WIN32_PATH,
                     "\\\\?\\d:\\images\\base.vhdx");
    save_locator("windows", &loc);
    vhdx_locator_clear(&loc);

    loc.type = vhdx_guid_vhdx_locator_type;
    vhdx_locator_set(&loc, VHDX_KEY_RELATIVE_PATH,
                     "..\\caf\xc3\xa9\\\xf0\x9f\x98\x80.vhdx");
    vhdx_locator_set(&loc, "cl\xc3\xa9", "x");
    save_locator("non-ascii", &loc);
    vhdx_locator_clear(&loc);

    loc.type = vhdx_guid_vhdx_locator_type;
    save_locator("empty", &loc);
    vhdx_locator_set(&loc, VHDX_KEY_RELATIVE_PATH, "nbd://host:10809/base");
    vhdx_locator_set(&loc, VHDX_KEY_PARENT_LINKAGE,
                     "{83ed0ec3-24c8-49a6-a959-5e4bf1288bfb}");
    save_locator("qemu-filename", &loc);
    vhdx_locator_clear(&loc);
}

/* ---- logs for fuzz-log ---- */

/* The image fuzz-log starts from, with its LogGuid; see fuzz-log.c */
static MemIO *log_base(VhdxLog *log)
{
    static const VhdxGuid guid = FUZZ_LOG_GUID;
    VhdxCreateParams p = test_dynamic_params(8 * MiB, MiB);
    MemIO *m = test_create(&p);
    VhdxHeaderState st;
    VhdxHeader h;

    g_assert_cmpint(vhdx_header_load(memio_io(m), &st, NULL), ==, 0);
    h = st.current;
    h.log_guid = guid;
    g_assert_cmpint(vhdx_header_update(memio_io(m), &st, &h, NULL), ==, 0);
    vhdx_log_init(log, memio_io(m), h.log_offset, h.log_length, &guid);
    return m;
}

/* Saves the log of @m as fuzz-log's input: start sector, then contents */
static void save_log(const char *name, MemIO *m, const VhdxLog *log,
                     uint16_t start)
{
    const uint8_t *bytes = memio_bytes(m) + log->offset;
    size_t len = log->length;
    g_autoptr(GByteArray) out = g_byte_array_new();
    uint8_t hdr[2];

    while (len && !bytes[len - 1]) {
        len--;
    }
    len = VHDX_ALIGN_UP(len, 16);
    vhdx_st16(hdr, start);
    g_byte_array_append(out, hdr, sizeof(hdr));
    g_byte_array_append(out, bytes, len);
    save("log", name, out->data, out->len);
}

/*
 * Commits @n sectors at @home (data unless @zero) @times times; the power
 * fails after the last entry is written when @cut
 */
static void seed_log(const char *name, size_t n, uint64_t home, bool zero,
                     int times, bool cut, uint16_t start)
{
    g_autofree VhdxLogSector *s = g_new0(VhdxLogSector, n);
    g_autofree uint8_t *data = g_malloc(n * VHDX_LOG_SECTOR_SIZE);
    VhdxLog log;
    g_autoptr(MemIO) m = log_base(&log);

    for (size_t i = 0; i < n * VHDX_LOG_SECTOR_SIZE; i++) {
        data[i] = (i * 7 + i / 4096) & 0xff;
    }
    for (size_t i = 0; i < n; i++) {
        s[i].file_offset = home + i * VHDX_LOG_SECTOR_SIZE;
        s[i].data = zero ? NULL : data + i * VHDX_LOG_SECTOR_SIZE;
    }
    for (int t = 0; t < times; t++) {
        if (cut && t == times - 1) {
            m->cut_after_writes = m->writes + 1;
        }
        g_assert_cmpint(vhdx_log_commit(&log, s, n, NULL), ==, 0);
    }
    m->cut_after_writes = 0;
    save_log(name, m, &log, start);
}

static void seeds_log(void)
{
    seed_log("one-data", 1, 2 * MiB, false, 1, true, 0);
    seed_log("zeros", 4, 3 * MiB, true, 1, true, 0);
    seed_log("three-data", 3, 3 * MiB + 8192, false, 1, true, 0);
    seed_log("sequence", 1, 2 * MiB + 4096, false, 3, true, 0);
    seed_log("applied", 2, 2 * MiB, false, 2, false, 0);
    seed_log("beyond-eof", 1, 6 * MiB, false, 1, true, 0);
    seed_log("region-table", 1, VHDX_REGION1_OFFSET, false, 1, true, 0);
    /* Placed to straddle the end of the ring */
    seed_log("wrapping", 3, 2 * MiB, false, 1, true, 254);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    out_root = argv[1];
    seeds_open();
    seeds_session();
    seeds_locator();
    seeds_log();
    printf("%u seeds written to %s\n", n_written, out_root);
    return 0;
}
