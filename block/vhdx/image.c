/*
 * A VHDX image: open, write sessions, mapping, block updates, flush, close
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/bitmap.h"
#include "vhdx/error.h"
#include "vhdx/image.h"
#include "vhdx/shadow.h"
#include "vhdx/space.h"

#include <errno.h>
#include <inttypes.h>

/* ---- open ---- */

static int image_file_length(VhdxImage *img, int64_t *length, GError **errp)
{
    *length = vhdx_io_length(img->io);
    if (*length < 0) {
        return vhdx_error(errp, (int)-*length, "VHDX: cannot get the file "
                          "length");
    }
    return 0;
}

static int image_check_file_id(VhdxIO *io, uint64_t length, GError **errp)
{
    uint8_t sig[8];
    int ret;

    ret = vhdx_io_pread(io, VHDX_FILE_ID_OFFSET, sig, sizeof(sig));
    if (ret < 0) {
        return vhdx_error(errp, -ret, "VHDX file identifier: read failed");
    }
    if (!vhdx_file_id_valid(sig, sizeof(sig))) {
        return vhdx_error(errp, EINVAL, "VHDX file identifier: signature "
                          "'vhdxfile' not found; not a VHDX file");
    }
    if (length < VHDX_HEADER_AREA_SIZE) {
        return vhdx_error(errp, EINVAL, "VHDX file is %" PRIu64 " bytes, "
                          "smaller than its 1 MiB header area", length);
    }
    return 0;
}

static int image_check_log_placement(const VhdxHeader *h, uint64_t length,
                                     GError **errp)
{
    if (h->log_offset > length || h->log_length > length - h->log_offset) {
        return vhdx_error(errp, EINVAL, "VHDX header: the log at 0x%" PRIx64
                          " (%" PRIu32 " bytes) lies beyond the end of the "
                          "file (%" PRIu64 " bytes)", h->log_offset,
                          h->log_length, length);
    }
    return 0;
}

/*
 * A read-only open cannot write the log's changes home, yet must read the
 * image as the log says: the log is replayed into an in-memory view of
 * the file, through which the image is then read.  The file is untouched;
 * a first write replays the log for real (image_write_log_home).
 */
static int image_replay_log_in_memory(VhdxImage *img, GError **errp)
{
    VhdxHeader *h = &img->header.current;
    bool replayed;
    GError *err = NULL;
    int ret;

    img->shadow = vhdx_shadow_new(img->io);
    img->io = img->shadow;
    img->log_pending = true;
    ret = vhdx_log_replay(img->io, h->log_offset, h->log_length,
                          &h->log_guid, &replayed, &err);
    if (ret == -EFBIG) {
        g_error_free(err);
        return vhdx_error(errp, EFBIG, "VHDX log holds more changes than a "
                          "read-only open replays in memory; open the image "
                          "read-write, or run 'qemu-img check -r all', to "
                          "replay it");
    }
    if (ret < 0) {
        g_propagate_error(errp, err);
    }
    return ret;
}

/*
 * A dirty log is replayed before anything else is read: it may hold
 * newer copies of the region table, metadata or BAT.
 */
static int image_replay_log(VhdxImage *img, GError **errp)
{
    VhdxHeader h = img->header.current;
    bool needed = false;
    int ret;

    if (vhdx_guid_is_zero(&h.log_guid)) {
        return 0;
    }
    ret = vhdx_log_needs_replay(img->io, h.log_offset, h.log_length,
                                &h.log_guid, &needed, errp);
    if (ret < 0 || !needed) {
        return ret;
    }
    if (!img->writable) {
        return image_replay_log_in_memory(img, errp);
    }
    ret = vhdx_log_replay(img->io, h.log_offset, h.log_length, &h.log_guid,
                          &img->log_replayed, errp);
    if (ret < 0) {
        return ret;
    }
    /* The log is applied: a new header with no LogGuid says so */
    vhdx_guid_generate(&h.file_write_guid);
    memset(&h.log_guid, 0, sizeof(h.log_guid));
    return vhdx_header_update(img->io, &img->header, &h, errp);
}

/*
 * The image was opened read-only with its log replayed in memory and is
 * now written to: the same replay goes to the file first (replaying is
 * idempotent, and the session about to start gives the header a new
 * LogGuid, retiring the old entries).
 */
static int image_write_log_home(VhdxImage *img, GError **errp)
{
    VhdxHeader *h = &img->header.current;
    bool replayed;
    int ret;

    ret = vhdx_log_replay(img->file, h->log_offset, h->log_length,
                          &h->log_guid, &replayed, errp);
    if (ret < 0) {
        return ret;
    }
    vhdx_shadow_pass_through(img->shadow);
    img->log_pending = false;
    img->log_replayed = replayed;
    return 0;
}

static int image_load_geometry(VhdxImage *img, GError **errp)
{
    const VhdxMetadata *md = &img->metadata;
    int ret;

    ret = vhdx_bat_geometry_init(&img->geo, md->virtual_disk_size,
                                 md->block_size, md->logical_sector_size,
                                 md->has_parent, errp);
    if (ret < 0) {
        return ret;
    }
    if (img->geo.total_entries > img->regions.bat_length /
                                 VHDX_BAT_ENTRY_SIZE) {
        return vhdx_error(errp, EINVAL, "VHDX BAT region: %" PRIu32 " bytes "
                          "cannot hold the %" PRIu64 " entries the disk "
                          "size needs", img->regions.bat_length,
                          img->geo.total_entries);
    }
    return 0;
}

/* Grants the image cannot read count as none (see vhdx/grant.h) */
static void image_load_grants(VhdxImage *img)
{
    const VhdxMetadataItem *item =
        vhdx_metadata_find_other(&img->metadata, &vhdx_guid_linkage_grants);

    if (item) {
        vhdx_grants_decode(item->data, item->length, &img->grants);
    }
}

static int image_commit_sectors(void *opaque, const VhdxLogSector *sectors,
                                size_t n, GError **errp);

static size_t image_max_dirty(VhdxImage *img)
{
    size_t per_entry = vhdx_log_max_sectors_per_entry(&img->log);

    /* One transaction should fit one log entry where the log allows it */
    return MAX(1, MIN(VHDX_CACHE_DEFAULT_PAGES / 4, per_entry));
}

static int image_open_structures(VhdxImage *img, unsigned flags,
                                 GError **errp)
{
    VhdxSpaceScan scan;
    int64_t length;
    int ret;

    ret = image_file_length(img, &length, errp);
    if (ret < 0) {
        return ret;
    }
    ret = image_check_file_id(img->io, length, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_header_load(img->io, &img->header, errp);
    if (ret < 0) {
        return ret;
    }
    ret = image_check_log_placement(&img->header.current, length, errp);
    if (ret < 0) {
        return ret;
    }
    if (!(flags & VHDX_OPEN_PEEK)) {
        ret = image_replay_log(img, errp);
    }
    if (ret < 0) {
        return ret;
    }
    /* Replay may have grown the file */
    ret = image_file_length(img, &length, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_region_load(img->io, length, &img->regions, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_metadata_load(img->io, img->regions.metadata_offset,
                             img->regions.metadata_length, &img->metadata,
                             errp);
    if (ret < 0) {
        return ret;
    }
    image_load_grants(img);
    ret = image_load_geometry(img, errp);
    if (ret < 0 || (flags & VHDX_OPEN_PEEK)) {
        return ret;
    }
    ret = vhdx_space_scan(img->io, &img->header.current, &img->regions,
                          &img->geo, length, flags & VHDX_OPEN_CHECK,
                          &img->alloc, &scan, errp);
    if (ret < 0) {
        return ret;
    }
    img->overlaps = scan.overlaps;
    return 0;
}

int vhdx_image_open(VhdxIO *io, unsigned flags, VhdxImage **out,
                    GError **errp)
{
    VhdxImage *img = g_new0(VhdxImage, 1);
    int ret;

    img->io = io;
    img->file = io;
    img->writable = (flags & VHDX_OPEN_WRITE) && !(flags & VHDX_OPEN_PEEK);
    ret = image_open_structures(img, flags, errp);
    if (ret < 0) {
        vhdx_image_free(img);
        return ret;
    }
    /* The log geometry is known now; the GUID is set per write session */
    vhdx_log_init(&img->log, img->io, img->header.current.log_offset,
                  img->header.current.log_length,
                  &img->header.current.log_guid);
    img->cache = vhdx_cache_new(img->io, VHDX_CACHE_DEFAULT_PAGES,
                                image_max_dirty(img), image_commit_sectors,
                                img);
    *out = img;
    return 0;
}

void vhdx_image_free(VhdxImage *img)
{
    if (img) {
        vhdx_cache_free(img->cache);
        vhdx_alloc_destroy(&img->alloc);
        vhdx_metadata_clear(&img->metadata);
        vhdx_shadow_free(img->shadow);
        g_free(img);
    }
}

/* ---- write sessions, commit, flush, close ---- */

int vhdx_image_begin_write(VhdxImage *img, bool data, GError **errp)
{
    VhdxHeader h;
    int ret;

    g_assert(img->writable);
    if (img->session_started && (img->data_guid_updated || !data)) {
        return 0;
    }
    if (img->log_pending) {
        ret = image_write_log_home(img, errp);
        if (ret < 0) {
            return ret;
        }
    }
    h = img->header.current;
    if (!img->session_started) {
        vhdx_guid_generate(&h.file_write_guid);
        vhdx_guid_generate(&h.log_guid);
    }
    if (data) {
        vhdx_guid_generate(&h.data_write_guid);
    }
    ret = vhdx_header_update(img->io, &img->header, &h, errp);
    if (ret < 0) {
        return ret;
    }
    if (!img->session_started) {
        vhdx_log_init(&img->log, img->io, h.log_offset, h.log_length,
                      &h.log_guid);
        img->session_started = true;
    }
    img->data_guid_updated |= data;
    return 0;
}

int vhdx_image_begin_data_change(VhdxImage *img, const VhdxGrants *now,
                                 GError **errp)
{
    VhdxGrants kept;
    int ret;

    if (img->data_guid_updated) {
        /*
         * Written to again in this session: a granted child no longer
         * open has left the merge, and this change is not one it could
         * see through its via image.
         */
        vhdx_grants_intersect(&img->grants, now, &kept);
        if (vhdx_grants_equal(&kept, &img->grants)) {
            return 0;
        }
        return vhdx_image_set_grants(img, &kept, errp);
    }
    if (!vhdx_grants_equal(now, &img->grants)) {
        /* Durable before the new DataWriteGuid: set_grants commits */
        ret = vhdx_image_begin_write(img, false, errp);
        if (ret == 0) {
            ret = vhdx_image_set_grants(img, now, errp);
        }
        if (ret < 0) {
            return ret;
        }
    }
    return vhdx_image_begin_write(img, true, errp);
}

static int image_commit_sectors(void *opaque, const VhdxLogSector *sectors,
                                size_t n, GError **errp)
{
    VhdxImage *img = opaque;
    int ret;

    g_assert(img->session_started);
    /* Payload written so far must be durable before metadata points at it */
    ret = vhdx_io_flush(img->io);
    if (ret < 0) {
        return vhdx_error(errp, -ret, "VHDX: flushing data before a "
                          "metadata update failed");
    }
    ret = vhdx_log_commit(&img->log, sectors, n, errp);
    if (ret < 0) {
        return ret;
    }
    vhdx_alloc_committed(&img->alloc);
    return 0;
}

int vhdx_image_flush(VhdxImage *img, GError **errp)
{
    if (!img->writable || !vhdx_cache_dirty_count(img->cache)) {
        return 0;
    }
    return vhdx_cache_commit(img->cache, errp);
}

/* Everything is home: a header without LogGuid tells readers so */
static int image_mark_log_clean(VhdxImage *img, GError **errp)
{
    VhdxHeader h = img->header.current;

    if (vhdx_guid_is_zero(&h.log_guid)) {
        return 0;
    }
    memset(&h.log_guid, 0, sizeof(h.log_guid));
    return vhdx_header_update(img->io, &img->header, &h, errp);
}

/*
 * Blocks freed at the end of the file leave free space there; once the
 * log is clean the file can shrink over it without any log entry ever
 * having described the longer file as needed.
 */
static int image_trim_free_tail(VhdxImage *img, GError **errp)
{
    uint64_t end = vhdx_alloc_used_end(&img->alloc);
    int64_t length = vhdx_io_length(img->io);
    int ret;

    if (length < 0 || (uint64_t)length <= end) {
        return 0;
    }
    ret = vhdx_io_truncate(img->io, end);
    if (ret < 0) {
        return vhdx_error(errp, -ret, "VHDX: cannot cut free space at the "
                          "end of the file");
    }
    return 0;
}

int vhdx_image_close(VhdxImage *img, GError **errp)
{
    bool had_session = img->session_started;
    int ret;

    ret = vhdx_image_make_clean(img, errp);
    if (ret == 0 && had_session) {
        /* Closing: no payload I/O is left, all durably freed space is free */
        vhdx_alloc_seal(&img->alloc);
        vhdx_alloc_release_sealed(&img->alloc);
        ret = image_trim_free_tail(img, errp);
    }
    vhdx_image_free(img);
    return ret;
}

/* ---- mapping and block updates ---- */

static uint64_t bat_entry_offset(const VhdxImage *img, uint64_t index)
{
    return img->regions.bat_offset + index * VHDX_BAT_ENTRY_SIZE;
}

int vhdx_image_block_entry(VhdxImage *img, uint64_t block, uint64_t *entry,
                           GError **errp)
{
    uint64_t index = vhdx_bat_payload_index(&img->geo, block);

    g_assert(block < img->geo.payload_blocks);
    return vhdx_cache_read64(img->cache, bat_entry_offset(img, index), entry,
                             errp);
}

static VhdxExtentKind extent_kind_of_state(const VhdxImage *img,
                                           unsigned state)
{
    switch (state) {
    case VHDX_PAYLOAD_FULLY_PRESENT:
        return VHDX_EXTENT_DATA;
    case VHDX_PAYLOAD_NOT_PRESENT:
        /* A child asks its parent; a base has nothing, which reads zero */
        return img->geo.has_parent ? VHDX_EXTENT_UNALLOCATED :
                                     VHDX_EXTENT_ZERO;
    default:
        /*
         * ZERO says zeros.  UNDEFINED and UNMAPPED (a discarded block)
         * may read as anything; zeros it is, in every kind of file.
         */
        return VHDX_EXTENT_ZERO;
    }
}

static uint64_t bitmap_entry_offset(const VhdxImage *img, uint64_t chunk)
{
    return bat_entry_offset(img, vhdx_bat_bitmap_index(&img->geo, chunk));
}

/* The first bit of @block in its chunk's sector bitmap */
static uint64_t block_first_bit(const VhdxImage *img, uint64_t block)
{
    uint64_t sectors_per_block = img->geo.block_size /
                                 img->geo.logical_sector_size;

    return block % img->geo.chunk_ratio * sectors_per_block;
}

/* The sector bitmap block of @block's chunk; 0 when there is none */
static int image_bitmap_block(VhdxImage *img, uint64_t block,
                              uint64_t *offset, GError **errp)
{
    uint64_t chunk = block / img->geo.chunk_ratio;
    uint64_t entry;
    int ret;

    ret = vhdx_cache_read64(img->cache, bitmap_entry_offset(img, chunk),
                            &entry, errp);
    if (ret < 0) {
        return ret;
    }
    *offset = vhdx_bat_state(entry) == VHDX_BITMAP_PRESENT ?
              vhdx_bat_offset(entry) : 0;
    return 0;
}

/* A partially present block: the run of equal bits at @in_block */
static int image_map_partial(VhdxImage *img, uint64_t block,
                             uint64_t in_block, uint64_t entry,
                             VhdxExtent *ext, GError **errp)
{
    uint32_t lss = img->geo.logical_sector_size;
    uint64_t bitmap, count;
    bool present;
    int ret;

    if (in_block % lss || ext->length % lss) {
        return vhdx_error(errp, EINVAL, "VHDX: request at %" PRIu64 " in "
                          "block %" PRIu64 " is not sector aligned",
                          in_block, block);
    }
    ret = image_bitmap_block(img, block, &bitmap, errp);
    if (ret < 0) {
        return ret;
    }
    if (!bitmap) {
        return vhdx_error(errp, EINVAL, "VHDX BAT: block %" PRIu64 " is "
                          "partially present but its chunk has no sector "
                          "bitmap", block);
    }
    ret = vhdx_bitmap_run(img->cache, bitmap,
                          block_first_bit(img, block) + in_block / lss,
                          ext->length / lss, &present, &count, errp);
    if (ret < 0) {
        return ret;
    }
    ext->length = count * lss;
    ext->kind = present ? VHDX_EXTENT_DATA : VHDX_EXTENT_UNALLOCATED;
    ext->file_offset = present ? vhdx_bat_offset(entry) + in_block : 0;
    return 0;
}

int vhdx_image_map(VhdxImage *img, uint64_t offset, uint64_t bytes,
                   VhdxExtent *ext, GError **errp)
{
    uint64_t block = offset / img->geo.block_size;
    uint64_t in_block = offset % img->geo.block_size;
    uint64_t entry;
    unsigned state;
    int ret;

    g_assert(offset < img->geo.virtual_size);
    ret = vhdx_image_block_entry(img, block, &entry, errp);
    if (ret < 0) {
        return ret;
    }
    state = vhdx_bat_state(entry);
    ext->length = MIN(bytes, vhdx_image_block_bytes(img, block) - in_block);
    if (state == VHDX_PAYLOAD_PARTIALLY_PRESENT) {
        return image_map_partial(img, block, in_block, entry, ext, errp);
    }
    ext->kind = extent_kind_of_state(img, state);
    ext->file_offset = ext->kind == VHDX_EXTENT_DATA ?
                       vhdx_bat_offset(entry) + in_block : 0;
    return 0;
}

/*
 * Gives @block's chunk a sector bitmap block: 1 MiB of zeros on disk
 * before the BAT entry points at it (every commit flushes data first).
 */
static int image_alloc_bitmap(VhdxImage *img, uint64_t block,
                              uint64_t *offset, GError **errp)
{
    uint64_t chunk = block / img->geo.chunk_ratio;
    int64_t length = vhdx_io_length(img->io);
    bool fresh;
    uint64_t off;
    int ret;

    off = vhdx_alloc_take(&img->alloc, VHDX_BITMAP_BLOCK_SIZE, &fresh);
    if (length < 0) {
        ret = (int)length;
    } else if (fresh && (uint64_t)length <= off) {
        ret = vhdx_io_truncate(img->io, off + VHDX_BITMAP_BLOCK_SIZE);
    } else {
        ret = vhdx_io_pwrite_zeroes(img->io, off, VHDX_BITMAP_BLOCK_SIZE);
    }
    if (ret == 0) {
        ret = vhdx_cache_write64(img->cache, bitmap_entry_offset(img, chunk),
                                 vhdx_bat_entry(VHDX_BITMAP_PRESENT, off),
                                 errp);
    } else {
        vhdx_error(errp, -ret, "VHDX: cannot prepare a sector bitmap block "
                   "at 0x%" PRIx64, off);
    }
    if (ret < 0) {
        vhdx_alloc_untake(&img->alloc, off, VHDX_BITMAP_BLOCK_SIZE);
        return ret;
    }
    *offset = off;
    return 0;
}

int vhdx_image_mark_present(VhdxImage *img, uint64_t block,
                            uint64_t in_block, uint64_t len, GError **errp)
{
    uint32_t lss = img->geo.logical_sector_size;
    uint64_t bitmap;
    int ret;

    g_assert(img->session_started && img->geo.has_parent);
    g_assert(in_block % lss == 0 && len % lss == 0);
    ret = image_bitmap_block(img, block, &bitmap, errp);
    if (ret == 0 && !bitmap) {
        ret = image_alloc_bitmap(img, block, &bitmap, errp);
    }
    if (ret < 0) {
        return ret;
    }
    return vhdx_bitmap_set(img->cache, bitmap,
                           block_first_bit(img, block) + in_block / lss,
                           len / lss, errp);
}

int vhdx_image_alloc_block(VhdxImage *img, uint64_t *file_offset,
                           bool *fresh, GError **errp)
{
    uint64_t offset;
    int64_t length;
    int ret;

    offset = vhdx_alloc_take(&img->alloc, img->geo.block_size, fresh);
    if (!*fresh) {
        *file_offset = offset;
        return 0;
    }
    /*
     * Grow the file over the whole block now, so that it lies inside the
     * file when published.  Only space that starts at or past the old end
     * reads as zeros; bytes a crashed session left past the used end are
     * stale, and the caller must overwrite them.
     */
    length = vhdx_io_length(img->io);
    ret = length < 0 ? (int)length : 0;
    if (ret == 0 && (uint64_t)length > offset) {
        *fresh = false;
    }
    if (ret == 0 && (uint64_t)length < offset + img->geo.block_size) {
        ret = vhdx_io_truncate(img->io, offset + img->geo.block_size);
    }
    if (ret < 0) {
        vhdx_alloc_untake(&img->alloc, offset, img->geo.block_size);
        return vhdx_error(errp, -ret, "VHDX: cannot grow the file for a new "
                          "block at 0x%" PRIx64, offset);
    }
    *file_offset = offset;
    return 0;
}

bool vhdx_image_seal_freed(VhdxImage *img)
{
    return vhdx_alloc_seal(&img->alloc);
}

void vhdx_image_reuse_sealed(VhdxImage *img)
{
    vhdx_alloc_release_sealed(&img->alloc);
}

void vhdx_image_unalloc_block(VhdxImage *img, uint64_t file_offset)
{
    vhdx_alloc_untake(&img->alloc, file_offset, img->geo.block_size);
}

int vhdx_image_set_block(VhdxImage *img, uint64_t block, unsigned state,
                         uint64_t file_offset, GError **errp)
{
    uint64_t index = vhdx_bat_payload_index(&img->geo, block);
    uint64_t old;
    int ret;

    g_assert(img->session_started);
    g_assert(vhdx_payload_has_data(state) ? file_offset != 0 :
                                            file_offset == 0);
    ret = vhdx_cache_read64(img->cache, bat_entry_offset(img, index), &old,
                            errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_cache_write64(img->cache, bat_entry_offset(img, index),
                             vhdx_bat_entry(state, file_offset), errp);
    if (ret < 0) {
        return ret;
    }
    if (vhdx_payload_has_data(vhdx_bat_state(old)) &&
        vhdx_bat_offset(old) != file_offset) {
        vhdx_alloc_release(&img->alloc, vhdx_bat_offset(old),
                           img->geo.block_size);
    }
    return 0;
}

/* ---- check ---- */

int vhdx_image_make_clean(VhdxImage *img, GError **errp)
{
    int ret;

    if (!img->writable) {
        return 0;
    }
    /*
     * Opened read-only with a dirty log, made writable, never written:
     * the log still waits to be written home, which a clean image must
     * not leave behind.
     */
    if (img->log_pending) {
        ret = vhdx_image_begin_write(img, false, errp);
        if (ret < 0) {
            return ret;
        }
    }
    if (!img->session_started) {
        return 0;
    }
    ret = vhdx_image_flush(img, errp);
    if (ret == 0) {
        ret = image_mark_log_clean(img, errp);
    }
    if (ret == 0) {
        img->session_started = false;
        img->data_guid_updated = false;
    }
    return ret;
}

int vhdx_image_trim(VhdxImage *img, uint64_t end, GError **errp)
{
    int ret;

    g_assert(img->writable && end % VHDX_ALIGNMENT == 0);
    ret = vhdx_image_make_clean(img, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_io_truncate(img->io, end);
    if (ret < 0) {
        return vhdx_error(errp, -ret, "VHDX: cannot cut the file to %"
                          PRIu64 " bytes", end);
    }
    return 0;
}

int vhdx_image_check(VhdxImage *img, VhdxCheckReport *report, GError **errp)
{
    VhdxSpaceScan scan;
    int64_t length;
    int ret;

    ret = image_file_length(img, &length, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_image_flush(img, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_space_scan(img->io, &img->header.current, &img->regions,
                          &img->geo, length, true, NULL, &scan, errp);
    if (ret < 0) {
        return ret;
    }
    *report = (VhdxCheckReport) {
        .corruptions = scan.invalid_entries + scan.overlaps,
        /* Padding short of a whole unit is alignment slack, not a leak */
        .leaked_bytes = (uint64_t)length >= scan.used_end + VHDX_ALIGNMENT ?
                        length - scan.used_end : 0,
        .allocated_blocks = scan.allocated_blocks,
        .total_blocks = img->geo.payload_blocks,
        .image_end = scan.used_end,
    };
    return 0;
}
