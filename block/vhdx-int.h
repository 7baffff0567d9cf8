/*
 * Block driver for VHDX images: what the glue's files share
 *
 * The glue is a tree: vhdx.c (the BlockDriver, open/close, payload I/O)
 * uses vhdx-create.c (creating images), vhdx-parent.c (finding and
 * accepting a differencing image's parent, rebase, commit), vhdx-info.c
 * (format-specific image information) and vhdx-grant.c (linkage grants
 * on the block graph); vhdx-parent.c uses
 * vhdx-grant.c; all of them use vhdx-common.c (the core's storage
 * interface on a BdrvChild, errors, telling VHDX nodes, parent names).
 * No file calls one above it.  Every format rule is in the core,
 * include/vhdx/.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef BLOCK_VHDX_INT_H
#define BLOCK_VHDX_INT_H

#include "block/block_int.h"
#include "qemu/coroutine.h"

#include "vhdx/image.h"

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
    bool io_error_reported;     /* the first core error of I/O was printed */

    /*
     * The chain being opened, from the top down (vhdx_enter_chain()): how
     * deep this image is in it (the topmost VHDX image is 1), and the
     * file keys of the images above it still opening, itself included,
     * shared with them
     */
    unsigned chain_depth;
    GHashTable *chain_files;
    char *chain_key;            /* this image's key in @chain_files */

    /* Differencing images */
    char *parent_name;          /* the parent the locator led to */
    Error *parent_missing;      /* no candidate exists: says what was tried */
    bool enforce_linkage;       /* check-parent-linkage */
    bool preallocate_blocks;    /* preallocate-blocks */
    /* Accepted by a grant: the images it must be read through */
    VhdxGuid *read_vias;
    unsigned n_read_vias;
    bool read_refusal_reported;
} BDRVVHDXState;

/* ---- vhdx-common.c ---- */

/* The core's storage interface on @child's node */
void vhdx_child_io_init(BdrvChild *child, VhdxIO *io);

/*
 * Moves a core error into @errp, prefixed with @name (a file name); a
 * storage failure gets its errno's text
 */
void vhdx_error_propagate(Error **errp, const char *name, GError *gerr);

/*
 * The I/O path returns only an errno: the first core error of a node is
 * printed, later ones are not (the block layer reports every errno)
 */
void vhdx_report_io_error(BlockDriverState *bs, GError *gerr);

/* Whether @bs is a node of this driver (a VHDX image) */
bool vhdx_is_vhdx_node(BlockDriverState *bs);

/* The image of a VHDX node, or NULL for any other node */
VhdxImage *vhdx_node_image(BlockDriverState *bs);

/*
 * The name under which QEMU opens a parent called @name by the child on
 * @child_file: @name itself when absolute or a QEMU filename, else @name
 * in the child's directory (bdrv_dirname).  NULL, with @errp set, when
 * the child's node has no directory.
 */
char * GRAPH_RDLOCK
vhdx_parent_full_name(BlockDriverState *child_file, const char *name,
                      Error **errp);

/*
 * A name QEMU opened, made comparable: absolute and canonical (a QEMU
 * filename as it is).  g_free() it.
 */
char *vhdx_file_key(const char *name);

/* Whether two names that QEMU opened are the same file */
bool vhdx_same_file_name(const char *a, const char *b);

/*
 * Opens the VHDX image @name only to read its header and metadata (a
 * parent a child is made on or pointed at): read-only, sharing the image
 * with every other user, without its parent.  Unref the node when done.
 */
BlockDriverState * coroutine_fn GRAPH_UNLOCKED
vhdx_co_peek_image(const char *name, Error **errp);

/* What a child is given of its parent: see VhdxParentSpec */
void GRAPH_RDLOCK
vhdx_parent_spec_init(VhdxParentSpec *spec, BlockDriverState *parent,
                      const char *name, const char *child_dir);

/* ---- vhdx-create.c ---- */
extern QemuOptsList vhdx_create_opts;
int coroutine_fn GRAPH_UNLOCKED
vhdx_co_create(BlockdevCreateOptions *opts, Error **errp);
int coroutine_fn GRAPH_UNLOCKED
vhdx_co_create_opts(BlockDriver *drv, const char *filename, QemuOpts *opts,
                    Error **errp);

/* ---- vhdx-info.c ---- */
ImageInfoSpecific * GRAPH_RDLOCK
vhdx_get_specific_info(BlockDriverState *bs, Error **errp);

/* ---- vhdx-grant.c ---- */
/*
 * Starts a change of guest-visible data (a new DataWriteGuid), first
 * granting the children open on @bs that they may keep their linkage;
 * later in the session, drops the grants of children no longer open.
 * Called with s->lock held.
 */
int coroutine_fn GRAPH_RDLOCK
vhdx_begin_data_change(BlockDriverState *bs, GError **errp);
/*
 * VhdxLinkageQuery.reads_via for the child @opaque (a BlockDriverState):
 * whether everything that reads it does so through one of @vias
 */
int GRAPH_RDLOCK vhdx_reads_via(void *opaque, const VhdxGuid *vias,
                                unsigned n);
/* Before reading through the parent: -EIO if a grant forbids it here */
int GRAPH_RDLOCK vhdx_may_read_parent(BlockDriverState *bs);
/*
 * @bs was rebased onto @parent, attached: a merge into @parent that read
 * through @bs is over, and @parent (when writable) drops the grants it
 * gave the images that were between them.  Errors are reported.
 */
int coroutine_fn GRAPH_RDLOCK
vhdx_co_retire_via(BlockDriverState *parent, BlockDriverState *bs);

/* ---- vhdx-parent.c ---- */
/*
 * Before @bs opens its file: refuses a parent that is already a child
 * in the chain being opened (a loop), or a chain too deep
 */
int vhdx_validate_chain_above(BlockDriverState *bs, Error **errp);
/* Once @bs has opened its file: @bs joins the chain being opened */
void GRAPH_RDLOCK vhdx_enter_chain(BlockDriverState *bs);
/* @bs is done opening (its parent is attached, or it has none, or it closes) */
void vhdx_leave_chain(BDRVVHDXState *s);
/*
 * Tells the block layer where @bs's parent is, following the locator
 * unless @options name the parent already
 */
void GRAPH_UNLOCKED vhdx_locate_parent(BlockDriverState *bs, QDict *options);
/* Forgets what vhdx_locate_parent() and vhdx_accept_backing() found */
void vhdx_parent_state_clear(BDRVVHDXState *s);
char *vhdx_dirname(BlockDriverState *bs, Error **errp);
int GRAPH_RDLOCK vhdx_accept_backing(BlockDriverState *bs,
                                     BlockDriverState *backing,
                                     Error **errp);
int coroutine_fn GRAPH_RDLOCK
vhdx_co_change_backing_file(BlockDriverState *bs, const char *backing_file,
                            const char *backing_fmt);
int GRAPH_RDLOCK vhdx_make_empty(BlockDriverState *bs);

#endif /* BLOCK_VHDX_INT_H */
