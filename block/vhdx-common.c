/*
 * Block driver for VHDX images: what every glue file uses
 *
 * The format core's storage interface on a BdrvChild, core errors turned
 * into QEMU's, telling VHDX nodes apart, and naming and opening parents
 * through the block layer (so a parent may be any file QEMU can open:
 * json: filenames, blkdebug, NBD).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "block/block.h"
#include "block/block_int.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qobject/qdict.h"

#include "vhdx/error.h"
#include "vhdx-int.h"

/* ---- the core's storage interface ---- */

static int vhdx_child_pread(VhdxIO *io, uint64_t offset, void *buf,
                            size_t len)
{
    return bdrv_pread(io->opaque, offset, len, buf, 0);
}

static int vhdx_child_pwrite(VhdxIO *io, uint64_t offset, const void *buf,
                             size_t len)
{
    return bdrv_pwrite(io->opaque, offset, len, buf, 0);
}

static int vhdx_child_flush(VhdxIO *io)
{
    BdrvChild *child = io->opaque;

    return bdrv_flush(child->bs);
}

static int64_t vhdx_child_length(VhdxIO *io)
{
    BdrvChild *child = io->opaque;

    return bdrv_getlength(child->bs);
}

static int vhdx_child_truncate(VhdxIO *io, uint64_t length)
{
    return bdrv_truncate(io->opaque, length, false, PREALLOC_MODE_OFF, 0,
                         NULL);
}

/*
 * posix_fallocate where the protocol has it (file-posix on a regular
 * file); elsewhere -ENOTSUP, and the core grows the file sparse
 */
static int vhdx_child_grow_allocated(VhdxIO *io, uint64_t length)
{
    return bdrv_truncate(io->opaque, length, false, PREALLOC_MODE_FALLOC, 0,
                         NULL);
}

static int vhdx_child_pwrite_zeroes(VhdxIO *io, uint64_t offset,
                                    uint64_t len)
{
    return bdrv_pwrite_zeroes(io->opaque, offset, len, 0);
}

static int vhdx_child_block_status(VhdxIO *io, uint64_t offset, uint64_t len,
                                   uint64_t *pnum)
{
    BdrvChild *child = io->opaque;
    int64_t bytes = 0;
    int ret;

    ret = bdrv_block_status(child->bs, offset, MIN(len, INT64_MAX), &bytes,
                            NULL, NULL);
    if (ret < 0) {
        return ret;
    }
    *pnum = bytes;
    return (ret & BDRV_BLOCK_ZERO) ? 1 : 0;
}

void vhdx_child_io_init(BdrvChild *child, VhdxIO *io)
{
    *io = (VhdxIO) {
        .pread = vhdx_child_pread,
        .pwrite = vhdx_child_pwrite,
        .flush = vhdx_child_flush,
        .length = vhdx_child_length,
        .truncate = vhdx_child_truncate,
        .grow_allocated = vhdx_child_grow_allocated,
        .pwrite_zeroes = vhdx_child_pwrite_zeroes,
        .block_status = vhdx_child_block_status,
        .opaque = child,
    };
}

/* ---- errors ---- */

void vhdx_error_propagate(Error **errp, const char *name, GError *gerr)
{
    ERRP_GUARD();
    g_auto(GStrv) parts = NULL;

    if (!gerr) {
        return;
    }
    /* One phrase, then (after a newline) the explanation: see error.h */
    parts = g_strsplit(gerr->message, "\n", 2);
    if (gerr->domain == VHDX_IO_ERROR) {
        error_setg_errno(errp, gerr->code, "%s: %s", name, parts[0]);
    } else {
        error_setg(errp, "%s: %s", name, parts[0]);
    }
    if (parts[1]) {
        error_append_hint(errp, "%s\n", parts[1]);
    }
    g_error_free(gerr);
}

void vhdx_report_io_error(BlockDriverState *bs, GError *gerr)
{
    BDRVVHDXState *s = bs->opaque;
    Error *err = NULL;

    if (!gerr) {
        return;
    }
    if (s->io_error_reported) {
        g_error_free(gerr);
        return;
    }
    s->io_error_reported = true;
    vhdx_error_propagate(&err, bs->filename, gerr);
    error_report_err(err);
}

/* ---- VHDX nodes ---- */

bool vhdx_is_vhdx_node(BlockDriverState *bs)
{
    return bs && bs->drv && !strcmp(bs->drv->format_name, "vhdx");
}

VhdxImage *vhdx_node_image(BlockDriverState *bs)
{
    if (!vhdx_is_vhdx_node(bs)) {
        return NULL;
    }
    return ((BDRVVHDXState *)bs->opaque)->img;
}

/* ---- parents ---- */

char * GRAPH_RDLOCK
vhdx_parent_full_name(BlockDriverState *child_file, const char *name,
                      Error **errp)
{
    g_autofree char *dir = NULL;

    if (path_has_protocol(name) || path_is_absolute(name)) {
        return g_strdup(name);
    }
    dir = bdrv_dirname(child_file, errp);
    return dir ? g_strconcat(dir, name, NULL) : NULL;
}

char *vhdx_file_key(const char *name)
{
    if (path_has_protocol(name)) {
        return g_strdup(name);
    }
    return g_canonicalize_filename(name, NULL);
}

bool vhdx_same_file_name(const char *a, const char *b)
{
    g_autofree char *ka = vhdx_file_key(a);
    g_autofree char *kb = vhdx_file_key(b);

    return !strcmp(ka, kb);
}

BlockDriverState * coroutine_fn GRAPH_UNLOCKED
vhdx_co_peek_image(const char *name, Error **errp)
{
    QDict *options = qdict_new();

    qdict_put_str(options, "driver", "vhdx");
    /* A parent is often open elsewhere, even being written */
    qdict_put_bool(options, BDRV_OPT_FORCE_SHARE, true);
    return bdrv_co_open(name, NULL, options,
                        BDRV_O_NO_BACKING | BDRV_O_NO_IO, errp);
}

/* The host file under @bs, if a file node is what it ends in */
static const char * GRAPH_RDLOCK vhdx_host_file_name(BlockDriverState *bs)
{
    while (bs && bs->file) {
        bs = bdrv_skip_filters(bs->file->bs);
    }
    return bs && bs->drv && !strcmp(bs->drv->format_name, "file") ?
           bs->filename : NULL;
}

void GRAPH_RDLOCK
vhdx_parent_spec_init(VhdxParentSpec *spec, BlockDriverState *parent,
                      const char *name, const char *child_dir)
{
    VhdxImage *img = vhdx_node_image(parent);

    *spec = (VhdxParentSpec) {
        .name = name,
        .child_dir = child_dir,
        .host_path = vhdx_host_file_name(parent),
        .data_write_guid = *vhdx_image_data_write_guid(img),
        .logical_sector_size = vhdx_image_logical_sector_size(img),
    };
}
