/*
 * A VHDX image: open, what it is, write sessions, flush, close
 *
 * Mapping guest ranges is in map.c, the block updates of guest writes in
 * write.c, growing and emptying in resize.c, metadata items in items.c,
 * the consistency check in check.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/error.h"
#include "vhdx/shadow.h"
#include "vhdx/space.h"
#include "image-int.h"

#include <errno.h>
#include <inttypes.h>

/* ---- open ---- */

int image_file_length(VhdxImage *img, int64_t *length, GError **errp)
{
    *length = vhdx_io_length(img->io);
    if (*length < 0) {
        return vhdx_io_error(errp, (int)-*length, "VHDX: cannot get the file "
                             "length");
    }
    return 0;
}

static int image_validate_file_id(VhdxIO *io, uint64_t length, GError **errp)
{
    uint8_t sig[8];
    int ret;

    ret = vhdx_io_pread(io, VHDX_FILE_ID_OFFSET, sig, sizeof(sig));
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX file identifier: read failed");
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

/*
 * The log must lie inside the file and clear of the header area and of
 * the regions (@r; NULL if they are not known yet)
 */
static int image_validate_log_placement(VhdxImage *img, uint64_t length,
                                        const VhdxRegions *r, GError **errp)
{
    const VhdxHeader *h = &img->header.current;
    bool clear;

    if (h->log_offset > length || h->log_length > length - h->log_offset) {
        return vhdx_error(errp, EINVAL, "VHDX header: the log at 0x%" PRIx64
                          " (%" PRIu32 " bytes) lies beyond the end of the "
                          "file (%" PRIu64 " bytes)", h->log_offset,
                          h->log_length, length);
    }
    clear = !vhdx_ranges_overlap(h->log_offset, h->log_length, 0,
                                  VHDX_HEADER_AREA_SIZE);
    if (clear && r) {
        clear = !vhdx_ranges_overlap(h->log_offset, h->log_length,
                                      r->bat_offset, r->bat_length) &&
                !vhdx_ranges_overlap(h->log_offset, h->log_length,
                                      r->metadata_offset, r->metadata_length);
    }
    if (!clear) {
        return vhdx_error(errp, EINVAL, "VHDX header: the log at 0x%" PRIx64
                          " (%" PRIu32 " bytes) overlaps the header area or "
                          "a region", h->log_offset, h->log_length);
    }
    return 0;
}

/*
 * The same before a replay writes anything: replaying a log that
 * overlaps the BAT would change the file and only then be refused.  The
 * regions are those of the region table on disk; if it cannot be read
 * yet (the log may repair it), the check after the replay judges.  A
 * clean log needs no replay, and only that later check.
 */
static int image_validate_log_before_replay(VhdxImage *img, uint64_t length,
                                            GError **errp)
{
    VhdxRegions r;
    bool known;

    if (vhdx_guid_is_zero(&img->header.current.log_guid)) {
        return 0;
    }
    known = vhdx_region_load(img->io, length, &r, NULL) == 0;
    return image_validate_log_placement(img, length, known ? &r : NULL,
                                        errp);
}

/*
 * A read-only open cannot write the log's changes home, yet must read the
 * image as the log says: the log is replayed into an in-memory view of
 * the file, through which the image is then read.  The file is untouched;
 * a first write replays the log for real (image_write_log_home).
 */
static int image_replay_log_in_memory(VhdxImage *img, int64_t length,
                                      GError **errp)
{
    VhdxHeader *h = &img->header.current;
    GError *err = NULL;
    int ret;

    img->shadow = vhdx_shadow_new(img->io);
    img->io = img->shadow;
    ret = vhdx_log_replay(img->io, h->log_offset, h->log_length,
                          &h->log_guid, &img->log_pending, &err);
    img->length_before_replay = length;
    if (ret == -EFBIG) {
        g_error_free(err);
        return vhdx_error(errp, EFBIG, "VHDX log holds more changes than a "
                          "read-only open replays in memory\n"
                          "Open the image read-write, or run 'qemu-img "
                          "check -r all', to replay it.");
    }
    if (ret < 0) {
        g_propagate_error(errp, err);
        return ret;
    }
    if (!img->log_pending) {
        /* Nothing to replay: read the file itself */
        img->io = img->file;
        vhdx_shadow_free(img->shadow);
        img->shadow = NULL;
    }
    return 0;
}

/*
 * A dirty log is replayed before anything else is read: it may hold
 * newer copies of the region table, metadata or BAT.  A writable open
 * then clears LogGuid, also when the log held no complete sequence (a
 * writer died before its first entry was durable), so that later opens
 * need not scan the log again.
 */
static int image_replay_log(VhdxImage *img, int64_t length, GError **errp)
{
    VhdxHeader h = img->header.current;
    int ret;

    if (vhdx_guid_is_zero(&h.log_guid)) {
        return 0;
    }
    if (!img->writable) {
        return image_replay_log_in_memory(img, length, errp);
    }
    ret = vhdx_log_replay(img->io, h.log_offset, h.log_length, &h.log_guid,
                          &img->log_replayed, errp);
    if (ret < 0) {
        return ret;
    }
    if (img->log_replayed) {
        img->length_before_replay = length;
    }
    /* The log is applied: a new header with no LogGuid says so */
    vhdx_guid_generate(&h.file_write_guid);
    memset(&h.log_guid, 0, sizeof(h.log_guid));
    return vhdx_header_update(img->io, &img->header, &h, errp);
}

/*
 * Home sectors a replay wrote past the end of the file and beyond every
 * structure the replayed metadata references are of no use: cut them
 * off, so that a replay never leaves the file larger than it needs.  A
 * replay in memory cuts its view back the same way, so a check sees no
 * leak the file does not have.
 */
static int image_trim_replay_growth(VhdxImage *img, int64_t length,
                                    uint64_t used_end, GError **errp)
{
    uint64_t keep = MAX(img->length_before_replay, used_end);
    int ret;

    if (!img->length_before_replay || (uint64_t)length <= keep) {
        return 0;
    }
    ret = vhdx_io_truncate(img->io, keep);
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX log: cannot cut the file "
                             "back to 0x%" PRIx64 " after replay", keep);
    }
    return 0;
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

/* A differencing image's locator: where its parent is, and which */
static int image_load_parent(VhdxImage *img, GError **errp)
{
    const VhdxMetadata *md = &img->metadata;
    VhdxLocator loc;
    int ret;

    if (!md->has_parent) {
        return 0;
    }
    ret = vhdx_image_locator(img, &loc, errp);
    if (ret == 0) {
        ret = vhdx_parent_ref_init(&img->parent, &loc, errp);
        vhdx_locator_clear(&loc);
    }
    return ret;
}

static int image_commit_sectors(void *opaque, const VhdxLogSector *sectors,
                                size_t n, GError **errp);
static int image_read_pages(void *opaque, uint64_t offset, uint8_t *pages,
                            size_t count);

static size_t image_max_dirty(VhdxImage *img)
{
    size_t per_entry = vhdx_log_max_sectors_per_entry(&img->log);

    /* One transaction should fit one log entry where the log allows it */
    return MAX(1, MIN(VHDX_CACHE_DEFAULT_PAGES / 4, per_entry));
}

/*
 * Reads the whole BAT once: the allocator learns the free space, blocks
 * that share space are refused (counted, with @tolerate), the blocks are
 * counted by state, and growth a replay left past what the metadata
 * needs is cut off
 */
static int image_scan_space(VhdxImage *img, int64_t length, bool tolerate,
                            GError **errp)
{
    VhdxSpaceScan scan = { 0 };
    int ret;

    ret = vhdx_space_scan(img->io, &img->header.current, &img->regions,
                          &img->geo, length, tolerate, &img->alloc, &scan,
                          errp);
    if (ret < 0) {
        return ret;
    }
    img->overlaps = scan.overlaps;
    img->counts = scan.counts;
    img->counts_known = true;
    img->space_known = true;
    return image_trim_replay_growth(img, length, scan.used_end, errp);
}

int vhdx_image_scan_space(VhdxImage *img, GError **errp)
{
    int64_t length;
    int ret;

    g_assert(!img->metadata_only);
    if (img->space_known) {
        return 0;
    }
    ret = image_file_length(img, &length, errp);
    if (ret < 0) {
        return ret;
    }
    return image_scan_space(img, length, false, errp);
}

static int image_open_structures(VhdxImage *img, unsigned flags,
                                 GError **errp)
{
    int64_t length;
    int ret;

    ret = image_file_length(img, &length, errp);
    if (ret < 0) {
        return ret;
    }
    ret = image_validate_file_id(img->io, length, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_header_load(img->io, &img->header, errp);
    if (ret < 0) {
        return ret;
    }
    ret = image_validate_log_before_replay(img, length, errp);
    if (ret < 0) {
        return ret;
    }
    ret = image_replay_log(img, length, errp);
    if (ret < 0) {
        return ret;
    }
    /* Replay may have grown the file */
    ret = image_file_length(img, &length, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_region_load(img->io, length, &img->regions, errp);
    if (ret == 0) {
        ret = image_validate_log_placement(img, length, &img->regions, errp);
    }
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
    ret = image_load_parent(img, errp);
    if (ret == 0) {
        ret = image_load_geometry(img, errp);
    }
    if (ret < 0 || (flags & VHDX_OPEN_PEEK)) {
        return ret;
    }
    img->open_length = length;
    /*
     * A reader allocates nothing: it checks each entry it maps instead,
     * so that opening costs the same whatever the size of the BAT.  A
     * writer, a check and a replay (whose growth may be cut) scan now.
     */
    if (!(flags & (VHDX_OPEN_WRITE | VHDX_OPEN_CHECK)) &&
        !img->length_before_replay) {
        return 0;
    }
    return image_scan_space(img, length, flags & VHDX_OPEN_CHECK, errp);
}

int vhdx_image_open(VhdxIO *io, unsigned flags, VhdxImage **out,
                    GError **errp)
{
    VhdxImage *img = g_new0(VhdxImage, 1);
    int ret;

    img->io = io;
    img->file = io;
    img->metadata_only = flags & VHDX_OPEN_PEEK;
    img->writable = (flags & VHDX_OPEN_WRITE) && !img->metadata_only;
    img->allocate_blocks = !(flags & VHDX_OPEN_SPARSE);
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
    vhdx_cache_set_reader(img->cache, image_read_pages);
    vhdx_cache_set_read_around(img->cache, VHDX_CACHE_READ_AROUND_PAGES);
    *out = img;
    return 0;
}

void vhdx_image_free(VhdxImage *img)
{
    if (img) {
        vhdx_cache_free(img->cache);
        vhdx_log_clear(&img->log);
        vhdx_alloc_destroy(&img->alloc);
        vhdx_metadata_clear(&img->metadata);
        vhdx_parent_ref_clear(&img->parent);
        vhdx_shadow_free(img->shadow);
        g_free(img);
    }
}

/* ---- what the image is ---- */

uint64_t vhdx_image_virtual_size(const VhdxImage *img)
{
    return img->geo.virtual_size;
}

uint32_t vhdx_image_block_size(const VhdxImage *img)
{
    return img->geo.block_size;
}

uint32_t vhdx_image_logical_sector_size(const VhdxImage *img)
{
    return img->geo.logical_sector_size;
}

bool vhdx_image_is_differencing(const VhdxImage *img)
{
    return img->geo.has_parent;
}

bool vhdx_image_is_fixed(const VhdxImage *img)
{
    return img->metadata.leave_blocks_allocated && !img->geo.has_parent;
}

const VhdxGuid *vhdx_image_page83(const VhdxImage *img)
{
    return &img->metadata.page83;
}

const VhdxGuid *vhdx_image_data_write_guid(const VhdxImage *img)
{
    return &img->header.current.data_write_guid;
}

const VhdxParentRef *vhdx_image_parent(const VhdxImage *img)
{
    return img->geo.has_parent ? &img->parent : NULL;
}

const VhdxGrants *vhdx_image_grants(const VhdxImage *img)
{
    return &img->grants;
}

VhdxLogState vhdx_image_log_state(const VhdxImage *img)
{
    if (img->log_pending) {
        return VHDX_LOG_PENDING;
    }
    return img->log_replayed ? VHDX_LOG_REPLAYED : VHDX_LOG_CLEAN;
}

const VhdxGuid *vhdx_image_file_write_guid(const VhdxImage *img)
{
    return &img->header.current.file_write_guid;
}

uint32_t vhdx_image_physical_sector_size(const VhdxImage *img)
{
    return img->metadata.physical_sector_size;
}

int vhdx_image_locator(const VhdxImage *img, VhdxLocator *loc,
                       GError **errp)
{
    const VhdxMetadata *md = &img->metadata;

    *loc = (VhdxLocator) { 0 };
    if (!md->has_parent) {
        return 0;
    }
    return vhdx_locator_decode(md->parent_locator, md->parent_locator_len,
                               loc, errp);
}

int vhdx_image_block_counts(VhdxImage *img, VhdxBlockCounts *out,
                            GError **errp)
{
    uint64_t others = 0;

    /* An image opened for its metadata only has not read its BAT yet */
    if (!img->counts_known) {
        int ret = vhdx_space_count(img->io, &img->regions, &img->geo,
                                   &img->counts, errp);

        if (ret < 0) {
            return ret;
        }
        img->counts_known = true;
    }
    *out = img->counts;
    for (unsigned s = 1; s < G_N_ELEMENTS(out->by_state); s++) {
        others += out->by_state[s];
    }
    out->by_state[VHDX_PAYLOAD_NOT_PRESENT] =
        img->geo.payload_blocks - MIN(others, img->geo.payload_blocks);
    return 0;
}

bool vhdx_image_is_writable(const VhdxImage *img)
{
    return img->writable;
}

void vhdx_image_set_writable(VhdxImage *img, bool writable)
{
    g_assert(!writable || img->space_known);
    /* A clean image only: its session must have been ended */
    g_assert(writable || !img->session_started);
    img->writable = writable;
}

int vhdx_image_read_payload(VhdxImage *img, uint64_t file_offset, void *buf,
                            size_t len, GError **errp)
{
    int ret = vhdx_io_pread(img->io, file_offset, buf, len);

    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX: cannot read payload at 0x%"
                             PRIx64, file_offset);
    }
    return 0;
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
        vhdx_log_clear(&img->log);
        vhdx_log_init(&img->log, img->io, h.log_offset, h.log_length,
                      &h.log_guid);
        img->session_started = true;
    }
    img->data_guid_updated |= data;
    return 0;
}

bool vhdx_image_children_matter(const VhdxImage *img)
{
    return !img->data_guid_updated || img->grants.count;
}

int vhdx_image_begin_data_change(VhdxImage *img, const VhdxGrants *now,
                                 GError **errp)
{
    static const VhdxGrants none;
    VhdxGrants kept;
    int ret;

    if (!now) {
        now = &none;
    }
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
        ret = vhdx_image_set_grants(img, now, errp);
        if (ret < 0) {
            return ret;
        }
    }
    return vhdx_image_begin_write(img, true, errp);
}

/*
 * The cache's commit: the dirty pages go to the log, which flushes the
 * payload written so far first (metadata may point at it).  They are
 * written home at the next checkpoint.
 */
static int image_commit_sectors(void *opaque, const VhdxLogSector *sectors,
                                size_t n, GError **errp)
{
    VhdxImage *img = opaque;
    int ret;

    g_assert(img->session_started);
    ret = vhdx_log_append(&img->log, sectors, n, errp);
    if (ret < 0) {
        return ret;
    }
    vhdx_alloc_committed(&img->alloc);
    return 0;
}

/* The cache's reads: a page logged but not home is read from the log */
static int image_read_pages(void *opaque, uint64_t offset, uint8_t *pages,
                            size_t count)
{
    VhdxImage *img = opaque;
    int ret;

    ret = vhdx_io_pread(img->io, offset, pages, count * VHDX_CACHE_PAGE_SIZE);
    if (ret < 0) {
        return ret;
    }
    for (size_t i = 0; i < count; i++) {
        uint64_t at = i * VHDX_CACHE_PAGE_SIZE;

        vhdx_log_read_logged(&img->log, offset + at, pages + at);
    }
    return 0;
}

int vhdx_image_flush(VhdxImage *img, GError **errp)
{
    if (!img->writable || !vhdx_cache_dirty_count(img->cache)) {
        return 0;
    }
    return vhdx_cache_commit(img->cache, errp);
}

int vhdx_image_checkpoint(VhdxImage *img, GError **errp)
{
    int ret = vhdx_image_flush(img, errp);

    if (ret == 0 && img->writable) {
        ret = vhdx_log_checkpoint(&img->log, errp);
    }
    return ret;
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
        return vhdx_io_error(errp, -ret, "VHDX: cannot cut free space at the "
                             "end of the file");
    }
    return 0;
}

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
    ret = vhdx_image_checkpoint(img, errp);
    if (ret == 0) {
        ret = image_mark_log_clean(img, errp);
    }
    if (ret == 0) {
        img->session_started = false;
        img->data_guid_updated = false;
    }
    return ret;
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

