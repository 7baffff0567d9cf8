/*
 * Block driver for VHDX images (Microsoft Hyper-V virtual hard disks)
 *
 * The QEMU side of qemu-vhdx: the BlockDriver, its options, coroutine
 * locking and payload I/O.  Every metadata byte is handled by the format
 * core in block/vhdx/ (see include/vhdx/image.h); this file only maps
 * QEMU requests onto it and passes the caller's I/O vectors straight to
 * the file child.  Creating images is in vhdx-create.c, differencing
 * images (finding and checking the parent, rebase, commit) in
 * vhdx-parent.c; what they share is in vhdx-int.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "block/block.h"
#include "block/block_int.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "qemu/option.h"

#include "vhdx/error.h"
#include "vhdx-int.h"

#define VHDX_OPT_CHECK_PARENT_LINKAGE "check-parent-linkage"

static BlockDriver bdrv_vhdx;

static QemuOptsList vhdx_runtime_opts = {
    .name = "vhdx",
    .head = QTAILQ_HEAD_INITIALIZER(vhdx_runtime_opts.head),
    .desc = {
        {
            .name = VHDX_OPT_CHECK_PARENT_LINKAGE,
            .type = QEMU_OPT_BOOL,
            .help = "Refuse a parent whose DataWriteGuid is not the one the "
                    "differencing image was made on (default: on)",
        },
        { /* end of list */ }
    },
};

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
void vhdx_propagate(BlockDriverState *bs, Error **errp, GError *gerr)
{
    if (gerr) {
        error_setg(errp, "%s: %s", bs->filename, gerr->message);
        g_error_free(gerr);
    }
}

/* Errors in the I/O path can only return errno; say what happened once */
void vhdx_report_io_error(BlockDriverState *bs, GError *gerr)
{
    if (gerr) {
        error_report("%s: %s", bs->filename, gerr->message);
        g_error_free(gerr);
    }
}

/* Whether @bs is a node of this driver (a VHDX image) */
bool vhdx_is_vhdx_node(BlockDriverState *bs)
{
    return bs->drv == &bdrv_vhdx;
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
    /* A child says per sector what it holds: no partial sectors */
    if (s->img->geo.has_parent) {
        bs->bl.request_alignment = s->img->geo.logical_sector_size;
    }
}

static int GRAPH_RDLOCK vhdx_open_image(BlockDriverState *bs, int flags,
                                        Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    unsigned core_flags = 0;
    GError *gerr = NULL;
    int ret;

    /* An inactive image (a migration target) must not be written yet */
    if ((flags & BDRV_O_RDWR) && !(flags & BDRV_O_INACTIVE)) {
        core_flags |= VHDX_OPEN_WRITE;
    }
    if (flags & BDRV_O_CHECK) {
        core_flags |= VHDX_OPEN_CHECK;
    }
    vhdx_file_io_init(bs, &s->io);
    ret = vhdx_image_open(&s->io, core_flags, &s->img, &gerr);
    if (ret < 0) {
        vhdx_propagate(bs, errp, gerr);
        return ret;
    }
    return 0;
}

static int vhdx_open(BlockDriverState *bs, QDict *options, int flags,
                     Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    QemuOpts *opts;
    int ret;

    GLOBAL_STATE_CODE();

    ret = vhdx_check_chain_above(bs, errp);
    if (ret < 0) {
        return ret;
    }
    ret = bdrv_open_file_child(NULL, options, "file", bs, errp);
    if (ret < 0) {
        return ret;
    }

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    qemu_co_mutex_init(&s->lock);
    QLIST_INIT(&s->allocations);
    opts = qemu_opts_create(&vhdx_runtime_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        qemu_opts_del(opts);
        return -EINVAL;
    }
    s->check_parent_linkage = qemu_opt_get_bool(opts,
                                                VHDX_OPT_CHECK_PARENT_LINKAGE,
                                                true);
    qemu_opts_del(opts);
    ret = vhdx_open_image(bs, flags, errp);
    if (ret < 0) {
        return ret;
    }
    if (s->img->metadata.has_parent) {
        ret = vhdx_set_backing_file(bs, errp);
        if (ret < 0) {
            vhdx_image_free(s->img);
            s->img = NULL;
            vhdx_parent_ref_clear(&s->parent);
            g_clear_pointer(&s->parent_path, g_free);
            return ret;
        }
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

    vhdx_parent_ref_clear(&s->parent);
    g_clear_pointer(&s->parent_path, g_free);
    error_free(s->parent_missing);
    s->parent_missing = NULL;
    g_clear_pointer(&s->grant_vias, g_free);
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

/*
 * Payload of an image opened read-only with its log replayed in memory:
 * read through the in-memory view, which shows what the log changes even
 * there (a log entry may zero payload).  Only until the image is closed
 * or written to, so a bounce buffer will do.
 */
static int coroutine_fn GRAPH_RDLOCK
vhdx_read_pending(BlockDriverState *bs, const VhdxExtent *ext,
                  QEMUIOVector *qiov, size_t qiov_offset)
{
    BDRVVHDXState *s = bs->opaque;
    g_autofree uint8_t *buf = g_try_malloc(ext->length);
    int ret;

    if (!buf) {
        return -ENOMEM;
    }
    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_io_pread(s->img->io, ext->file_offset, buf, ext->length);
    qemu_co_mutex_unlock(&s->lock);
    if (ret == 0) {
        qemu_iovec_from_buf(qiov, qiov_offset, buf, ext->length);
    }
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_read_extent(BlockDriverState *bs, const VhdxExtent *ext, int64_t offset,
                 QEMUIOVector *qiov, size_t qiov_offset)
{
    BDRVVHDXState *s = bs->opaque;

    switch (ext->kind) {
    case VHDX_EXTENT_DATA:
        if (s->img->log_pending) {
            return vhdx_read_pending(bs, ext, qiov, qiov_offset);
        }
        return bdrv_co_preadv_part(bs->file, ext->file_offset, ext->length,
                                   qiov, qiov_offset, 0);
    case VHDX_EXTENT_UNALLOCATED:
        if (bs->backing) {
            int ret = vhdx_check_read_through(bs);

            if (ret < 0) {
                return ret;
            }
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

/* Records the sectors just written in a child block; s->lock held */
static int coroutine_fn GRAPH_RDLOCK
vhdx_mark_written(BlockDriverState *bs, uint64_t block, uint64_t file_offset,
                  uint64_t in_block, uint64_t len)
{
    BDRVVHDXState *s = bs->opaque;
    uint64_t block_bytes = vhdx_image_block_bytes(s->img, block);
    unsigned state = VHDX_PAYLOAD_PARTIALLY_PRESENT;
    GError *gerr = NULL;
    int ret = 0;

    if (in_block == 0 && len == block_bytes) {
        state = VHDX_PAYLOAD_FULLY_PRESENT;
    } else {
        ret = vhdx_image_mark_present(s->img, block, in_block, len, &gerr);
    }
    if (ret == 0) {
        ret = vhdx_image_set_block(s->img, block, state, file_offset, &gerr);
    }
    vhdx_report_io_error(bs, gerr);
    return ret;
}

/*
 * Writes into a block that has no data yet: new space is reserved, the
 * data written, and only then is the BAT entry pointed at it, so a
 * concurrent read sees the old contents or the new, never garbage.
 * Where the block read as zeros, zeros go around the data and the block
 * becomes fully present; a child's block that was its parent's stays
 * partially present, only the written sectors marked.  Called and returns
 * with s->lock held.
 */
static int coroutine_fn GRAPH_RDLOCK
vhdx_write_new_block(BlockDriverState *bs, uint64_t block, unsigned state,
                     uint64_t in_block, uint64_t len, QEMUIOVector *qiov,
                     size_t qiov_offset)
{
    BDRVVHDXState *s = bs->opaque;
    uint64_t block_bytes = s->img->geo.block_size;
    bool from_parent = s->img->geo.has_parent &&
                       state == VHDX_PAYLOAD_NOT_PRESENT;
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
    if (ret == 0 && !fresh && !from_parent) {
        ret = vhdx_zero_block_gaps(bs, file_offset, block_bytes, in_block,
                                   len);
    }

    qemu_co_mutex_lock(&s->lock);
    if (ret == 0 && from_parent) {
        ret = vhdx_mark_written(bs, block, file_offset, in_block, len);
    } else if (ret == 0) {
        ret = vhdx_image_set_block(s->img, block, VHDX_PAYLOAD_FULLY_PRESENT,
                                   file_offset, &gerr);
        vhdx_report_io_error(bs, gerr);
    }
    if (ret < 0) {
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
        return vhdx_write_new_block(bs, block, vhdx_bat_state(entry),
                                    in_block, len, qiov, qiov_offset);
    }
    epoch = vhdx_payload_io_begin(s);
    qemu_co_mutex_unlock(&s->lock);
    ret = bdrv_co_pwritev_part(bs->file, vhdx_bat_offset(entry) + in_block,
                               len, qiov, qiov_offset, 0);
    vhdx_payload_io_end(s, epoch);
    qemu_co_mutex_lock(&s->lock);
    /* In a partially present block, the sectors are present only now */
    if (ret == 0 &&
        vhdx_bat_state(entry) == VHDX_PAYLOAD_PARTIALLY_PRESENT) {
        ret = vhdx_mark_written(bs, block, vhdx_bat_offset(entry), in_block,
                                len);
    }
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
    ret = vhdx_begin_data_change(bs, &gerr);
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
        (bytes % block_size && offset + bytes != s->img->geo.virtual_size)) {
        return -ENOTSUP;
    }
    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_begin_data_change(bs, &gerr);
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
    /* A child holds data sector by sector: that is its allocation unit */
    if (s->img->geo.has_parent) {
        bdi->subcluster_size = s->img->geo.logical_sector_size;
    }
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
    /* Opened read-only, it was replayed in memory only */
    if (s->img->log_pending) {
        fprintf(stderr, "ERROR the log holds metadata changes not yet "
                "written to the file (its writer stopped); they are read "
                "from the log, and repairing writes them\n");
        result->corruptions++;
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
    ret = vhdx_image_check_grow(s->img, offset, &gerr);
    if (ret == 0 && offset != s->img->geo.virtual_size) {
        ret = vhdx_begin_data_change(bs, &gerr);
        if (ret == 0) {
            ret = vhdx_image_grow(s->img, offset, &gerr);
        }
    }
    qemu_co_mutex_unlock(&s->lock);
    vhdx_propagate(bs, errp, gerr);
    return ret;
}

static BlockDriver bdrv_vhdx = {
    .format_name                = "vhdx",
    .instance_size              = sizeof(BDRVVHDXState),
    .is_format                  = true,
    .supports_backing           = true,
    .create_opts                = &vhdx_create_opts,

    .bdrv_probe                 = vhdx_probe,
    .bdrv_open                  = vhdx_open,
    .bdrv_close                 = vhdx_close,
    .bdrv_reopen_prepare        = vhdx_reopen_prepare,
    .bdrv_reopen_commit         = vhdx_reopen_commit,
    .bdrv_reopen_abort          = vhdx_reopen_abort,
    .bdrv_child_perm            = bdrv_default_perms,
    .bdrv_check_backing         = vhdx_check_backing,
    .bdrv_refresh_limits        = vhdx_refresh_limits,
    .bdrv_dirname               = vhdx_dirname,

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
    .bdrv_co_change_backing_file = vhdx_co_change_backing_file,
    .bdrv_make_empty            = vhdx_make_empty,
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
