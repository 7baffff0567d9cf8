/*
 * Block driver for VHDX images: creating images
 *
 * qemu-img create and QMP blockdev-create: the create options, their
 * checks and defaults (block sizes as QEMU's VHDX driver always picked
 * them), and the core's storage interface on a BlockBackend, through
 * which the format core (vhdx_image_create()) writes the new image.
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

#include "vhdx-int.h"

#define VHDX_OPT_LOG_SIZE             "log_size"
#define VHDX_OPT_BLOCK_SIZE           "block_size"
#define VHDX_OPT_BLOCK_STATE_ZERO     "block_state_zero"
#define VHDX_OPT_LOGICAL_SECTOR_SIZE  "logical_sector_size"

/* Hyper-V's block size for differencing images */
#define VHDX_DEFAULT_CHILD_BLOCK_SIZE (2 * MiB)

/* 1 MiB, spelled out: the create option's default is its string */
#define VHDX_DEFAULT_LOG_SIZE         1048576

/* ---- the core's storage interface on a BlockBackend ---- */

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

static int vhdx_check_create_sizes(BlockdevCreateOptionsVhdx *o,
                                   uint64_t block_size, Error **errp)
{
    if (o->size > VHDX_VIRTUAL_SIZE_MAX) {
        error_setg(errp, "Image size too large; max of 64TB");
        return -EINVAL;
    }
    if (o->has_log_size && o->log_size > UINT32_MAX) {
        error_setg(errp, "Log size must be smaller than 4 GB");
        return -EINVAL;
    }
    if (o->has_log_size && (o->log_size < MiB || o->log_size % MiB)) {
        error_setg(errp, "Log size must be a multiple of 1 MB");
        return -EINVAL;
    }
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
    return 0;
}

static int vhdx_create_sector_size(BlockdevCreateOptionsVhdx *o,
                                   const VhdxParentInfo *parent,
                                   uint32_t *lss, Error **errp)
{
    if (o->has_logical_sector_size && o->logical_sector_size != 512 &&
        o->logical_sector_size != 4096) {
        error_setg(errp, "Logical sector size must be 512 or 4096");
        return -EINVAL;
    }
    if (parent && o->has_logical_sector_size &&
        o->logical_sector_size != parent->logical_sector_size) {
        error_setg(errp, "A differencing image has its parent's logical "
                   "sector size (%" PRIu32 "), not %" PRIu32,
                   parent->logical_sector_size, o->logical_sector_size);
        return -EINVAL;
    }
    *lss = parent ? parent->logical_sector_size :
           o->has_logical_sector_size ? o->logical_sector_size : 512;
    if (o->size % *lss) {
        error_setg(errp, "Image size %" PRIu64 " is not a multiple of the "
                   "logical sector size %" PRIu32, o->size, *lss);
        return -EINVAL;
    }
    return 0;
}

static int vhdx_create_params(BlockdevCreateOptionsVhdx *o,
                              const VhdxParentInfo *parent,
                              VhdxCreateParams *p, Error **errp)
{
    uint64_t block_size;
    uint32_t lss;
    int ret;

    block_size = o->has_block_size ? o->block_size :
                 parent ? VHDX_DEFAULT_CHILD_BLOCK_SIZE :
                 vhdx_default_block_size(o->size);
    ret = vhdx_check_create_sizes(o, block_size, errp);
    if (ret == 0) {
        ret = vhdx_create_sector_size(o, parent, &lss, errp);
    }
    if (ret < 0) {
        return ret;
    }
    if (parent && o->has_subformat &&
        o->subformat == BLOCKDEV_VHDX_SUBFORMAT_FIXED) {
        error_setg(errp, "A differencing image cannot be fixed");
        return -EINVAL;
    }
    *p = (VhdxCreateParams) {
        .virtual_size = o->size,
        .block_size = block_size,
        .log_size = o->has_log_size ? o->log_size : VHDX_DEFAULT_LOG_SIZE,
        .logical_sector_size = lss,
        .physical_sector_size = 4096,
        .fixed = o->has_subformat &&
                 o->subformat == BLOCKDEV_VHDX_SUBFORMAT_FIXED,
        .block_state_zero = !o->has_block_state_zero || o->block_state_zero,
        .creator = "QEMU v" QEMU_VERSION,
    };
    return 0;
}

/* Reads what a child needs to know of the VHDX image at @path */
static int coroutine_fn GRAPH_UNLOCKED
vhdx_read_parent_info(const char *path, VhdxParentInfo *info, Error **errp)
{
    BlockDriverState *bs;
    BlockBackend *blk;
    VhdxIO io;
    int ret;

    bs = bdrv_co_open(path, NULL, NULL, BDRV_O_PROTOCOL, errp);
    if (!bs) {
        return -EIO;
    }
    blk = blk_co_new_with_bs(bs, BLK_PERM_CONSISTENT_READ, BLK_PERM_ALL,
                             errp);
    if (!blk) {
        bdrv_co_unref(bs);
        return -EPERM;
    }
    vhdx_blk_io_init(blk, &io);
    ret = vhdx_peek_parent(&io, path, info, errp);
    blk_co_unref(blk);
    bdrv_co_unref(bs);
    return ret;
}

/* The parent's path as the block layer names it: relative to the child */
static char *vhdx_parent_path(BlockDriverState *child_file, const char *name)
{
    if (g_path_is_absolute(name) || !child_file->filename[0] ||
        g_str_has_prefix(name, "json:")) {
        return g_strdup(name);
    }
    return path_combine(child_file->filename, name);
}

int coroutine_fn GRAPH_UNLOCKED
vhdx_co_create(BlockdevCreateOptions *opts, Error **errp)
{
    BlockdevCreateOptionsVhdx *o = &opts->u.vhdx;
    g_autofree char *parent_path = NULL;
    g_autofree char *child_dir = NULL;
    VhdxParentInfo parent;
    VhdxCreateParams params;
    VhdxLocator loc = { 0 };
    BlockDriverState *bs;
    BlockBackend *blk;
    GError *gerr = NULL;
    VhdxIO io;
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
        parent_path = vhdx_parent_path(bs, o->backing_file);
        ret = vhdx_read_parent_info(parent_path, &parent, errp);
        if (ret < 0) {
            bdrv_co_unref(bs);
            return ret;
        }
    }
    ret = vhdx_create_params(o, o->backing_file ? &parent : NULL, &params,
                             errp);
    if (ret < 0) {
        bdrv_co_unref(bs);
        return ret;
    }
    if (o->backing_file) {
        child_dir = g_path_get_dirname(bs->filename[0] ? bs->filename : ".");
        vhdx_parent_locator_build(&loc, parent_path, child_dir,
                                  &parent.data_write_guid);
        params.parent = &loc;
    }
    blk = blk_co_new_with_bs(bs, BLK_PERM_WRITE | BLK_PERM_RESIZE,
                             BLK_PERM_ALL, errp);
    if (!blk) {
        vhdx_locator_clear(&loc);
        bdrv_co_unref(bs);
        return -EPERM;
    }
    blk_set_allow_write_beyond_eof(blk, true);
    vhdx_blk_io_init(blk, &io);
    ret = vhdx_image_create(&io, &params, &gerr);
    if (gerr) {
        error_setg(errp, "%s", gerr->message);
        g_error_free(gerr);
    }
    vhdx_locator_clear(&loc);
    blk_co_unref(blk);
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
                    "(PAYLOAD_BLOCK_ZERO) rather than not present. Default "
                    "on."
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
