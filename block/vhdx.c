/*
 * Block driver for VHDX images (Microsoft Hyper-V virtual hard disks)
 *
 * The QEMU side of qemu-vhdx: the BlockDriver, its options, coroutine
 * locking and payload I/O.  Every metadata byte and every format rule is
 * the format core's in block/vhdx/ (see include/vhdx/image.h): this file
 * asks it where a request's data goes and what a write, write-zeroes or
 * discard does to the image, and passes the caller's I/O vectors
 * straight to the file child.  Creating images is in vhdx-create.c,
 * differencing images (finding and accepting the parent, rebase,
 * commit) in vhdx-parent.c, grants in vhdx-grant.c; see vhdx-int.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "block/aio_task.h"
#include "block/block.h"
#include "block/block_int.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "qemu/option.h"

#include "vhdx/header.h"
#include "vhdx-int.h"

#define VHDX_OPT_CHECK_PARENT_LINKAGE "check-parent-linkage"
#define VHDX_OPT_PREALLOCATE_BLOCKS "preallocate-blocks"

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
        {
            .name = VHDX_OPT_PREALLOCATE_BLOCKS,
            .type = QEMU_OPT_BOOL,
            .help = "Allocate a new block's space in the file whole, so "
                    "that small writes into it are fast (default: on)",
        },
        { /* end of list */ }
    },
};

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
    uint32_t block_size = vhdx_image_block_size(s->img);

    /* Whole blocks change state; the block layer writes the ragged ends */
    bs->bl.pwrite_zeroes_alignment = block_size;
    bs->bl.pdiscard_alignment = block_size;
    /* A child says per sector what it holds: no partial sectors */
    if (vhdx_image_is_differencing(s->img)) {
        bs->bl.request_alignment = vhdx_image_logical_sector_size(s->img);
    }
}

static int GRAPH_RDLOCK vhdx_open_image(BlockDriverState *bs, int flags,
                                        Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    unsigned core_flags = 0;
    GError *gerr = NULL;
    int ret;

    /* Without I/O (qemu-img info, a parent looked at): metadata only */
    if (flags & BDRV_O_NO_IO) {
        core_flags |= VHDX_OPEN_PEEK;
    }
    /* An inactive image (a migration target) must not be written yet */
    if ((flags & BDRV_O_RDWR) && !(flags & BDRV_O_INACTIVE)) {
        core_flags |= VHDX_OPEN_WRITE;
    }
    if (flags & BDRV_O_CHECK) {
        core_flags |= VHDX_OPEN_CHECK;
    }
    if (!s->preallocate_blocks) {
        core_flags |= VHDX_OPEN_SPARSE;
    }
    vhdx_child_io_init(bs->file, &s->io);
    ret = vhdx_image_open(&s->io, core_flags, &s->img, &gerr);
    vhdx_error_propagate(errp, bs->filename, gerr);
    return ret;
}

static int vhdx_open(BlockDriverState *bs, QDict *options, int flags,
                     Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    QemuOpts *opts;
    int ret;

    GLOBAL_STATE_CODE();

    ret = vhdx_validate_chain_above(bs, errp);
    if (ret < 0) {
        return ret;
    }
    ret = bdrv_open_file_child(NULL, options, "file", bs, errp);
    if (ret < 0) {
        vhdx_leave_chain(s);
        return ret;
    }
    bdrv_graph_rdlock_main_loop();
    vhdx_enter_chain(bs);
    bdrv_graph_rdunlock_main_loop();
    qemu_co_mutex_init(&s->lock);
    QLIST_INIT(&s->allocations);
    opts = qemu_opts_create(&vhdx_runtime_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        qemu_opts_del(opts);
        ret = -EINVAL;
        goto fail;
    }
    s->enforce_linkage = qemu_opt_get_bool(opts,
                                           VHDX_OPT_CHECK_PARENT_LINKAGE,
                                           true);
    s->preallocate_blocks = qemu_opt_get_bool(opts,
                                              VHDX_OPT_PREALLOCATE_BLOCKS,
                                              true);
    qemu_opts_del(opts);

    bdrv_graph_rdlock_main_loop();
    ret = vhdx_open_image(bs, flags, errp);
    bdrv_graph_rdunlock_main_loop();
    if (ret < 0) {
        goto fail;
    }
    vhdx_locate_parent(bs, options);
    bs->supported_zero_flags = BDRV_REQ_MAY_UNMAP;
    return 0;

fail:
    /* A node that fails to open is not closed: undo what open did */
    vhdx_leave_chain(s);
    return ret;
}

/* Commits metadata and marks the log clean, so other users may open it */
static void GRAPH_RDLOCK vhdx_end_session(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    Error *err = NULL;

    if (vhdx_image_close(s->img, &gerr) < 0) {
        vhdx_error_propagate(&err, bs->filename, gerr);
        error_report_err(err);
    }
    s->img = NULL;
}

static void vhdx_close(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    vhdx_parent_state_clear(s);
    if (!s->img) {
        return;
    }
    if (bs->open_flags & BDRV_O_INACTIVE) {
        vhdx_image_free(s->img);
        s->img = NULL;
        return;
    }
    vhdx_end_session(bs);
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
    if (vhdx_image_is_writable(s->img) && !(state->flags & BDRV_O_RDWR)) {
        ret = vhdx_image_make_clean(s->img, &gerr);
        vhdx_error_propagate(errp, bs->filename, gerr);
    }
    /* Going read-write: a writer needs what a reader did not scan for */
    if (!vhdx_image_is_writable(s->img) && (state->flags & BDRV_O_RDWR) &&
        !(state->flags & BDRV_O_INACTIVE)) {
        ret = vhdx_image_scan_space(s->img, &gerr);
        vhdx_error_propagate(errp, bs->filename, gerr);
    }
    return ret;
}

static void vhdx_reopen_commit(BDRVReopenState *state)
{
    BDRVVHDXState *s = state->bs->opaque;

    /* As at open: an inactive image (a migration target) takes no writes */
    vhdx_image_set_writable(s->img, (state->flags & BDRV_O_RDWR) &&
                                    !(state->flags & BDRV_O_INACTIVE));
}

static void vhdx_reopen_abort(BDRVReopenState *state)
{
    /* A clean image stays valid read-write: nothing to undo */
}

static int GRAPH_RDLOCK vhdx_inactivate(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    Error *err = NULL;
    int ret;

    if (!s->img || !vhdx_image_is_writable(s->img)) {
        return 0;
    }
    /* Hand a clean image to the destination; no writes until reactivated */
    ret = vhdx_image_make_clean(s->img, &gerr);
    if (ret < 0) {
        vhdx_error_propagate(&err, bs->filename, gerr);
        error_report_err(err);
        return ret;
    }
    vhdx_image_set_writable(s->img, false);
    return 0;
}

static void coroutine_fn GRAPH_RDLOCK
vhdx_co_invalidate_cache(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    int ret;

    /* Another process may have changed everything: read it all anew */
    qemu_co_mutex_lock(&s->lock);
    vhdx_image_free(s->img);
    s->img = NULL;
    ret = vhdx_open_image(bs, bs->open_flags, errp);
    qemu_co_mutex_unlock(&s->lock);
    if (ret < 0) {
        /* No image to serve requests from: fence the node, as qcow2 does */
        error_prepend(errp, "Could not reopen VHDX image: ");
        vhdx_parent_state_clear(s);
        bs->drv = NULL;
    }
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
 * read as the core sees it, which shows what the log changes even there
 * (a log entry may zero payload).  Only until the image is closed or
 * written to, so a bounce buffer will do.
 */
static int coroutine_fn GRAPH_RDLOCK
vhdx_read_pending(BlockDriverState *bs, const VhdxExtent *ext,
                  QEMUIOVector *qiov, size_t qiov_offset)
{
    BDRVVHDXState *s = bs->opaque;
    g_autofree uint8_t *buf = g_try_malloc(ext->length);
    GError *gerr = NULL;
    int ret;

    if (!buf) {
        return -ENOMEM;
    }
    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_read_payload(s->img, ext->file_offset, buf,
                                  ext->length, &gerr);
    qemu_co_mutex_unlock(&s->lock);
    vhdx_report_io_error(bs, gerr);
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
        if (vhdx_image_log_state(s->img) == VHDX_LOG_PENDING) {
            return vhdx_read_pending(bs, ext, qiov, qiov_offset);
        }
        BLKDBG_CO_EVENT(bs->file, BLKDBG_READ_AIO);
        return bdrv_co_preadv_part(bs->file, ext->file_offset, ext->length,
                                   qiov, qiov_offset, 0);
    case VHDX_EXTENT_UNALLOCATED:
        if (bs->backing) {
            int ret = vhdx_may_read_parent(bs);

            if (ret < 0) {
                return ret;
            }
            BLKDBG_CO_EVENT(bs->file, BLKDBG_READ_BACKING_AIO);
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

/*
 * The extents of one request read concurrently: a child's request often
 * spans data of its own and of layers below (each a file of its own),
 * and on storage with latency, reading them one after the other adds
 * up.  At most this many at once per request, as qcow2 does.
 */
#define VHDX_READ_WORKERS 8

typedef struct VhdxReadTask {
    AioTask task;
    BlockDriverState *bs;
    VhdxExtent ext;
    int64_t offset;             /* guest offset of the extent */
    QEMUIOVector *qiov;
    size_t qiov_offset;
    unsigned epoch;             /* of the payload I/O, for DATA extents */
} VhdxReadTask;

static int coroutine_fn GRAPH_RDLOCK vhdx_read_task_entry(AioTask *task)
{
    VhdxReadTask *t = container_of(task, VhdxReadTask, task);
    BDRVVHDXState *s = t->bs->opaque;
    int ret;

    ret = vhdx_read_extent(t->bs, &t->ext, t->offset, t->qiov,
                           t->qiov_offset);
    if (t->ext.kind == VHDX_EXTENT_DATA) {
        vhdx_payload_io_end(s, t->epoch);
    }
    return ret;
}

/* Reads @ext now without @pool, or as a task of @pool */
static int coroutine_fn GRAPH_RDLOCK
vhdx_start_read(BlockDriverState *bs, AioTaskPool *pool, const VhdxExtent *ext,
                int64_t offset, QEMUIOVector *qiov, size_t qiov_offset,
                unsigned epoch)
{
    VhdxReadTask local;
    VhdxReadTask *t = pool ? g_new(VhdxReadTask, 1) : &local;

    *t = (VhdxReadTask) {
        .task.func = vhdx_read_task_entry,
        .bs = bs,
        .ext = *ext,
        .offset = offset,
        .qiov = qiov,
        .qiov_offset = qiov_offset,
        .epoch = epoch,
    };
    if (!pool) {
        return vhdx_read_task_entry(&t->task);
    }
    aio_task_pool_start_task(pool, &t->task);
    return 0;
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_preadv_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                    QEMUIOVector *qiov, size_t qiov_offset,
                    BdrvRequestFlags flags)
{
    BDRVVHDXState *s = bs->opaque;
    AioTaskPool *pool = NULL;
    GError *gerr = NULL;
    VhdxExtent ext;
    int ret = 0;

    while (bytes > 0 && (!pool || aio_task_pool_status(pool) == 0)) {
        unsigned epoch = 0;

        qemu_co_mutex_lock(&s->lock);
        ret = vhdx_image_map(s->img, offset, bytes, &ext, &gerr);
        if (ret == 0 && ext.kind == VHDX_EXTENT_DATA) {
            epoch = vhdx_payload_io_begin(s);
        }
        qemu_co_mutex_unlock(&s->lock);
        if (ret < 0) {
            vhdx_report_io_error(bs, gerr);
            break;
        }
        /* A request of one extent needs no pool: the common case */
        if (!pool && ext.length < bytes) {
            pool = aio_task_pool_new(VHDX_READ_WORKERS);
        }
        ret = vhdx_start_read(bs, pool, &ext, offset, qiov, qiov_offset,
                              epoch);
        if (ret < 0) {
            break;
        }
        offset += ext.length;
        qiov_offset += ext.length;
        bytes -= ext.length;
    }
    if (pool) {
        aio_task_pool_wait_all(pool);
        if (ret == 0) {
            ret = aio_task_pool_status(pool);
        }
        aio_task_pool_free(pool);
    }
    return ret;
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
 * Waits, with s->lock held, until no allocation of @block is in flight:
 * its BAT entry does not show the new space until the data is written.
 */
static void coroutine_fn vhdx_wait_allocation(BDRVVHDXState *s,
                                              uint64_t block)
{
    VhdxAllocation *a;

    while ((a = vhdx_find_allocation(s, block))) {
        qemu_co_queue_wait(&a->waiters, &s->lock);
    }
}

static VhdxAllocation *vhdx_start_allocation(BDRVVHDXState *s,
                                             uint64_t block)
{
    VhdxAllocation *a = g_new0(VhdxAllocation, 1);

    a->block = block;
    qemu_co_queue_init(&a->waiters);
    QLIST_INSERT_HEAD(&s->allocations, a, next);
    return a;
}

static void vhdx_finish_allocation(VhdxAllocation *a)
{
    QLIST_REMOVE(a, next);
    qemu_co_queue_restart_all(&a->waiters);
    g_free(a);
}

/* The payload I/O the core planned: the guest data and zeros around it */
static int coroutine_fn GRAPH_RDLOCK
vhdx_write_payload(BlockDriverState *bs, const VhdxWrite *w,
                   QEMUIOVector *qiov, size_t qiov_offset)
{
    int ret;

    BLKDBG_CO_EVENT(bs->file, BLKDBG_WRITE_AIO);
    ret = bdrv_co_pwritev_part(bs->file, w->data_offset, w->bytes, qiov,
                               qiov_offset, 0);
    for (int i = 0; ret == 0 && i < ARRAY_SIZE(w->zero_fill); i++) {
        if (w->zero_fill[i].length) {
            ret = bdrv_co_pwrite_zeroes(bs->file, w->zero_fill[i].offset,
                                        w->zero_fill[i].length, 0);
        }
    }
    return ret;
}

/*
 * Writes the part of a request inside one block, as the core plans it;
 * *@done: how much that was.  Called and returns with s->lock held; the
 * payload I/O runs without it.
 */
static int coroutine_fn GRAPH_RDLOCK
vhdx_write_in_block(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                    QEMUIOVector *qiov, size_t qiov_offset, uint64_t *done)
{
    BDRVVHDXState *s = bs->opaque;
    uint64_t block = offset / vhdx_image_block_size(s->img);
    VhdxAllocation *a = NULL;
    GError *gerr = NULL;
    unsigned epoch;
    VhdxWrite w;
    int ret;

    vhdx_wait_allocation(s, block);
    vhdx_recycle_freed(s);
    ret = vhdx_image_plan_write(s->img, offset, bytes, &w, &gerr);
    if (ret < 0) {
        vhdx_report_io_error(bs, gerr);
        return ret;
    }
    if (w.allocating) {
        BLKDBG_CO_EVENT(bs->file, BLKDBG_CLUSTER_ALLOC_SPACE);
        a = vhdx_start_allocation(s, block);
    }
    epoch = vhdx_payload_io_begin(s);
    qemu_co_mutex_unlock(&s->lock);

    ret = vhdx_write_payload(bs, &w, qiov, qiov_offset);

    vhdx_payload_io_end(s, epoch);
    qemu_co_mutex_lock(&s->lock);
    if (ret == 0) {
        ret = vhdx_image_finish_write(s->img, &w, &gerr);
        vhdx_report_io_error(bs, gerr);
    }
    if (ret < 0) {
        vhdx_image_cancel_write(s->img, &w);
    }
    if (a) {
        vhdx_finish_allocation(a);
    }
    *done = w.bytes;
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_pwritev_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     QEMUIOVector *qiov, size_t qiov_offset,
                     BdrvRequestFlags flags)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_begin_data_change(bs, &gerr);
    vhdx_report_io_error(bs, gerr);
    while (ret == 0 && bytes > 0) {
        uint64_t done;

        ret = vhdx_write_in_block(bs, offset, bytes, qiov, qiov_offset,
                                  &done);
        offset += done;
        qiov_offset += done;
        bytes -= done;
    }
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

/*
 * Write-zeroes and discard: whole blocks lose their data as the core
 * says; -ENOTSUP where zeros must be written as data instead, which the
 * block layer then does (a discard it ignores).
 */
static int coroutine_fn GRAPH_RDLOCK
vhdx_zero_blocks(BlockDriverState *bs, int64_t offset, int64_t bytes,
                 VhdxZeroKind kind)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    VhdxZeroing z;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_plan_zero(s->img, offset, bytes, kind, &z, &gerr);
    if (ret == 0 && z.write_zeros) {
        ret = -ENOTSUP;
    } else if (ret == 0 && z.first_block < z.end_block) {
        ret = vhdx_begin_data_change(bs, &gerr);
    }
    for (uint64_t block = z.first_block;
         ret == 0 && block < z.end_block; block++) {
        /* An allocation in flight is overwritten once it is done */
        vhdx_wait_allocation(s, block);
        ret = vhdx_image_apply_zero(s->img, &z, block, &gerr);
    }
    qemu_co_mutex_unlock(&s->lock);
    vhdx_report_io_error(bs, gerr);
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_pwrite_zeroes(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      BdrvRequestFlags flags)
{
    return vhdx_zero_blocks(bs, offset, bytes, VHDX_ZERO_WRITE);
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    return vhdx_zero_blocks(bs, offset, bytes, VHDX_ZERO_DISCARD);
}

static int coroutine_fn GRAPH_RDLOCK vhdx_co_flush_to_os(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_flush(s->img, &gerr);
    if (ret == 0) {
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

    bdi->cluster_size = vhdx_image_block_size(s->img);
    /* A child holds data sector by sector: that is its allocation unit */
    if (vhdx_image_is_differencing(s->img)) {
        bdi->subcluster_size = vhdx_image_logical_sector_size(s->img);
    }
    return 0;
}

static int64_t coroutine_fn GRAPH_RDLOCK
vhdx_co_getlength(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;

    return vhdx_image_virtual_size(s->img);
}

static int GRAPH_RDLOCK vhdx_has_zero_init(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;

    /* A fixed image's blocks read whatever its file was created with */
    if (vhdx_image_is_fixed(s->img)) {
        return bdrv_has_zero_init(bs->file->bs);
    }
    return 1;
}

/* ---- consistency check ---- */

/* Cuts leaked space off the end of the file; s->lock held */
static void coroutine_fn GRAPH_RDLOCK
vhdx_trim_leaks(BlockDriverState *bs, VhdxCheckReport *report,
                BdrvCheckResult *result)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;

    if (vhdx_image_trim(s->img, report->image_end, &gerr) < 0) {
        vhdx_report_io_error(bs, gerr);
        result->check_errors++;
        return;
    }
    result->leaks_fixed += DIV_ROUND_UP(report->leaked_bytes,
                                        vhdx_image_block_size(s->img));
    report->leaked_bytes = 0;
}

/* One line per fault, as qcow2's check prints them */
static void vhdx_print_fault(void *opaque, const VhdxFault *fault,
                             bool repaired)
{
    if (repaired) {
        fprintf(stderr, "Repairing %s: %s\n", fault->what, fault->repair);
    } else {
        fprintf(stderr, "ERROR %s (repair: %s)\n", fault->what,
                fault->repair);
    }
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_check(BlockDriverState *bs, BdrvCheckResult *result,
              BdrvCheckMode fix)
{
    BDRVVHDXState *s = bs->opaque;
    bool repair = (fix & BDRV_FIX_ERRORS) && vhdx_image_is_writable(s->img);
    VhdxCheckReport report;
    GError *gerr = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_check(s->img, repair, vhdx_print_fault, NULL, &report,
                           &gerr);
    if (ret < 0) {
        qemu_co_mutex_unlock(&s->lock);
        vhdx_report_io_error(bs, gerr);
        result->check_errors++;
        return ret;
    }
    /* Replaying a dirty log at open repaired the image */
    if (report.log_replayed && (fix & BDRV_FIX_ERRORS)) {
        result->corruptions_fixed++;
    }
    /* Opened read-only, it was replayed in memory only */
    if (report.log_pending) {
        fprintf(stderr, "ERROR the log holds metadata changes not yet "
                "written to the file (its writer stopped); they are read "
                "from the log, and repairing writes them\n");
        result->corruptions++;
    }
    result->corruptions += report.remaining;
    result->corruptions_fixed += report.repaired;
    if (report.leaked_bytes && (fix & BDRV_FIX_LEAKS) &&
        vhdx_image_is_writable(s->img)) {
        vhdx_trim_leaks(bs, &report, result);
    }
    result->leaks += DIV_ROUND_UP(report.leaked_bytes,
                                  vhdx_image_block_size(s->img));
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
    ret = vhdx_image_validate_grow(s->img, offset, &gerr);
    if (ret == 0 && offset != vhdx_image_virtual_size(s->img)) {
        ret = vhdx_begin_data_change(bs, &gerr);
        if (ret == 0) {
            ret = vhdx_image_grow(s->img, offset, &gerr);
        }
    }
    qemu_co_mutex_unlock(&s->lock);
    vhdx_error_propagate(errp, bs->filename, gerr);
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
    .bdrv_check_backing         = vhdx_accept_backing,
    .bdrv_refresh_limits        = vhdx_refresh_limits,
    .bdrv_dirname               = vhdx_dirname,

    .bdrv_co_preadv_part        = vhdx_co_preadv_part,
    .bdrv_co_pwritev_part       = vhdx_co_pwritev_part,
    .bdrv_co_pwrite_zeroes      = vhdx_co_pwrite_zeroes,
    .bdrv_co_pdiscard           = vhdx_co_pdiscard,
    .bdrv_co_flush_to_os        = vhdx_co_flush_to_os,
    .bdrv_co_block_status       = vhdx_co_block_status,

    .bdrv_co_get_info           = vhdx_co_get_info,
    .bdrv_get_specific_info     = vhdx_get_specific_info,
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
