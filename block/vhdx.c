/*
 * Block driver for VHDX images (Microsoft Hyper-V virtual hard disks)
 *
 * The QEMU side of qemu-vhdx: the BlockDriver, its options, coroutine
 * locking and payload I/O.  Every metadata byte is handled by the format
 * core in block/vhdx/ (see include/vhdx/image.h); this file only maps
 * QEMU requests onto it and passes the caller's I/O vectors straight to
 * the file child.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "block/block_int.h"
#include "block/qdict.h"
#include "qapi/error.h"
#include "qapi/qapi-visit-block-core.h"
#include "qapi/qobject-input-visitor.h"
#include "qemu/coroutine.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "qemu/option.h"
#include "qemu/units.h"
#include "qobject/qdict.h"
#include "system/block-backend.h"

#include <sys/stat.h>

#include "vhdx/error.h"
#include "vhdx/image.h"
#include "vhdx/parent.h"

#define VHDX_OPT_LOG_SIZE             "log_size"
#define VHDX_OPT_BLOCK_SIZE           "block_size"
#define VHDX_OPT_BLOCK_STATE_ZERO     "block_state_zero"
#define VHDX_OPT_LOGICAL_SECTOR_SIZE  "logical_sector_size"
#define VHDX_OPT_CHECK_PARENT_LINKAGE "check-parent-linkage"

/* Hyper-V's block size for differencing images */
#define VHDX_DEFAULT_CHILD_BLOCK_SIZE (2 * MiB)

/* 1 MiB, spelled out: the create option's default is its string */
#define VHDX_DEFAULT_LOG_SIZE         1048576

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
} BDRVVHDXState;

/* What a child needs to know of its parent: read from the parent file */
typedef struct VhdxParentInfo {
    VhdxGuid data_write_guid;
    uint32_t logical_sector_size;
} VhdxParentInfo;

static BlockDriver bdrv_vhdx;

/*
 * Reads what a child needs of the parent at @path, through @io.  The
 * parent may be open and written to by a VM (its log then in use): only
 * its header and metadata are looked at.
 */
static int vhdx_peek_parent(VhdxIO *io, const char *path,
                            VhdxParentInfo *info, Error **errp)
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
        { /* end of list */ }
    },
};

/* ---- the core's storage interface on bs->file ---- */

static int vhdx_file_pread(VhdxIO *io, uint64_t offset, void *buf,
                           size_t len)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_pread(bs->file, offset, len, buf, 0);
}

static int vhdx_file_pwrite(VhdxIO *io, uint64_t offset, const void *buf,
                            size_t len)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_pwrite(bs->file, offset, len, buf, 0);
}

static int vhdx_file_flush(VhdxIO *io)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_flush(bs->file->bs);
}

static int64_t vhdx_file_length(VhdxIO *io)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_getlength(bs->file->bs);
}

static int vhdx_file_truncate(VhdxIO *io, uint64_t length)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_truncate(bs->file, length, false, PREALLOC_MODE_OFF, 0,
                         NULL);
}

static int vhdx_file_pwrite_zeroes(VhdxIO *io, uint64_t offset, uint64_t len)
{
    BlockDriverState *bs = io->opaque;

    return bdrv_pwrite_zeroes(bs->file, offset, len, 0);
}

static void vhdx_file_io_init(BlockDriverState *bs, VhdxIO *io)
{
    *io = (VhdxIO) {
        .pread = vhdx_file_pread,
        .pwrite = vhdx_file_pwrite,
        .flush = vhdx_file_flush,
        .length = vhdx_file_length,
        .truncate = vhdx_file_truncate,
        .pwrite_zeroes = vhdx_file_pwrite_zeroes,
        .opaque = bs,
    };
}

/* Moves a core error into @errp, prefixed with the image's file name */
static void vhdx_propagate(BlockDriverState *bs, Error **errp, GError *gerr)
{
    if (gerr) {
        error_setg(errp, "%s: %s", bs->filename, gerr->message);
        g_error_free(gerr);
    }
}

/* Errors in the I/O path can only return errno; say what happened once */
static void vhdx_report_io_error(BlockDriverState *bs, GError *gerr)
{
    if (gerr) {
        error_report("%s: %s", bs->filename, gerr->message);
        g_error_free(gerr);
    }
}

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
    uint32_t block_size = s->img->geo.block_size;

    /* Whole blocks change state; the block layer writes the ragged ends */
    bs->bl.pwrite_zeroes_alignment = block_size;
    bs->bl.pdiscard_alignment = block_size;
    /* A child says per sector what it holds: no partial sectors */
    if (s->img->geo.has_parent) {
        bs->bl.request_alignment = s->img->geo.logical_sector_size;
    }
}

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
static int vhdx_check_chain_above(BlockDriverState *bs, Error **errp)
{
    BlockDriverState *child = bs->inherits_from;
    const char *path;
    unsigned depth = 0;
    dev_t dev, cdev;
    ino_t ino, cino;
    bool have_id;

    if (!child || child->drv != &bdrv_vhdx) {
        return 0;
    }
    path = ((BDRVVHDXState *)child->opaque)->parent_path;
    have_id = vhdx_path_identity(path, &dev, &ino);
    for (; child; child = child->inherits_from) {
        if (child->drv != &bdrv_vhdx || !child->file) {
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
static int GRAPH_RDLOCK vhdx_set_backing_file(BlockDriverState *bs,
                                              Error **errp)
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
static char *vhdx_dirname(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;

    if (s->parent_missing) {
        error_propagate(errp, error_copy(s->parent_missing));
        return NULL;
    }
    return bdrv_dirname(bs->file->bs, errp);
}

static int GRAPH_RDLOCK vhdx_open_image(BlockDriverState *bs, int flags,
                                        Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    unsigned core_flags = 0;
    GError *gerr = NULL;
    int ret;

    if (flags & BDRV_O_RDWR) {
        core_flags |= VHDX_OPEN_WRITE;
    }
    if (flags & BDRV_O_CHECK) {
        core_flags |= VHDX_OPEN_CHECK;
    }
    vhdx_file_io_init(bs, &s->io);
    ret = vhdx_image_open(&s->io, core_flags, &s->img, &gerr);
    if (ret == -EPERM) {
        g_error_free(gerr);
        error_setg(errp, "VHDX image file '%s' opened read-only, but "
                   "contains a log that needs to be replayed", bs->filename);
        error_append_hint(errp, "To replay the log, run:\n"
                          "qemu-img check -r all '%s'\n", bs->filename);
        return ret;
    }
    if (ret < 0) {
        vhdx_propagate(bs, errp, gerr);
        return ret;
    }
    return 0;
}

static int vhdx_open(BlockDriverState *bs, QDict *options, int flags,
                     Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    QemuOpts *opts;
    int ret;

    GLOBAL_STATE_CODE();

    ret = vhdx_check_chain_above(bs, errp);
    if (ret < 0) {
        return ret;
    }
    ret = bdrv_open_file_child(NULL, options, "file", bs, errp);
    if (ret < 0) {
        return ret;
    }

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    qemu_co_mutex_init(&s->lock);
    QLIST_INIT(&s->allocations);
    opts = qemu_opts_create(&vhdx_runtime_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        qemu_opts_del(opts);
        return -EINVAL;
    }
    s->check_parent_linkage = qemu_opt_get_bool(opts,
                                                VHDX_OPT_CHECK_PARENT_LINKAGE,
                                                true);
    qemu_opts_del(opts);
    ret = vhdx_open_image(bs, flags, errp);
    if (ret < 0) {
        return ret;
    }
    if (s->img->metadata.has_parent) {
        ret = vhdx_set_backing_file(bs, errp);
        if (ret < 0) {
            vhdx_image_free(s->img);
            s->img = NULL;
            vhdx_parent_ref_clear(&s->parent);
            g_clear_pointer(&s->parent_path, g_free);
            return ret;
        }
    }
    bs->supported_zero_flags = BDRV_REQ_MAY_UNMAP;
    return 0;
}

/* Commits metadata and marks the log clean, so other users may open it */
static int GRAPH_RDLOCK vhdx_end_session(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    int ret;

    ret = vhdx_image_close(s->img, &gerr);
    s->img = NULL;
    vhdx_propagate(bs, errp, gerr);
    return ret;
}

static void vhdx_close(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;
    Error *local_err = NULL;

    GRAPH_RDLOCK_GUARD_MAINLOOP();

    vhdx_parent_ref_clear(&s->parent);
    g_clear_pointer(&s->parent_path, g_free);
    error_free(s->parent_missing);
    s->parent_missing = NULL;
    if (!s->img) {
        return;
    }
    if (bs->open_flags & BDRV_O_INACTIVE) {
        vhdx_image_free(s->img);
        s->img = NULL;
        return;
    }
    if (vhdx_end_session(bs, &local_err) < 0) {
        error_report_err(local_err);
    }
}

/* ---- the parent ---- */

/*
 * Every way a parent gets attached ends here (see patches/0003): it must
 * be a VHDX image, and the very one this child was made on.
 */
static int GRAPH_RDLOCK vhdx_check_backing(BlockDriverState *bs,
                                           BlockDriverState *backing,
                                           Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    BlockDriverState *parent = bdrv_skip_filters(backing);
    char want[VHDX_GUID_STRING_LEN], have[VHDX_GUID_STRING_LEN];
    const VhdxGuid *guid;
    BDRVVHDXState *ps;

    if (!s->img->metadata.has_parent) {
        error_setg(errp, "VHDX image '%s' is not a differencing image and "
                   "cannot have a parent", bs->filename);
        return -EINVAL;
    }
    if (!parent || parent->drv != &bdrv_vhdx) {
        error_setg(errp, "The parent of VHDX differencing image '%s' must "
                   "be a VHDX image, but '%s' is %s", bs->filename,
                   backing->filename,
                   parent && parent->drv ? parent->drv->format_name :
                                           "not an image");
        return -EINVAL;
    }
    ps = parent->opaque;
    guid = &ps->img->header.current.data_write_guid;
    if (vhdx_parent_ref_matches(&s->parent, guid)) {
        return 0;
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
static int coroutine_fn GRAPH_RDLOCK
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

    if (!md->has_parent || !parent || parent->drv != &bdrv_vhdx) {
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
    ret = vhdx_image_make_empty(s->img, &gerr);
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
static int GRAPH_RDLOCK vhdx_make_empty(BlockDriverState *bs)
{
    VhdxMakeEmptyCo m = { .bs = bs, .ret = -EINPROGRESS };

    assert(!qemu_in_coroutine());
    aio_co_enter(bdrv_get_aio_context(bs),
                 qemu_coroutine_create(vhdx_make_empty_entry, &m));
    AIO_WAIT_WHILE_UNLOCKED(NULL, m.ret == -EINPROGRESS);
    return m.ret;
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
    if (s->img->writable && !(state->flags & BDRV_O_RDWR)) {
        ret = vhdx_image_make_clean(s->img, &gerr);
        vhdx_propagate(bs, errp, gerr);
    }
    return ret;
}

static void vhdx_reopen_commit(BDRVReopenState *state)
{
    BDRVVHDXState *s = state->bs->opaque;

    s->img->writable = state->flags & BDRV_O_RDWR;
}

static void vhdx_reopen_abort(BDRVReopenState *state)
{
    /* A clean image stays valid read-write: nothing to undo */
}

static int GRAPH_RDLOCK vhdx_inactivate(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    int ret;

    if (!s->img || !s->img->writable) {
        return 0;
    }
    /* Hand a clean image to the destination; no writes until reactivated */
    ret = vhdx_image_make_clean(s->img, &gerr);
    if (ret < 0) {
        vhdx_report_io_error(bs, gerr);
        return ret;
    }
    s->img->writable = false;
    return 0;
}

static void coroutine_fn GRAPH_RDLOCK
vhdx_co_invalidate_cache(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;

    /* Another process may have changed everything: read it all anew */
    qemu_co_mutex_lock(&s->lock);
    if (s->img) {
        vhdx_image_free(s->img);
        s->img = NULL;
    }
    vhdx_open_image(bs, bs->open_flags, errp);
    qemu_co_mutex_unlock(&s->lock);
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

static int coroutine_fn GRAPH_RDLOCK
vhdx_read_extent(BlockDriverState *bs, const VhdxExtent *ext, int64_t offset,
                 QEMUIOVector *qiov, size_t qiov_offset)
{
    switch (ext->kind) {
    case VHDX_EXTENT_DATA:
        return bdrv_co_preadv_part(bs->file, ext->file_offset, ext->length,
                                   qiov, qiov_offset, 0);
    case VHDX_EXTENT_UNALLOCATED:
        if (bs->backing) {
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

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_preadv_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                    QEMUIOVector *qiov, size_t qiov_offset,
                    BdrvRequestFlags flags)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    VhdxExtent ext;
    int ret;

    while (bytes > 0) {
        unsigned epoch = 0;

        qemu_co_mutex_lock(&s->lock);
        ret = vhdx_image_map(s->img, offset, bytes, &ext, &gerr);
        if (ret == 0 && ext.kind == VHDX_EXTENT_DATA) {
            epoch = vhdx_payload_io_begin(s);
        }
        qemu_co_mutex_unlock(&s->lock);
        if (ret < 0) {
            vhdx_report_io_error(bs, gerr);
            return ret;
        }
        ret = vhdx_read_extent(bs, &ext, offset, qiov, qiov_offset);
        if (ext.kind == VHDX_EXTENT_DATA) {
            vhdx_payload_io_end(s, epoch);
        }
        if (ret < 0) {
            return ret;
        }
        offset += ext.length;
        qiov_offset += ext.length;
        bytes -= ext.length;
    }
    return 0;
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
 * Waits, with s->lock held, until no allocation of @block is in flight.
 * Returns true if it had to wait (the BAT entry may have changed).
 */
static bool coroutine_fn vhdx_wait_allocation(BDRVVHDXState *s,
                                              uint64_t block)
{
    VhdxAllocation *a = vhdx_find_allocation(s, block);

    if (!a) {
        return false;
    }
    qemu_co_queue_wait(&a->waiters, &s->lock);
    return true;
}

static void vhdx_finish_allocation(VhdxAllocation *a)
{
    QLIST_REMOVE(a, next);
    qemu_co_queue_restart_all(&a->waiters);
    g_free(a);
}

/* Zeroes the parts of a reused block the write does not cover */
static int coroutine_fn GRAPH_RDLOCK
vhdx_zero_block_gaps(BlockDriverState *bs, uint64_t block_offset,
                     uint64_t block_bytes, uint64_t in_block, uint64_t len)
{
    int ret = 0;

    if (in_block) {
        ret = bdrv_co_pwrite_zeroes(bs->file, block_offset, in_block, 0);
    }
    if (ret == 0 && in_block + len < block_bytes) {
        ret = bdrv_co_pwrite_zeroes(bs->file, block_offset + in_block + len,
                                    block_bytes - in_block - len, 0);
    }
    return ret;
}

/* Records the sectors just written in a child block; s->lock held */
static int coroutine_fn GRAPH_RDLOCK
vhdx_mark_written(BlockDriverState *bs, uint64_t block, uint64_t file_offset,
                  uint64_t in_block, uint64_t len)
{
    BDRVVHDXState *s = bs->opaque;
    uint64_t block_bytes = vhdx_image_block_bytes(s->img, block);
    unsigned state = VHDX_PAYLOAD_PARTIALLY_PRESENT;
    GError *gerr = NULL;
    int ret = 0;

    if (in_block == 0 && len == block_bytes) {
        state = VHDX_PAYLOAD_FULLY_PRESENT;
    } else {
        ret = vhdx_image_mark_present(s->img, block, in_block, len, &gerr);
    }
    if (ret == 0) {
        ret = vhdx_image_set_block(s->img, block, state, file_offset, &gerr);
    }
    vhdx_report_io_error(bs, gerr);
    return ret;
}

/*
 * Writes into a block that has no data yet: new space is reserved, the
 * data written, and only then is the BAT entry pointed at it, so a
 * concurrent read sees the old contents or the new, never garbage.
 * Where the block read as zeros, zeros go around the data and the block
 * becomes fully present; a child's block that was its parent's stays
 * partially present, only the written sectors marked.  Called and returns
 * with s->lock held.
 */
static int coroutine_fn GRAPH_RDLOCK
vhdx_write_new_block(BlockDriverState *bs, uint64_t block, unsigned state,
                     uint64_t in_block, uint64_t len, QEMUIOVector *qiov,
                     size_t qiov_offset)
{
    BDRVVHDXState *s = bs->opaque;
    uint64_t block_bytes = s->img->geo.block_size;
    bool from_parent = s->img->geo.has_parent &&
                       state == VHDX_PAYLOAD_NOT_PRESENT;
    VhdxAllocation *a;
    GError *gerr = NULL;
    uint64_t file_offset;
    bool fresh;
    int ret;

    vhdx_recycle_freed(s);
    ret = vhdx_image_alloc_block(s->img, &file_offset, &fresh, &gerr);
    if (ret < 0) {
        vhdx_report_io_error(bs, gerr);
        return ret;
    }
    a = g_new0(VhdxAllocation, 1);
    a->block = block;
    qemu_co_queue_init(&a->waiters);
    QLIST_INSERT_HEAD(&s->allocations, a, next);
    qemu_co_mutex_unlock(&s->lock);

    ret = bdrv_co_pwritev_part(bs->file, file_offset + in_block, len, qiov,
                               qiov_offset, 0);
    if (ret == 0 && !fresh && !from_parent) {
        ret = vhdx_zero_block_gaps(bs, file_offset, block_bytes, in_block,
                                   len);
    }

    qemu_co_mutex_lock(&s->lock);
    if (ret == 0 && from_parent) {
        ret = vhdx_mark_written(bs, block, file_offset, in_block, len);
    } else if (ret == 0) {
        ret = vhdx_image_set_block(s->img, block, VHDX_PAYLOAD_FULLY_PRESENT,
                                   file_offset, &gerr);
        vhdx_report_io_error(bs, gerr);
    }
    if (ret < 0) {
        vhdx_image_unalloc_block(s->img, file_offset);
    }
    vhdx_finish_allocation(a);
    return ret;
}

/* Writes the part of a request inside one block; s->lock held */
static int coroutine_fn GRAPH_RDLOCK
vhdx_write_in_block(BlockDriverState *bs, uint64_t offset, uint64_t len,
                    QEMUIOVector *qiov, size_t qiov_offset)
{
    BDRVVHDXState *s = bs->opaque;
    uint64_t block = offset / s->img->geo.block_size;
    uint64_t in_block = offset % s->img->geo.block_size;
    GError *gerr = NULL;
    unsigned epoch;
    uint64_t entry;
    int ret;

    do {
        ret = vhdx_image_block_entry(s->img, block, &entry, &gerr);
        if (ret < 0) {
            vhdx_report_io_error(bs, gerr);
            return ret;
        }
    } while (!vhdx_payload_has_data(vhdx_bat_state(entry)) &&
             vhdx_wait_allocation(s, block));

    if (!vhdx_payload_has_data(vhdx_bat_state(entry))) {
        return vhdx_write_new_block(bs, block, vhdx_bat_state(entry),
                                    in_block, len, qiov, qiov_offset);
    }
    epoch = vhdx_payload_io_begin(s);
    qemu_co_mutex_unlock(&s->lock);
    ret = bdrv_co_pwritev_part(bs->file, vhdx_bat_offset(entry) + in_block,
                               len, qiov, qiov_offset, 0);
    vhdx_payload_io_end(s, epoch);
    qemu_co_mutex_lock(&s->lock);
    /* In a partially present block, the sectors are present only now */
    if (ret == 0 &&
        vhdx_bat_state(entry) == VHDX_PAYLOAD_PARTIALLY_PRESENT) {
        ret = vhdx_mark_written(bs, block, vhdx_bat_offset(entry), in_block,
                                len);
    }
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_pwritev_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     QEMUIOVector *qiov, size_t qiov_offset,
                     BdrvRequestFlags flags)
{
    BDRVVHDXState *s = bs->opaque;
    uint32_t block_size = s->img->geo.block_size;
    GError *gerr = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_begin_write(s->img, true, &gerr);
    vhdx_report_io_error(bs, gerr);
    while (ret == 0 && bytes > 0) {
        uint64_t len = MIN(bytes, block_size - offset % block_size);

        ret = vhdx_write_in_block(bs, offset, len, qiov, qiov_offset);
        offset += len;
        qiov_offset += len;
        bytes -= len;
    }
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

/*
 * Gives whole blocks a state without data (ZERO or NOT_PRESENT), freeing
 * their space; -ENOTSUP for anything that is not whole blocks, so the
 * block layer falls back to writing zeros there.
 */
static int coroutine_fn GRAPH_RDLOCK
vhdx_set_blocks_without_data(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, unsigned state)
{
    BDRVVHDXState *s = bs->opaque;
    uint32_t block_size = s->img->geo.block_size;
    GError *gerr = NULL;
    int ret;

    if (offset % block_size ||
        (bytes % block_size && offset + bytes != s->img->geo.virtual_size)) {
        return -ENOTSUP;
    }
    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_begin_write(s->img, true, &gerr);
    for (uint64_t block = offset / block_size;
         ret == 0 && block * block_size < offset + bytes; block++) {
        while (vhdx_wait_allocation(s, block)) {
            /* the allocation finished; it is overwritten below */
        }
        ret = vhdx_image_set_block(s->img, block, state, 0, &gerr);
    }
    qemu_co_mutex_unlock(&s->lock);
    vhdx_report_io_error(bs, gerr);
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_pwrite_zeroes(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      BdrvRequestFlags flags)
{
    BDRVVHDXState *s = bs->opaque;

    /* A fixed image keeps its blocks: the block layer writes the zeros */
    if (s->img->metadata.leave_blocks_allocated) {
        return -ENOTSUP;
    }
    return vhdx_set_blocks_without_data(bs, offset, bytes, VHDX_PAYLOAD_ZERO);
}

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    BDRVVHDXState *s = bs->opaque;
    /* A discarded block of a child must not show the parent's data again */
    unsigned state = s->img->geo.has_parent ? VHDX_PAYLOAD_ZERO :
                                              VHDX_PAYLOAD_NOT_PRESENT;

    /* Discard is advisory; a fixed image keeps its blocks allocated */
    if (s->img->metadata.leave_blocks_allocated) {
        return 0;
    }
    return vhdx_set_blocks_without_data(bs, offset, bytes, state);
}

static int coroutine_fn GRAPH_RDLOCK vhdx_co_flush_to_os(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;
    GError *gerr = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = s->img ? vhdx_image_flush(s->img, &gerr) : 0;
    if (ret == 0 && s->img) {
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

    bdi->cluster_size = s->img->geo.block_size;
    /* A child holds data sector by sector: that is its allocation unit */
    if (s->img->geo.has_parent) {
        bdi->subcluster_size = s->img->geo.logical_sector_size;
    }
    return 0;
}

static int64_t coroutine_fn GRAPH_RDLOCK
vhdx_co_getlength(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;

    return s->img->geo.virtual_size;
}

static int GRAPH_RDLOCK vhdx_has_zero_init(BlockDriverState *bs)
{
    BDRVVHDXState *s = bs->opaque;

    /* A fixed image's blocks read whatever its file was created with */
    if (s->img->metadata.leave_blocks_allocated) {
        return bdrv_has_zero_init(bs->file->bs);
    }
    return 1;
}

/* ---- check ---- */

static int coroutine_fn GRAPH_RDLOCK
vhdx_co_check(BlockDriverState *bs, BdrvCheckResult *result,
              BdrvCheckMode fix)
{
    BDRVVHDXState *s = bs->opaque;
    VhdxCheckReport report;
    GError *gerr = NULL;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = vhdx_image_check(s->img, &report, &gerr);
    if (ret < 0) {
        qemu_co_mutex_unlock(&s->lock);
        vhdx_report_io_error(bs, gerr);
        result->check_errors++;
        return ret;
    }
    /* Replaying a dirty log at open repaired the image */
    if (s->img->log_replayed && (fix & BDRV_FIX_ERRORS)) {
        result->corruptions_fixed++;
        s->img->log_replayed = false;
    }
    result->corruptions += report.corruptions;
    if (report.leaked_bytes && (fix & BDRV_FIX_LEAKS) && s->img->writable) {
        ret = vhdx_image_trim(s->img, report.image_end, &gerr);
        if (ret < 0) {
            vhdx_report_io_error(bs, gerr);
            gerr = NULL;
            result->check_errors++;
        } else {
            result->leaks_fixed += DIV_ROUND_UP(report.leaked_bytes,
                                                s->img->geo.block_size);
            report.leaked_bytes = 0;
        }
    }
    result->leaks += DIV_ROUND_UP(report.leaked_bytes,
                                  s->img->geo.block_size);
    /*
     * Allocation statistics and the image end stay unreported, as QEMU's
     * VHDX driver always left them: its iotests' output depends on that.
     */
    qemu_co_mutex_unlock(&s->lock);
    return 0;
}

/* ---- create ---- */

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

static int coroutine_fn GRAPH_UNLOCKED
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

static QemuOptsList vhdx_create_opts;

static int coroutine_fn GRAPH_UNLOCKED
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
    ret = vhdx_image_grow(s->img, offset, &gerr);
    qemu_co_mutex_unlock(&s->lock);
    vhdx_propagate(bs, errp, gerr);
    return ret;
}

static QemuOptsList vhdx_create_opts = {
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
    .bdrv_check_backing         = vhdx_check_backing,
    .bdrv_refresh_limits        = vhdx_refresh_limits,
    .bdrv_dirname               = vhdx_dirname,

    .bdrv_co_preadv_part        = vhdx_co_preadv_part,
    .bdrv_co_pwritev_part       = vhdx_co_pwritev_part,
    .bdrv_co_pwrite_zeroes      = vhdx_co_pwrite_zeroes,
    .bdrv_co_pdiscard           = vhdx_co_pdiscard,
    .bdrv_co_flush_to_os        = vhdx_co_flush_to_os,
    .bdrv_co_block_status       = vhdx_co_block_status,

    .bdrv_co_get_info           = vhdx_co_get_info,
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
