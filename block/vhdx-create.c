/*
 * Block driver for VHDX images: creating images
 *
 * qemu-img create and QMP blockdev-create: the create options mapped
 * onto the core's request (whose checks and defaults are the core's,
 * vhdx_create_params_resolve()), the parent of a differencing image
 * looked at through the block layer, and the new file handed to the
 * core (vhdx_image_create()) through a BlockBackend.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "block/block_int.h"
#include "block/qdict.h"
#include "qapi/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qobject-input-visitor.h"
#include "qemu/cutils.h"
#include "qemu/option.h"
#include "qemu/units.h"
#include "qobject/qdict.h"
#include "system/block-backend.h"

#include "vhdx/create.h"
#include "vhdx/format.h"
#include "vhdx-int.h"

#define VHDX_OPT_LOG_SIZE             "log_size"
#define VHDX_OPT_BLOCK_SIZE           "block_size"
#define VHDX_OPT_BLOCK_STATE_ZERO     "block_state_zero"
#define VHDX_OPT_LOGICAL_SECTOR_SIZE  "logical_sector_size"

/*
 * ---- the core's storage interface on a BlockBackend ----
 *
 * A new image is written through a BlockBackend, as qcow2 writes its own,
 * rather than a BdrvChild of a node that does not exist yet.
 */

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

static void vhdx_blk_io_init(BlockBackend *blk, VhdxIO *io)
{
    *io = (VhdxIO) {
        .pread = vhdx_blk_pread,
        .pwrite = vhdx_blk_pwrite,
        .flush = vhdx_blk_flush,
        .length = vhdx_blk_length,
        .truncate = vhdx_blk_truncate,
        .opaque = blk,
    };
}

/* ---- parameters, blockdev-create ---- */

/* 1 MiB, spelled out: the create option's default is its string */
#define VHDX_DEFAULT_LOG_SIZE         1048576

/* What blockdev-create asks for, in the core's terms */
static void vhdx_create_request_init(VhdxCreateRequest *req,
                                     const BlockdevCreateOptionsVhdx *o,
                                     const VhdxParentSpec *parent)
{
    *req = (VhdxCreateRequest) {
        .virtual_size = o->size,
        .has_block_size = o->has_block_size,
        .block_size = o->block_size,
        .has_log_size = o->has_log_size,
        .log_size = o->log_size,
        .has_logical_sector_size = o->has_logical_sector_size,
        .logical_sector_size = o->logical_sector_size,
        .fixed = o->has_subformat &&
                 o->subformat == BLOCKDEV_VHDX_SUBFORMAT_FIXED,
        .has_block_state_zero = o->has_block_state_zero,
        .block_state_zero = o->block_state_zero,
        .creator = "QEMU v" QEMU_VERSION,
        .parent = parent,
    };
}

/* The parent's name as the block layer opens it: next to the child */
static char *vhdx_create_parent_name(BlockDriverState *child_file,
                                     const char *name)
{
    if (path_has_protocol(name) || path_is_absolute(name) ||
        !child_file->filename[0]) {
        return g_strdup(name);
    }
    return path_combine(child_file->filename, name);
}

/* Creates the image on @bs, with @parent (a peeked VHDX node) or none */
static int coroutine_fn GRAPH_UNLOCKED
vhdx_create_on(BlockDriverState *bs, const BlockdevCreateOptionsVhdx *o,
               BlockDriverState *parent, const char *parent_name,
               Error **errp)
{
    g_autofree char *child_dir = NULL;
    VhdxCreateParams params;
    VhdxCreateRequest req;
    VhdxParentSpec spec;
    BlockBackend *blk;
    GError *gerr = NULL;
    VhdxIO io;
    int ret;

    if (parent) {
        child_dir = g_path_get_dirname(bs->filename[0] ? bs->filename : ".");
        bdrv_graph_co_rdlock();
        vhdx_parent_spec_init(&spec, parent, parent_name, child_dir);
        bdrv_graph_co_rdunlock();
    }
    vhdx_create_request_init(&req, o, parent ? &spec : NULL);
    ret = vhdx_create_params_resolve(&req, &params, &gerr);
    if (ret < 0) {
        error_setg(errp, "%s", gerr->message);
        g_error_free(gerr);
        return ret;
    }
    blk = blk_co_new_with_bs(bs, BLK_PERM_WRITE | BLK_PERM_RESIZE,
                             BLK_PERM_ALL, errp);
    if (!blk) {
        return -EPERM;
    }
    vhdx_blk_io_init(blk, &io);
    ret = vhdx_image_create(&io, &params, &gerr);
    vhdx_error_propagate(errp, bs->filename, gerr);
    blk_co_unref(blk);
    return ret;
}

int coroutine_fn GRAPH_UNLOCKED
vhdx_co_create(BlockdevCreateOptions *opts, Error **errp)
{
    BlockdevCreateOptionsVhdx *o = &opts->u.vhdx;
    g_autofree char *parent_name = NULL;
    BlockDriverState *bs, *parent = NULL;
    int ret;

    assert(opts->driver == BLOCKDEV_DRIVER_VHDX);
    if (o->backing_file && o->has_backing_fmt &&
        o->backing_fmt != BLOCKDEV_DRIVER_VHDX) {
        error_setg(errp, "The parent of a VHDX differencing image must be a "
                   "VHDX image, not %s", BlockdevDriver_str(o->backing_fmt));
        return -EINVAL;
    }
    bs = bdrv_co_open_blockdev_ref(o->file, errp);
    if (!bs) {
        return -EIO;
    }
    if (o->backing_file) {
        parent_name = vhdx_create_parent_name(bs, o->backing_file);
        parent = vhdx_co_peek_image(parent_name, errp);
        if (!parent) {
            error_prepend(errp, "The parent cannot be used: ");
            bdrv_co_unref(bs);
            return -EINVAL;
        }
    }
    ret = vhdx_create_on(bs, o, parent, parent_name, errp);
    if (parent) {
        bdrv_co_unref(parent);
    }
    bdrv_co_unref(bs);
    return ret;
}

/* qemu-img rounds sizes up to what the format can hold, as it always did */
static void vhdx_round_create_options(BlockdevCreateOptionsVhdx *o)
{
    uint32_t lss = o->has_logical_sector_size &&
                   o->logical_sector_size == 4096 ? 4096 : BDRV_SECTOR_SIZE;

    o->size = ROUND_UP(o->size, lss);
    if (o->has_log_size) {
        o->log_size = ROUND_UP(o->log_size, MiB);
    }
    if (o->has_block_size) {
        o->block_size = MIN(ROUND_UP(o->block_size, MiB),
                            VHDX_BLOCK_SIZE_MAX);
        o->has_block_size = o->block_size != 0;
    }
}

/* ---- qemu-img create ---- */

QemuOptsList vhdx_create_opts = {
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
                    "(PAYLOAD_BLOCK_ZERO) rather than not present, which "
                    "reads as zeros too but leaves the BAT sparse. "
                    "Default off."
        },
        {
            .name = VHDX_OPT_LOGICAL_SECTOR_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Logical sector size the guest sees: 512 (default) or "
                    "4096; a differencing image takes its parent's."
        },
        {
            .name = BLOCK_OPT_BACKING_FILE,
            .type = QEMU_OPT_STRING,
            .help = "Parent image: makes a differencing image (.avhdx)"
        },
        {
            .name = BLOCK_OPT_BACKING_FMT,
            .type = QEMU_OPT_STRING,
            .help = "Format of the parent image (only vhdx)"
        },
        { NULL }
    }
};

int coroutine_fn GRAPH_UNLOCKED
vhdx_co_create_opts(BlockDriver *drv, const char *filename, QemuOpts *opts,
                    Error **errp)
{
    static const QDictRenames renames[] = {
        { VHDX_OPT_LOG_SIZE,            "log-size" },
        { VHDX_OPT_BLOCK_SIZE,          "block-size" },
        { VHDX_OPT_BLOCK_STATE_ZERO,    "block-state-zero" },
        { VHDX_OPT_LOGICAL_SECTOR_SIZE, "logical-sector-size" },
        { BLOCK_OPT_BACKING_FILE,       "backing-file" },
        { BLOCK_OPT_BACKING_FMT,        "backing-fmt" },
        { NULL, NULL },
    };
    BlockdevCreateOptions *create_options = NULL;
    BlockDriverState *bs = NULL;
    QDict *qdict;
    Visitor *v;
    int ret;

    qdict = qemu_opts_to_qdict_filtered(opts, NULL, &vhdx_create_opts, true);
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
    vhdx_round_create_options(&create_options->u.vhdx);
    ret = vhdx_co_create(create_options, errp);

out:
    qobject_unref(qdict);
    qapi_free_BlockdevCreateOptions(create_options);
    bdrv_co_unref(bs);
    return ret;
}
