/*
 * Block driver for VHDX images: what the glue's files share
 *
 * Private to block/vhdx.c (the BlockDriver, open/close, payload I/O),
 * block/vhdx-create.c (creating images), block/vhdx-parent.c
 * (differencing images) and block/vhdx-grant.c (linkage grants): the
 * driver's state and the few functions one of them calls in another.
 * The format core's own API is in include/vhdx/.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef BLOCK_VHDX_INT_H
#define BLOCK_VHDX_INT_H

#include "block/block_int.h"
#include "qemu/coroutine.h"

#include "vhdx/image.h"
#include "vhdx/parent.h"

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

    /* Differencing images: what the parent locator says */
    VhdxParentRef parent;
    char *parent_path;          /* where the parent was found (full path) */
    Error *parent_missing;      /* no candidate exists: says what was tried */
    bool check_parent_linkage;
    /* Accepted by a grant: the images it must be read through */
    VhdxGuid *grant_vias;
    unsigned n_grant_vias;
    bool grant_read_refused;    /* said so once */
} BDRVVHDXState;

/* What a child needs to know of its parent: read from the parent file */
typedef struct VhdxParentInfo {
    VhdxGuid data_write_guid;
    uint32_t logical_sector_size;
} VhdxParentInfo;

/* vhdx.c */
bool vhdx_is_vhdx_node(BlockDriverState *bs);
void vhdx_propagate(BlockDriverState *bs, Error **errp, GError *gerr);
void vhdx_report_io_error(BlockDriverState *bs, GError *gerr);

/* vhdx-create.c */
extern QemuOptsList vhdx_create_opts;
int coroutine_fn GRAPH_UNLOCKED
vhdx_co_create(BlockdevCreateOptions *opts, Error **errp);
int coroutine_fn GRAPH_UNLOCKED
vhdx_co_create_opts(BlockDriver *drv, const char *filename, QemuOpts *opts,
                    Error **errp);

/* vhdx-parent.c */
int vhdx_peek_parent(VhdxIO *io, const char *path, VhdxParentInfo *info,
                     Error **errp);
int vhdx_check_chain_above(BlockDriverState *bs, Error **errp);
int GRAPH_RDLOCK vhdx_set_backing_file(BlockDriverState *bs, Error **errp);
char *vhdx_dirname(BlockDriverState *bs, Error **errp);
int GRAPH_RDLOCK vhdx_check_backing(BlockDriverState *bs,
                                    BlockDriverState *backing, Error **errp);
int coroutine_fn GRAPH_RDLOCK
vhdx_co_change_backing_file(BlockDriverState *bs, const char *backing_file,
                            const char *backing_fmt);
int GRAPH_RDLOCK vhdx_make_empty(BlockDriverState *bs);

/* vhdx-grant.c */
/*
 * Starts a change of guest-visible data (vhdx_image_begin_write with a
 * new DataWriteGuid), first granting the children open on @bs that they
 * may keep their linkage; later in the session, drops the grants of
 * children no longer open.  Called with s->lock held.
 */
int coroutine_fn GRAPH_RDLOCK
vhdx_begin_data_change(BlockDriverState *bs, GError **errp);
/*
 * The linkage check of @bs against @parent, grants included: 0 accepted,
 * a negative errno (with @errp set) refused by the grants' rules, 1 for
 * neither (the caller decides and says why).
 */
int GRAPH_RDLOCK vhdx_check_linkage(BlockDriverState *bs,
                                    BlockDriverState *parent, Error **errp);
/* Before reading through the parent: -EIO if a grant forbids it here */
int GRAPH_RDLOCK vhdx_check_read_through(BlockDriverState *bs);

#endif /* BLOCK_VHDX_INT_H */
