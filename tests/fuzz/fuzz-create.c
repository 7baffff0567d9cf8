/*
 * libFuzzer harness: creating images
 *
 * The input (fuzz-create.h) asks for an image, either as a user's
 * request that vhdx_create_params_resolve() completes or as parameters
 * given to vhdx_image_create() as they are: fixed, dynamic or
 * differencing, of any size, block size, sector sizes and log size, with
 * a few parent names and creators.  Parameters whose file would pass
 * CREATE_FILE_MAX are refused before anything is created.  An image
 * created is opened, looked at, mapped and checked; then the input's
 * operations run on it, opened writable: guest writes, write-zeroes,
 * discards and maps of blocks strided over what may be a large BAT
 * (metadata cache eviction and commits forced by dirty pages, which the
 * small images of fuzz-session never reach), flushes, reopens, checks,
 * growing and emptying.
 *
 * Expectations besides not crashing: parameters resolved from a request
 * create an image; an image created opens with the sizes and kind asked
 * for, maps as new (zeros, its parent, or for a fixed image its data)
 * and checks clean; every operation on it succeeds and it still checks
 * clean after them; every failure comes with a clean error.
 *
 * The input's fault plan may fail a storage call in one phase.  From
 * then on only clean errors are expected, and after the failure the
 * image must open (faults off) or fail to cleanly.  FUZZ_FAULT_STRICT=1
 * in the environment asks more, as fuzz-session's does: a healthy image
 * reopens after the failure and checks clean.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-create.h"
#include "fuzz-io.h"
#include "fuzz-util.h"
#include "vhdx/bat.h"
#include "vhdx/create.h"
#include "vhdx/error.h"
#include "vhdx/format.h"
#include "vhdx/image.h"

#include <stdlib.h>
#include <string.h>

#define MiB                 VHDX_MiB
/* The largest file created: bounds the memory and time of one input */
#define CREATE_FILE_MAX     (24 * MiB)
/* What the operations may add to it: writes, grows */
#define GROWTH_MAX          (32 * MiB)
#define WRITE_MAX           (128 * 4096)

static const uint32_t create_sector_sizes[8] = {
    512, 4096, 512, 4096, 0, 1024, 8192, 520,
};

static const VhdxGuid parent_dwg = VHDX_GUID_INIT(
    0x63726561, 0x7465, 0x4877, 0x80, 0x67, 0x00, 0x11, 0x22, 0x33, 0x44,
    0x55);

/* FUZZ_FAULT_STRICT=1 in the environment: see the top of the file */
static bool strict(void)
{
    static int on = -1;

    if (on < 0) {
        on = getenv("FUZZ_FAULT_STRICT") != NULL;
    }
    return on;
}

/* ---- the request ---- */

/* What the input asks to create */
typedef struct Ask {
    uint8_t flags;
    uint64_t virtual_size;
    uint64_t block_size;
    uint64_t log_size;
    uint32_t lss;
    uint32_t pss;
    VhdxParentSpec parent;
    /* A parent name no locator can hold, or a sector size no image has */
    bool odd_parent;
    const char *creator;
    uint8_t phase;
    FuzzFault fault;
} Ask;

/* The parent names of parent_name() no locator can hold */
#define BAD_PARENT_NAMES    0x70

/* A parent name: usual ones, and those a locator cannot hold */
static const char *parent_name(unsigned code, const char **host)
{
    static char *too_long;
    static const char *const names[] = {
        "/vm/base.vhdx",
        "base.vhdx",
        "json:{\"file\":{\"driver\":\"file\",\"filename\":\"/vm/b.vhdx\"}}",
        "nbd://localhost:10809/base",
        "",
        "/vm/\xff\xfe.vhdx",
        NULL,
        "/vm/dir with spaces/caf\xc3\xa9.vhdx",
    };

    *host = code == 2 ? "/vm/b.vhdx" : NULL;
    if (names[code]) {
        return names[code];
    }
    /* More UTF-16 than a locator string holds */
    if (!too_long) {
        too_long = g_strnfill(40000, 'p');
    }
    return too_long;
}

/* A creator: none, usual ones, and those the header must cut or clean */
static const char *creator_name(unsigned code)
{
    static char *long_accents, *split_pair, *exact;

    if (!long_accents) {
        GString *s = g_string_new(NULL);

        for (int i = 0; i < 300; i++) {
            g_string_append(s, "\xc3\xa9");
        }
        long_accents = g_string_free(s, false);
        /* 254 units, then a surrogate pair the cut at 255 would split */
        exact = g_strnfill(254, 'a');
        split_pair = g_strconcat(exact, "\xf0\x9f\x98\x80", NULL);
        g_free(exact);
        exact = g_strnfill(255, 'x');
    }
    switch (code) {
    case 0:
        return NULL;
    case 1:
        return "qemu-img 10.0";
    case 2:
        return "";
    case 3:
        return "bad \xff\xfe UTF-8";
    case 4:
        return long_accents;
    case 5:
        return split_pair;
    case 6:
        return exact;
    default:
        return "Microsoft Windows 10.0.19045.0";
    }
}

static uint64_t take_size(FuzzInput *in)
{
    unsigned shift = fuzz_u8(in) % 64;
    uint64_t mantissa = fuzz_u16(in);

    return (mantissa << shift) + fuzz_u16(in);
}

static uint64_t block_size_of(uint8_t code)
{
    if (code & CREATE_BLOCK_ODD) {
        return (uint64_t)(code & 0x7f) * 512 * VHDX_KiB;
    }
    return MiB << (code % 10);
}

static uint64_t log_size_of(uint8_t code)
{
    return (code & 0x3f) * MiB + (code & CREATE_LOG_4K ? 4096 : 0) +
           (code & CREATE_LOG_4G ? 4 * VHDX_GiB : 0);
}

static void take_ask(FuzzInput *in, Ask *a)
{
    uint8_t parent;

    a->flags = fuzz_u8(in);
    a->virtual_size = take_size(in);
    a->block_size = block_size_of(fuzz_u8(in));
    a->log_size = log_size_of(fuzz_u8(in));
    a->lss = create_sector_sizes[fuzz_u8(in) % 8];
    a->pss = create_sector_sizes[fuzz_u8(in) % 8];
    parent = fuzz_u8(in);
    a->parent = (VhdxParentSpec) {
        .child_dir = parent & CREATE_PARENT_ROOT ? "/" : "/vm",
        .data_write_guid = parent_dwg,
        .logical_sector_size = create_sector_sizes[(parent >> 3) % 8],
    };
    a->parent.name = parent_name(parent % 8, &a->parent.host_path);
    a->odd_parent = (a->flags & CREATE_CHILD) &&
                    (((BAD_PARENT_NAMES >> parent % 8) & 1) ||
                     (a->parent.logical_sector_size != 512 &&
                      a->parent.logical_sector_size != 4096));
    if (parent & CREATE_PARENT_ODD) {
        a->parent.data_write_guid.bytes[0] ^= 0xff;
    }
    a->creator = creator_name(fuzz_u8(in) % 8);
    a->phase = fuzz_u8(in);
    fuzz_fault_take(in, &a->fault);
}

/* The parameters as given, not resolved: 32-bit sizes wrap */
static void ask_params(const Ask *a, VhdxCreateParams *p)
{
    *p = (VhdxCreateParams) {
        .virtual_size = a->virtual_size,
        .block_size = a->block_size,
        .log_size = a->log_size,
        .logical_sector_size = a->lss,
        .physical_sector_size = a->pss,
        .fixed = a->flags & CREATE_FIXED,
        .block_state_zero = a->flags & CREATE_ZERO,
        .creator = a->flags & CREATE_CREATOR ? a->creator : NULL,
        .parent = a->flags & CREATE_CHILD ? &a->parent : NULL,
    };
}

/* The parameters vhdx_create_params_resolve() makes of the request */
static int ask_resolve(const Ask *a, VhdxCreateParams *p)
{
    VhdxCreateRequest req = {
        .virtual_size = a->virtual_size,
        .has_block_size = a->flags & CREATE_HAS_BLOCK,
        .block_size = a->block_size,
        .has_log_size = a->flags & CREATE_HAS_LOG,
        .log_size = a->log_size,
        .has_logical_sector_size = a->flags & CREATE_HAS_LSS,
        .logical_sector_size = a->lss,
        .fixed = a->flags & CREATE_FIXED,
        .has_block_state_zero = a->flags & CREATE_ZERO,
        .block_state_zero = a->flags & CREATE_ZERO,
        .creator = a->flags & CREATE_CREATOR ? a->creator : NULL,
        .parent = a->flags & CREATE_CHILD ? &a->parent : NULL,
    };
    GError *err = NULL;
    int ret;

    ret = vhdx_create_params_resolve(&req, p, &err);
    if (ret < 0) {
        fuzz_check_error(ret, &err, "create_params_resolve");
        return ret;
    }
    FUZZ_CHECK(p->virtual_size == req.virtual_size &&
               p->block_size == (req.has_block_size ? req.block_size :
                                 p->block_size) &&
               p->log_size == (req.has_log_size ? req.log_size : MiB),
               "resolving changed a size the request gave");
    return 0;
}

/*
 * The length of the file vhdx_image_create() makes of @p, as its layout
 * (block/vhdx/create.c) puts it, at most past CREATE_FILE_MAX; 0 if @p
 * has no BAT geometry, which create refuses before sizing the file
 */
static uint64_t created_length(const VhdxCreateParams *p)
{
    const uint64_t over = CREATE_FILE_MAX + 1;
    VhdxBatGeometry geo;
    uint64_t len;

    if ((p->logical_sector_size != 512 && p->logical_sector_size != 4096) ||
        vhdx_bat_geometry_init(&geo, p->virtual_size, p->block_size,
                               p->logical_sector_size, p->parent != NULL,
                               NULL) < 0) {
        return 0;
    }
    len = VHDX_HEADER_AREA_SIZE + (uint64_t)p->log_size + MiB +
          vhdx_bat_region_size(&geo);
    if (p->fixed && geo.payload_blocks > over / p->block_size) {
        return over;
    }
    if (p->fixed) {
        len += geo.payload_blocks * p->block_size;
    }
    return MIN(len, over);
}

/* ---- the image ---- */

typedef struct Run {
    FuzzIO *f;
    VhdxImage *img;             /* NULL while no open succeeded */
    VhdxCreateParams p;
    bool healthy;               /* every call must succeed */
    bool close_on_fault;
} Run;

/* Whether the harness knows a call must succeed */
static bool expecting(const Run *r)
{
    return r->healthy && !fuzz_io_faulted(r->f);
}

/* Whether a core call succeeded; see fuzz-session.c */
static bool ok(Run *r, int ret, GError **err, const char *what)
{
    if (ret == 0) {
        return true;
    }
    FUZZ_CHECK(!expecting(r), "%s failed on a new image: %s", what,
               *err ? (*err)->message : "(no message)");
    fuzz_check_error(ret, err, what);
    return false;
}

static void run_open(Run *r, unsigned flags)
{
    GError *err = NULL;

    if (!ok(r, vhdx_image_open(fuzz_io(r->f), flags, &r->img, &err), &err,
            "open")) {
        r->img = NULL;
    }
}

static void run_close(Run *r)
{
    GError *err = NULL;

    if (r->img) {
        ok(r, vhdx_image_close(r->img, &err), &err, "close");
        r->img = NULL;
    }
}

static void fault_ignored(void *opaque, const VhdxFault *fault,
                          bool repaired)
{
}

/* A check, repairing when @repair: a healthy image has no fault */
static void run_check(Run *r, bool repair)
{
    VhdxCheckReport report;
    GError *err = NULL;
    int ret;

    if (repair && !vhdx_image_is_writable(r->img)) {
        return;
    }
    ret = vhdx_image_check(r->img, repair, fault_ignored, NULL, &report,
                           &err);
    if (ok(r, ret, &err, "check")) {
        FUZZ_CHECK(!expecting(r) || report.corruptions == 0,
                   "a new image has %" G_GUINT64_FORMAT " corruptions",
                   report.corruptions);
    }
}

/* What a new image shows at guest @offset, @bytes long */
static void expect_new(Run *r, uint64_t offset, uint64_t bytes)
{
    const VhdxCreateParams *p = &r->p;
    VhdxExtentKind want = p->parent ? VHDX_EXTENT_UNALLOCATED :
                          p->fixed ? VHDX_EXTENT_DATA : VHDX_EXTENT_ZERO;
    GError *err = NULL;
    VhdxExtent ext;

    if (!ok(r, vhdx_image_map(r->img, offset, bytes, &ext, &err), &err,
            "map")) {
        return;
    }
    FUZZ_CHECK(ext.length > 0 && ext.length <= bytes, "map at %"
               G_GUINT64_FORMAT " gave %" G_GUINT64_FORMAT " of %"
               G_GUINT64_FORMAT " bytes", offset, ext.length, bytes);
    FUZZ_CHECK(!expecting(r) || ext.kind == want, "a new image maps as %d "
               "at %" G_GUINT64_FORMAT ", not %d", ext.kind, offset, want);
}

/* The image just created: what it is, what it maps as, its check */
static void look(Run *r)
{
    const VhdxCreateParams *p = &r->p;
    uint64_t size;

    run_open(r, 0);
    if (!r->img) {
        return;
    }
    size = vhdx_image_virtual_size(r->img);
    FUZZ_CHECK(!expecting(r) ||
               (size == p->virtual_size &&
                vhdx_image_block_size(r->img) == p->block_size &&
                vhdx_image_logical_sector_size(r->img) ==
                p->logical_sector_size &&
                vhdx_image_is_fixed(r->img) == p->fixed &&
                vhdx_image_is_differencing(r->img) == (p->parent != NULL)),
               "the image is not what was created");
    if (size >= p->logical_sector_size && size) {
        expect_new(r, 0, MIN(size, p->block_size));
        expect_new(r, size - p->logical_sector_size,
                   p->logical_sector_size);
    }
    run_check(r, false);
    run_close(r);
}

/* ---- operations ---- */

/* Whether the storage takes @more bytes past the file's end */
static bool room_for(Run *r, uint64_t more)
{
    return more <= r->f->cap && fuzz_io_size(r->f) <= r->f->cap - more;
}

/* The payload I/O of @w, as the glue does it */
static int write_payload(Run *r, const VhdxWrite *w, uint8_t pattern,
                         GError **errp)
{
    static uint8_t buf[WRITE_MAX];
    int ret;

    memset(buf, pattern, w->bytes);
    ret = vhdx_io_pwrite(fuzz_io(r->f), w->data_offset, buf, w->bytes);
    for (int i = 0; ret == 0 && i < G_N_ELEMENTS(w->zero_fill); i++) {
        if (w->zero_fill[i].length) {
            ret = vhdx_io_pwrite_zeroes(fuzz_io(r->f), w->zero_fill[i].offset,
                                        w->zero_fill[i].length);
        }
    }
    return ret < 0 ? vhdx_io_error(errp, -ret, "payload write") : 0;
}

/* A guest write of @len bytes at @off, block by block */
static void op_write(Run *r, uint64_t off, uint64_t len, uint8_t pattern)
{
    GError *err = NULL;
    int ret;

    /* A new block, and a sector bitmap block for a child */
    if (!room_for(r, 2 * (uint64_t)r->p.block_size + MiB)) {
        return;
    }
    ret = vhdx_image_begin_data_change(r->img, NULL, &err);
    while (ret == 0 && len) {
        VhdxWrite w;

        ret = vhdx_image_plan_write(r->img, off, len, &w, &err);
        if (ret < 0) {
            break;
        }
        ret = write_payload(r, &w, pattern, &err);
        if (ret == 0) {
            ret = vhdx_image_finish_write(r->img, &w, &err);
        }
        if (ret < 0) {
            vhdx_image_cancel_write(r->img, &w);
        }
        off += w.bytes;
        len -= w.bytes;
    }
    ok(r, ret, &err, "write");
}

/*
 * Write-zeroes or discard of @count blocks from @block on, one every
 * @stride: on a large disk each may be on a BAT page of its own
 */
static void op_zero(Run *r, uint64_t block, uint64_t count, uint64_t stride,
                    VhdxZeroKind kind)
{
    uint64_t size = vhdx_image_virtual_size(r->img);
    uint32_t bs = vhdx_image_block_size(r->img);
    GError *err = NULL;
    int ret;

    ret = vhdx_image_begin_data_change(r->img, NULL, &err);
    for (uint64_t i = 0; ret == 0 && i < count; i++) {
        uint64_t b = block + i * stride;
        VhdxZeroing z;

        if (b * bs >= size) {
            break;
        }
        ret = vhdx_image_plan_zero(r->img, b * bs, MIN(bs, size - b * bs),
                                   kind, &z, &err);
        if (ret < 0 || z.write_zeros) {
            /* Zeros written as data: not what this operation is about */
            continue;
        }
        for (uint64_t k = z.first_block; ret == 0 && k < z.end_block; k++) {
            ret = vhdx_image_apply_zero(r->img, &z, k, &err);
        }
    }
    ok(r, ret, &err, kind == VHDX_ZERO_WRITE ? "write-zeroes" : "discard");
}

/* Maps @count blocks from @block on, one every @stride */
static void op_map(Run *r, uint64_t block, uint64_t count, uint64_t stride)
{
    uint64_t size = vhdx_image_virtual_size(r->img);
    uint32_t bs = vhdx_image_block_size(r->img);

    for (uint64_t i = 0; i < count; i++) {
        uint64_t b = block + i * stride;
        GError *err = NULL;
        VhdxExtent ext;

        if (b * bs >= size) {
            break;
        }
        if (!ok(r, vhdx_image_map(r->img, b * bs, MIN(bs, size - b * bs),
                                  &ext, &err), &err, "map")) {
            return;
        }
        FUZZ_CHECK(ext.length > 0 && ext.length <= bs, "map of block %"
                   G_GUINT64_FORMAT " gave %" G_GUINT64_FORMAT " bytes", b,
                   ext.length);
    }
}

/*
 * The file space growing to @new_size takes at most: a moved BAT, and
 * for a fixed image its new blocks
 */
static uint64_t grow_cost(Run *r, uint64_t new_size)
{
    VhdxBatGeometry geo;
    uint64_t blocks;

    if (vhdx_bat_geometry_init(&geo, new_size,
                               vhdx_image_block_size(r->img),
                               vhdx_image_logical_sector_size(r->img),
                               vhdx_image_is_differencing(r->img),
                               NULL) < 0) {
        return UINT64_MAX;
    }
    blocks = vhdx_image_is_fixed(r->img) ? geo.payload_blocks : 0;
    if (blocks > GROWTH_MAX / vhdx_image_block_size(r->img)) {
        return UINT64_MAX;
    }
    return vhdx_bat_region_size(&geo) + blocks *
           vhdx_image_block_size(r->img);
}

static void op_grow(Run *r, uint64_t by)
{
    uint64_t size = vhdx_image_virtual_size(r->img);
    uint64_t new_size = size + by;
    GError *err = NULL;
    int ret;

    ret = vhdx_image_validate_grow(r->img, new_size, &err);
    if (ret < 0) {
        /* Refused: not a multiple of the sector size, or too large */
        fuzz_check_error(ret, &err, "validate_grow");
        return;
    }
    if (!room_for(r, grow_cost(r, new_size))) {
        return;
    }
    ret = vhdx_image_begin_data_change(r->img, NULL, &err);
    if (ret == 0) {
        ret = vhdx_image_grow(r->img, new_size, &err);
    }
    ok(r, ret, &err, "grow");
}

static void op_make_empty(Run *r)
{
    GError *err = NULL;
    int ret = vhdx_image_begin_data_change(r->img, NULL, &err);

    if (ret == 0) {
        ret = vhdx_image_make_empty(r->img, &parent_dwg, &err);
    }
    ok(r, ret, &err, "make_empty");
}

/*
 * After an operation during which the storage failed: the image is
 * closed (the fault still armed) or dropped, then reopened, faults off
 */
static void fault_recover(Run *r)
{
    GError *err = NULL;
    int ret;

    if (r->img && r->close_on_fault) {
        ret = vhdx_image_close(r->img, &err);
        if (ret < 0) {
            fuzz_check_error(ret, &err, "close after a failure");
        }
    } else if (r->img) {
        vhdx_image_free(r->img);
    }
    r->img = NULL;
    fuzz_io_disarm(r->f);
    run_open(r, VHDX_OPEN_WRITE);
    if (r->img) {
        run_check(r, false);
    }
}

static void run_op(Run *r, FuzzInput *in)
{
    CreateOp op = fuzz_u8(in) % COP_COUNT;
    uint8_t arg = fuzz_u8(in);
    uint16_t count = fuzz_u16(in);
    uint64_t at = fuzz_u32(in);
    uint64_t size = vhdx_image_virtual_size(r->img);
    uint32_t bs = vhdx_image_block_size(r->img);
    uint32_t lss = vhdx_image_logical_sector_size(r->img);
    uint64_t blocks = VHDX_DIV_ROUND_UP(size, bs);
    uint64_t stride = UINT64_C(1) << (arg % 16);
    uint64_t off;
    GError *err = NULL;

    at = blocks ? at % blocks : 0;
    switch (op) {
    case COP_WRITE:
        off = MIN(at * bs + (uint64_t)arg * lss % bs, size);
        op_write(r, off, MIN((count % 128 + 1) * (uint64_t)lss, size - off),
                 arg);
        break;
    case COP_ZERO:
        op_zero(r, at, count % 4096 + 1, stride, VHDX_ZERO_WRITE);
        break;
    case COP_DISCARD:
        op_zero(r, at, count % 4096 + 1, stride, VHDX_ZERO_DISCARD);
        break;
    case COP_MAP:
        op_map(r, at, count % 4096 + 1, stride);
        break;
    case COP_FLUSH:
        ok(r, vhdx_image_flush(r->img, &err), &err, "flush");
        break;
    case COP_REOPEN:
        run_close(r);
        run_open(r, VHDX_OPEN_WRITE);
        break;
    case COP_CHECK:
        run_check(r, arg & 1);
        break;
    case COP_GROW:
        op_grow(r, (uint64_t)(count % 64) * bs + (uint64_t)arg * lss);
        break;
    case COP_MAKE_EMPTY:
        op_make_empty(r);
        break;
    case COP_MAKE_CLEAN:
        ok(r, vhdx_image_make_clean(r->img, &err), &err, "make_clean");
        break;
    default:
        g_assert_not_reached();
    }
    if (fuzz_io_faulted(r->f)) {
        fault_recover(r);
    }
}

/* The operations on the image opened writable; then it must check clean */
static void run_ops(Run *r, FuzzInput *in, const Ask *a)
{
    if ((a->phase & CREATE_PHASE_MASK) == PHASE_OPS) {
        if (!strict()) {
            r->healthy = false;
        }
        fuzz_io_arm(r->f, &a->fault);
    }
    run_open(r, VHDX_OPEN_WRITE);
    if (fuzz_io_faulted(r->f)) {
        fault_recover(r);
    }
    for (int i = 0; i < CREATE_MAX_OPS && r->img &&
                    fuzz_left(in) >= CREATE_OP_SIZE; i++) {
        run_op(r, in);
    }
    run_close(r);
    fuzz_io_disarm(r->f);
    run_open(r, 0);
    if (r->img) {
        run_check(r, false);
        run_close(r);
    }
}

/* ---- creating ---- */

/*
 * Creates the image; false if it was not.  Resolved parameters must
 * create one unless the storage failed or the parent is odd: resolving
 * takes the parent as the glue found it, an image that opened, and
 * leaves its name to the locator.  After a storage failure the file
 * must open or fail to cleanly.
 */
static bool create(Run *r, const Ask *a, bool resolved)
{
    bool armed = (a->phase & CREATE_PHASE_MASK) == PHASE_CREATE;
    GError *err = NULL;
    int ret;

    if (armed) {
        fuzz_io_arm(r->f, &a->fault);
    }
    ret = vhdx_image_create(fuzz_io(r->f), &r->p, &err);
    if (ret < 0) {
        FUZZ_CHECK(!resolved || a->odd_parent || fuzz_io_faulted(r->f),
                   "resolved parameters do not create an image: %s",
                   err->message);
        fuzz_check_error(ret, &err, "create");
    }
    /* What the storage failed may have left anything behind */
    r->healthy = !fuzz_io_faulted(r->f);
    fuzz_io_disarm(r->f);
    if (!r->healthy) {
        run_open(r, 0);
        run_close(r);
    }
    return ret == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzInput in = { .data = data, .size = size };
    g_autoptr(FuzzIO) f = fuzz_io_new(0);
    Run r = { .f = f };
    unsigned writes;
    bool resolved;
    Ask a;

    take_ask(&in, &a);
    resolved = a.flags & CREATE_RESOLVE;
    if (resolved) {
        if (ask_resolve(&a, &r.p) < 0) {
            return 0;
        }
    } else {
        ask_params(&a, &r.p);
    }
    if (created_length(&r.p) > CREATE_FILE_MAX) {
        return 0;
    }
    f->cap = CREATE_FILE_MAX + GROWTH_MAX;
    r.close_on_fault = a.phase & CREATE_FAULT_CLOSE;
    if (!create(&r, &a, resolved)) {
        return 0;
    }
    if ((a.phase & CREATE_PHASE_MASK) == PHASE_LOOK) {
        fuzz_io_arm(f, &a.fault);
    }
    writes = f->m->writes + f->m->truncates;
    look(&r);
    FUZZ_CHECK(f->m->writes + f->m->truncates == writes,
               "a read-only open wrote to the file");
    if (fuzz_io_faulted(f)) {
        /* Nothing written: a healthy image still is */
        fuzz_io_disarm(f);
        run_open(&r, 0);
        run_close(&r);
    }
    fuzz_io_disarm(f);
    if (fuzz_left(&in) >= CREATE_OP_SIZE) {
        run_ops(&r, &in, &a);
    }
    return 0;
}
