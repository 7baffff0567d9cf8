/*
 * Block driver for VHDX images: linkage grants on QEMU's block graph
 *
 * A commit into a VHDX image changes the image's DataWriteGuid, which
 * the image above it records as its parent linkage.  Before the change,
 * the image grants the children open on it (the images of the merge)
 * their old linkage, to be used only through the topmost image above
 * them, from which the merge reads (include/vhdx/grant.h).  The rules
 * are the core's (vhdx_linkage_decide()); here is what they need of
 * QEMU's block graph: which children are open on an image and what lies
 * above them (for the grants a data change records), and whether a
 * child is read only through its via images (when its parent is
 * attached, and on each read if that was not known then).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "block/block_int.h"
#include "qapi/error.h"
#include "qemu/error-report.h"

#include "vhdx-int.h"

static const VhdxGuid *vhdx_page83(BlockDriverState *bs)
{
    return vhdx_image_page83(vhdx_node_image(bs));
}

static bool vhdx_guid_in(const VhdxGuid *guid, const VhdxGuid *set,
                         unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (vhdx_guid_equal(guid, &set[i])) {
            return true;
        }
    }
    return false;
}

/* An open VHDX node with its image: one that can be asked who it is */
static bool vhdx_node_with_image(BlockDriverState *bs)
{
    return vhdx_node_image(bs) != NULL;
}

/* A VHDX node opened on @bs as its backing file: one of its children */
static BlockDriverState * GRAPH_RDLOCK vhdx_child_of(BdrvChild *c,
                                                     BlockDriverState *bs)
{
    BlockDriverState *child = c->opaque;

    if (c->klass != &child_of_bds || child->backing != c ||
        !vhdx_node_with_image(child)) {
        return NULL;
    }
    return child;
}

/*
 * The topmost VHDX images above @bs (itself if none): walking up backing
 * links between VHDX nodes, as far as they go.  A filter (a job's, a
 * throttle) or a device ends the walk.  A topmost image nothing uses
 * (a node left behind by a completed job, still named in the monitor)
 * does not count: no merge reads from it.
 */
static void GRAPH_RDLOCK vhdx_topmost_above(BlockDriverState *bs,
                                            VhdxGuid *tops, unsigned *n,
                                            int depth)
{
    bool above = false;
    BdrvChild *c;

    if (depth <= VHDX_MAX_CHAIN_DEPTH) {
        QLIST_FOREACH(c, &bs->parents, next_parent) {
            BlockDriverState *p = vhdx_child_of(c, bs);

            if (p) {
                above = true;
                vhdx_topmost_above(p, tops, n, depth + 1);
            }
        }
    }
    if (!above && !QLIST_EMPTY(&bs->parents) && *n < VHDX_GRANTS_MAX &&
        !vhdx_guid_in(vhdx_page83(bs), tops, *n)) {
        tops[(*n)++] = *vhdx_page83(bs);
    }
}

/* What the linkage rule is asked about @child under its parent @bs */
static void GRAPH_RDLOCK vhdx_linkage_query_init(VhdxLinkageQuery *q,
                                                 BlockDriverState *child,
                                                 BlockDriverState *bs)
{
    VhdxImage *img = vhdx_node_image(child);
    VhdxImage *parent = vhdx_node_image(bs);

    *q = (VhdxLinkageQuery) {
        .ref = vhdx_image_parent(img),
        .child = vhdx_image_page83(img),
        .parent_dwg = vhdx_image_data_write_guid(parent),
        .parent_grants = vhdx_image_grants(parent),
    };
}

/*
 * The grants @bs would give now: for each VHDX child open on it that
 * it accepts (by DataWriteGuid or by a grant), the linkage it keeps,
 * through each topmost image above it.  These children are the images
 * of a commit whose data is about to go into @bs.
 */
static void GRAPH_RDLOCK vhdx_open_children_grants(BlockDriverState *bs,
                                                   VhdxGrants *grants)
{
    VhdxGuid tops[VHDX_GRANTS_MAX];
    bool full = false;
    BdrvChild *c;

    memset(grants, 0, sizeof(*grants));
    QLIST_FOREACH(c, &bs->parents, next_parent) {
        BlockDriverState *child = vhdx_child_of(c, bs);
        VhdxLinkageQuery q;
        VhdxLinkage l;
        VhdxGrant grant;
        unsigned n = 0;

        if (!child || !vhdx_image_parent(vhdx_node_image(child))) {
            continue;
        }
        vhdx_linkage_query_init(&q, child, bs);
        if (!vhdx_linkage_holds(&q, &l)) {
            continue;
        }
        grant.child = *vhdx_page83(child);
        grant.linkage = l.kept;
        vhdx_topmost_above(child, tops, &n, 0);
        for (unsigned i = 0; i < n; i++) {
            grant.via = tops[i];
            full |= !vhdx_grants_add(grants, &grant);
        }
    }
    if (full) {
        warn_report("VHDX image '%s': more than %d children open on it; "
                    "not all of them will accept it after this change",
                    bs->filename, VHDX_GRANTS_MAX);
    }
}

int coroutine_fn GRAPH_RDLOCK
vhdx_begin_data_change(BlockDriverState *bs, GError **errp)
{
    BDRVVHDXState *s = bs->opaque;
    VhdxGrants now;

    if (!vhdx_image_children_matter(s->img)) {
        return vhdx_image_begin_data_change(s->img, NULL, errp);
    }
    vhdx_open_children_grants(bs, &now);
    return vhdx_image_begin_data_change(s->img, &now, errp);
}

int coroutine_fn GRAPH_RDLOCK
vhdx_co_retire_via(BlockDriverState *parent, BlockDriverState *bs)
{
    BDRVVHDXState *ps = parent->opaque;
    GError *gerr = NULL;
    Error *err = NULL;
    int ret;

    if (!vhdx_image_is_writable(ps->img)) {
        return 0;
    }
    qemu_co_mutex_lock(&ps->lock);
    ret = vhdx_image_retire_via(ps->img, vhdx_page83(bs), &gerr);
    qemu_co_mutex_unlock(&ps->lock);
    if (ret < 0) {
        vhdx_error_propagate(&err, parent->filename, gerr);
        error_report_err(err);
    }
    return ret;
}

/* Whether one of the images @bs was opened for is a via image */
static bool vhdx_opened_through(BlockDriverState *bs, const VhdxGuid *vias,
                                unsigned n)
{
    for (int depth = 0; bs && depth <= VHDX_MAX_CHAIN_DEPTH; depth++) {
        if (vhdx_node_with_image(bs) &&
            vhdx_guid_in(vhdx_page83(bs), vias, n)) {
            return true;
        }
        bs = bs->inherits_from;
    }
    return false;
}

/*
 * Whether everything that reads @bs does so through a via image: every
 * way up from @bs meets one before it meets a user of the node that
 * reads (a device, an export, a job).  false if nothing reads it.
 */
static bool GRAPH_RDLOCK vhdx_read_through(BlockDriverState *bs,
                                           const VhdxGuid *vias, unsigned n,
                                           int depth)
{
    bool read = false;
    BdrvChild *c;

    if (vhdx_node_with_image(bs) &&
        vhdx_guid_in(vhdx_page83(bs), vias, n)) {
        return true;
    }
    if (depth > VHDX_MAX_CHAIN_DEPTH) {
        return false;
    }
    QLIST_FOREACH(c, &bs->parents, next_parent) {
        if (c->klass != &child_of_bds) {
            if (c->perm & BLK_PERM_CONSISTENT_READ) {
                return false;
            }
            continue;
        }
        read = true;
        if (!vhdx_read_through(c->opaque, vias, n, depth + 1)) {
            return false;
        }
    }
    return read;
}

int GRAPH_RDLOCK vhdx_reads_via(void *opaque, const VhdxGuid *vias,
                                unsigned n)
{
    BlockDriverState *bs = opaque;

    /*
     * Opened as the backing file of an image, the chain above is known
     * now; attached on its own (as a -blockdev node, or read directly),
     * reads are checked as they come.
     */
    if (bs->inherits_from) {
        return vhdx_opened_through(bs, vias, n);
    }
    if (QLIST_EMPTY(&bs->parents)) {
        return -1;
    }
    return vhdx_read_through(bs, vias, n, 0);
}

int GRAPH_RDLOCK vhdx_may_read_parent(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;

    if (!s->n_read_vias ||
        vhdx_read_through(bs, s->read_vias, s->n_read_vias, 0)) {
        return 0;
    }
    if (!s->read_refusal_reported) {
        s->read_refusal_reported = true;
        error_report("VHDX image '%s': its parent took the data of a merge "
                     "it was part of and reads right only through the image "
                     "the merge read from; reading it otherwise would "
                     "return wrong data", bs->filename);
    }
    return -EIO;
}
