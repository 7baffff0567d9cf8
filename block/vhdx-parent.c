/*
 * Block driver for VHDX images: differencing images
 *
 * The parent side of the QEMU glue: at open, where the parent locator
 * points (tried in the locator's order, through the block layer) and
 * whether the chain being opened loops or is too deep; when a parent is
 * attached, asking the core's linkage rule whether it is the very image
 * the child was made on; rewriting the locator on rebase and after a
 * commit.  The locator and the rule are the core's (include/vhdx/
 * parent.h); this file maps them onto QEMU's backing files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "block/aio-wait.h"
#include "block/block.h"
#include "block/block_int.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qobject/qdict.h"

#include "vhdx-int.h"

/* ---- finding the parent at open ---- */

/*
 * QEMU opens a chain from the top down: each parent while its child
 * waits, with the parent's inherits_from pointing at the child.  Before
 * this node opens its file (whose lock could clash with a child's in a
 * loop), its name is the one its child found.  Each VHDX image knows its
 * depth and shares with the images above it the set of their file keys,
 * so that finding a loop (by file name: a link to a file in the chain is
 * only caught by the depth limit) and the depth costs the same at every
 * level, and opening a chain is linear in its length.
 */
int vhdx_validate_chain_above(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    BlockDriverState *child = bs->inherits_from;
    BDRVVHDXState *cs;
    g_autofree char *key = NULL;

    s->chain_depth = 1;
    if (!vhdx_is_vhdx_node(child)) {
        return 0;
    }
    cs = child->opaque;
    if (!cs->chain_files) {
        return 0;
    }
    if (cs->parent_name) {
        key = vhdx_file_key(cs->parent_name);
    }
    if (key && g_hash_table_contains(cs->chain_files, key)) {
        error_setg(errp, "VHDX parent loop: '%s' is already a child in "
                   "this chain", cs->parent_name);
        return -ELOOP;
    }
    if (cs->chain_depth >= VHDX_MAX_CHAIN_DEPTH) {
        error_setg(errp, "VHDX chain deeper than %d images: the parent of "
                   "'%s' would be image %u", VHDX_MAX_CHAIN_DEPTH,
                   child->filename, cs->chain_depth + 1);
        error_append_hint(errp, "A chain of VHDX images may hold at most "
                          "%d images, the top one included.\n",
                          VHDX_MAX_CHAIN_DEPTH);
        return -ELOOP;
    }
    s->chain_depth = cs->chain_depth + 1;
    s->chain_files = g_hash_table_ref(cs->chain_files);
    return 0;
}

void GRAPH_RDLOCK vhdx_enter_chain(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;

    if (!s->chain_files) {
        s->chain_files = g_hash_table_new_full(g_str_hash, g_str_equal,
                                               g_free, NULL);
    }
    s->chain_key = vhdx_file_key(bs->file->bs->filename);
    g_hash_table_add(s->chain_files, g_strdup(s->chain_key));
}

void vhdx_leave_chain(BDRVVHDXState *s)
{
    if (!s->chain_files) {
        return;
    }
    if (s->chain_key) {
        g_hash_table_remove(s->chain_files, s->chain_key);
    }
    g_clear_pointer(&s->chain_key, g_free);
    g_clear_pointer(&s->chain_files, g_hash_table_unref);
}

/*
 * Whether a file QEMU can open is at @full_name.  A QEMU filename (json:,
 * nbd://) is not looked for: it is what the child was made on, and
 * opening it will say what is wrong.
 */
static bool vhdx_parent_exists(const char *full_name)
{
    BlockDriverState *probe;

    if (path_has_protocol(full_name)) {
        return true;
    }
    probe = bdrv_open(full_name, NULL, NULL, BDRV_O_PROTOCOL, NULL);
    if (!probe) {
        return false;
    }
    bdrv_unref(probe);
    return true;
}

/*
 * Finds the parent: the first candidate that exists, its full name in
 * *@full_name.  NULL, with @errp listing every name tried, if none does.
 */
static const VhdxParentCandidate * GRAPH_UNLOCKED
vhdx_find_parent(BlockDriverState *bs, const VhdxParentRef *ref,
                 char **full_name, Error **errp)
{
    g_autoptr(GString) tried = g_string_new(NULL);

    for (guint i = 0; i < ref->candidates->len; i++) {
        const VhdxParentCandidate *c =
            &g_array_index(ref->candidates, VhdxParentCandidate, i);
        g_autofree char *full = NULL;

        bdrv_graph_rdlock_main_loop();
        full = vhdx_parent_full_name(bs->file->bs, c->path, NULL);
        bdrv_graph_rdunlock_main_loop();
        if (full && vhdx_parent_exists(full)) {
            *full_name = g_steal_pointer(&full);
            return c;
        }
        g_string_append_printf(tried, "%s'%s' (%s)", i ? ", " : "",
                               full ? full : c->path, c->source);
    }
    error_setg(errp, "Cannot find the parent of VHDX differencing image "
               "'%s'; tried %s", bs->filename, tried->str);
    return NULL;
}

/* Whether the user named the parent (-blockdev backing=, -drive backing.) */
static bool vhdx_parent_given(QDict *options)
{
    return qdict_haskey(options, "backing") ||
           qdict_haskey(options, "backing.file.filename");
}

/*
 * The name found is what QEMU shows as the backing file and opens (in
 * the child's directory, as for qcow2); when no candidate exists, the
 * first stands in, and the error listing them all comes from
 * vhdx_dirname() if and when QEMU opens the parent by name.  A parent
 * the user names is not looked for.
 *
 * auto_backing_file decides whether the child's filename is plain or a
 * json: description of the chain.  For a parent QEMU opens by the name
 * found, it is that name: QEMU then replaces it by the opened node's
 * filename, as for a qcow2 backing file.  For a parent the user names,
 * or one attached later (an image opened without its parent, as
 * blockdev-snapshot-sync opens a new overlay), it is the full name, so
 * that a parent attached by any route, if it is that file, still leaves
 * the child's filename plain.
 */
void GRAPH_UNLOCKED vhdx_locate_parent(BlockDriverState *bs, QDict *options)
{
    BDRVVHDXState *s = bs->opaque;
    const VhdxParentRef *ref = vhdx_image_parent(s->img);
    const VhdxParentCandidate *found = NULL;
    g_autofree char *full = NULL;
    bool given = vhdx_parent_given(options);
    bool opened_by_qemu = !given && !(bs->open_flags & BDRV_O_NO_BACKING);

    if (!ref) {
        vhdx_leave_chain(s);
        return;
    }
    if (!given) {
        found = vhdx_find_parent(bs, ref, &s->parent_name,
                                 &s->parent_missing);
    }
    if (!found) {
        found = &g_array_index(ref->candidates, VhdxParentCandidate, 0);
    }
    if (!opened_by_qemu) {
        bdrv_graph_rdlock_main_loop();
        full = vhdx_parent_full_name(bs->file->bs, found->path, NULL);
        bdrv_graph_rdunlock_main_loop();
    }
    pstrcpy(bs->backing_file, sizeof(bs->backing_file), found->path);
    pstrcpy(bs->auto_backing_file, sizeof(bs->auto_backing_file),
            full ? full : found->path);
    pstrcpy(bs->backing_format, sizeof(bs->backing_format), "vhdx");
}

void vhdx_parent_state_clear(BDRVVHDXState *s)
{
    vhdx_leave_chain(s);
    g_clear_pointer(&s->parent_name, g_free);
    error_free(s->parent_missing);
    s->parent_missing = NULL;
    g_clear_pointer(&s->read_vias, g_free);
    s->n_read_vias = 0;
}

/* Where relative parent names start; or why the parent cannot be found */
char *vhdx_dirname(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;

    if (s->parent_missing) {
        error_propagate(errp, error_copy(s->parent_missing));
        return NULL;
    }
    return bdrv_dirname(bs->file->bs, errp);
}

/* ---- the parent attached ---- */

/* Says why the linkage rule refused @parent, or why it warns */
static void GRAPH_RDLOCK
vhdx_explain_linkage(BlockDriverState *bs, BlockDriverState *parent,
                     const VhdxLinkageQuery *q, const VhdxLinkage *l,
                     Error **errp)
{
    g_autofree char *message = NULL;
    g_autofree char *hint = NULL;

    vhdx_linkage_describe(q, l, bs->filename, parent->filename, &message,
                          &hint);
    if (vhdx_linkage_accepted(l->verdict)) {
        warn_report("%s", message);
        error_printf("%s", hint);
        return;
    }
    error_setg(errp, "%s", message);
    error_append_hint(errp, "%s", hint);
    if (l->verdict == VHDX_LINKAGE_REFUSE_STALE) {
        error_append_hint(errp, "To open the chain anyway, for recovery, "
                          "set check-parent-linkage=off.\n");
    }
}

/*
 * Every way a parent gets attached ends here (see patches/0003): it must
 * be a VHDX image, and the core's linkage rule must accept it.
 */
int GRAPH_RDLOCK vhdx_accept_backing(BlockDriverState *bs,
                                     BlockDriverState *backing,
                                     Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    BlockDriverState *parent = bdrv_skip_filters(backing);
    VhdxImage *pimg = vhdx_node_image(parent);
    VhdxLinkageQuery q;
    VhdxLinkage l;

    if (!vhdx_image_is_differencing(s->img)) {
        error_setg(errp, "VHDX image '%s' is not a differencing image and "
                   "cannot have a parent", bs->filename);
        return -EINVAL;
    }
    if (!pimg) {
        error_setg(errp, "The parent of VHDX differencing image '%s' must "
                   "be a VHDX image, but '%s' is %s", bs->filename,
                   backing->filename,
                   parent && parent->drv ? parent->drv->format_name :
                                           "not an image");
        return -EINVAL;
    }
    q = (VhdxLinkageQuery) {
        .ref = vhdx_image_parent(s->img),
        .child = vhdx_image_page83(s->img),
        .parent_dwg = vhdx_image_data_write_guid(pimg),
        .parent_grants = vhdx_image_grants(pimg),
        .enforce = s->enforce_linkage,
        /*
         * An image already below the parent in this chain: QEMU is
         * cutting out intermediate images whose data it has copied
         * (block-stream, block-commit) and rewrites the linkage next.
         */
        .bypassing = bs->backing && bs->backing->bs != backing &&
                     bdrv_chain_contains(bs->backing->bs, backing),
        .reads_via = vhdx_reads_via,
        .opaque = bs,
    };
    vhdx_linkage_decide(&q, &l);
    g_clear_pointer(&s->read_vias, g_free);
    s->n_read_vias = 0;
    if (l.verdict == VHDX_LINKAGE_ACCEPT_STALE ||
        !vhdx_linkage_accepted(l.verdict)) {
        vhdx_explain_linkage(bs, parent, &q, &l, errp);
    }
    if (!vhdx_linkage_accepted(l.verdict)) {
        return -EINVAL;
    }
    if (l.n_vias) {
        s->read_vias = g_memdup2(l.vias, l.n_vias * sizeof(*l.vias));
        s->n_read_vias = l.n_vias;
    }
    /* The chain below is open: nothing in it looks for loops any more */
    vhdx_leave_chain(s);
    return 0;
}

/* ---- rebase and commit ---- */

/* The parent attached to @bs, if QEMU names it @full_name */
static BlockDriverState * GRAPH_RDLOCK
vhdx_attached_parent(BlockDriverState *bs, const char *full_name)
{
    BlockDriverState *parent;

    if (!bs->backing) {
        return NULL;
    }
    parent = bdrv_skip_filters(bs->backing->bs);
    if (!vhdx_node_image(parent) ||
        !vhdx_same_file_name(parent->filename, full_name)) {
        return NULL;
    }
    return parent;
}

/* Points the locator at @parent (known to QEMU as @full_name) */
static int coroutine_fn GRAPH_RDLOCK
vhdx_co_set_parent(BlockDriverState *bs, BlockDriverState *parent,
                   const char *full_name)
{
    BDRVVHDXState *s = bs->opaque;
    g_autofree char *child_dir = g_path_get_dirname(bs->file->bs->filename);
    VhdxParentSpec spec;
    GError *gerr = NULL;
    Error *err = NULL;
    int ret;

    vhdx_parent_spec_init(&spec, parent, full_name, child_dir);
    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_set_parent(s->img, &spec, &gerr);
    qemu_co_mutex_unlock(&s->lock);
    if (ret < 0) {
        vhdx_error_propagate(&err, bs->filename, gerr);
        error_report_err(err);
    }
    return ret;
}

/*
 * Rewrites the locator and linkage: qemu-img rebase, and after a commit
 * or stream dropped the images between (then the new parent is attached
 * already).  Otherwise the new parent is opened to be read: a node can
 * only be opened with the graph unlocked, and the callers that get here
 * with a parent not yet attached (qemu-img rebase) hold nothing across
 * the call that the graph lock protects, as qcow2 opens its data file.
 */
int coroutine_fn GRAPH_RDLOCK
vhdx_co_change_backing_file(BlockDriverState *bs, const char *backing_file,
                            const char *backing_fmt)
{
    g_autofree char *full = NULL;
    BlockDriverState *parent, *peeked = NULL;
    Error *err = NULL;
    int ret;

    if (!backing_file || !*backing_file) {
        error_report("%s: a VHDX image gains or loses its parent only "
                     "through qemu-img convert", bs->filename);
        return -ENOTSUP;
    }
    if (backing_fmt && *backing_fmt && strcmp(backing_fmt, "vhdx")) {
        error_report("%s: the parent of a VHDX differencing image must be "
                     "a VHDX image, not %s", bs->filename, backing_fmt);
        return -EINVAL;
    }
    full = vhdx_parent_full_name(bs->file->bs, backing_file, &err);
    parent = full ? vhdx_attached_parent(bs, full) : NULL;
    if (full && !parent) {
        bdrv_graph_co_rdunlock();
        peeked = vhdx_co_peek_image(full, &err);
        bdrv_graph_co_rdlock();
        parent = peeked;
    }
    if (!parent) {
        error_report_err(err);
        return -EINVAL;
    }
    ret = vhdx_co_set_parent(bs, parent, full);
    if (ret == 0 && !peeked) {
        ret = vhdx_co_retire_via(parent, bs);
    }
    if (peeked) {
        bdrv_graph_co_rdunlock();
        bdrv_co_unref(peeked);
        bdrv_graph_co_rdlock();
    }
    return ret;
}

/* After a commit copied this image into its parent (qemu-img commit) */
static int coroutine_fn GRAPH_RDLOCK vhdx_co_make_empty(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;
    VhdxImage *pimg = bs->backing ?
                      vhdx_node_image(bdrv_skip_filters(bs->backing->bs)) :
                      NULL;
    GError *gerr = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_begin_data_change(bs, &gerr);
    if (ret == 0) {
        ret = vhdx_image_make_empty(s->img,
                                    pimg ? vhdx_image_data_write_guid(pimg) :
                                           NULL, &gerr);
    }
    qemu_co_mutex_unlock(&s->lock);
    vhdx_report_io_error(bs, gerr);
    return ret;
}

typedef struct VhdxMakeEmptyCo {
    BlockDriverState *bs;
    int ret;
} VhdxMakeEmptyCo;

static void coroutine_fn vhdx_make_empty_entry(void *opaque)
{
    VhdxMakeEmptyCo *m = opaque;

    bdrv_graph_co_rdlock();
    m->ret = vhdx_co_make_empty(m->bs);
    bdrv_graph_co_rdunlock();
    aio_wait_kick();
}

/* The block layer calls this outside coroutines; the work needs one */
int GRAPH_RDLOCK vhdx_make_empty(BlockDriverState *bs)
{
    VhdxMakeEmptyCo m = { .bs = bs, .ret = -EINPROGRESS };

    assert(!qemu_in_coroutine());
    aio_co_enter(bdrv_get_aio_context(bs),
                 qemu_coroutine_create(vhdx_make_empty_entry, &m));
    AIO_WAIT_WHILE_UNLOCKED(NULL, m.ret == -EINPROGRESS);
    return m.ret;
}
