/*
 * Block driver for VHDX images (Microsoft Hyper-V virtual hard disks)
 *
 * The QEMU side of qemu-vhdx: the BlockDriver, its options, coroutine
 * locking and payload I/O.  Every metadata byte is handled by the format
 * core in block/vhdx/ (see include/vhdx/image.h); this file only maps
 * QEMU requests onto it and passes the caller's I/O vectors straight to
 * the file child.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "block/block_int.h"
#include "block/qdict.h"
#include "qapi/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qobject-input-visitor.h"
#include "qemu/coroutine.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "qemu/option.h"
#include "qemu/units.h"
#include "system/block-backend.h"

#include "vhdx/error.h"
#include "vhdx/image.h"

#define VHDX_OPT_LOG_SIZE             "log_size"
#define VHDX_OPT_BLOCK_SIZE           "block_size"
#define VHDX_OPT_BLOCK_STATE_ZERO     "block_state_zero"
#define VHDX_OPT_LOGICAL_SECTOR_SIZE  "logical_sector_size"

/* 1 MiB, spelled out: the create option's default is its string */
#define VHDX_DEFAULT_LOG_SIZE         1048576

/* A payload block whose allocation is in flight; writers to it wait */
typedef struct VhdxAllocation {
    uint64_t block;
    CoQueue waiters;
    QLIST_ENTRY(VhdxAllocation) next;
} VhdxAllocation;

typedef struct BDRVVHDXState {
    CoMutex lock;               /* serializes every call into the core */
    VhdxImage *img;
    VhdxIO io;
    QLIST_HEAD(, VhdxAllocation) allocations;
    /*
     * Payload I/O runs outside s->lock at a location looked up under it;
     * a block freed meanwhile must not be reused until that I/O is over,
     * or the late I/O would hit the block's new owner.  I/O counts in the
     * epoch current when it looked up its location; sealing freed space
     * switches epochs, and the sealed space is reused once the old epoch
     * has no I/O left.
     */
    unsigned io_epoch;
    unsigned io_in_flight[2];   /* atomic */
    bool freed_sealed;
} BDRVVHDXState;

/* ---- the core's storage interface on bs->file ---- */

static int vhdx_file_pread(VhdxIO *io, uint64_t offset, void *buf,
                           size_t len)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_pread(bs->file, offset, len, buf, 0);
}

static int vhdx_file_pwrite(VhdxIO *io, uint64_t offset, const void *buf,
                            size_t len)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_pwrite(bs->file, offset, len, buf, 0);
}

static int vhdx_file_flush(VhdxIO *io)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_flush(bs->file->bs);
}

static int64_t vhdx_file_length(VhdxIO *io)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_getlength(bs->file->bs);
}

static int vhdx_file_truncate(VhdxIO *io, uint64_t length)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_truncate(bs->file, length, false, PREALLOC_MODE_OFF, 0,
                         NULL);
}

static int vhdx_file_pwrite_zeroes(VhdxIO *io, uint64_t offset, uint64_t len)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_pwrite_zeroes(bs->file, offset, len, 0);
}

static void vhdx_file_io_init(BlockDriverState *bs, VhdxIO *io)
{
    *io = (VhdxIO) {
        .pread = vhdx_file_pread,
        .pwrite = vhdx_file_pwrite,
        .flush = vhdx_file_flush,
        .length = vhdx_file_length,
        .truncate = vhdx_file_truncate,
        .pwrite_zeroes = vhdx_file_pwrite_zeroes,
        .opaque = bs,
    };
}

/* Moves a core error into @errp, prefixed with the image's file name */
static void vhdx_propagate(BlockDriverState *bs, Error **errp, GError *gerr)
{
    if (gerr) {
        error_setg(errp, "%s: %s", bs->filename, gerr->message);
        g_error_free(gerr);
    }
}

/* Errors in the I/O path can only return errno; say what happened once */
static void vhdx_report_io_error(BlockDriverState *bs, GError *gerr)
{
    if (gerr) {
        error_report("%s: %s", bs->filename, gerr->message);
        g_error_free(gerr);
    }
}

/* ---- probe, open, close ---- */

static int vhdx_probe(const uint8_t *buf, int buf_size, const char *filename)
{
    if (buf_size >= 8 && vhdx_file_id_valid(buf, buf_size)) {
        return 100;
    }
    return 0;
}

static void vhdx_refresh_limits(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    uint32_t block_size = s->img->geo.block_size;

    /* Whole blocks change state; the block layer writes the ragged ends */
    bs->bl.pwrite_zeroes_alignment = block_size;
    bs->bl.pdiscard_alignment = block_size;
}

static int GRAPH_RDLOCK vhdx_open_image(BlockDriverState *bs, int flags,
                                        Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    unsigned core_flags = 0;
    GError *gerr = NULL;
    int ret;

    if (flags & BDRV_O_RDWR) {
        core_flags |= VHDX_OPEN_WRITE;
    }
    if (flags & BDRV_O_CHECK) {
        core_flags |= VHDX_OPEN_CHECK;
    }
    vhdx_file_io_init(bs, &s->io);
    ret = vhdx_image_open(&s->io, core_flags, &s->img, &gerr);
    if (ret == -EPERM) {
        g_error_free(gerr);
        error_setg(errp, "VHDX image file '%s' opened read-only, but "
                   "contains a log that needs to be replayed", bs->filename);
        error_append_hint(errp, "To replay the log, run:\n"
                          "qemu-img check -r all '%s'\n", bs->filename);
        return ret;
    }
    if (ret < 0) {
        vhdx_propagate(bs, errp, gerr);
        return ret;
    }
    if (s->img->metadata.has_parent) {
        vhdx_image_free(s->img);
        s->img = NULL;
        error_setg(errp, "%s: differencing VHDX images are not supported "
                   "yet", bs->filename);
        return -ENOTSUP;
    }
    return 0;
}

static int vhdx_open(BlockDriverState *bs, QDict *options, int flags,
                     Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    int ret;

    GLOBAL_STATE_CODE();

    ret = bdrv_open_file_child(NULL, options, "file", bs, errp);
    if (ret < 0) {
        return ret;
    }

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    qemu_co_mutex_init(&s->lock);
    QLIST_INIT(&s->allocations);
    ret = vhdx_open_image(bs, flags, errp);
    if (ret < 0) {
        return ret;
    }
    bs->supported_zero_flags = BDRV_REQ_MAY_UNMAP;
    return 0;
}

/* Commits metadata and marks the log clean, so other users may open it */
static int GRAPH_RDLOCK vhdx_end_session(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    int ret;

    ret = vhdx_image_close(s->img, &gerr);
    s->img = NULL;
    vhdx_propagate(bs, errp, gerr);
    return ret;
}

static void vhdx_close(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;
    Error *local_err = NULL;

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    if (!s->img) {
        return;
    }
    if (bs->open_flags & BDRV_O_INACTIVE) {
        vhdx_image_free(s->img);
        s->img = NULL;
        return;
    }
    if (vhdx_end_session(bs, &local_err) < 0) {
        error_report_err(local_err);
    }
}

/* ---- reopen, migration ---- */

static int vhdx_reopen_prepare(BDRVReopenState *state,
                               BlockReopenQueue *queue, Error **errp)
{
    BlockDriverState *bs = state->bs;
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    int ret = 0;

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    /*
     * Going read-only: everything must be on disk and the log clean now,
     * while the file still takes writes.
     */
    if (s->img->writable && !(state->flags & BDRV_O_RDWR)) {
        ret = vhdx_image_make_clean(s->img, &gerr);
        vhdx_propagate(bs, errp, gerr);
    }
    return ret;
}

static void vhdx_reopen_commit(BDRVReopenState *state)
{
    BDRVVHDXState *s = state->bs->opaque;

    s->img->writable = state->flags & BDRV_O_RDWR;
}

static void vhdx_reopen_abort(BDRVReopenState *state)
{
    /* A clean image stays valid read-write: nothing to undo */
}

static int GRAPH_RDLOCK vhdx_inactivate(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    int ret;

    if (!s->img || !s->img->writable) {
        return 0;
    }
    /* Hand a clean image to the destination; no writes until reactivated */
    ret = vhdx_image_make_clean(s->img, &gerr);
    if (ret < 0) {
        vhdx_report_io_error(bs, gerr);
        return ret;
    }
    s->img->writable = false;
    return 0;
}

static void coroutine_fn GRAPH_RDLOCK
vhdx_co_invalidate_cache(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;

    /* Another process may have changed everything: read it all anew */
    qemu_co_mutex_lock(&s->lock);
    if (s->img) {
        vhdx_image_free(s->img);
        s->img = NULL;
    }
    vhdx_open_image(bs, bs->open_flags, errp);
    qemu_co_mutex_unlock(&s->lock);
}

/* ---- payload I/O epochs and reuse of freed space ---- */

/* Called with s->lock held, right after looking up a data location */
static unsigned vhdx_payload_io_begin(BDRVVHDXState *s)
{
    unsigned epoch = s->io_epoch;

    qatomic_inc(&s->io_in_flight[epoch]);
    return epoch;
}

static void vhdx_payload_io_end(BDRVVHDXState *s, unsigned epoch)
{
    qatomic_dec(&s->io_in_flight[epoch]);
}

static bool vhdx_old_epoch_drained(BDRVVHDXState *s)
{
    return qatomic_read(&s->io_in_flight[s->io_epoch ^ 1]) == 0;
}

/* Moves durably freed space towards reuse; called with s->lock held */
static void vhdx_recycle_freed(BDRVVHDXState *s)
{
    if (s->freed_sealed) {
        if (!vhdx_old_epoch_drained(s)) {
            return;
        }
        vhdx_image_reuse_sealed(s->img);
        s->freed_sealed = false;
    }
    if (vhdx_image_seal_freed(s->img)) {
        /* I/O from before the seal all counts in the epoch we leave */
        s->io_epoch ^= 1;
        s->freed_sealed = true;
        if (vhdx_old_epoch_drained(s)) {
            vhdx_image_reuse_sealed(s->img);
            s->freed_sealed = false;
        }
    }
}

/* ---- reading ---- */

static int coroutine_fn GRAPH_RDLOCK
vhdx_read_extent(BlockDriverState *bs, const VhdxExtent *ext, int64_t offset,
                 QEMUIOVector *qiov, size_t qiov_offset)
{
    switch (ext->kind) {
    case VHDX_EXTENT_DATA:
        return bdrv_co_preadv_part(bs->file, ext->file_offset, ext->length,
                                   qiov, qiov_offset, 0);
    case VHDX_EXTENT_UNALLOCATED:
        if (bs->backing) {
            return bdrv_co_preadv_part(bs->backing, offset, ext->length,
                                       qiov, qiov_offset, 0);
        }
        /* fall through */
    case VHDX_EXTENT_ZERO:
        qemu_iovec_memset(qiov, qiov_offset, 0, ext->length);
        return 0;
    }
    g_assert_not_reached();
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_preadv_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                    QEMUIOVector *qiov, size_t qiov_offset,
                    BdrvRequestFlags flags)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    VhdxExtent ext;
    int ret;

    while (bytes > 0) {
        unsigned epoch = 0;

        qemu_co_mutex_lock(&s->lock);
        ret = vhdx_image_map(s->img, offset, bytes, &ext, &gerr);
        if (ret == 0 && ext.kind == VHDX_EXTENT_DATA) {
            epoch = vhdx_payload_io_begin(s);
        }
        qemu_co_mutex_unlock(&s->lock);
        if (ret < 0) {
            vhdx_report_io_error(bs, gerr);
            return ret;
        }
        ret = vhdx_read_extent(bs, &ext, offset, qiov, qiov_offset);
        if (ext.kind == VHDX_EXTENT_DATA) {
            vhdx_payload_io_end(s, epoch);
        }
        if (ret < 0) {
            return ret;
        }
        offset += ext.length;
        qiov_offset += ext.length;
        bytes -= ext.length;
    }
    return 0;
}

/* ---- writing ---- */

static VhdxAllocation *vhdx_find_allocation(BDRVVHDXState *s, uint64_t block)
{
    VhdxAllocation *a;

    QLIST_FOREACH(a, &s->allocations, next) {
        if (a->block == block) {
            return a;
        }
    }
    return NULL;
}

/*
 * Waits, with s->lock held, until no allocation of @block is in flight.
 * Returns true if it had to wait (the BAT entry may have changed).
 */
static bool coroutine_fn vhdx_wait_allocation(BDRVVHDXState *s,
                                              uint64_t block)
{
    VhdxAllocation *a = vhdx_find_allocation(s, block);

    if (!a) {
        return false;
    }
    qemu_co_queue_wait(&a->waiters, &s->lock);
    return true;
}

static void vhdx_finish_allocation(VhdxAllocation *a)
{
    QLIST_REMOVE(a, next);
    qemu_co_queue_restart_all(&a->waiters);
    g_free(a);
}

/* Zeroes the parts of a reused block the write does not cover */
static int coroutine_fn GRAPH_RDLOCK
vhdx_zero_block_gaps(BlockDriverState *bs, uint64_t block_offset,
                     uint64_t block_bytes, uint64_t in_block, uint64_t len)
{
    int ret = 0;

    if (in_block) {
        ret = bdrv_co_pwrite_zeroes(bs->file, block_offset, in_block, 0);
    }
    if (ret == 0 && in_block + len < block_bytes) {
        ret = bdrv_co_pwrite_zeroes(bs->file, block_offset + in_block + len,
                                    block_bytes - in_block - len, 0);
    }
    return ret;
}

/*
 * Writes into a block that has no data yet: new space is reserved, the
 * data written (with zeros around it), and only then is the BAT entry
 * pointed at it, so a concurrent read sees the old contents or the new,
 * never garbage.  Called and returns with s->lock held.
 */
static int coroutine_fn GRAPH_RDLOCK
vhdx_write_new_block(BlockDriverState *bs, uint64_t block, uint64_t in_block,
                     uint64_t len, QEMUIOVector *qiov, size_t qiov_offset)
{
    BDRVVHDXState *s = bs->opaque;
    uint64_t block_bytes = s->img->geo.block_size;
    VhdxAllocation *a;
    GError *gerr = NULL;
    uint64_t file_offset;
    bool fresh;
    int ret;

    vhdx_recycle_freed(s);
    ret = vhdx_image_alloc_block(s->img, &file_offset, &fresh, &gerr);
    if (ret < 0) {
        vhdx_report_io_error(bs, gerr);
        return ret;
    }
    a = g_new0(VhdxAllocation, 1);
    a->block = block;
    qemu_co_queue_init(&a->waiters);
    QLIST_INSERT_HEAD(&s->allocations, a, next);
    qemu_co_mutex_unlock(&s->lock);

    ret = bdrv_co_pwritev_part(bs->file, file_offset + in_block, len, qiov,
                               qiov_offset, 0);
    if (ret == 0 && !fresh) {
        ret = vhdx_zero_block_gaps(bs, file_offset, block_bytes, in_block,
                                   len);
    }

    qemu_co_mutex_lock(&s->lock);
    if (ret == 0) {
        ret = vhdx_image_set_block(s->img, block, VHDX_PAYLOAD_FULLY_PRESENT,
                                   file_offset, &gerr);
        vhdx_report_io_error(bs, gerr);
    } else {
        vhdx_image_unalloc_block(s->img, file_offset);
    }
    vhdx_finish_allocation(a);
    return ret;
}

/* Writes the part of a request inside one block; s->lock held */
static int coroutine_fn GRAPH_RDLOCK
vhdx_write_in_block(BlockDriverState *bs, uint64_t offset, uint64_t len,
                    QEMUIOVector *qiov, size_t qiov_offset)
{
    BDRVVHDXState *s = bs->opaque;
    uint64_t block = offset / s->img->geo.block_size;
    uint64_t in_block = offset % s->img->geo.block_size;
    GError *gerr = NULL;
    unsigned epoch;
    uint64_t entry;
    int ret;

    do {
        ret = vhdx_image_block_entry(s->img, block, &entry, &gerr);
        if (ret < 0) {
            vhdx_report_io_error(bs, gerr);
            return ret;
        }
    } while (!vhdx_payload_has_data(vhdx_bat_state(entry)) &&
             vhdx_wait_allocation(s, block));

    if (!vhdx_payload_has_data(vhdx_bat_state(entry))) {
        return vhdx_write_new_block(bs, block, in_block, len, qiov,
                                    qiov_offset);
    }
    epoch = vhdx_payload_io_begin(s);
    qemu_co_mutex_unlock(&s->lock);
    ret = bdrv_co_pwritev_part(bs->file, vhdx_bat_offset(entry) + in_block,
                               len, qiov, qiov_offset, 0);
    vhdx_payload_io_end(s, epoch);
    qemu_co_mutex_lock(&s->lock);
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_pwritev_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     QEMUIOVector *qiov, size_t qiov_offset,
                     BdrvRequestFlags flags)
{
    BDRVVHDXState *s = bs->opaque;
    uint32_t block_size = s->img->geo.block_size;
    GError *gerr = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_begin_write(s->img, true, &gerr);
    vhdx_report_io_error(bs, gerr);
    while (ret == 0 && bytes > 0) {
        uint64_t len = MIN(bytes, block_size - offset % block_size);

        ret = vhdx_write_in_block(bs, offset, len, qiov, qiov_offset);
        offset += len;
        qiov_offset += len;
        bytes -= len;
    }
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

/*
 * Gives whole blocks a state without data (ZERO or NOT_PRESENT), freeing
 * their space; -ENOTSUP for anything that is not whole blocks, so the
 * block layer falls back to writing zeros there.
 */
static int coroutine_fn GRAPH_RDLOCK
vhdx_set_blocks_without_data(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, unsigned state)
{
    BDRVVHDXState *s = bs->opaque;
    uint32_t block_size = s->img->geo.block_size;
    GError *gerr = NULL;
    int ret;

    if (offset % block_size ||
        (bytes % block_size && offset + bytes != bs->total_sectors *
                                                 BDRV_SECTOR_SIZE)) {
        return -ENOTSUP;
    }
    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_begin_write(s->img, true, &gerr);
    for (uint64_t block = offset / block_size;
         ret == 0 && block * block_size < offset + bytes; block++) {
        while (vhdx_wait_allocation(s, block)) {
            /* the allocation finished; it is overwritten below */
        }
        ret = vhdx_image_set_block(s->img, block, state, 0, &gerr);
    }
    qemu_co_mutex_unlock(&s->lock);
    vhdx_report_io_error(bs, gerr);
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_pwrite_zeroes(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      BdrvRequestFlags flags)
{
    BDRVVHDXState *s = bs->opaque;

    /* A fixed image keeps its blocks: the block layer writes the zeros */
    if (s->img->metadata.leave_blocks_allocated) {
        return -ENOTSUP;
    }
    return vhdx_set_blocks_without_data(bs, offset, bytes, VHDX_PAYLOAD_ZERO);
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    BDRVVHDXState *s = bs->opaque;
    /* A discarded block of a child must not show the parent's data again */
    unsigned state = s->img->geo.has_parent ? VHDX_PAYLOAD_ZERO :
                                              VHDX_PAYLOAD_NOT_PRESENT;

    /* Discard is advisory; a fixed image keeps its blocks allocated */
    if (s->img->metadata.leave_blocks_allocated) {
        return 0;
    }
    return vhdx_set_blocks_without_data(bs, offset, bytes, state);
}

static int coroutine_fn GRAPH_RDLOCK vhdx_co_flush_to_os(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = s->img ? vhdx_image_flush(s->img, &gerr) : 0;
    if (ret == 0 && s->img) {
        vhdx_recycle_freed(s);
    }
    qemu_co_mutex_unlock(&s->lock);
    vhdx_report_io_error(bs, gerr);
    return ret;
}

/* ---- status and information ---- */

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_block_status(BlockDriverState *bs, bool want_zero, int64_t offset,
                     int64_t bytes, int64_t *pnum, int64_t *map,
                     BlockDriverState **file)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    VhdxExtent ext;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_map(s->img, offset, bytes, &ext, &gerr);
    qemu_co_mutex_unlock(&s->lock);
    if (ret < 0) {
        vhdx_report_io_error(bs, gerr);
        return ret;
    }
    *pnum = ext.length;
    switch (ext.kind) {
    case VHDX_EXTENT_DATA:
        *map = ext.file_offset;
        *file = bs->file->bs;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    case VHDX_EXTENT_ZERO:
        return BDRV_BLOCK_ZERO;
    case VHDX_EXTENT_UNALLOCATED:
        return 0;
    }
    g_assert_not_reached();
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_get_info(BlockDriverState *bs, BlockDriverInfo *bdi)
{
    BDRVVHDXState *s = bs->opaque;

    bdi->cluster_size = s->img->geo.block_size;
    return 0;
}

static int64_t coroutine_fn GRAPH_RDLOCK
vhdx_co_getlength(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;

    return s->img->geo.virtual_size;
}

static int GRAPH_RDLOCK vhdx_has_zero_init(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;

    /* A fixed image's blocks read whatever its file was created with */
    if (s->img->metadata.leave_blocks_allocated) {
        return bdrv_has_zero_init(bs->file->bs);
    }
    return 1;
}

/* ---- check ---- */

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_check(BlockDriverState *bs, BdrvCheckResult *result,
              BdrvCheckMode fix)
{
    BDRVVHDXState *s = bs->opaque;
    VhdxCheckReport report;
    GError *gerr = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_check(s->img, &report, &gerr);
    if (ret < 0) {
        qemu_co_mutex_unlock(&s->lock);
        vhdx_report_io_error(bs, gerr);
        result->check_errors++;
        return ret;
    }
    /* Replaying a dirty log at open repaired the image */
    if (s->img->log_replayed && (fix & BDRV_FIX_ERRORS)) {
        result->corruptions_fixed++;
        s->img->log_replayed = false;
    }
    result->corruptions += report.corruptions;
    if (report.leaked_bytes && (fix & BDRV_FIX_LEAKS) && s->img->writable) {
        ret = vhdx_image_trim(s->img, report.image_end, &gerr);
        if (ret < 0) {
            vhdx_report_io_error(bs, gerr);
            gerr = NULL;
            result->check_errors++;
        } else {
            result->leaks_fixed += DIV_ROUND_UP(report.leaked_bytes,
                                                s->img->geo.block_size);
            report.leaked_bytes = 0;
        }
    }
    result->leaks += DIV_ROUND_UP(report.leaked_bytes,
                                  s->img->geo.block_size);
    /*
     * Allocation statistics and the image end stay unreported, as QEMU's
     * VHDX driver always left them: its iotests' output depends on that.
     */
    qemu_co_mutex_unlock(&s->lock);
    return 0;
}

/* ---- create ---- */

static int vhdx_blk_pread(VhdxIO *io, uint64_t offset, void *buf, size_t len)
{
    return blk_pread(io->opaque, offset, len, buf, 0);
}

static int vhdx_blk_pwrite(VhdxIO *io, uint64_t offset, const void *buf,
                           size_t len)
{
    return blk_pwrite(io->opaque, offset, len, buf, 0);
}

static int vhdx_blk_flush(VhdxIO *io)
{
    return blk_flush(io->opaque);
}

static int64_t vhdx_blk_length(VhdxIO *io)
{
    return blk_getlength(io->opaque);
}

static int vhdx_blk_truncate(VhdxIO *io, uint64_t length)
{
    return blk_truncate(io->opaque, length, false, PREALLOC_MODE_OFF, 0,
                        NULL);
}

/*
 * The default block size grows with the disk, keeping the BAT small:
 * these are the sizes QEMU's VHDX driver has always picked.
 */
static uint32_t vhdx_default_block_size(uint64_t size)
{
    if (size > 32 * TiB) {
        return 64 * MiB;
    } else if (size > 100 * GiB) {
        return 32 * MiB;
    } else if (size > 1 * GiB) {
        return 16 * MiB;
    }
    return 8 * MiB;
}

static int vhdx_create_params(BlockdevCreateOptionsVhdx *o,
                              uint32_t logical_sector_size,
                              VhdxCreateParams *p, Error **errp)
{
    uint64_t block_size;

    if (o->size > VHDX_VIRTUAL_SIZE_MAX) {
        error_setg(errp, "Image size too large; max of 64TB");
        return -EINVAL;
    }
    if (o->has_log_size && o->log_size > UINT32_MAX) {
        error_setg(errp, "Log size must be smaller than 4 GB");
        return -EINVAL;
    }
    p->log_size = o->has_log_size ? o->log_size : VHDX_DEFAULT_LOG_SIZE;
    if (p->log_size < MiB || p->log_size % MiB) {
        error_setg(errp, "Log size must be a multiple of 1 MB");
        return -EINVAL;
    }
    block_size = o->has_block_size ? o->block_size :
                 vhdx_default_block_size(o->size);
    if (block_size < MiB || block_size % MiB) {
        error_setg(errp, "Block size must be a multiple of 1 MB");
        return -EINVAL;
    }
    if (!is_power_of_2(block_size)) {
        error_setg(errp, "Block size must be a power of two");
        return -EINVAL;
    }
    if (block_size > VHDX_BLOCK_SIZE_MAX) {
        error_setg(errp, "Block size must not exceed %" PRIu64,
                   (uint64_t)VHDX_BLOCK_SIZE_MAX);
        return -EINVAL;
    }
    if (o->size % logical_sector_size) {
        error_setg(errp, "Image size %" PRIu64 " is not a multiple of the "
                   "logical sector size %" PRIu32, o->size,
                   logical_sector_size);
        return -EINVAL;
    }
    p->virtual_size = o->size;
    p->block_size = block_size;
    p->logical_sector_size = logical_sector_size;
    p->physical_sector_size = 4096;
    p->fixed = o->has_subformat &&
               o->subformat == BLOCKDEV_VHDX_SUBFORMAT_FIXED;
    p->block_state_zero = !o->has_block_state_zero || o->block_state_zero;
    p->creator = "QEMU v" QEMU_VERSION;
    return 0;
}

static int coroutine_fn GRAPH_UNLOCKED
vhdx_create_with_sector_size(BlockdevCreateOptions *opts,
                             uint32_t logical_sector_size, Error **errp)
{
    BlockdevCreateOptionsVhdx *o = &opts->u.vhdx;
    VhdxCreateParams params;
    BlockDriverState *bs;
    BlockBackend *blk;
    GError *gerr = NULL;
    VhdxIO io;
    int ret;

    assert(opts->driver == BLOCKDEV_DRIVER_VHDX);
    ret = vhdx_create_params(o, logical_sector_size, &params, errp);
    if (ret < 0) {
        return ret;
    }
    bs = bdrv_co_open_blockdev_ref(o->file, errp);
    if (!bs) {
        return -EIO;
    }
    blk = blk_co_new_with_bs(bs, BLK_PERM_WRITE | BLK_PERM_RESIZE,
                             BLK_PERM_ALL, errp);
    if (!blk) {
        bdrv_co_unref(bs);
        return -EPERM;
    }
    blk_set_allow_write_beyond_eof(blk, true);
    io = (VhdxIO) {
        .pread = vhdx_blk_pread,
        .pwrite = vhdx_blk_pwrite,
        .flush = vhdx_blk_flush,
        .length = vhdx_blk_length,
        .truncate = vhdx_blk_truncate,
        .opaque = blk,
    };
    ret = vhdx_image_create(&io, &params, &gerr);
    if (gerr) {
        error_setg(errp, "%s", gerr->message);
        g_error_free(gerr);
    }
    blk_co_unref(blk);
    bdrv_co_unref(bs);
    return ret;
}

static int coroutine_fn GRAPH_UNLOCKED
vhdx_co_create(BlockdevCreateOptions *opts, Error **errp)
{
    return vhdx_create_with_sector_size(opts, 512, errp);
}

static int vhdx_pop_sector_size(QDict *qdict, uint32_t *size, Error **errp)
{
    const char *str = qdict_get_try_str(qdict, VHDX_OPT_LOGICAL_SECTOR_SIZE);
    uint64_t value = 512;

    if (str && (qemu_strtosz(str, NULL, &value) < 0 ||
                (value != 512 && value != 4096))) {
        error_setg(errp, "Parameter '%s' must be 512 or 4096",
                   VHDX_OPT_LOGICAL_SECTOR_SIZE);
        return -EINVAL;
    }
    qdict_del(qdict, VHDX_OPT_LOGICAL_SECTOR_SIZE);
    *size = value;
    return 0;
}

/* qemu-img rounds sizes up to what the format can hold, as it always did */
static void vhdx_round_create_options(BlockdevCreateOptionsVhdx *o,
                                      uint32_t logical_sector_size)
{
    o->size = ROUND_UP(o->size, logical_sector_size);
    if (o->has_log_size) {
        o->log_size = ROUND_UP(o->log_size, MiB);
    }
    if (o->has_block_size) {
        o->block_size = MIN(ROUND_UP(o->block_size, MiB),
                            VHDX_BLOCK_SIZE_MAX);
        o->has_block_size = o->block_size != 0;
    }
}

static QemuOptsList vhdx_create_opts;

static int coroutine_fn GRAPH_UNLOCKED
vhdx_co_create_opts(BlockDriver *drv, const char *filename, QemuOpts *opts,
                    Error **errp)
{
    static const QDictRenames renames[] = {
        { VHDX_OPT_LOG_SIZE,          "log-size" },
        { VHDX_OPT_BLOCK_SIZE,        "block-size" },
        { VHDX_OPT_BLOCK_STATE_ZERO,  "block-state-zero" },
        { NULL, NULL },
    };
    BlockdevCreateOptions *create_options = NULL;
    BlockDriverState *bs = NULL;
    uint32_t sector_size;
    QDict *qdict;
    Visitor *v;
    int ret;

    qdict = qemu_opts_to_qdict_filtered(opts, NULL, &vhdx_create_opts, true);
    ret = vhdx_pop_sector_size(qdict, &sector_size, errp);
    if (ret < 0) {
        goto out;
    }
    if (!qdict_rename_keys(qdict, renames, errp)) {
        ret = -EINVAL;
        goto out;
    }
    ret = bdrv_co_create_file(filename, opts, errp);
    if (ret < 0) {
        goto out;
    }
    bs = bdrv_co_open(filename, NULL, NULL,
                      BDRV_O_RDWR | BDRV_O_RESIZE | BDRV_O_PROTOCOL, errp);
    if (!bs) {
        ret = -EIO;
        goto out;
    }
    qdict_put_str(qdict, "driver", "vhdx");
    qdict_put_str(qdict, "file", bs->node_name);
    v = qobject_input_visitor_new_flat_confused(qdict, errp);
    if (!v) {
        ret = -EINVAL;
        goto out;
    }
    visit_type_BlockdevCreateOptions(v, NULL, &create_options, errp);
    visit_free(v);
    if (!create_options) {
        ret = -EINVAL;
        goto out;
    }
    vhdx_round_create_options(&create_options->u.vhdx, sector_size);
    ret = vhdx_create_with_sector_size(create_options, sector_size, errp);

out:
    qobject_unref(qdict);
    qapi_free_BlockdevCreateOptions(create_options);
    bdrv_co_unref(bs);
    return ret;
}

/* ---- growing ---- */

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_truncate(BlockDriverState *bs, int64_t offset, bool exact,
                 PreallocMode prealloc, BdrvRequestFlags flags, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    int ret;

    if (prealloc != PREALLOC_MODE_OFF) {
        error_setg(errp, "Unsupported preallocation mode '%s'",
                   PreallocMode_str(prealloc));
        return -ENOTSUP;
    }
    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_grow(s->img, offset, &gerr);
    qemu_co_mutex_unlock(&s->lock);
    vhdx_propagate(bs, errp, gerr);
    return ret;
}

static QemuOptsList vhdx_create_opts = {
    .name = "vhdx-create-opts",
    .head = QTAILQ_HEAD_INITIALIZER(vhdx_create_opts.head),
    .desc = {
        {
            .name = BLOCK_OPT_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Virtual disk size; max of 64TB."
        },
        {
            .name = VHDX_OPT_LOG_SIZE,
            .type = QEMU_OPT_SIZE,
            .def_value_str = stringify(VHDX_DEFAULT_LOG_SIZE),
            .help = "Log size; min 1MB."
        },
        {
            .name = VHDX_OPT_BLOCK_SIZE,
            .type = QEMU_OPT_SIZE,
            .def_value_str = stringify(0),
            .help = "Block Size; min 1MB, max 256MB. "
                    "0 means auto-calculate based on image size."
        },
        {
            .name = BLOCK_OPT_SUBFMT,
            .type = QEMU_OPT_STRING,
            .help = "VHDX format type, can be either 'dynamic' or 'fixed'. "
                    "Default is 'dynamic'."
        },
        {
            .name = VHDX_OPT_BLOCK_STATE_ZERO,
            .type = QEMU_OPT_BOOL,
            .help = "Mark new blocks of dynamic images as zero "
                    "(PAYLOAD_BLOCK_ZERO) rather than not present. Default "
                    "on."
        },
        {
            .name = VHDX_OPT_LOGICAL_SECTOR_SIZE,
            .type = QEMU_OPT_SIZE,
            .def_value_str = "512",
            .help = "Logical sector size the guest sees: 512 or 4096."
        },
        { NULL }
    }
};

static BlockDriver bdrv_vhdx = {
    .format_name                = "vhdx",
    .instance_size              = sizeof(BDRVVHDXState),
    .is_format                  = true,
    .create_opts                = &vhdx_create_opts,

    .bdrv_probe                 = vhdx_probe,
    .bdrv_open                  = vhdx_open,
    .bdrv_close                 = vhdx_close,
    .bdrv_reopen_prepare        = vhdx_reopen_prepare,
    .bdrv_reopen_commit         = vhdx_reopen_commit,
    .bdrv_reopen_abort          = vhdx_reopen_abort,
    .bdrv_child_perm            = bdrv_default_perms,
    .bdrv_refresh_limits        = vhdx_refresh_limits,

    .bdrv_co_preadv_part        = vhdx_co_preadv_part,
    .bdrv_co_pwritev_part       = vhdx_co_pwritev_part,
    .bdrv_co_pwrite_zeroes      = vhdx_co_pwrite_zeroes,
    .bdrv_co_pdiscard           = vhdx_co_pdiscard,
    .bdrv_co_flush_to_os        = vhdx_co_flush_to_os,
    .bdrv_co_block_status       = vhdx_co_block_status,

    .bdrv_co_get_info           = vhdx_co_get_info,
    .bdrv_co_getlength          = vhdx_co_getlength,
    .bdrv_has_zero_init         = vhdx_has_zero_init,
    .bdrv_co_check              = vhdx_co_check,
    .bdrv_co_truncate           = vhdx_co_truncate,
    .bdrv_co_create             = vhdx_co_create,
    .bdrv_co_create_opts        = vhdx_co_create_opts,

    .bdrv_inactivate            = vhdx_inactivate,
    .bdrv_co_invalidate_cache   = vhdx_co_invalidate_cache,
};

static void bdrv_vhdx_init(void)
{
    bdrv_register(&bdrv_vhdx);
}

block_init(bdrv_vhdx_init);
