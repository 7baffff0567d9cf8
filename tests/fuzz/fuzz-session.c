/*
 * libFuzzer harness: a writable session on an image built in memory
 *
 * The input (fuzz-session.h) picks a base image made with the core's
 * create API, patches a few bytes of it (checksums recomputed), and then
 * drives it the way the QEMU glue does: guest writes, write-zeroes,
 * discards, flushes, growing, make_empty, rebasing a child, closing and
 * reopening writable or read-only, power cuts during a flush, checks.
 *
 * An unpatched image is healthy, and then the harness keeps a model of
 * what the guest reads: every core call must succeed, reads must match
 * the model (a child's parent shows as PARENT_BYTE), and a check must
 * find no corruption.  A power cut makes what changed since the last
 * durable point unknown; the next open settles it, and from then on it
 * must stay as read.  A patched image has no model: only crashes count.
 *
 * An operation may arm a fault plan (fuzz-io.h): the storage fails a
 * chosen call.  Every failure must then come with a clean error
 * (vhdx/error.h), and after the operation the image is closed or
 * dropped and, faults off, reopened: that must work or fail cleanly.
 * The headers promise nothing more after an I/O error, so the model is
 * off from then on; FUZZ_FAULT_STRICT=1 in the environment keeps it,
 * treating the failure as a power cut (the reopen must work, what was not
 * durable or was being changed may read as anything, the rest as
 * before), to look for what a stronger promise would break.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-fixup.h"
#include "fuzz-io.h"
#include "fuzz-session.h"
#include "fuzz-util.h"
#include "vhdx/create.h"
#include "vhdx/error.h"
#include "vhdx/format.h"
#include "vhdx/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB                 VHDX_MiB
#define PARENT_BYTE         0xaa
/* Keeps the file, the model and one execution small */
#define GROW_LIMIT          (32 * MiB)
#define LENGTH_LIMIT        MiB
#define RECENT_MAX          8

/* Virtual sizes: a few blocks, whole or not */
static const uint64_t session_sizes[] = {
    4 * MiB, 3 * MiB + 4096, 8 * MiB, MiB + 4096,
};

static const VhdxGuid parent_dwg = VHDX_GUID_INIT(
    0x70617265, 0x6e74, 0x4477, 0x80, 0x67, 0x00, 0x11, 0x22, 0x33, 0x44,
    0x55);

typedef struct Session {
    FuzzIO *f;
    VhdxImage *img;             /* NULL while no open succeeded */
    bool child;
    uint32_t lss;
    /* The model of what the guest reads: only for a healthy image */
    bool model_on;
    uint64_t size;              /* at most GROW_LIMIT */
    uint8_t *model;             /* @size bytes */
    uint8_t *unknown;           /* per sector: may read as anything */
    uint8_t *dirty;             /* per sector: changed since durable */
    VhdxRange recent[RECENT_MAX];   /* ranges changed lately */
    unsigned n_recent;
    bool close_on_fault;        /* close, not drop, after a failure */
} Session;

/* ---- the base image ---- */

typedef struct Layout {
    uint64_t log_offset;
    uint64_t metadata_offset;
    uint64_t bat_offset;
} Layout;

/* Creates the base image @base (a SESSION_BASE_* byte) in @f */
static void base_create(FuzzIO *f, uint8_t base)
{
    SessionKind kind = base & SESSION_BASE_KIND_MASK;
    VhdxParentSpec parent = {
        .name = "/vm/base.vhdx",
        .child_dir = "/vm",
        .data_write_guid = parent_dwg,
    };
    VhdxCreateParams p = {
        .virtual_size = session_sizes[(base >> SESSION_BASE_SIZE_SHIFT) & 3],
        .block_size = base & SESSION_BASE_BLOCK_4M ? 4 * MiB : MiB,
        .log_size = base & SESSION_BASE_LOG_2M ? 2 * MiB : MiB,
        .logical_sector_size = base & SESSION_BASE_LSS_4K ? 4096 : 512,
        .physical_sector_size = 4096,
        .fixed = kind == SESSION_FIXED,
        .block_state_zero = kind != SESSION_DYNAMIC_NOT_PRESENT,
    };
    GError *err = NULL;

    parent.logical_sector_size = p.logical_sector_size;
    if (kind == SESSION_CHILD) {
        p.parent = &parent;
    }
    if (vhdx_image_create(fuzz_io(f), &p, &err) < 0) {
        g_error("fuzz-session: cannot create the base image: %s",
                err->message);
    }
}

/*
 * The storage of a session on base image @base, which is made once for a
 * run of inputs with the same base: mutations mostly keep it
 */
static FuzzIO *base_get(Session *s, uint8_t base, Layout *l)
{
    static GByteArray *made;
    static int made_base = -1;
    FuzzIO *f;

    if (made_base != base) {
        f = fuzz_io_new(0);
        base_create(f, base);
        if (!made) {
            made = g_byte_array_new();
        }
        g_byte_array_set_size(made, 0);
        g_byte_array_append(made, fuzz_io_bytes(f), fuzz_io_size(f));
        made_base = base;
        fuzz_io_free(f);
    }
    f = fuzz_io_new(made->len);
    memcpy(fuzz_io_bytes(f), made->data, made->len);
    /* Where vhdx_image_create puts things (block/vhdx/create.c) */
    l->log_offset = VHDX_HEADER_AREA_SIZE;
    l->metadata_offset = l->log_offset +
                         (base & SESSION_BASE_LOG_2M ? 2 * MiB : MiB);
    l->bat_offset = l->metadata_offset + MiB;
    s->child = (base & SESSION_BASE_KIND_MASK) == SESSION_CHILD;
    s->lss = base & SESSION_BASE_LSS_4K ? 4096 : 512;
    s->size = session_sizes[(base >> SESSION_BASE_SIZE_SHIFT) & 3];
    return f;
}

static uint64_t target_offset(const Layout *l, SessionTarget t,
                              uint16_t offset)
{
    static const uint64_t fixed[] = {
        [TARGET_FILE_ID] = VHDX_FILE_ID_OFFSET,
        [TARGET_HEADER1] = VHDX_HEADER1_OFFSET,
        [TARGET_HEADER2] = VHDX_HEADER2_OFFSET,
        [TARGET_REGION1] = VHDX_REGION1_OFFSET,
        [TARGET_REGION2] = VHDX_REGION2_OFFSET,
    };

    switch (t) {
    case TARGET_LOG:
        return l->log_offset + offset;
    case TARGET_METADATA_TABLE:
        return l->metadata_offset + offset;
    case TARGET_METADATA_ITEMS:
        return l->metadata_offset + VHDX_METADATA_TABLE_SIZE + offset;
    case TARGET_BAT:
        return l->bat_offset + offset;
    case TARGET_ANYWHERE:
        return (uint64_t)offset * VHDX_KiB;
    default:
        return fixed[t] + offset;
    }
}

/* Applies the input's patches; returns how many bytes they changed */
static size_t apply_patches(MemIO *m, const Layout *l, FuzzInput *in)
{
    unsigned n = fuzz_u8(in) % (SESSION_MAX_PATCHES + 1);
    size_t changed = 0;

    for (unsigned i = 0; i < n; i++) {
        SessionTarget t = fuzz_u8(in) % TARGET_COUNT;
        uint64_t at = target_offset(l, t, fuzz_u16(in));
        size_t len = fuzz_u8(in) % (SESSION_PATCH_DATA + 1);
        uint8_t data[SESSION_PATCH_DATA];

        fuzz_take(in, data, sizeof(data));
        for (size_t k = 0; k < len && at + k < memio_size(m); k++) {
            changed += memio_bytes(m)[at + k] != data[k];
            memio_bytes(m)[at + k] = data[k];
        }
    }
    if (changed) {
        fuzz_fixup_file(memio_bytes(m), memio_size(m), 0);
    }
    return changed;
}

/* ---- the model ---- */

/* What a write with pattern @p puts at guest offset @g */
static uint8_t pattern_at(uint8_t p, uint64_t g)
{
    return p ^ (uint8_t)(g >> 9) ^ (uint8_t)(g >> 17);
}

static void model_resize(Session *s, uint64_t size)
{
    uint64_t old = s->size;
    uint64_t sectors = size / s->lss, old_sectors = old / s->lss;

    if (!s->model_on) {
        return;
    }
    g_assert(size <= GROW_LIMIT);
    if (size > old) {
        memset(s->model + old, s->child ? PARENT_BYTE : 0, size - old);
        memset(s->unknown + old_sectors, 0, sectors - old_sectors);
        memset(s->dirty + old_sectors, 0, sectors - old_sectors);
    }
    s->size = size;
}

/*
 * The model's memory is reused from one execution to the next: fresh
 * pages each time would cost more than the work
 */
static void model_init(Session *s)
{
    static uint8_t model[GROW_LIMIT];
    static uint8_t unknown[GROW_LIMIT / 512], dirty[GROW_LIMIT / 512];
    uint64_t size = s->size;

    s->model = model;
    s->unknown = unknown;
    s->dirty = dirty;
    s->size = 0;
    model_resize(s, size);
}

/* [@off, @off + @len) was changed: known, and not durable yet */
static void model_changed(Session *s, uint64_t off, uint64_t len)
{
    uint64_t first = off / s->lss, end = (off + len) / s->lss;

    if (!s->model_on) {
        return;
    }

    memset(s->unknown + first, 0, end - first);
    memset(s->dirty + first, 1, end - first);
    s->recent[s->n_recent++ % RECENT_MAX] = (VhdxRange) { off, len };
}

static void model_fill(Session *s, uint64_t off, uint64_t len, uint8_t byte)
{
    if (!s->model_on) {
        return;
    }
    memset(s->model + off, byte, len);
    model_changed(s, off, len);
}

/* Everything changed so far is on disk for good */
static void model_durable(Session *s)
{
    if (!s->model_on) {
        return;
    }
    memset(s->dirty, 0, s->size / s->lss);
}

/* [@off, @off + @len) may now read as anything */
static void model_unknown(Session *s, uint64_t off, uint64_t len)
{
    if (!s->model_on) {
        return;
    }
    memset(s->unknown + off / s->lss, 1, len / s->lss);
}

/* A power cut: what was not durable may now read as anything */
static void model_crash(Session *s)
{
    if (!s->model_on) {
        return;
    }
    for (uint64_t i = 0; i < s->size / s->lss; i++) {
        s->unknown[i] |= s->dirty[i];
        s->dirty[i] = 0;
    }
}

/* FUZZ_FAULT_STRICT=1 in the environment: see the top of the file */
static bool strict(void)
{
    static int on = -1;

    if (on < 0) {
        on = getenv("FUZZ_FAULT_STRICT") != NULL;
    }
    return on;
}

/*
 * Whether the harness knows what a core call must do: on a healthy image
 * whose storage has not failed since the operation began
 */
static bool expecting(const Session *s)
{
    return s->model_on && !fuzz_io_faulted(s->f);
}

/*
 * Whether a core call succeeded.  On a healthy image every call the
 * harness makes must succeed: a failure there is a finding.  Any
 * failure must come with a clean error.
 */
static bool ok(Session *s, int ret, GError **err, const char *what)
{
    if (ret == 0) {
        return true;
    }
    FUZZ_CHECK(!expecting(s), "%s failed on a healthy image: %s", what,
               *err ? (*err)->message : "(no message)");
    fuzz_check_error(ret, err, what);
    return false;
}

/* ---- reading ---- */

static bool read_guest(Session *s, uint64_t off, uint64_t len, uint8_t *buf)
{
    GError *err = NULL;

    while (len) {
        VhdxExtent ext;
        int ret = vhdx_image_map(s->img, off, len, &ext, &err);

        if (!ok(s, ret, &err, "map")) {
            return false;
        }
        FUZZ_CHECK(ext.length > 0 && ext.length <= len, "map of %"
                   G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT " gave %"
                   G_GUINT64_FORMAT, len, off, ext.length);
        if (ext.kind == VHDX_EXTENT_DATA) {
            ret = vhdx_image_read_payload(s->img, ext.file_offset, buf,
                                          ext.length, &err);
            if (!ok(s, ret, &err, "read")) {
                return false;
            }
        } else {
            memset(buf, ext.kind == VHDX_EXTENT_ZERO ? 0 : PARENT_BYTE,
                   ext.length);
        }
        off += ext.length;
        buf += ext.length;
        len -= ext.length;
    }
    return true;
}

/* Whether @len bytes at @p are all @byte */
static bool buf_is(const uint8_t *p, uint64_t len, uint8_t byte)
{
    return len == 0 || (p[0] == byte && !memcmp(p, p + 1, len - 1));
}

/* Says where guest [@off, @off + @len) first differs from the model */
static void mismatch(Session *s, uint64_t off, const uint8_t *have,
                     uint64_t len)
{
    const uint8_t *want = s->model + off;

    for (uint64_t i = 0; i < len; i++) {
        FUZZ_CHECK(have[i] == want[i], "guest byte %" G_GUINT64_FORMAT
                   " reads 0x%02x, the model says 0x%02x", off + i, have[i],
                   want[i]);
    }
}

/* compare() for at most CHUNK bytes */
#define CHUNK MiB
static void compare_chunk(Session *s, uint64_t off, uint64_t len,
                          bool settle)
{
    static uint8_t buf[CHUNK];

    if (!read_guest(s, off, len, buf)) {
        return;
    }
    for (uint64_t at = 0; at < len; at += s->lss) {
        uint64_t sector = (off + at) / s->lss;
        uint8_t *want = s->model + off + at;

        if (s->unknown[sector]) {
            if (settle) {
                memcpy(want, buf + at, s->lss);
                s->unknown[sector] = 0;
            }
        } else if (memcmp(buf + at, want, s->lss)) {
            mismatch(s, off + at, buf + at, s->lss);
        }
    }
}

/*
 * Compares guest [@off, @off + @len) with the model.  Sectors the model
 * does not know are taken as read (@settle) or skipped.
 */
static void compare(Session *s, uint64_t off, uint64_t len, bool settle)
{
    if (!s->model_on || !s->img || off >= s->size) {
        return;
    }
    len = MIN(len, s->size - off);
    while (len) {
        uint64_t n = MIN(len, CHUNK - off % CHUNK);

        compare_chunk(s, off, n, settle);
        off += n;
        len -= n;
    }
}

/* Reads what a power cut left unknown, and keeps it */
static void settle_unknown(Session *s)
{
    uint64_t sectors = s->size / s->lss;

    if (!s->model_on) {
        return;
    }
    for (uint64_t i = 0; i < sectors; i++) {
        uint64_t end = i;

        while (end < sectors && s->unknown[end]) {
            end++;
        }
        if (end > i) {
            compare(s, i * s->lss, (end - i) * s->lss, true);
            i = end;
        }
    }
}

static void compare_recent(Session *s)
{
    for (unsigned i = 0; i < MIN(s->n_recent, RECENT_MAX); i++) {
        compare(s, s->recent[i].offset, s->recent[i].length, false);
    }
}

/* ---- opening and closing ---- */

static void session_open(Session *s, unsigned flags)
{
    GError *err = NULL;
    int ret = vhdx_image_open(fuzz_io(s->f), flags, &s->img, &err);

    if (!ok(s, ret, &err, "open")) {
        s->img = NULL;
        return;
    }
    if (s->model_on) {
        FUZZ_CHECK(vhdx_image_virtual_size(s->img) == s->size,
                   "the virtual size is %" G_GUINT64_FORMAT ", not %"
                   G_GUINT64_FORMAT, vhdx_image_virtual_size(s->img),
                   s->size);
    }
    settle_unknown(s);
    compare_recent(s);
}

/*
 * A close that failed is a power cut: the image is gone all the same.
 * True when the image was closed cleanly.
 */
static bool session_close(Session *s)
{
    GError *err = NULL;
    bool clean = false;

    if (s->img && ok(s, vhdx_image_close(s->img, &err), &err, "close")) {
        model_durable(s);
        clean = true;
    } else if (s->img) {
        model_crash(s);
    }
    s->img = NULL;
    return clean;
}

/* What the glue does on a reopen read-write; false if it fails */
static bool ensure_writable(Session *s)
{
    GError *err = NULL;

    if (vhdx_image_is_writable(s->img)) {
        return true;
    }
    if (!ok(s, vhdx_image_scan_space(s->img, &err), &err, "scan_space")) {
        return false;
    }
    vhdx_image_set_writable(s->img, true);
    return true;
}

/* Freed space becomes reusable: no payload I/O is ever in flight here */
static void recycle(Session *s)
{
    if (vhdx_image_seal_freed(s->img)) {
        vhdx_image_reuse_sealed(s->img);
    }
}

/* ---- guest writes, write-zeroes, discard ---- */

/*
 * Fills @dst with what a guest write puts at guest [@g, @g + @len):
 * pattern @p, or zeros for the block layer's fallback of a write-zeroes
 * (@p < 0).  The pattern changes every 512 bytes only.
 */
static void write_bytes(uint8_t *dst, uint64_t g, uint64_t len, int p)
{
    while (len) {
        uint64_t n = MIN(len, 512 - g % 512);

        memset(dst, p < 0 ? 0 : pattern_at(p, g), n);
        dst += n;
        g += n;
        len -= n;
    }
}

/* The payload I/O of @w: guest data (at guest @off), then zero fill */
static int write_payload(Session *s, const VhdxWrite *w, uint64_t off,
                         int p, GError **errp)
{
    static uint8_t buf[LENGTH_LIMIT];
    int ret;

    write_bytes(buf, off, w->bytes, p);
    ret = vhdx_io_pwrite(fuzz_io(s->f), w->data_offset, buf, w->bytes);
    for (int i = 0; ret == 0 && i < G_N_ELEMENTS(w->zero_fill); i++) {
        if (w->zero_fill[i].length) {
            ret = vhdx_io_pwrite_zeroes(fuzz_io(s->f), w->zero_fill[i].offset,
                                        w->zero_fill[i].length);
        }
    }
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "payload write");
    }
    return 0;
}

/* A guest write, block by block, as the glue does it; see write_byte() */
static void guest_write(Session *s, uint64_t off, uint64_t len, int p)
{
    GError *err = NULL;
    int ret;

    if (!ensure_writable(s)) {
        return;
    }
    ret = vhdx_image_begin_data_change(s->img, NULL, &err);
    if (!ok(s, ret, &err, "begin_data_change")) {
        return;
    }
    while (len) {
        VhdxWrite w;

        recycle(s);
        ret = vhdx_image_plan_write(s->img, off, len, &w, &err);
        if (!ok(s, ret, &err, "plan_write")) {
            return;
        }
        FUZZ_CHECK(w.bytes > 0 && w.bytes <= len, "planned %"
                   G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
                   w.bytes, len);
        ret = write_payload(s, &w, off, p, &err);
        if (ret == 0) {
            ret = vhdx_image_finish_write(s->img, &w, &err);
        }
        if (ret < 0) {
            vhdx_image_cancel_write(s->img, &w);
        }
        if (!ok(s, ret, &err, "write")) {
            return;
        }
        if (s->model_on) {
            write_bytes(s->model + off, off, w.bytes, p);
            model_changed(s, off, w.bytes);
        }
        off += w.bytes;
        len -= w.bytes;
    }
}

/* Write-zeroes or discard, as the glue and the block layer do it */
static void guest_zero(Session *s, uint64_t off, uint64_t len,
                       VhdxZeroKind kind)
{
    uint32_t bs = vhdx_image_block_size(s->img);
    GError *err = NULL;
    VhdxZeroing z;
    int ret;

    if (!ensure_writable(s)) {
        return;
    }
    ret = vhdx_image_plan_zero(s->img, off, len, kind, &z, &err);
    if (!ok(s, ret, &err, "plan_zero")) {
        return;
    }
    if (z.write_zeros) {
        /* The block layer's fallback: zeros written as data */
        FUZZ_CHECK(kind == VHDX_ZERO_WRITE, "a discard asks for zeros");
        guest_write(s, off, len, -1);
        return;
    }
    if (z.first_block >= z.end_block) {
        /* Nothing to do: what must read as zeros already does */
        if (kind == VHDX_ZERO_WRITE) {
            model_fill(s, off, len, 0);
            compare(s, off, len, false);
        }
        return;
    }
    ret = vhdx_image_begin_data_change(s->img, NULL, &err);
    for (uint64_t b = z.first_block; ret == 0 && b < z.end_block; b++) {
        ret = vhdx_image_apply_zero(s->img, &z, b, &err);
        if (ret == 0) {
            uint64_t start = b * bs;

            model_fill(s, start, MIN(bs, s->size - start), 0);
        }
    }
    ok(s, ret, &err, "apply_zero");
}

/* ---- the other operations ---- */

static void op_flush(Session *s)
{
    GError *err = NULL;

    if (ok(s, vhdx_image_flush(s->img, &err), &err, "flush")) {
        recycle(s);
        model_durable(s);
    }
}

/*
 * What a child gained by growing from @old to @new: its new blocks show
 * the parent, but the rest of a last block it had written whole shows
 * that block's zeroed tail.  QEMU grows a child only over a parent no
 * longer than @old, where both read as zeros, so either is right: the
 * model takes what each sector reads, provided it is one of the two.
 */
static void settle_grown(Session *s, uint64_t old, uint64_t new)
{
    static uint8_t buf[CHUNK];

    for (uint64_t off = old; s->model_on && off < new; ) {
        uint64_t n = MIN(new - off, CHUNK);

        if (!read_guest(s, off, n, buf)) {
            return;
        }
        for (uint64_t i = 0; i < n; i += s->lss) {
            FUZZ_CHECK(buf_is(buf + i, s->lss, 0) ||
                       buf_is(buf + i, s->lss, PARENT_BYTE),
                       "grown sector at %" G_GUINT64_FORMAT " reads "
                       "neither zeros nor the parent", off + i);
        }
        memcpy(s->model + off, buf, n);
        off += n;
    }
}

static void op_grow(Session *s, uint8_t arg, uint64_t len)
{
    uint64_t size = vhdx_image_virtual_size(s->img);
    uint64_t new_size = size + len + (uint64_t)(arg % 8) * MiB;
    GError *err = NULL;
    int ret;

    if (arg == OP_GROW_SHRINK) {
        new_size = size - MIN(size, s->lss);
    } else if (arg == OP_GROW_HUGE) {
        new_size = MAX(size, OP_GROW_HUGE_SIZE);
        /* A fixed image cannot grow this much here: the storage fills */
        s->model_on = false;
    } else if (new_size > GROW_LIMIT) {
        return;
    }
    if (!ensure_writable(s)) {
        return;
    }
    ret = vhdx_image_validate_grow(s->img, new_size, &err);
    if (ret < 0) {
        /* Only shrinking is refused: the sizes are sector multiples */
        FUZZ_CHECK(!expecting(s) || new_size < size, "growing to %"
                   G_GUINT64_FORMAT " refused: %s", new_size, err->message);
        fuzz_check_error(ret, &err, "validate_grow");
        return;
    }
    if (new_size == size) {
        return;
    }
    ret = vhdx_image_begin_data_change(s->img, NULL, &err);
    if (ret == 0) {
        ret = vhdx_image_grow(s->img, new_size, &err);
    }
    if (ok(s, ret, &err, "grow")) {
        model_resize(s, new_size);
        model_durable(s);
        if (s->child) {
            settle_grown(s, size, new_size);
        }
    }
}

static void op_make_empty(Session *s, uint8_t arg)
{
    GError *err = NULL;
    int ret;

    if (!ensure_writable(s)) {
        return;
    }
    ret = vhdx_image_begin_data_change(s->img, NULL, &err);
    if (ret == 0) {
        ret = vhdx_image_make_empty(s->img, arg & 1 ? &parent_dwg : NULL,
                                    &err);
    }
    if (ok(s, ret, &err, "make_empty") && s->model_on) {
        memset(s->model, s->child ? PARENT_BYTE : 0, s->size);
        memset(s->unknown, 0, s->size / s->lss);
        model_durable(s);
    }
}

/* A parent name: a few usual kinds, and one as long as @len says */
static char *parent_name(uint8_t arg, uint64_t len, const char **host)
{
    static const char *const names[] = {
        "/vm/base.vhdx",
        "base2.vhdx",
        "nbd://localhost:10809/base",
        "json:{\"file\":{\"driver\":\"file\",\"filename\":\"/vm/b.vhdx\"}}",
        "/vm/dir with spaces/caf\xc3\xa9.vhdx",
        "../up/../base.vhdx",
        "C:\\images\\base.vhdx",
    };
    unsigned i = arg % (G_N_ELEMENTS(names) + 1);

    *host = i == 3 ? "/vm/b.vhdx" : NULL;
    if (i < G_N_ELEMENTS(names)) {
        return g_strdup(names[i]);
    }
    /* Long enough to fill a log entry or a locator string */
    return g_strnfill(len / 8 + 1, 'p');
}

static void op_set_parent(Session *s, uint8_t arg, uint64_t len)
{
    const char *host;
    g_autofree char *name = parent_name(arg & 0x7f, len, &host);
    bool bad_lss = arg & OP_SET_PARENT_BAD_LSS;
    VhdxParentSpec spec = {
        .name = name,
        .child_dir = "/vm",
        .host_path = host,
        .data_write_guid = parent_dwg,
        .logical_sector_size = bad_lss ? s->lss ^ (512 ^ 4096) : s->lss,
    };
    GError *err = NULL;
    int ret;

    spec.data_write_guid.bytes[15] ^= arg;
    if (!ensure_writable(s)) {
        return;
    }
    ret = vhdx_image_set_parent(s->img, &spec, &err);
    if (ret == 0) {
        FUZZ_CHECK(!s->model_on || (s->child && !bad_lss),
                   "a rebase that must fail worked");
        model_durable(s);
        return;
    }
    /* Refusals: not a child, another sector size, a name too long */
    FUZZ_CHECK(!expecting(s) || !s->child || bad_lss || strlen(name) > 1000,
               "rebasing onto '%.40s' failed: %s", name, err->message);
    fuzz_check_error(ret, &err, "set_parent");
}

static void fault_ignored(void *opaque, const VhdxFault *fault,
                          bool repaired)
{
}

/* A check, repairing when @repair; a healthy image has no fault */
static void op_check(Session *s, bool repair, VhdxCheckReport *r)
{
    GError *err = NULL;
    int ret;

    memset(r, 0, sizeof(*r));
    if (repair && !ensure_writable(s)) {
        return;
    }
    ret = vhdx_image_check(s->img, repair, fault_ignored, NULL, r, &err);
    if (ok(s, ret, &err, "check")) {
        FUZZ_CHECK(!s->model_on || r->corruptions == 0,
                   "a healthy image has %" G_GUINT64_FORMAT " corruptions",
                   r->corruptions);
        FUZZ_CHECK(r->image_end % VHDX_ALIGNMENT == 0, "image end %"
                   G_GUINT64_FORMAT " not aligned", r->image_end);
    }
}

static void op_trim(Session *s)
{
    VhdxCheckReport r;
    GError *err = NULL;

    op_check(s, false, &r);
    if (r.image_end == 0) {
        return;
    }
    if (!ensure_writable(s)) {
        return;
    }
    if (ok(s, vhdx_image_trim(s->img, r.image_end, &err), &err, "trim")) {
        model_durable(s);
    }
}

static void op_make_clean(Session *s)
{
    GError *err = NULL;

    if (ok(s, vhdx_image_make_clean(s->img, &err), &err, "make_clean")) {
        model_durable(s);
    }
}

/*
 * A data change while @arg % 4 children are open on the image: their
 * grants are recorded (or pruned), guest data stays as it is
 */
static void op_grants(Session *s, uint8_t arg)
{
    VhdxGrants now = { .count = arg % 4 };
    GError *err = NULL;

    for (unsigned i = 0; i < now.count; i++) {
        memset(&now.entries[i].child, 0x10 + i + (arg & 0x10), 16);
        now.entries[i].linkage = parent_dwg;
        memset(&now.entries[i].via, 0x30 + i, 16);
    }
    if (!ensure_writable(s)) {
        return;
    }
    ok(s, vhdx_image_begin_data_change(s->img, &now, &err), &err,
       "begin_data_change with grants");
}

/* The first state whose counts differ, 8 for the bitmaps, or -1 */
static int counts_differ(const VhdxBlockCounts *a, const VhdxBlockCounts *b)
{
    for (int i = 0; i < G_N_ELEMENTS(a->by_state); i++) {
        if (a->by_state[i] != b->by_state[i]) {
            return i;
        }
    }
    return a->bitmap_blocks != b->bitmap_blocks ? 8 : -1;
}

/*
 * Reopens; the blocks by state the image kept up to date must be what a
 * reopen counts in the file
 */
static void op_reopen(Session *s, unsigned flags)
{
    VhdxBlockCounts kept, counted;
    bool known = s->img &&
                 vhdx_image_block_counts(s->img, &kept, NULL) == 0;

    known = session_close(s) && known;
    session_open(s, flags);
    if (known && s->img &&
        vhdx_image_block_counts(s->img, &counted, NULL) == 0) {
        int state = counts_differ(&kept, &counted);

        FUZZ_CHECK(state < 0, "the image kept %" G_GUINT64_FORMAT " blocks "
                   "of state %d (8: sector bitmaps), a reopen counts %"
                   G_GUINT64_FORMAT, state < 8 ? kept.by_state[state] :
                   kept.bitmap_blocks, state, state < 8 ?
                   counted.by_state[state] : counted.bitmap_blocks);
    }
}

/* The power fails during a flush (or make_clean), after @arg's writes */
static void op_crash(Session *s, uint8_t arg)
{
    MemIO *m = s->f->m;
    GError *err = NULL;
    int ret;

    m->cut_after_writes = m->writes + arg % 32 + 1;
    if (arg & OP_CRASH_CLEAN) {
        ret = vhdx_image_make_clean(s->img, &err);
    } else {
        ret = vhdx_image_flush(s->img, &err);
    }
    if (ret < 0) {
        fuzz_check_error(ret, &err, "flush in a power cut");
    }
    vhdx_image_free(s->img);
    s->img = NULL;
    m->cut_after_writes = 0;
    model_crash(s);
    session_open(s, arg & OP_CRASH_REOPEN_RO ? 0 : VHDX_OPEN_WRITE);
}

/* ---- storage faults ---- */

/* FUZZ_SESSION_TRACE=1 in the environment prints each operation */
static bool tracing(void)
{
    static int on = -1;

    if (on < 0) {
        on = getenv("FUZZ_SESSION_TRACE") != NULL;
    }
    return on;
}

/* Arms the fault plan of an OP_FAULT record */
static void op_fault(Session *s, uint8_t arg, uint16_t n, uint32_t start)
{
    FuzzFault fault = { .flags = arg, .nth = n };

    if (!strict()) {
        s->model_on = false;
    }
    s->close_on_fault = start & OP_FAULT_CLOSE;
    fuzz_io_arm(s->f, &fault);
}

/*
 * After operation @op on guest [@off, @off + @len), during which the
 * storage failed: the image is closed (the fault still armed) or
 * dropped, then reopened with faults off.  For the model that is a power
 * cut during @op: what it touched may read as anything, and so may all
 * of a disk it was emptying; a grow leaves the size unknown.
 */
static void fault_recover(Session *s, SessionOp op, uint64_t off,
                          uint64_t len)
{
    GError *err = NULL;
    int ret;

    if (tracing()) {
        fprintf(stderr, "    %u storage calls failed\n", s->f->fired);
    }
    if (s->img && s->close_on_fault) {
        ret = vhdx_image_close(s->img, &err);
        if (ret < 0) {
            fuzz_check_error(ret, &err, "close after a failure");
        }
    } else if (s->img) {
        vhdx_image_free(s->img);
    }
    s->img = NULL;
    fuzz_io_disarm(s->f);
    if (op == OP_GROW) {
        s->model_on = false;
    }
    model_crash(s);
    if (op == OP_MAKE_EMPTY) {
        model_unknown(s, 0, s->size);
    } else if (op == OP_WRITE || op == OP_WRITE_ZEROES ||
               op == OP_DISCARD) {
        model_unknown(s, off, len);
    }
    session_open(s, VHDX_OPEN_WRITE);
}

/* ---- the session ---- */

static const char *const op_names[OP_COUNT] = {
    "write", "write-zeroes", "discard", "flush", "grow", "make-empty",
    "set-parent", "reopen-rw", "reopen-ro", "check", "read", "crash",
    "trim", "make-clean", "grants", "fault",
};

/* Runs one operation record on the open image */
static void run_op(Session *s, FuzzInput *in)
{
    SessionOp op = fuzz_u8(in) % OP_COUNT;
    uint8_t arg = fuzz_u8(in);
    uint16_t raw_length = fuzz_u16(in);
    uint64_t sectors = raw_length % (LENGTH_LIMIT / s->lss) + 1;
    uint64_t start = fuzz_u32(in);
    uint64_t size = vhdx_image_virtual_size(s->img);
    uint64_t off, len;
    VhdxCheckReport r;

    if (size < s->lss) {
        return;
    }
    off = start % (size / s->lss) * s->lss;
    len = MIN(sectors * s->lss, size - off);
    if (tracing()) {
        fprintf(stderr, "%s arg 0x%02x at %" G_GUINT64_FORMAT " length %"
                G_GUINT64_FORMAT " (size %" G_GUINT64_FORMAT ")\n",
                op_names[op], arg, off, len, size);
    }
    switch (op) {
    case OP_WRITE:
        guest_write(s, off, len, arg);
        break;
    case OP_WRITE_ZEROES:
        guest_zero(s, off, len, VHDX_ZERO_WRITE);
        break;
    case OP_DISCARD:
        guest_zero(s, off, len, VHDX_ZERO_DISCARD);
        break;
    case OP_FLUSH:
        op_flush(s);
        break;
    case OP_GROW:
        op_grow(s, arg, sectors * s->lss);
        break;
    case OP_MAKE_EMPTY:
        op_make_empty(s, arg);
        break;
    case OP_SET_PARENT:
        op_set_parent(s, arg, sectors * s->lss);
        break;
    case OP_REOPEN_RW:
        op_reopen(s, VHDX_OPEN_WRITE);
        break;
    case OP_REOPEN_RO:
        op_reopen(s, 0);
        break;
    case OP_CHECK:
        op_check(s, arg & OP_CHECK_REPAIR, &r);
        break;
    case OP_READ:
        compare(s, off, len, false);
        break;
    case OP_CRASH:
        op_crash(s, arg);
        break;
    case OP_TRIM:
        op_trim(s);
        break;
    case OP_MAKE_CLEAN:
        op_make_clean(s);
        break;
    case OP_GRANTS:
        op_grants(s, arg);
        break;
    case OP_FAULT:
        op_fault(s, arg, raw_length, start);
        break;
    default:
        g_assert_not_reached();
    }
    if (fuzz_io_faulted(s->f)) {
        fault_recover(s, op, off, len);
    }
}

/*
 * The end: everything reads as the model says, closed and reopened too.
 * A fault armed but not yet met may fail the close.
 */
static void session_finish(Session *s)
{
    VhdxCheckReport r;

    session_close(s);
    fuzz_io_disarm(s->f);
    session_open(s, 0);
    if (s->img) {
        compare(s, 0, s->size, false);
        op_check(s, false, &r);
        session_close(s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzInput in = { .data = data, .size = size };
    Session s = { 0 };
    Layout l;

    s.f = base_get(&s, fuzz_u8(&in), &l);
    s.model_on = apply_patches(s.f->m, &l, &in) == 0;
    if (s.model_on) {
        model_init(&s);
    }
    session_open(&s, VHDX_OPEN_WRITE);
    for (int i = 0; i < SESSION_MAX_OPS && s.img &&
                    fuzz_left(&in) >= SESSION_OP_SIZE; i++) {
        run_op(&s, &in);
        if (!s.img) {
            /* A patched image that no longer opens: try once more */
            session_open(&s, VHDX_OPEN_WRITE);
            if (fuzz_io_faulted(s.f)) {
                fault_recover(&s, OP_REOPEN_RW, 0, 0);
            }
        }
    }
    if (s.img) {
        session_finish(&s);
    }
    fuzz_io_free(s.f);
    return 0;
}
