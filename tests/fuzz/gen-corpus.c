/*
 * Writes small valid seeds for the libFuzzer harnesses
 *
 * usage: gen-corpus DIR
 * Creates DIR/open, DIR/session, DIR/locator, DIR/log and DIR/create.
 * The images are made with the core's create API and written to as the
 * unit tests do: data in dynamic, fixed and differencing images, logs
 * left dirty by a power cut (memio's cut_after_writes), a relocated BAT,
 * grants, parent locators, some with a fault plan (fuzz-open.h); the
 * session seeds are operation sequences (fuzz-session.h), some failing
 * storage calls; the create seeds are requests and parameters, good and
 * bad, with operations on what they make (fuzz-create.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-create.h"
#include "fuzz-io.h"
#include "fuzz-log.h"
#include "fuzz-open.h"
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

/*
 * Saves the image in @m like save_image(), with a fault plan for @stage:
 * @call failing from its @nth time on (@flags: FUZZ_FAULT_* bits)
 */
static void save_image_fault(const char *name, MemIO *m, OpenStage stage,
                             FuzzIOCall call, uint8_t flags, uint16_t nth)
{
    size_t len = VHDX_ALIGN_UP(memio_size(m), FUZZ_SPARSE_UNIT);
    g_autoptr(GByteArray) out = NULL;
    uint8_t extra[FUZZ_SPARSE_EXTENT + OPEN_EXTRA_SIZE];

    g_byte_array_set_size(m->data, len);
    out = fuzz_sparse_encode(memio_bytes(m), len, 0);
    vhdx_st32(extra, FUZZ_SPARSE_EXTRA);
    vhdx_st16(extra + 4, OPEN_EXTRA_SIZE);
    extra[6] = stage;
    extra[7] = call | flags;
    vhdx_st16(extra + 8, nth);
    g_byte_array_append(out, extra, sizeof(extra));
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

/*
 * A log left dirty with zero descriptors, which only a hostile or foreign
 * writer makes (the core logs data sectors only): one over payload, and
 * a data sector past the end of the file.  A read-only open replays it
 * into memory: zeroed ranges and a longer file in its shadow view.
 */
static MemIO *zero_log_image(void)
{
    static const VhdxGuid guid = VHDX_GUID_INIT(
        0x7a65726f, 0x6c6f, 0x4767, 0x80, 0x01, 0x02, 0x03, 0x04, 0x05,
        0x06, 0x07);
    VhdxCreateParams p = test_dynamic_params(8 * MiB, MiB);
    MemIO *m = test_create(&p);
    VhdxImage *img = open_rw(m);
    uint8_t data[VHDX_LOG_SECTOR_SIZE];
    /* Block 0 lands at 4 MiB, after the 1 MiB BAT: the file ends at 5 */
    const VhdxLogSector sectors[] = {
        { 4 * MiB, NULL },
        { 4 * MiB + 4096, NULL },
        { 4 * MiB + 3 * 4096, NULL },
        { 12 * MiB, data },
    };
    VhdxHeaderState st;
    VhdxHeader h;
    VhdxLog log;

    test_write(img, m, 0, 4 * 4096, 0x71);
    close_ok(img);
    memset(data, 0x72, sizeof(data));
    g_assert_cmpint(vhdx_header_load(memio_io(m), &st, NULL), ==, 0);
    h = st.current;
    h.log_guid = guid;
    g_assert_cmpint(vhdx_header_update(memio_io(m), &st, &h, NULL), ==, 0);
    vhdx_log_init(&log, memio_io(m), h.log_offset, h.log_length, &guid);
    /* The entry is written, its home writes are not */
    m->cut_after_writes = m->writes + 1;
    g_assert_cmpint(vhdx_log_commit(&log, sectors, G_N_ELEMENTS(sectors),
                                    NULL), ==, 0);
    m->cut_after_writes = 0;
    return m;
}

/* Fault plans for fuzz-open: where each stage reads, writes, flushes */
typedef struct OpenFault {
    OpenStage stage;
    FuzzIOCall call;
    uint8_t flags;
    uint16_t nth;
} OpenFault;

#define ENOSPC_ (1 << FUZZ_FAULT_ERRNO_SHIFT)
#define EFBIG_  (2 << FUZZ_FAULT_ERRNO_SHIFT)
#define EROFS_  (3 << FUZZ_FAULT_ERRNO_SHIFT)

static const OpenFault open_faults[] = {
    { STAGE_READ_ONLY, FUZZ_IO_PREAD, 0, 1 },
    { STAGE_READ_ONLY, FUZZ_IO_PREAD, 0, 4 },
    { STAGE_READ_ONLY, FUZZ_IO_PREAD, EFBIG_, 8 },
    { STAGE_READ_ONLY, FUZZ_IO_PREAD, FUZZ_FAULT_STICKY, 12 },
    { STAGE_READ_ONLY, FUZZ_IO_LENGTH, 0, 1 },
    { STAGE_READ_ONLY, FUZZ_IO_LENGTH, 0, 2 },
    { STAGE_READ_ONLY, FUZZ_IO_BLOCK_STATUS, 0, 1 },
    { STAGE_READ_ONLY, FUZZ_IO_ANY, FUZZ_FAULT_NO_HOLES, 20 },
    { STAGE_CHECK, FUZZ_IO_PREAD, 0, 10 },
    { STAGE_CHECK, FUZZ_IO_LENGTH, 0, 3 },
    { STAGE_REPAIR, FUZZ_IO_PWRITE, 0, 1 },
    { STAGE_REPAIR, FUZZ_IO_PWRITE, ENOSPC_, 3 },
    { STAGE_REPAIR, FUZZ_IO_FLUSH, 0, 2 },
    { STAGE_WRITABLE, FUZZ_IO_PWRITE, 0, 1 },
    { STAGE_WRITABLE, FUZZ_IO_PWRITE, ENOSPC_, 2 },
    { STAGE_WRITABLE, FUZZ_IO_PWRITE, EROFS_, 4 },
    { STAGE_WRITABLE, FUZZ_IO_PWRITE, FUZZ_FAULT_STICKY, 6 },
    { STAGE_WRITABLE, FUZZ_IO_FLUSH, 0, 1 },
    { STAGE_WRITABLE, FUZZ_IO_FLUSH, 0, 3 },
    { STAGE_WRITABLE, FUZZ_IO_TRUNCATE, 0, 1 },
    { STAGE_WRITABLE, FUZZ_IO_LENGTH, 0, 4 },
    { STAGE_WRITABLE, FUZZ_IO_BLOCK_STATUS, FUZZ_FAULT_ZEROES, 1 },
    { STAGE_WRITABLE, FUZZ_IO_ANY, FUZZ_FAULT_ZEROES, 0 },
    { STAGE_REREAD, FUZZ_IO_PREAD, 0, 6 },
};

/* Every fault plan on a few images: healthy, dirty logs, damaged */
static void seeds_open_faults(void)
{
    VhdxCreateParams p = test_dynamic_params(8 * MiB, MiB);
    g_autoptr(MemIO) healthy = test_create(&p);
    g_autoptr(MemIO) dirty = test_create(&p);
    g_autoptr(MemIO) damaged = NULL;
    g_autoptr(MemIO) zero_log = zero_log_image();
    VhdxImage *img = open_rw(healthy);
    MemIO *images[4];
    static const char *const names[4] = {
        "healthy", "dirty", "damaged", "zero-log",
    };

    test_write(img, healthy, MiB + 512, 4096, 0x61);
    close_ok(img);
    damaged = memio_dup(healthy);
    /* BAT at 3 MiB: block 2 on the metadata region */
    poke_bat(damaged, 3 * MiB, 2, VHDX_PAYLOAD_FULLY_PRESENT, 2 * MiB);
    img = open_rw(dirty);
    test_write(img, dirty, 0, 512, 0x62);
    test_write(img, dirty, 5 * MiB, 512, 0x63);
    dirty->cut_after_writes = dirty->writes + 2;
    vhdx_image_flush(img, NULL);
    vhdx_image_free(img);
    dirty->cut_after_writes = 0;
    images[0] = healthy;
    images[1] = dirty;
    images[2] = damaged;
    images[3] = zero_log;
    save_image("dirty-zero-log", zero_log, 0);
    for (unsigned i = 0; i < 4; i++) {
        for (unsigned k = 0; k < G_N_ELEMENTS(open_faults); k++) {
            const OpenFault *o = &open_faults[k];
            g_autofree char *name = g_strdup_printf("fault-%s-%u",
                                                    names[i], k);
            g_autoptr(MemIO) m = memio_dup(images[i]);

            save_image_fault(name, m, o->stage, o->call, o->flags, o->nth);
        }
    }
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
    seeds_open_faults();
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

/* An OP_FAULT record: @call fails at its @nth time (@flags: FUZZ_FAULT_*) */
static void op_fault(Seq *q, FuzzIOCall call, uint8_t flags, uint16_t nth,
                     bool close)
{
    uint8_t r[SESSION_OP_SIZE] = { OP_FAULT, call | flags };

    vhdx_st16(r + 2, nth);
    vhdx_st32(r + 4, close ? OP_FAULT_CLOSE : 0);
    g_byte_array_append(q->b, r, sizeof(r));
}

/* A fault during the metadata work after writes: flush, trim, grow... */
static void seq_fault(const char *name, uint8_t b, FuzzIOCall call,
                      uint8_t flags, uint16_t nth, bool close)
{
    Seq q;

    seq_start(&q, b);
    op(&q, OP_WRITE, 0x11, 8, 0);
    op(&q, OP_FLUSH, 0, 1, 0);
    op(&q, OP_WRITE, 0x22, 2048, 2048);
    op_fault(&q, call, flags, nth, close);
    op(&q, OP_FLUSH, 0, 1, 0);
    op(&q, OP_WRITE, 0x33, 16, 4100);
    op(&q, OP_DISCARD, 0, 2048, 2048);
    op(&q, OP_REOPEN_RW, 0, 1, 0);
    op(&q, OP_TRIM, 0, 1, 0);
    op(&q, OP_GROW, 2, 1, 0);
    op(&q, OP_MAKE_CLEAN, 0, 1, 0);
    op(&q, OP_SET_PARENT, 2, 1, 0);
    op(&q, OP_READ, 0, 2048, 0);
    seq_save(&q, name);
}

/* A fault while a reopen replays the log a power cut left */
static void seq_fault_replay(const char *name, uint8_t b, FuzzIOCall call,
                             uint8_t flags, uint16_t nth)
{
    Seq q;

    seq_start(&q, b);
    op(&q, OP_WRITE, 0x44, 8, 0);
    op(&q, OP_WRITE, 0x45, 8, 6000);
    op(&q, OP_CRASH, 3 | OP_CRASH_REOPEN_RO, 1, 0);
    op_fault(&q, call, flags, nth, false);
    op(&q, OP_REOPEN_RW, 0, 1, 0);
    op(&q, OP_READ, 0, 2048, 0);
    op(&q, OP_WRITE, 0x46, 8, 0);
    seq_save(&q, name);
}

static void seeds_session_faults(void)
{
    static const uint16_t nths[] = { 1, 2, 4, 7 };
    uint8_t dynamic = base(SESSION_DYNAMIC, false, false, 0, false);
    uint8_t child = base(SESSION_CHILD, false, false, 0, false);
    uint8_t fixed = base(SESSION_FIXED, false, true, 1, false);

    for (FuzzIOCall c = 0; c < FUZZ_IO_CALLS; c++) {
        for (unsigned i = 0; i < G_N_ELEMENTS(nths); i++) {
            g_autofree char *name = g_strdup_printf("fault-%u-%u", c,
                                                    nths[i]);

            seq_fault(name, dynamic, c, (i & 1) * ENOSPC_, nths[i], i & 2);
        }
    }
    seq_fault("fault-child-any-9", child, FUZZ_IO_ANY, 0, 9, false);
    seq_fault("fault-child-any-30", child, FUZZ_IO_ANY, FUZZ_FAULT_STICKY,
              30, true);
    seq_fault("fault-fixed-pwrite-3", fixed, FUZZ_IO_PWRITE, 0, 3, true);
    seq_fault("fault-zeroes", dynamic, FUZZ_IO_ANY,
              FUZZ_FAULT_ZEROES | FUZZ_FAULT_NO_HOLES, 0, false);
    for (unsigned i = 0; i < G_N_ELEMENTS(nths); i++) {
        g_autofree char *r = g_strdup_printf("fault-replay-read-%u", nths[i]);
        g_autofree char *w = g_strdup_printf("fault-replay-write-%u",
                                             nths[i]);

        seq_fault_replay(r, dynamic, FUZZ_IO_PREAD, 0, nths[i] * 3);
        seq_fault_replay(w, child, FUZZ_IO_ANY, 0, nths[i] * 2);
    }
    seq_fault_replay("fault-replay-truncate", dynamic, FUZZ_IO_TRUNCATE, 0,
                     1);
    seq_fault_replay("fault-replay-length", dynamic, FUZZ_IO_LENGTH, 0, 2);
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
    seeds_session_faults();
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

/* ---- requests for fuzz-create ---- */

/* The header of a fuzz-create input, field by field (fuzz-create.h) */
typedef struct CreateSeed {
    uint8_t flags;
    uint8_t shift;
    uint16_t mantissa;
    uint16_t addend;
    uint8_t block;
    uint8_t log;
    uint8_t lss;
    uint8_t pss;
    uint8_t parent;
    uint8_t creator;
    uint8_t phase;
    uint8_t fault;              /* the fault plan's first byte */
    uint16_t nth;
} CreateSeed;

/* Sector size codes (create_sector_sizes[] in fuzz-create.c) */
enum { LSS_512, LSS_4K, LSS_0 = 4, LSS_1K, LSS_8K, LSS_520 };

static GByteArray *cseed_start(const CreateSeed *c)
{
    GByteArray *b = g_byte_array_new();
    uint8_t h[CREATE_HEADER_SIZE] = {
        c->flags, c->shift, 0, 0, 0, 0, c->block, c->log, c->lss, c->pss,
        c->parent, c->creator, c->phase, c->fault,
    };

    vhdx_st16(h + 2, c->mantissa);
    vhdx_st16(h + 4, c->addend);
    vhdx_st16(h + 14, c->nth);
    g_byte_array_append(b, h, sizeof(h));
    return b;
}

static void cop(GByteArray *b, CreateOp o, uint8_t arg, uint16_t count,
                uint32_t block)
{
    uint8_t r[CREATE_OP_SIZE] = { o, arg };

    vhdx_st16(r + 2, count);
    vhdx_st32(r + 4, block);
    g_byte_array_append(b, r, sizeof(r));
}

static void cseed_save(GByteArray *b, const char *name)
{
    save("create", name, b->data, b->len);
    g_byte_array_unref(b);
}

/* A request without operations */
static void cseed_plain(const char *name, const CreateSeed *c)
{
    cseed_save(cseed_start(c), name);
}

/* The usual work on a small image: writes, zeroes, grow, reopen */
static void cseed_work(const char *name, const CreateSeed *c)
{
    GByteArray *b = cseed_start(c);

    cop(b, COP_WRITE, 0x11, 7, 0);
    cop(b, COP_WRITE, 0x12, 127, 3);
    cop(b, COP_ZERO, 0, 2, 1);
    cop(b, COP_DISCARD, 1, 3, 0);
    cop(b, COP_MAP, 0, 16, 0);
    cop(b, COP_FLUSH, 0, 0, 0);
    cop(b, COP_GROW, 1, 3, 0);
    cop(b, COP_REOPEN, 0, 0, 0);
    cop(b, COP_WRITE, 0x13, 0, 9);
    cop(b, COP_CHECK, 1, 0, 0);
    cop(b, COP_MAKE_CLEAN, 0, 0, 0);
    cop(b, COP_MAKE_EMPTY, 0, 0, 0);
    cop(b, COP_CHECK, 0, 0, 0);
    cseed_save(b, name);
}

/*
 * A BAT of more pages than the metadata cache holds: maps evict clean
 * pages, strided write-zeroes dirty more pages than one commit takes,
 * maps of dirty pages commit, emptying rewrites every page
 */
static void cseed_large(const char *name, const CreateSeed *c)
{
    GByteArray *b = cseed_start(c);

    cop(b, COP_MAP, 9, 1199, 0);
    cop(b, COP_ZERO, 9, 299, 0);
    cop(b, COP_MAP, 9, 299, 0);
    cop(b, COP_DISCARD, 9, 299, 512);
    cop(b, COP_FLUSH, 0, 0, 0);
    cop(b, COP_WRITE, 0x21, 3, 700000);
    cop(b, COP_MAKE_EMPTY, 0, 0, 0);
    cop(b, COP_CHECK, 0, 0, 0);
    cseed_save(b, name);
}

static void seeds_create(void)
{
    const uint8_t req = CREATE_RESOLVE;
    const uint8_t has_all = CREATE_HAS_BLOCK | CREATE_HAS_LOG |
                            CREATE_HAS_LSS;
    /* 8 MiB dynamic, 1 MiB blocks, 1 MiB log, 512-byte sectors */
    const CreateSeed small = {
        .flags = req | has_all | CREATE_ZERO, .shift = 20, .mantissa = 8,
        .log = 1,
    };
    CreateSeed c;

    cseed_work("dynamic", &small);
    c = small;
    c.flags = req | CREATE_FIXED | CREATE_HAS_BLOCK | CREATE_HAS_LSS |
              CREATE_CREATOR;
    c.mantissa = 12;
    c.lss = LSS_4K;
    c.creator = 1;
    cseed_work("fixed-4k", &c);
    c = small;
    c.flags = req | CREATE_CHILD;
    c.mantissa = 64;
    cseed_work("child-default", &c);
    c.flags = CREATE_CHILD;
    c.block = 1;
    c.log = 2;
    c.pss = LSS_512;
    c.parent = 2 | LSS_4K << 3 | CREATE_PARENT_ROOT;
    c.lss = LSS_4K;
    cseed_work("child-params-4k", &c);
    c = small;
    c.flags = CREATE_ZERO | CREATE_CREATOR;
    c.block = 5;
    c.log = 3;
    c.mantissa = 100;
    c.addend = 512;
    c.creator = 4;
    cseed_work("params-32m-blocks", &c);

    /* Large BATs: 600 GiB in 1 MiB blocks, not present; 64 TiB */
    c = small;
    c.flags = req | CREATE_HAS_BLOCK;
    c.shift = 30;
    c.mantissa = 600;
    cseed_large("large-bat", &c);
    c.flags = req | CREATE_HAS_BLOCK | CREATE_CHILD;
    cseed_large("large-bat-child", &c);
    c = small;
    c.flags = req;
    c.shift = 40;
    c.mantissa = 64;
    cseed_large("default-64t", &c);
    c.mantissa = 0;
    c.shift = 30;
    for (unsigned i = 0; i < 3; i++) {
        static const uint16_t gib[] = { 2, 200, 40000 };
        g_autofree char *name = g_strdup_printf("default-%ug", gib[i]);

        c.mantissa = gib[i];
        cseed_plain(name, &c);
    }

    /* Requests and parameters refused */
    c = small;
    c.shift = 40;
    c.mantissa = 64;
    c.addend = 512;
    cseed_plain("too-large", &c);
    c = small;
    c.addend = 100;
    cseed_plain("odd-size", &c);
    c = small;
    c.log = CREATE_LOG_4G | 1;
    cseed_plain("log-4g", &c);
    c.log = CREATE_LOG_4K | 1;
    cseed_plain("log-odd", &c);
    c.log = 0;
    cseed_plain("log-zero", &c);
    c = small;
    c.block = CREATE_BLOCK_ODD | 3;
    cseed_plain("block-odd", &c);
    c.block = 9;
    cseed_plain("block-512m", &c);
    c.block = CREATE_BLOCK_ODD | 6;
    cseed_plain("block-3m", &c);
    c = small;
    c.lss = LSS_1K;
    cseed_plain("lss-1k", &c);
    c = small;
    c.flags |= CREATE_CHILD;
    c.lss = LSS_4K;
    cseed_plain("child-lss-mismatch", &c);
    c.flags |= CREATE_FIXED;
    c.lss = LSS_512;
    cseed_plain("child-fixed", &c);
    for (unsigned code = 4; code < 7; code++) {
        g_autofree char *name = g_strdup_printf("parent-name-%u", code);

        c = small;
        c.flags = req | CREATE_CHILD;
        c.parent = code;
        cseed_plain(name, &c);
    }
    /* The same refusals by vhdx_image_create itself */
    for (unsigned i = 0; i < 8; i++) {
        static const struct { uint8_t lss, pss, log, block, flags; } bad[] = {
            { LSS_1K, LSS_512, 1, 0, 0 },
            { LSS_512, LSS_520, 1, 0, 0 },
            { LSS_512, LSS_512, 0, 0, 0 },
            { LSS_512, LSS_512, CREATE_LOG_4K | 1, 0, 0 },
            { LSS_512, LSS_512, 1, 0, CREATE_CHILD | CREATE_FIXED },
            { LSS_4K, LSS_4K, 1, 0, CREATE_CHILD },
            { LSS_0, LSS_4K, 1, 0, 0 },
            { LSS_512, LSS_512, 1, 8, 0 },
        };
        g_autofree char *name = g_strdup_printf("params-bad-%u", i);

        c = small;
        c.flags = bad[i].flags;
        c.lss = bad[i].lss;
        c.pss = bad[i].pss;
        c.log = bad[i].log;
        c.block = bad[i].block;
        cseed_plain(name, &c);
    }
    /* Parameters past 64 TiB in 256 MiB blocks: a small file */
    c = small;
    c.flags = 0;
    c.shift = 40;
    c.mantissa = 65;
    c.block = 8;
    cseed_plain("params-past-64t", &c);
    c.addend = 100;
    c.mantissa = 1;
    cseed_plain("params-odd-size", &c);
    for (unsigned code = 0; code < 8; code++) {
        g_autofree char *name = g_strdup_printf("creator-%u", code);

        c = small;
        c.flags |= CREATE_CREATOR;
        c.creator = code;
        cseed_plain(name, &c);
    }

    /* Faults while creating, looking, working */
    for (FuzzIOCall call = 0; call < FUZZ_IO_CALLS; call++) {
        for (uint16_t nth = 1; nth <= 3; nth++) {
            g_autofree char *cr = g_strdup_printf("fault-create-%u-%u", call,
                                                  nth);
            g_autofree char *lk = g_strdup_printf("fault-look-%u-%u", call,
                                                  nth);
            g_autofree char *wk = g_strdup_printf("fault-work-%u-%u", call,
                                                  nth);

            c = small;
            c.flags |= CREATE_CHILD;
            c.flags &= ~CREATE_HAS_BLOCK;
            c.phase = PHASE_CREATE;
            c.fault = call;
            c.nth = nth;
            cseed_plain(cr, &c);
            c.phase = PHASE_LOOK;
            c.nth = nth * 4;
            cseed_plain(lk, &c);
            c = small;
            c.phase = PHASE_OPS | (nth & 1 ? CREATE_FAULT_CLOSE : 0);
            c.fault = call | (nth == 2 ? FUZZ_FAULT_STICKY : 0);
            c.nth = nth * nth * 2;
            cseed_work(wk, &c);
        }
    }
    c = small;
    c.flags = req | CREATE_HAS_BLOCK;
    c.shift = 30;
    c.mantissa = 600;
    c.phase = PHASE_OPS;
    c.fault = FUZZ_IO_PWRITE;
    c.nth = 5;
    cseed_large("fault-large-bat", &c);
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
    seeds_create();
    printf("%u seeds written to %s\n", n_written, out_root);
    return 0;
}
