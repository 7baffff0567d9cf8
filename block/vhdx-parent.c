/*
 * Block driver for VHDX images: differencing images
 *
 * The parent side of the QEMU glue: at open, where the parent locator
 * points (the parent's path, loops and depth of the chain); the check
 * that an attached parent is the very image the child was made on;
 * reading a parent's header; rewriting the locator on rebase and after
 * a commit.  Linkage grants (a parent keeping the children of a merge
 * valid) are in vhdx-grant.c.  The locator itself is parsed and built by
 * the format core (include/vhdx/parent.h); this file maps it onto QEMU's
 * backing files.
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

#include <sys/stat.h>

#include "vhdx-int.h"

/*
 * Reads what a child needs of the parent at @path, through @io.  The
 * parent may be open and written to by a VM (its log then in use): only
 * its header and metadata are looked at.
 */
int vhdx_peek_parent(VhdxIO *io, const char *path, VhdxParentInfo *info,
                     Error **errp)
{
    VhdxImage *img = NULL;
    GError *gerr = NULL;
    int ret;

    ret = vhdx_image_open(io, VHDX_OPEN_PEEK, &img, &gerr);
    if (ret < 0) {
        error_setg(errp, "Parent '%s' cannot be used: %s", path,
                   gerr->message);
        g_error_free(gerr);
        return ret;
    }
    *info = (VhdxParentInfo) {
        .data_write_guid = img->header.current.data_write_guid,
        .logical_sector_size = img->geo.logical_sector_size,
    };
    vhdx_image_free(img);
    return 0;
}

/* ---- finding the parent at open ---- */

static bool vhdx_path_identity(const char *path, dev_t *dev, ino_t *ino)
{
    struct stat st;

    if (!path || !path[0] || stat(path, &st) < 0) {
        return false;
    }
    *dev = st.st_dev;
    *ino = st.st_ino;
    return true;
}

/*
 * QEMU opens a chain from the top down: each parent while its child
 * waits, with the parent's inherits_from pointing at the child.  Before
 * this node opens its file (whose lock could clash with a child's in a
 * loop), its path is the one its child resolved; walking the children
 * upwards finds a loop and the depth of the chain.
 */
int vhdx_check_chain_above(BlockDriverState *bs, Error **errp)
{
    BlockDriverState *child = bs->inherits_from;
    const char *path;
    unsigned depth = 0;
    dev_t dev, cdev;
    ino_t ino, cino;
    bool have_id;

    if (!child || !vhdx_is_vhdx_node(child)) {
        return 0;
    }
    path = ((BDRVVHDXState *)child->opaque)->parent_path;
    have_id = vhdx_path_identity(path, &dev, &ino);
    for (; child; child = child->inherits_from) {
        if (!vhdx_is_vhdx_node(child) || !child->file) {
            continue;
        }
        if (have_id &&
            vhdx_path_identity(child->file->bs->filename, &cdev, &cino) &&
            cdev == dev && cino == ino) {
            error_setg(errp, "VHDX parent loop: '%s' is already a child in "
                       "this chain", path);
            return -ELOOP;
        }
        if (++depth >= VHDX_MAX_CHAIN_DEPTH) {
            error_setg(errp, "VHDX chain deeper than %d images: '%s' is %u "
                       "parents below the top", VHDX_MAX_CHAIN_DEPTH, path,
                       depth);
            return -ELOOP;
        }
    }
    return 0;
}

/* The directory the child's relative parent paths start from */
static char *vhdx_child_dir(BlockDriverState *bs)
{
    const char *name = bs->file && bs->file->bs->filename[0] ?
                       bs->file->bs->filename : bs->filename;

    return g_path_get_dirname(name);
}

/*
 * Finds the parent: the first candidate that exists.  *@found is NULL
 * when none does; the error then lists every path tried.
 */
static char *vhdx_find_parent(BlockDriverState *bs, const VhdxParentRef *ref,
                              bool *found, Error **errp)
{
    g_autofree char *dir = vhdx_child_dir(bs);
    g_autoptr(GString) tried = g_string_new(NULL);

    for (guint i = 0; i < ref->candidates->len; i++) {
        const VhdxParentCandidate *c =
            &g_array_index(ref->candidates, VhdxParentCandidate, i);
        g_autofree char *full = g_path_is_absolute(c->path) ?
                                g_strdup(c->path) :
                                g_build_filename(dir, c->path, NULL);

        if (g_file_test(full, G_FILE_TEST_EXISTS)) {
            *found = true;
            return g_strdup(c->path);
        }
        g_string_append_printf(tried, "%s'%s' (%s)", i ? ", " : "", full,
                               c->source);
    }
    *found = false;
    error_setg(errp, "Cannot find the parent of VHDX differencing image "
               "'%s'; tried %s", bs->filename, tried->str);
    return g_strdup(g_array_index(ref->candidates, VhdxParentCandidate,
                                  0).path);
}

static int vhdx_read_parent_ref(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    const VhdxMetadata *md = &s->img->metadata;
    VhdxLocator loc;
    GError *gerr = NULL;
    int ret;

    ret = vhdx_locator_decode(md->parent_locator, md->parent_locator_len,
                              &loc, &gerr);
    if (ret == 0) {
        ret = vhdx_parent_ref_init(&s->parent, &loc, &gerr);
        vhdx_locator_clear(&loc);
    }
    vhdx_propagate(bs, errp, gerr);
    return ret;
}

/*
 * Tells the block layer about the parent.  When no candidate exists, the
 * first (relative) one stands in, and the error listing them all comes
 * from vhdx_dirname() if and when QEMU opens the parent: a driver cannot
 * tell whether the user passed "backing": null.
 */
int GRAPH_RDLOCK vhdx_set_backing_file(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    g_autofree char *parent = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *full = NULL;
    Error *local_err = NULL;
    bool found;
    int ret;

    ret = vhdx_read_parent_ref(bs, errp);
    if (ret < 0) {
        return ret;
    }
    parent = vhdx_find_parent(bs, &s->parent, &found, &local_err);
    if (!found) {
        s->parent_missing = local_err;
    } else {
        error_free(local_err);
    }
    dir = vhdx_child_dir(bs);
    full = g_path_is_absolute(parent) ? g_strdup(parent) :
           g_build_filename(dir, parent, NULL);
    /*
     * The locator's name is shown as the backing file; the full name is
     * what the block layer opens, and what an attached parent's filename
     * is compared with when naming this node.
     */
    pstrcpy(bs->backing_file, sizeof(bs->backing_file), parent);
    pstrcpy(bs->auto_backing_file, sizeof(bs->auto_backing_file), full);
    g_free(s->parent_path);
    s->parent_path = g_steal_pointer(&full);
    pstrcpy(bs->backing_format, sizeof(bs->backing_format), "vhdx");
    return 0;
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

/* ---- the parent attached: linkage, rebase, commit ---- */

/*
 * Every way a parent gets attached ends here (see patches/0003): it must
 * be a VHDX image, and the very one this child was made on.
 */
int GRAPH_RDLOCK vhdx_check_backing(BlockDriverState *bs,
                                    BlockDriverState *backing, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    BlockDriverState *parent = bdrv_skip_filters(backing);
    char want[VHDX_GUID_STRING_LEN], have[VHDX_GUID_STRING_LEN];
    const VhdxGuid *guid;
    BDRVVHDXState *ps;
    int ret;

    if (!s->img->metadata.has_parent) {
        error_setg(errp, "VHDX image '%s' is not a differencing image and "
                   "cannot have a parent", bs->filename);
        return -EINVAL;
    }
    if (!parent || !vhdx_is_vhdx_node(parent)) {
        error_setg(errp, "The parent of VHDX differencing image '%s' must "
                   "be a VHDX image, but '%s' is %s", bs->filename,
                   backing->filename,
                   parent && parent->drv ? parent->drv->format_name :
                                           "not an image");
        return -EINVAL;
    }
    ps = parent->opaque;
    guid = &ps->img->header.current.data_write_guid;
    ret = vhdx_check_linkage(bs, parent, errp);
    if (ret <= 0) {
        return ret;
    }
    /*
     * An image already below the parent in this chain: QEMU is cutting
     * out intermediate images whose data it has copied (block-stream,
     * block-commit) and rewrites the linkage right after.
     */
    if (bs->backing && bs->backing->bs != backing &&
        bdrv_chain_contains(bs->backing->bs, backing)) {
        return 0;
    }
    vhdx_guid_format(&s->parent.linkage, want);
    vhdx_guid_format(guid, have);
    if (!s->check_parent_linkage) {
        warn_report("VHDX parent '%s' of '%s' has DataWriteGuid {%s}, not "
                    "{%s}: it changed after the child was made; reading "
                    "through the child may return wrong data",
                    parent->filename, bs->filename, have, want);
        return 0;
    }
    error_setg(errp, "VHDX parent '%s' of '%s' has DataWriteGuid {%s}, but "
               "the child was made on {%s}: the parent was written to after "
               "the child was made, or it is another image, and reading "
               "through the child would return wrong data",
               parent->filename, bs->filename, have, want);
    error_append_hint(errp, "To open the chain anyway, for recovery, set "
                      "check-parent-linkage=off.\n");
    return -EINVAL;
}

/*
 * The new parent of a rebase or of the overlay after a commit: read from
 * its file directly.  It may be open elsewhere in QEMU or not at all, and
 * a block node cannot be opened under the graph lock held here; headers
 * are written through at once, so the file is authoritative.  These are
 * a few small reads, once per rebase.
 */
static int vhdx_fd_pread(VhdxIO *io, uint64_t offset, void *buf, size_t len)
{
    int fd = GPOINTER_TO_INT(io->opaque);
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done,
                          offset + done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            memset((uint8_t *)buf + done, 0, len - done);
            break;
        }
        done += n;
    }
    return 0;
}

static int vhdx_fd_read_only(VhdxIO *io, uint64_t offset, const void *buf,
                             size_t len)
{
    return -EPERM;
}

static int vhdx_fd_flush(VhdxIO *io)
{
    return 0;
}

static int64_t vhdx_fd_length(VhdxIO *io)
{
    struct stat st;

    if (fstat(GPOINTER_TO_INT(io->opaque), &st) < 0) {
        return -errno;
    }
    return st.st_size;
}

static int vhdx_fd_truncate(VhdxIO *io, uint64_t length)
{
    return -EPERM;
}

static int vhdx_read_parent_file(const char *path, VhdxParentInfo *info,
                                 Error **errp)
{
    VhdxIO io;
    int fd, ret;

    fd = qemu_open(path, O_RDONLY, errp);
    if (fd < 0) {
        return fd;
    }
    io = (VhdxIO) {
        .pread = vhdx_fd_pread,
        .pwrite = vhdx_fd_read_only,
        .flush = vhdx_fd_flush,
        .length = vhdx_fd_length,
        .truncate = vhdx_fd_truncate,
        .opaque = GINT_TO_POINTER(fd),
    };
    ret = vhdx_peek_parent(&io, path, info, errp);
    qemu_close(fd);
    return ret;
}

/* Rewrites the locator and linkage: qemu-img rebase, and after a commit */
int coroutine_fn GRAPH_RDLOCK
vhdx_co_change_backing_file(BlockDriverState *bs, const char *backing_file,
                            const char *backing_fmt)
{
    BDRVVHDXState *s = bs->opaque;
    g_autofree char *dir = vhdx_child_dir(bs);
    g_autofree char *path = NULL;
    VhdxParentInfo parent;
    VhdxParentRef ref;
    Error *local_err = NULL;
    GError *gerr = NULL;
    VhdxLocator loc;
    int ret;

    if (!s->img->metadata.has_parent || !backing_file || !*backing_file) {
        error_report("%s: a VHDX image gains or loses its parent only "
                     "through qemu-img convert", bs->filename);
        return -ENOTSUP;
    }
    if (backing_fmt && *backing_fmt && strcmp(backing_fmt, "vhdx")) {
        error_report("%s: the parent of a VHDX differencing image must be "
                     "a VHDX image, not %s", bs->filename, backing_fmt);
        return -EINVAL;
    }
    path = g_path_is_absolute(backing_file) ? g_strdup(backing_file) :
           g_build_filename(dir, backing_file, NULL);
    ret = vhdx_read_parent_file(path, &parent, &local_err);
    if (ret == 0 &&
        parent.logical_sector_size != s->img->geo.logical_sector_size) {
        error_setg(&local_err, "'%s' has %" PRIu32 "-byte sectors, the "
                   "child %" PRIu32, path, parent.logical_sector_size,
                   s->img->geo.logical_sector_size);
        ret = -EINVAL;
    }
    if (ret < 0) {
        error_report_err(local_err);
        return ret;
    }
    vhdx_parent_locator_build(&loc, path, dir, &parent.data_write_guid);
    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_begin_write(s->img, false, &gerr);
    if (ret == 0) {
        ret = vhdx_image_set_parent_locator(s->img, &loc, &gerr);
    }
    if (ret == 0) {
        ret = vhdx_parent_ref_init(&ref, &loc, &gerr);
    }
    qemu_co_mutex_unlock(&s->lock);
    vhdx_locator_clear(&loc);
    if (ret < 0) {
        vhdx_report_io_error(bs, gerr);
        return ret;
    }
    vhdx_parent_ref_clear(&s->parent);
    s->parent = ref;
    return 0;
}

/*
 * Points the locator's linkage at the parent's current DataWriteGuid,
 * keeping its paths: the child's own data is gone or already in the
 * parent, so whatever the parent holds now is what the child shows.
 */
static int coroutine_fn GRAPH_RDLOCK
vhdx_refresh_linkage(BlockDriverState *bs, GError **errp)
{
    BDRVVHDXState *s = bs->opaque;
    BlockDriverState *parent = bs->backing ?
                               bdrv_skip_filters(bs->backing->bs) : NULL;
    const VhdxMetadata *md = &s->img->metadata;
    char guid[VHDX_GUID_STRING_LEN + 2];
    VhdxParentRef ref;
    VhdxLocator loc;
    int ret;

    if (!md->has_parent || !parent || !vhdx_is_vhdx_node(parent)) {
        return 0;
    }
    guid[0] = '{';
    vhdx_guid_format(&((BDRVVHDXState *)parent->opaque)->img->header.current
                          .data_write_guid, guid + 1);
    strcat(guid, "}");
    ret = vhdx_locator_decode(md->parent_locator, md->parent_locator_len,
                              &loc, errp);
    if (ret < 0) {
        return ret;
    }
    vhdx_locator_set(&loc, VHDX_KEY_PARENT_LINKAGE, guid);
    vhdx_locator_set(&loc, VHDX_KEY_PARENT_LINKAGE2, guid);
    ret = vhdx_image_set_parent_locator(s->img, &loc, errp);
    if (ret == 0) {
        ret = vhdx_parent_ref_init(&ref, &loc, errp);
    }
    if (ret == 0) {
        vhdx_parent_ref_clear(&s->parent);
        s->parent = ref;
    }
    vhdx_locator_clear(&loc);
    return ret;
}

/* After a commit copied this image into its parent (qemu-img commit) */
static int coroutine_fn GRAPH_RDLOCK vhdx_co_make_empty(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_begin_data_change(bs, &gerr);
    if (ret == 0) {
        ret = vhdx_image_make_empty(s->img, &gerr);
    }
    if (ret == 0) {
        ret = vhdx_image_begin_write(s->img, false, &gerr);
    }
    if (ret == 0) {
        ret = vhdx_refresh_linkage(bs, &gerr);
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
