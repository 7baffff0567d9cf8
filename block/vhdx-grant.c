/*
 * Block driver for VHDX images: linkage grants on QEMU's block graph
 *
 * A commit into a VHDX image changes the image's DataWriteGuid, which
 * the image above it records as its parent linkage.  Before the change,
 * the image grants the children open on it (the images of the merge)
 * their old linkage, to be used only through the topmost image above
 * them, from which the merge reads (include/vhdx/grant.h).  Here:
 * computing those grants from the graph, rewriting them before a data
 * change, and honouring them when a child's parent is attached and when
 * a granted child is read.
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
    BDRVVHDXState *s = bs->opaque;

    return &s->img->metadata.page83;
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
    return bs && vhdx_is_vhdx_node(bs) &&
           ((BDRVVHDXState *)bs->opaque)->img;
}

/*
 * The parent linkage values of the child state @s by which the parent
 * state @ps accepts it: its DataWriteGuid (then *@vias is left alone and
 * 0 returned with *@kept set), or grants.  Returns the number of via
 * images found in @vias (VHDX_GRANTS_MAX of room) for the granted
 * linkage stored in *@kept, 0 if the DataWriteGuid matches, and -1 if
 * neither.
 */
static int vhdx_linkage_grants(BDRVVHDXState *s, BDRVVHDXState *ps,
                               VhdxGuid *kept, VhdxGuid *vias)
{
    const VhdxGuid *dwg = &ps->img->header.current.data_write_guid;
    const VhdxGuid *linkage[2] = {
        &s->parent.linkage,
        s->parent.has_linkage2 ? &s->parent.linkage2 : NULL,
    };

    if (vhdx_parent_ref_matches(&s->parent, dwg)) {
        *kept = *dwg;
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        unsigned n;

        if (!linkage[i]) {
            continue;
        }
        n = vhdx_grants_vias(&ps->img->grants, &s->img->metadata.page83,
                             linkage[i], vias);
        if (n) {
            *kept = *linkage[i];
            return n;
        }
    }
    return -1;
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
            BlockDriverState *p = c->opaque;

            if (c->klass == &child_of_bds && p->backing == c &&
                vhdx_node_with_image(p)) {
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

/*
 * The grants @bs would give now: for each VHDX child open on it that
 * accepts it (by DataWriteGuid or by a grant), the linkage it keeps,
 * through each topmost image above it.  These children are the images
 * of a commit whose data is about to go into @bs.
 */
static void GRAPH_RDLOCK vhdx_open_children_grants(BlockDriverState *bs,
                                                   VhdxGrants *grants)
{
    BDRVVHDXState *s = bs->opaque;
    VhdxGuid vias[VHDX_GRANTS_MAX], tops[VHDX_GRANTS_MAX];
    bool full = false;
    BdrvChild *c;

    memset(grants, 0, sizeof(*grants));
    QLIST_FOREACH(c, &bs->parents, next_parent) {
        BlockDriverState *child = c->opaque;
        VhdxGrant grant;
        unsigned n = 0;

        if (c->klass != &child_of_bds || child->backing != c ||
            !vhdx_node_with_image(child) ||
            vhdx_linkage_grants(child->opaque, s, &grant.linkage,
                                vias) < 0) {
            continue;
        }
        grant.child = *vhdx_page83(child);
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

    if (s->img->data_guid_updated && !s->img->grants.count) {
        return 0;
    }
    vhdx_open_children_grants(bs, &now);
    return vhdx_image_begin_data_change(s->img, &now, errp);
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

int GRAPH_RDLOCK vhdx_check_linkage(BlockDriverState *bs,
                                    BlockDriverState *parent, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    BDRVVHDXState *ps = parent->opaque;
    VhdxGuid vias[VHDX_GRANTS_MAX], kept;
    char have[VHDX_GUID_STRING_LEN], want[VHDX_GUID_STRING_LEN];
    int n = vhdx_linkage_grants(s, ps, &kept, vias);

    g_free(s->grant_vias);
    s->grant_vias = NULL;
    s->n_grant_vias = 0;
    if (n < 0) {
        return 1;
    }
    if (n == 0 || vhdx_guid_in(vhdx_page83(bs), vias, n)) {
        return 0;
    }
    /*
     * Granted through other images.  Opened as the backing file of an
     * image, the chain above is known now; attached on its own (as a
     * -blockdev node, or read directly), reads are checked instead.
     */
    if (bs->inherits_from ? vhdx_opened_through(bs, vias, n) :
        QLIST_EMPTY(&bs->parents) || vhdx_read_through(bs, vias, n, 0)) {
        s->grant_vias = g_memdup2(vias, n * sizeof(*vias));
        s->n_grant_vias = n;
        return 0;
    }
    vhdx_guid_format(&ps->img->header.current.data_write_guid, have);
    vhdx_guid_format(&kept, want);
    error_setg(errp, "VHDX parent '%s' of '%s' has DataWriteGuid {%s}, not "
               "{%s}: it took the data of a merge that '%s' was part of, "
               "and now reads right only through the image the merge "
               "read from, which this chain does not pass through (a "
               "sibling of an image in the merge, or an image the merge "
               "dropped)", parent->filename, bs->filename, have, want,
               bs->filename);
    return -EINVAL;
}

int GRAPH_RDLOCK vhdx_check_read_through(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;

    if (!s->n_grant_vias ||
        vhdx_read_through(bs, s->grant_vias, s->n_grant_vias, 0)) {
        return 0;
    }
    if (!s->grant_read_refused) {
        s->grant_read_refused = true;
        error_report("VHDX image '%s': its parent took the data of a merge "
                     "it was part of and reads right only through the image "
                     "the merge read from; reading it otherwise would "
                     "return wrong data", bs->filename);
    }
    return -EIO;
}
