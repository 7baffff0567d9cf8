/*
 * Guest writes, write-zeroes and discard: the block state transitions
 *
 * A write into a block with data goes where the data is; a partially
 * present block of a differencing image then also marks the written
 * sectors as its own.  A write into a block without data gets new space
 * first and publishes it only once the data is written, so a concurrent
 * reader sees the old contents or the new, never garbage:
 *
 *   block state            image        new state           around the data
 *   NOT_PRESENT            child        PARTIALLY_PRESENT   parent's sectors
 *                                       (FULLY if whole)
 *   NOT_PRESENT            no parent    FULLY_PRESENT       zeros
 *   ZERO, UNDEFINED,       any          FULLY_PRESENT       zeros
 *   UNMAPPED
 *
 * Zeros are written around the data only where the new space may hold
 * stale bytes.  Write-zeroes and discard of whole blocks give them a
 * state without data and free their space (write.c's second half).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/bitmap.h"
#include "vhdx/error.h"
#include "image-int.h"

#include <errno.h>
#include <inttypes.h>

/* ---- space ---- */

/*
 * Reused space must hold no metadata sector still waiting in the log for
 * its home write, which would land over the new payload.  Only space a
 * sector bitmap block used could, and those are not freed while an image
 * is open; this keeps it so.
 */
static int image_clear_logged(VhdxImage *img, uint64_t offset, uint64_t len,
                              GError **errp)
{
    if (vhdx_log_logged_in(&img->log, offset, len)) {
        return vhdx_log_checkpoint(&img->log, errp);
    }
    return 0;
}

/*
 * Reserves space for one payload block.  *@fresh: the space reads as
 * zeros (the file was grown over it); otherwise it holds stale bytes that
 * must be overwritten or zeroed before the block is published.
 */
int image_alloc_block(VhdxImage *img, uint64_t *file_offset, bool *fresh,
                      GError **errp)
{
    uint64_t offset;
    int64_t length;
    int ret;

    offset = vhdx_alloc_take(&img->alloc, img->geo.block_size, fresh);
    if (!*fresh) {
        ret = image_clear_logged(img, offset, img->geo.block_size, errp);
        if (ret < 0) {
            vhdx_alloc_untake(&img->alloc, offset, img->geo.block_size);
            return ret;
        }
        *file_offset = offset;
        return 0;
    }
    /*
     * Grow the file over the whole block now, so that it lies inside the
     * file when published, and allocate it there unless the image was
     * opened VHDX_OPEN_SPARSE.  Only space that starts at or past the old end
     * reads as zeros; bytes a crashed session left past the used end are
     * stale, and the caller must overwrite them.
     */
    length = vhdx_io_length(img->io);
    ret = length < 0 ? (int)length : 0;
    if (ret == 0 && (uint64_t)length > offset) {
        *fresh = false;
    }
    if (ret == 0 && (uint64_t)length < offset + img->geo.block_size) {
        ret = vhdx_io_grow(img->io, offset + img->geo.block_size,
                           img->allocate_blocks);
    }
    if (ret < 0) {
        vhdx_alloc_untake(&img->alloc, offset, img->geo.block_size);
        return vhdx_io_error(errp, -ret, "VHDX: cannot grow the file for a "
                             "new block at 0x%" PRIx64 "%s", offset,
                             ret == -EINVAL || ret == -ENOTSUP ?
                             "\nSome storage cannot grow (an NBD export "
                             "cannot): new blocks need room past the end "
                             "of the image's data, such as space added "
                             "to the file before it is exported." : "");
    }
    *file_offset = offset;
    return 0;
}

void image_unalloc_block(VhdxImage *img, uint64_t file_offset)
{
    vhdx_alloc_untake(&img->alloc, file_offset, img->geo.block_size);
}

/* An image opened read-only has freed nothing, and has no allocator */
bool vhdx_image_seal_freed(VhdxImage *img)
{
    return img->space_known && vhdx_alloc_seal(&img->alloc);
}

void vhdx_image_reuse_sealed(VhdxImage *img)
{
    if (img->space_known) {
        vhdx_alloc_release_sealed(&img->alloc);
    }
}

int image_set_block(VhdxImage *img, uint64_t block, unsigned state,
                    uint64_t file_offset, GError **errp)
{
    uint64_t index = vhdx_bat_payload_index(&img->geo, block);
    uint64_t at = image_bat_entry_offset(img, index);
    uint64_t old;
    int ret;

    g_assert(img->session_started);
    g_assert(vhdx_payload_has_data(state) ? file_offset != 0 :
                                            file_offset == 0);
    ret = vhdx_cache_read64(img->cache, at, &old, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_cache_write64(img->cache, at,
                             vhdx_bat_entry(state, file_offset), errp);
    if (ret < 0) {
        return ret;
    }
    vhdx_block_counts_add(&img->counts, &img->geo, index, old, -1);
    vhdx_block_counts_add(&img->counts, &img->geo, index, state, 1);
    if (vhdx_payload_has_data(vhdx_bat_state(old)) &&
        vhdx_bat_offset(old) != file_offset) {
        vhdx_alloc_release(&img->alloc, vhdx_bat_offset(old),
                           img->geo.block_size);
    }
    return 0;
}

/*
 * Gives @block's chunk a sector bitmap block: 1 MiB of zeros on disk
 * before the BAT entry points at it (every commit flushes data first).
 */
static int write_alloc_bitmap(VhdxImage *img, uint64_t block,
                              uint64_t *offset, GError **errp)
{
    uint64_t chunk = block / img->geo.chunk_ratio;
    int64_t length = vhdx_io_length(img->io);
    bool fresh;
    uint64_t off;
    int ret;

    off = vhdx_alloc_take(&img->alloc, VHDX_BITMAP_BLOCK_SIZE, &fresh);
    ret = fresh ? 0 : image_clear_logged(img, off, VHDX_BITMAP_BLOCK_SIZE,
                                         errp);
    if (ret < 0) {
        vhdx_alloc_untake(&img->alloc, off, VHDX_BITMAP_BLOCK_SIZE);
        return ret;
    }
    if (length < 0) {
        ret = (int)length;
    } else if (fresh && (uint64_t)length <= off) {
        ret = vhdx_io_grow(img->io, off + VHDX_BITMAP_BLOCK_SIZE,
                           img->allocate_blocks);
    } else {
        ret = vhdx_io_pwrite_zeroes(img->io, off, VHDX_BITMAP_BLOCK_SIZE);
    }
    if (ret == 0) {
        ret = vhdx_cache_write64(img->cache,
                                 image_bitmap_entry_offset(img, chunk),
                                 vhdx_bat_entry(VHDX_BITMAP_PRESENT, off),
                                 errp);
        img->counts.bitmap_blocks += ret == 0;
    } else {
        vhdx_io_error(errp, -ret, "VHDX: cannot prepare a sector bitmap "
                      "block at 0x%" PRIx64, off);
    }
    if (ret < 0) {
        vhdx_alloc_untake(&img->alloc, off, VHDX_BITMAP_BLOCK_SIZE);
        return ret;
    }
    *offset = off;
    return 0;
}

/* Marks @len bytes at @in_block of a child's @block as its own */
static int write_mark_sectors(VhdxImage *img, uint64_t block,
                              uint64_t in_block, uint64_t len, GError **errp)
{
    uint32_t lss = img->geo.logical_sector_size;
    uint64_t bitmap;
    int ret;

    g_assert(img->geo.has_parent);
    g_assert(in_block % lss == 0 && len % lss == 0);
    ret = image_bitmap_block(img, block, &bitmap, errp);
    if (ret == 0 && !bitmap) {
        ret = write_alloc_bitmap(img, block, &bitmap, errp);
    }
    if (ret < 0) {
        return ret;
    }
    return vhdx_bitmap_set(img->cache, bitmap,
                           image_block_first_bit(img, block) + in_block / lss,
                           len / lss, errp);
}

/* ---- guest writes ---- */

/* Stale space of the new block around the data, zeroed before publishing */
static void write_plan_zero_fill(const VhdxImage *img, VhdxWrite *w)
{
    uint64_t data_end = w->in_block + w->bytes;

    w->zero_fill[0] = (VhdxRange) {
        .offset = w->block_offset,
        .length = w->in_block,
    };
    w->zero_fill[1] = (VhdxRange) {
        .offset = w->block_offset + data_end,
        .length = img->geo.block_size - data_end,
    };
}

static int write_plan_new_block(VhdxImage *img, unsigned state, VhdxWrite *w,
                                GError **errp)
{
    bool whole = w->in_block == 0 &&
                 w->bytes == image_block_bytes(img, w->block);
    bool fresh;
    int ret;

    ret = image_alloc_block(img, &w->block_offset, &fresh, errp);
    if (ret < 0) {
        return ret;
    }
    w->allocating = true;
    w->data_offset = w->block_offset + w->in_block;
    if (img->geo.has_parent && state == VHDX_PAYLOAD_NOT_PRESENT && !whole) {
        /* The parent's data shows through the sectors not written */
        w->new_state = VHDX_PAYLOAD_PARTIALLY_PRESENT;
        w->mark_sectors = true;
        return 0;
    }
    w->new_state = VHDX_PAYLOAD_FULLY_PRESENT;
    if (!fresh) {
        write_plan_zero_fill(img, w);
    }
    return 0;
}

int vhdx_image_plan_write(VhdxImage *img, uint64_t offset, uint64_t bytes,
                          VhdxWrite *w, GError **errp)
{
    uint64_t block = offset / img->geo.block_size;
    uint64_t entry;
    unsigned state;
    int ret;

    g_assert(img->data_guid_updated);
    g_assert(offset < img->geo.virtual_size && bytes > 0);
    memset(w, 0, sizeof(*w));
    w->block = block;
    w->in_block = offset % img->geo.block_size;
    w->bytes = MIN(bytes, image_block_bytes(img, block) - w->in_block);
    ret = image_block_entry(img, block, &entry, errp);
    if (ret < 0) {
        return ret;
    }
    state = vhdx_bat_state(entry);
    if (!vhdx_payload_has_data(state)) {
        return write_plan_new_block(img, state, w, errp);
    }
    w->block_offset = vhdx_bat_offset(entry);
    w->data_offset = w->block_offset + w->in_block;
    w->new_state = state;
    /* A partially present block: the sectors are its own once written */
    w->mark_sectors = state == VHDX_PAYLOAD_PARTIALLY_PRESENT;
    return 0;
}

int vhdx_image_finish_write(VhdxImage *img, const VhdxWrite *w,
                            GError **errp)
{
    int ret = 0;

    if (w->mark_sectors) {
        ret = write_mark_sectors(img, w->block, w->in_block, w->bytes, errp);
    }
    if (ret == 0 && w->allocating) {
        ret = image_set_block(img, w->block, w->new_state, w->block_offset,
                              errp);
    }
    return ret;
}

void vhdx_image_cancel_write(VhdxImage *img, const VhdxWrite *w)
{
    if (w->allocating) {
        image_unalloc_block(img, w->block_offset);
    }
}

/* ---- write-zeroes and discard ---- */

/* Part of one block: nothing to do where it already reads as zeros */
static int zero_plan_partial(VhdxImage *img, uint64_t offset, uint64_t bytes,
                             VhdxZeroKind kind, VhdxZeroing *z, GError **errp)
{
    uint64_t block = offset / img->geo.block_size;
    uint64_t in_block = offset % img->geo.block_size;
    uint64_t entry;
    int ret;

    /* Discarding part of a block frees nothing: advice not taken */
    if (kind == VHDX_ZERO_DISCARD) {
        return 0;
    }
    if (in_block + bytes > image_block_bytes(img, block)) {
        z->write_zeros = true;
        return 0;
    }
    ret = image_block_entry(img, block, &entry, errp);
    if (ret < 0) {
        return ret;
    }
    z->write_zeros = vhdx_bat_state(entry) != VHDX_PAYLOAD_ZERO;
    return 0;
}

int vhdx_image_plan_zero(VhdxImage *img, uint64_t offset, uint64_t bytes,
                         VhdxZeroKind kind, VhdxZeroing *z, GError **errp)
{
    uint32_t block_size = img->geo.block_size;
    uint64_t end = offset + bytes;

    g_assert(end <= img->geo.virtual_size && bytes > 0);
    memset(z, 0, sizeof(*z));
    if (offset % block_size ||
        (end % block_size && end != img->geo.virtual_size)) {
        return zero_plan_partial(img, offset, bytes, kind, z, errp);
    }
    /* A fixed image keeps its blocks; zeros are written as data */
    if (vhdx_image_is_fixed(img)) {
        z->write_zeros = kind == VHDX_ZERO_WRITE;
        return 0;
    }
    z->first_block = offset / block_size;
    z->end_block = VHDX_DIV_ROUND_UP(end, block_size);
    /* A child's block must not show its parent's data again */
    z->new_state = kind == VHDX_ZERO_DISCARD && !img->geo.has_parent ?
                   VHDX_PAYLOAD_NOT_PRESENT : VHDX_PAYLOAD_ZERO;
    return 0;
}

int vhdx_image_apply_zero(VhdxImage *img, const VhdxZeroing *z,
                          uint64_t block, GError **errp)
{
    g_assert(img->data_guid_updated);
    g_assert(block >= z->first_block && block < z->end_block);
    return image_set_block(img, block, z->new_state, 0, errp);
}
