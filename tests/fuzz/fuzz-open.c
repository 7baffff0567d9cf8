/*
 * libFuzzer harness: opening a whole image file
 *
 * The input is an image file, raw or in the sparse form of
 * fuzz-sparse.h, its checksums recomputed (fuzz-fixup.h).  It is opened
 * read-only, checked, mapped and read (for a look at its metadata only
 * if that fails); opened again tolerating damage (VHDX_OPEN_CHECK) and,
 * if that check finds damage, repaired; and finally opened writable,
 * written to and closed, and read back.
 *
 * Expectations besides not crashing: a read-only open writes nothing; a
 * successful map describes a non-empty extent inside the request; a
 * repair that leaves nothing leaves an image that opens as it is; every
 * failure comes with a clean error (vhdx/error.h).
 *
 * A sparse input may also carry a fault plan for one of these stages
 * (fuzz-open.h): the storage fails a chosen call there.  What the stage
 * expects of a repair then no longer holds; after the stage, faults off,
 * the image must open read-only or fail to cleanly.  FUZZ_FAULT_STRICT=1
 * in the environment also asks, of an image the first check found
 * healthy, that it reopens writable and checks clean: a promise the
 * headers do not make, for looking at what breaks it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-fixup.h"
#include "fuzz-io.h"
#include "fuzz-open.h"
#include "fuzz-sparse.h"
#include "fuzz-util.h"
#include "vhdx/crc32c.h"
#include "vhdx/error.h"
#include "vhdx/format.h"
#include "vhdx/image.h"

#include <stdlib.h>
#include <string.h>

/* Bounds on the work one input causes */
#define WALK_BLOCKS_MAX     512
#define WALK_EXTENTS_MAX    8
#define READ_MAX            (64 * 1024)

/* Reads the payload of @ext, at most READ_MAX bytes of it */
static void read_extent(VhdxImage *img, const VhdxExtent *ext)
{
    size_t len = MIN(ext->length, READ_MAX);
    g_autofree uint8_t *buf = g_malloc(len);
    GError *err = NULL;

    int ret = vhdx_image_read_payload(img, ext->file_offset, buf, len, &err);

    if (ret < 0) {
        fuzz_check_error(ret, &err, "read_payload");
    }
}

/*
 * Maps up to WALK_EXTENTS_MAX extents from guest @offset on, reading what
 * is data.  Returns false when the core refused (the image is damaged).
 */
static bool walk_from(VhdxImage *img, uint64_t offset, uint64_t bytes)
{
    uint64_t size = vhdx_image_virtual_size(img);

    for (int i = 0; i < WALK_EXTENTS_MAX && offset < size && bytes; i++) {
        GError *err = NULL;
        VhdxExtent ext;
        int ret;

        bytes = MIN(bytes, size - offset);
        ret = vhdx_image_map(img, offset, bytes, &ext, &err);
        if (ret < 0) {
            fuzz_check_error(ret, &err, "map");
            return false;
        }
        FUZZ_CHECK(ext.length > 0 && ext.length <= bytes,
                   "map at %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                   " bytes gave an extent of %" G_GUINT64_FORMAT,
                   offset, bytes, ext.length);
        if (ext.kind == VHDX_EXTENT_DATA) {
            read_extent(img, &ext);
        }
        offset += ext.length;
        bytes -= ext.length;
    }
    return true;
}

/*
 * Maps the start of blocks spread over the disk (all of them for a small
 * one), then a few runs from offsets derived from @seed
 */
static void walk(VhdxImage *img, uint32_t seed)
{
    uint64_t size = vhdx_image_virtual_size(img);
    uint64_t bs = vhdx_image_block_size(img);
    uint32_t lss = vhdx_image_logical_sector_size(img);
    uint64_t blocks = size / bs + (size % bs != 0);
    uint64_t step = MAX(1, blocks / WALK_BLOCKS_MAX);

    if (size == 0) {
        return;
    }
    for (uint64_t b = 0; b < blocks; b += step) {
        if (!walk_from(img, b * bs, bs)) {
            break;
        }
    }
    for (int i = 0; i < 4; i++) {
        uint64_t at = (uint64_t)seed * (i + 1) * 2654435761u % size;

        walk_from(img, at - at % lss, 4 * bs);
    }
    walk_from(img, size - MIN(size, lss), lss);
}

/* Whether the child is read through a via image: as the input says */
static int reads_via(void *opaque, const VhdxGuid *vias, unsigned n)
{
    const uint32_t *seed = opaque;

    FUZZ_CHECK(n > 0 && n <= VHDX_GRANTS_MAX, "%u via images", n);
    return (int)(*seed % 3) - 1;
}

/*
 * The linkage rule on a child, its own grants standing in for its
 * parent's and the parent's DataWriteGuid its recorded one or not
 */
static void linkage(VhdxImage *img, uint32_t seed)
{
    const VhdxParentRef *ref = vhdx_image_parent(img);
    VhdxGuid dwg = seed & 8 ? ref->linkage : *vhdx_image_data_write_guid(img);
    VhdxLinkageQuery q = {
        .ref = ref,
        .child = vhdx_image_page83(img),
        .parent_dwg = &dwg,
        .parent_grants = vhdx_image_grants(img),
        .enforce = seed & 16,
        .bypassing = seed & 32,
        .reads_via = reads_via,
        .opaque = &seed,
    };
    VhdxLinkageVerdict v;
    VhdxLinkage l;

    v = vhdx_linkage_decide(&q, &l);
    FUZZ_CHECK(l.n_vias <= VHDX_GRANTS_MAX, "%u via images", l.n_vias);
    if (!vhdx_linkage_accepted(v) || v == VHDX_LINKAGE_ACCEPT_STALE) {
        g_autofree char *message = NULL;
        g_autofree char *hint = NULL;

        vhdx_linkage_describe(&q, &l, "child.vhdx", "base.vhdx", &message,
                              &hint);
        FUZZ_CHECK(message && message[0], "verdict %d undescribed", v);
    }
}

/* The accessors, and the parent's names: every string must be readable */
static void look(VhdxImage *img, uint32_t seed)
{
    const VhdxParentRef *ref = vhdx_image_parent(img);
    char guid[VHDX_GUID_STRING_LEN];

    vhdx_guid_format(vhdx_image_page83(img), guid);
    vhdx_guid_format(vhdx_image_data_write_guid(img), guid);
    FUZZ_CHECK(vhdx_image_grants(img)->count <= VHDX_GRANTS_MAX,
               "%u grants", vhdx_image_grants(img)->count);
    (void)vhdx_image_log_state(img);
    (void)vhdx_image_is_fixed(img);
    if (!vhdx_image_is_differencing(img)) {
        return;
    }
    FUZZ_CHECK(ref && ref->candidates, "a child without a parent reference");
    for (guint i = 0; i < ref->candidates->len; i++) {
        const VhdxParentCandidate *c =
            &g_array_index(ref->candidates, VhdxParentCandidate, i);

        FUZZ_CHECK(strlen(c->path) < 1u << 20 && c->source,
                   "parent candidate %u", i);
    }
    linkage(img, seed);
}

/* Every fault a check reports must be describable */
static void fault_seen(void *opaque, const VhdxFault *fault, bool repaired)
{
    unsigned *n = opaque;

    FUZZ_CHECK(fault->what && fault->what[0] && fault->repair,
               "fault %u has no description", fault->kind);
    (void)strlen(fault->repair);
    (*n)++;
}

/* Checks @img; false if the check itself failed */
static bool check(VhdxImage *img, bool repair, VhdxCheckReport *r)
{
    GError *err = NULL;
    unsigned faults = 0;
    int ret = vhdx_image_check(img, repair, fault_seen, &faults, r, &err);

    if (ret < 0) {
        fuzz_check_error(ret, &err, "check");
        return false;
    }
    FUZZ_CHECK(r->allocated_blocks <= r->total_blocks,
               "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " blocks "
               "allocated", r->allocated_blocks, r->total_blocks);
    FUZZ_CHECK(r->image_end % VHDX_ALIGNMENT == 0, "image end %"
               G_GUINT64_FORMAT " not aligned", r->image_end);
    FUZZ_CHECK(faults >= MIN(r->corruptions, 1), "%" G_GUINT64_FORMAT
               " corruptions but no fault reported", r->corruptions);
    return true;
}

/*
 * A read-only open (@flags without VHDX_OPEN_WRITE), which must write
 * nothing.  Returns the corruptions a check found, or -1 if the open or
 * the check failed.
 */
static int64_t open_read_only(FuzzIO *f, unsigned flags, uint32_t seed)
{
    MemIO *m = f->m;
    size_t size = memio_size(m);
    VhdxImage *img = NULL;
    GError *err = NULL;
    int64_t corruptions = -1;
    int ret;

    m->writes = m->truncates = 0;
    ret = vhdx_image_open(fuzz_io(f), flags, &img, &err);
    if (ret < 0) {
        fuzz_check_error(ret, &err, "open");
    } else {
        look(img, seed);
        corruptions = 0;
        if (!(flags & VHDX_OPEN_PEEK)) {
            VhdxCheckReport r;

            corruptions = check(img, false, &r) ? r.corruptions : -1;
            walk(img, seed);
        }
        ret = vhdx_image_close(img, &err);
        if (ret < 0) {
            fuzz_check_error(ret, &err, "close");
        }
    }
    FUZZ_CHECK(m->writes == 0 && m->truncates == 0 && memio_size(m) == size,
               "a read-only open (flags 0x%x) wrote to the file", flags);
    return corruptions;
}

/* Writes one sector of 0x5a at @offset the way the QEMU glue does */
static int write_sector(VhdxImage *img, FuzzIO *f, uint64_t offset,
                        GError **errp)
{
    uint32_t lss = vhdx_image_logical_sector_size(img);
    uint64_t left = lss;
    int ret = vhdx_image_begin_data_change(img, NULL, errp);

    while (ret == 0 && left) {
        g_autofree uint8_t *buf = NULL;
        VhdxWrite w;

        ret = vhdx_image_plan_write(img, offset, left, &w, errp);
        if (ret < 0) {
            break;
        }
        buf = g_malloc(w.bytes);
        memset(buf, 0x5a, w.bytes);
        ret = vhdx_io_pwrite(fuzz_io(f), w.data_offset, buf, w.bytes);
        for (int i = 0; ret == 0 && i < 2; i++) {
            ret = vhdx_io_pwrite_zeroes(fuzz_io(f), w.zero_fill[i].offset,
                                        w.zero_fill[i].length);
        }
        ret = ret < 0 ? vhdx_io_error(errp, -ret, "payload") :
                        vhdx_image_finish_write(img, &w, errp);
        if (ret < 0) {
            vhdx_image_cancel_write(img, &w);
        }
        offset += w.bytes;
        left -= w.bytes;
    }
    return ret;
}

/*
 * Opens writable (replaying the log), as qemu-img check -r does, and
 * repairs: when the check says nothing is left, a second check finds
 * nothing and the image opens without tolerating damage.  Storage that
 * failed on the way voids that.
 */
static void open_repair(FuzzIO *f)
{
    VhdxImage *img = NULL;
    GError *err = NULL;
    VhdxCheckReport r;
    bool repaired;
    int ret;

    ret = vhdx_image_open(fuzz_io(f), VHDX_OPEN_WRITE | VHDX_OPEN_CHECK,
                          &img, &err);
    if (ret < 0) {
        fuzz_check_error(ret, &err, "open to repair");
        return;
    }
    repaired = check(img, true, &r) && r.remaining == 0;
    if (repaired && !fuzz_io_faulted(f)) {
        FUZZ_CHECK(check(img, false, &r) && r.corruptions == 0,
                   "%" G_GUINT64_FORMAT " corruptions left by a repair",
                   r.corruptions);
    }
    ret = vhdx_image_close(img, &err);
    if (ret < 0) {
        fuzz_check_error(ret, &err, "close after a repair");
        return;
    }
    if (repaired && !fuzz_io_faulted(f)) {
        FUZZ_CHECK(vhdx_image_open(fuzz_io(f), VHDX_OPEN_WRITE, &img,
                                   &err) == 0,
                   "a repaired image does not open: %s", err->message);
        vhdx_image_free(img);
    }
}

/* Opens writable, writes a sector, closes; false if it did not open */
static bool open_writable(FuzzIO *f, uint32_t seed)
{
    VhdxImage *img = NULL;
    GError *err = NULL;
    VhdxCheckReport r;
    uint64_t size, at;
    int ret;

    ret = vhdx_image_open(fuzz_io(f), VHDX_OPEN_WRITE, &img, &err);
    if (ret < 0) {
        fuzz_check_error(ret, &err, "open writable");
        return false;
    }
    size = vhdx_image_virtual_size(img);
    ret = 0;
    if (size >= vhdx_image_logical_sector_size(img)) {
        at = seed % (size / vhdx_image_logical_sector_size(img)) *
             vhdx_image_logical_sector_size(img);
        ret = write_sector(img, f, at, &err);
    }
    if (ret == 0) {
        ret = vhdx_image_flush(img, &err);
    }
    if (ret < 0) {
        fuzz_check_error(ret, &err, "write and flush");
    }
    check(img, false, &r);
    ret = vhdx_image_close(img, &err);
    if (ret < 0) {
        fuzz_check_error(ret, &err, "close after writing");
    }
    return true;
}

/* ---- storage faults ---- */

/* An input's run through the stages, and its fault plan */
typedef struct OpenRun {
    FuzzIO *f;
    uint32_t seed;
    bool has_plan;
    OpenStage stage;            /* the one the plan is armed in */
    FuzzFault fault;
    bool healthy;               /* the first check found nothing wrong */
} OpenRun;

/* FUZZ_FAULT_STRICT=1 in the environment: see the top of the file */
static bool strict(void)
{
    static int on = -1;

    if (on < 0) {
        on = getenv("FUZZ_FAULT_STRICT") != NULL;
    }
    return on;
}

static void take_plan(OpenRun *r, const uint8_t *data, size_t size)
{
    FuzzInput extra;

    r->has_plan = fuzz_sparse_extra(data, size, &extra);
    if (r->has_plan) {
        r->stage = fuzz_u8(&extra) % OPEN_STAGES;
        fuzz_fault_take(&extra, &r->fault);
    }
}

/* A healthy image reopens writable and checks clean (strict only) */
static void reopen_strict(OpenRun *r)
{
    VhdxImage *img = NULL;
    GError *err = NULL;
    VhdxCheckReport report = { 0 };

    FUZZ_CHECK(vhdx_image_open(fuzz_io(r->f), VHDX_OPEN_WRITE, &img,
                               &err) == 0,
               "a healthy image does not reopen after a failure: %s",
               err->message);
    FUZZ_CHECK(check(img, false, &report) && report.corruptions == 0,
               "a healthy image has %" G_GUINT64_FORMAT " corruptions "
               "after a failure", report.corruptions);
    FUZZ_CHECK(vhdx_image_close(img, &err) == 0,
               "closing a healthy image after a failure failed: %s",
               err->message);
}

static void stage_begin(OpenRun *r, OpenStage stage)
{
    if (r->has_plan && stage == r->stage) {
        fuzz_io_arm(r->f, &r->fault);
    }
}

/*
 * After @stage: if the storage failed there, the image must open (faults
 * off) or fail to cleanly
 */
static void stage_end(OpenRun *r, OpenStage stage)
{
    bool failed;

    if (!r->has_plan || stage != r->stage) {
        return;
    }
    failed = fuzz_io_faulted(r->f);
    fuzz_io_disarm(r->f);
    if (failed && strict() && r->healthy) {
        reopen_strict(r);
    }
    if (failed) {
        open_read_only(r->f, 0, r->seed);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(FuzzIO) f = fuzz_io_new(0);
    OpenRun r = { .f = f, .seed = vhdx_crc32c(data, size) };
    int64_t corruptions;
    bool reread;
    unsigned skip;

    if (!fuzz_sparse_decode(data, size, f->m->data, &skip)) {
        return 0;
    }
    fuzz_fixup_file(fuzz_io_bytes(f), fuzz_io_size(f), skip);
    take_plan(&r, data, size);
    /*
     * Each open costs fresh megabytes (metadata region, log window), so
     * only those that can find something new for this file are made
     */
    stage_begin(&r, STAGE_READ_ONLY);
    corruptions = open_read_only(f, 0, r.seed);
    r.healthy = corruptions == 0 && !fuzz_io_faulted(f);
    stage_end(&r, STAGE_READ_ONLY);
    if (corruptions < 0) {
        stage_begin(&r, STAGE_PEEK);
        open_read_only(f, VHDX_OPEN_PEEK, r.seed);
        stage_end(&r, STAGE_PEEK);
    }
    stage_begin(&r, STAGE_CHECK);
    corruptions = open_read_only(f, VHDX_OPEN_CHECK, r.seed);
    stage_end(&r, STAGE_CHECK);
    if (corruptions != 0) {
        stage_begin(&r, STAGE_REPAIR);
        open_repair(f);
        stage_end(&r, STAGE_REPAIR);
    }
    stage_begin(&r, STAGE_WRITABLE);
    reread = open_writable(f, r.seed);
    stage_end(&r, STAGE_WRITABLE);
    if (reread) {
        stage_begin(&r, STAGE_REREAD);
        open_read_only(f, 0, r.seed);
        stage_end(&r, STAGE_REREAD);
    }
    return 0;
}
