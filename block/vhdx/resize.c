/*
 * Growing a VHDX image
 *
 * The BAT interleaving depends only on the chunk ratio, so existing
 * entries keep their index when the disk grows; only the number of
 * entries changes.  When the BAT region cannot hold them, a copy of the
 * BAT is written to new space and the region tables are pointed at it in
 * the same journal transaction that changes the size.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "image-int.h"

#include <errno.h>
#include <inttypes.h>

int vhdx_image_validate_grow(const VhdxImage *img, uint64_t new_size,
                             GError **errp)
{
    uint32_t lss = img->geo.logical_sector_size;

    if (new_size < img->geo.virtual_size) {
        return vhdx_error(errp, ENOTSUP, "VHDX images cannot be shrunk "
                          "(from %" PRIu64 " to %" PRIu64 " bytes)",
                          img->geo.virtual_size, new_size);
    }
    if (new_size > VHDX_VIRTUAL_SIZE_MAX) {
        return vhdx_error(errp, EINVAL, "VHDX virtual size %" PRIu64 " "
                          "exceeds 64 TiB", new_size);
    }
    if (new_size % lss) {
        return vhdx_error(errp, EINVAL, "VHDX virtual size %" PRIu64 " is "
                          "not a multiple of the logical sector size %"
                          PRIu32, new_size, lss);
    }
    return 0;
}

/* Entries past the old end must say "no data"; a careless writer's not */
static int grow_clear_new_entries(VhdxImage *img, uint64_t first,
                                  uint64_t end, GError **errp)
{
    for (uint64_t i = first; i < end; i++) {
        uint64_t offset = img->regions.bat_offset + i * VHDX_BAT_ENTRY_SIZE;
        int ret = vhdx_cache_write64(img->cache, offset, 0, errp);

        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* Copies the committed BAT to @dest, zeroing the rest of @dest_len */
static int grow_copy_bat(VhdxImage *img, uint64_t dest, uint64_t dest_len,
                         bool fresh, GError **errp)
{
    uint64_t used = img->geo.total_entries * VHDX_BAT_ENTRY_SIZE;
    uint64_t copy_end = fresh ? used : dest_len;
    g_autofree uint8_t *buf = g_malloc(VHDX_MiB);

    for (uint64_t done = 0; done < copy_end; done += VHDX_MiB) {
        size_t n = MIN(VHDX_MiB, copy_end - done);
        size_t from_old = done < used ? MIN(n, used - done) : 0;
        int ret = 0;

        memset(buf + from_old, 0, n - from_old);
        if (from_old) {
            ret = vhdx_io_pread(img->io, img->regions.bat_offset + done, buf,
                                from_old);
        }
        if (ret == 0) {
            ret = vhdx_io_pwrite(img->io, dest + done, buf, n);
        }
        if (ret < 0) {
            return vhdx_io_error(errp, -ret, "VHDX: copying the BAT to "
                                 "0x%" PRIx64 " failed", dest);
        }
    }
    return 0;
}

/* Stages both region tables pointing at @r in the metadata cache */
static int grow_stage_region_tables(VhdxImage *img, const VhdxRegions *r,
                                    GError **errp)
{
    g_autofree uint8_t *table = g_malloc0(VHDX_REGION_TABLE_SIZE);
    int ret;

    vhdx_region_table_encode(r, table);
    ret = vhdx_cache_write(img->cache, VHDX_REGION1_OFFSET, table,
                           VHDX_REGION_TABLE_SIZE, errp);
    if (ret == 0) {
        ret = vhdx_cache_write(img->cache, VHDX_REGION2_OFFSET, table,
                               VHDX_REGION_TABLE_SIZE, errp);
    }
    return ret;
}

static int grow_stage_size(VhdxImage *img, uint64_t new_size, GError **errp)
{
    uint8_t le[8];

    vhdx_st64(le, new_size);
    return vhdx_cache_write(img->cache, img->regions.metadata_offset +
                            img->metadata.virtual_disk_size_offset, le,
                            sizeof(le), errp);
}

/*
 * Moves the BAT to a region of @new_len bytes.  Everything dirty is
 * committed first, so the copy taken from disk is current; the copy is
 * durable before the journal entry that publishes it, because every
 * commit flushes data first.
 */
static int grow_relocate_bat(VhdxImage *img, uint64_t new_len,
                             uint64_t new_size, GError **errp)
{
    VhdxRegions r = img->regions;
    uint64_t old_offset = r.bat_offset, old_len = r.bat_length;
    uint64_t dest;
    bool fresh;
    int ret;

    if (new_len > UINT32_MAX - VHDX_MiB + 1) {
        return vhdx_error(errp, EFBIG, "VHDX BAT of %" PRIu64 " bytes does "
                          "not fit a region", new_len);
    }
    /* The copy reads the BAT from the file: every change must be home */
    ret = vhdx_image_checkpoint(img, errp);
    if (ret < 0) {
        return ret;
    }
    dest = vhdx_alloc_take(&img->alloc, new_len, &fresh);
    if (fresh && vhdx_io_length(img->io) < (int64_t)(dest + new_len)) {
        ret = vhdx_io_truncate(img->io, dest + new_len);
    } else {
        fresh = false;
    }
    if (ret == 0) {
        ret = grow_copy_bat(img, dest, new_len, fresh, errp);
    } else {
        vhdx_io_error(errp, -ret, "VHDX: cannot grow the file for a new BAT");
    }
    if (ret == 0) {
        r.bat_offset = dest;
        r.bat_length = new_len;
        ret = grow_stage_region_tables(img, &r, errp);
    }
    if (ret == 0) {
        ret = grow_stage_size(img, new_size, errp);
    }
    if (ret == 0) {
        ret = vhdx_cache_commit(img->cache, errp);
    }
    if (ret < 0) {
        vhdx_alloc_untake(&img->alloc, dest, new_len);
        return ret;
    }
    /* Cached BAT pages are keyed by the old offsets */
    vhdx_cache_invalidate(img->cache);
    img->regions = r;
    vhdx_alloc_release(&img->alloc, old_offset, old_len);
    return 0;
}

/* A fixed image keeps every block allocated, the new ones too */
static int grow_allocate_fixed_blocks(VhdxImage *img, uint64_t first,
                                      GError **errp)
{
    for (uint64_t block = first; block < img->geo.payload_blocks; block++) {
        uint64_t offset;
        bool fresh;
        int ret;

        ret = image_alloc_block(img, &offset, &fresh, errp);
        if (ret == 0 && !fresh) {
            ret = vhdx_io_pwrite_zeroes(img->io, offset, img->geo.block_size);
            if (ret < 0) {
                image_unalloc_block(img, offset);
                vhdx_io_error(errp, -ret, "VHDX: zeroing a new block failed");
            }
        }
        if (ret == 0) {
            ret = image_set_block(img, block,
                                       VHDX_PAYLOAD_FULLY_PRESENT, offset,
                                       errp);
        }
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

int vhdx_image_grow(VhdxImage *img, uint64_t new_size, GError **errp)
{
    VhdxBatGeometry geo;
    uint64_t old_blocks = img->geo.payload_blocks;
    uint64_t new_len;
    int ret;

    ret = vhdx_image_validate_grow(img, new_size, errp);
    if (ret < 0 || new_size == img->geo.virtual_size) {
        return ret;
    }
    ret = vhdx_bat_geometry_init(&geo, new_size, img->geo.block_size,
                                 img->geo.logical_sector_size,
                                 img->geo.has_parent, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_image_begin_write(img, true, errp);
    if (ret < 0) {
        return ret;
    }
    new_len = vhdx_bat_region_size(&geo);
    if (new_len > img->regions.bat_length) {
        ret = grow_relocate_bat(img, new_len, new_size, errp);
    } else {
        ret = grow_clear_new_entries(img, img->geo.total_entries,
                                     geo.total_entries, errp);
        if (ret == 0) {
            ret = grow_stage_size(img, new_size, errp);
        }
    }
    if (ret < 0) {
        return ret;
    }
    img->geo = geo;
    img->metadata.virtual_disk_size = new_size;
    if (img->metadata.leave_blocks_allocated) {
        ret = grow_allocate_fixed_blocks(img, old_blocks, errp);
    }
    if (ret == 0) {
        ret = vhdx_image_flush(img, errp);
    }
    return ret;
}

/* The end of the header area, log, BAT and metadata region */
static uint64_t structures_end(const VhdxImage *img)
{
    const VhdxHeader *h = &img->header.current;
    const VhdxRegions *r = &img->regions;

    return MAX(MAX(VHDX_HEADER_AREA_SIZE, h->log_offset + h->log_length),
               MAX(r->bat_offset + r->bat_length,
                   r->metadata_offset + r->metadata_length));
}

/* Zeroes the entries of the BAT page at @page_offset that are in use */
static int empty_bat_page(VhdxImage *img, uint64_t page_offset,
                          uint64_t used_end, GError **errp)
{
    uint64_t n = MIN(VHDX_CACHE_PAGE_SIZE, used_end - page_offset);
    static const uint8_t zeros[VHDX_CACHE_PAGE_SIZE];

    return vhdx_cache_write(img->cache, page_offset, zeros, n, errp);
}

int vhdx_image_make_empty(VhdxImage *img, const VhdxGuid *parent_dwg,
                          GError **errp)
{
    uint64_t bat_used = img->regions.bat_offset +
                        img->geo.total_entries * VHDX_BAT_ENTRY_SIZE;
    uint64_t end = structures_end(img);
    int ret;

    ret = vhdx_image_begin_write(img, true, errp);
    for (uint64_t page = img->regions.bat_offset; ret == 0 && page < bat_used;
         page += VHDX_CACHE_PAGE_SIZE) {
        ret = empty_bat_page(img, page, bat_used, errp);
    }
    if (ret == 0) {
        img->counts = (VhdxBlockCounts) { 0 };
        ret = vhdx_image_flush(img, errp);
    }
    if (ret < 0) {
        return ret;
    }
    /*
     * Nothing is allocated any more: the file ends with its structures.
     * Cached pages of the old sector bitmap blocks must go too, or they
     * would shadow new bitmap blocks placed in the same space.
     */
    vhdx_cache_invalidate(img->cache);
    vhdx_alloc_destroy(&img->alloc);
    vhdx_alloc_init(&img->alloc, end);
    ret = vhdx_image_trim(img, end, errp);
    if (ret < 0 || !img->geo.has_parent || !parent_dwg) {
        return ret;
    }
    /*
     * The child shows whatever its parent holds now: its own data is
     * gone, or already in the parent
     */
    return image_set_parent_linkage(img, parent_dwg, errp);
}
