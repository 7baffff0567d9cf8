/*
 * Mapping guest ranges of a VHDX image onto its file
 *
 * What a reader sees: the BAT state of a block says whether its data is
 * in this file, reads as zeros or is the parent's; a partially present
 * block of a differencing image says it sector by sector in the sector
 * bitmap of its chunk.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/bitmap.h"
#include "vhdx/error.h"
#include "vhdx/space.h"
#include "image-int.h"

#include <errno.h>
#include <inttypes.h>

/*
 * Reads BAT entry @index.  An image whose BAT was not scanned (opened
 * read-only) checks it here, as the scan would have.
 */
static int map_read_entry(VhdxImage *img, uint64_t index, uint64_t *entry,
                          GError **errp)
{
    int ret = vhdx_cache_read64(img->cache, image_bat_entry_offset(img, index),
                                entry, errp);

    if (ret < 0 || img->space_known) {
        return ret;
    }
    return vhdx_space_check_entry(&img->header.current, &img->regions,
                                  &img->geo, index, *entry, img->open_length,
                                  errp);
}

int image_block_entry(VhdxImage *img, uint64_t block, uint64_t *entry,
                      GError **errp)
{
    g_assert(block < img->geo.payload_blocks);
    return map_read_entry(img, vhdx_bat_payload_index(&img->geo, block),
                          entry, errp);
}

int image_bitmap_block(VhdxImage *img, uint64_t block, uint64_t *offset,
                       GError **errp)
{
    uint64_t chunk = block / img->geo.chunk_ratio;
    uint64_t entry;
    int ret;

    ret = map_read_entry(img, vhdx_bat_bitmap_index(&img->geo, chunk), &entry,
                         errp);
    if (ret < 0) {
        return ret;
    }
    *offset = vhdx_bat_state(entry) == VHDX_BITMAP_PRESENT ?
              vhdx_bat_offset(entry) : 0;
    return 0;
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

/* A partially present block: the run of equal bits at @in_block */
static int map_partial(VhdxImage *img, uint64_t block, uint64_t in_block,
                       uint64_t entry, VhdxExtent *ext, GError **errp)
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
                          image_block_first_bit(img, block) + in_block / lss,
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
    ret = image_block_entry(img, block, &entry, errp);
    if (ret < 0) {
        return ret;
    }
    state = vhdx_bat_state(entry);
    ext->length = MIN(bytes, image_block_bytes(img, block) - in_block);
    if (state == VHDX_PAYLOAD_PARTIALLY_PRESENT) {
        return map_partial(img, block, in_block, entry, ext, errp);
    }
    ext->kind = extent_kind_of_state(img, state);
    ext->file_offset = ext->kind == VHDX_EXTENT_DATA ?
                       vhdx_bat_offset(entry) + in_block : 0;
    return 0;
}
