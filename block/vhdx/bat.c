/*
 * VHDX block allocation table: geometry and entry validation
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/bat.h"
#include "vhdx/error.h"

#include <errno.h>
#include <inttypes.h>

int vhdx_bat_geometry_init(VhdxBatGeometry *g, uint64_t virtual_size,
                           uint32_t block_size, uint32_t logical_sector_size,
                           bool has_parent, GError **errp)
{
    uint64_t chunk_bytes = VHDX_SECTORS_PER_BITMAP * logical_sector_size;

    if (block_size < VHDX_BLOCK_SIZE_MIN ||
        block_size > VHDX_BLOCK_SIZE_MAX ||
        (block_size & (block_size - 1)) || chunk_bytes % block_size) {
        return vhdx_error(errp, EINVAL,
                          "VHDX block size %" PRIu32 " does not divide "
                          "a chunk", block_size);
    }
    *g = (VhdxBatGeometry) {
        .virtual_size = virtual_size,
        .block_size = block_size,
        .logical_sector_size = logical_sector_size,
        .has_parent = has_parent,
        .chunk_ratio = chunk_bytes / block_size,
    };
    g->payload_blocks = VHDX_DIV_ROUND_UP(virtual_size, block_size);
    g->bitmap_blocks = VHDX_DIV_ROUND_UP(g->payload_blocks, g->chunk_ratio);
    if (has_parent) {
        g->total_entries = g->bitmap_blocks * (g->chunk_ratio + 1);
    } else if (g->payload_blocks) {
        g->total_entries = g->payload_blocks +
                           (g->payload_blocks - 1) / g->chunk_ratio;
    }
    return 0;
}

void vhdx_block_counts_add(VhdxBlockCounts *c, const VhdxBatGeometry *g,
                           uint64_t index, uint64_t entry, int delta)
{
    unsigned state = vhdx_bat_state(entry);
    uint64_t *n;

    if (vhdx_bat_index_is_bitmap(g, index)) {
        if (state != VHDX_BITMAP_PRESENT) {
            return;
        }
        n = &c->bitmap_blocks;
    } else if (state == VHDX_PAYLOAD_NOT_PRESENT ||
               index - index / (g->chunk_ratio + 1) >= g->payload_blocks) {
        /*
         * NOT_PRESENT is the rest (a sparse BAT's holes are never read);
         * entries past the last block are not blocks
         */
        return;
    } else {
        n = &c->by_state[state];
    }
    /* Entries a damaged image had and the count never took stay out */
    if (delta > 0 || *n > 0) {
        *n += delta;
    }
}

uint64_t vhdx_bat_region_size(const VhdxBatGeometry *g)
{
    uint64_t bytes = g->total_entries * VHDX_BAT_ENTRY_SIZE;

    return MAX(VHDX_ALIGNMENT, VHDX_DIV_ROUND_UP(bytes, VHDX_ALIGNMENT) *
                               VHDX_ALIGNMENT);
}

static bool payload_state_valid(unsigned state, bool has_parent)
{
    switch (state) {
    case VHDX_PAYLOAD_NOT_PRESENT:
    case VHDX_PAYLOAD_UNDEFINED:
    case VHDX_PAYLOAD_ZERO:
    case VHDX_PAYLOAD_UNMAPPED:
    case VHDX_PAYLOAD_FULLY_PRESENT:
        return true;
    case VHDX_PAYLOAD_PARTIALLY_PRESENT:
        return has_parent;
    default:
        return false;
    }
}

static bool bitmap_state_valid(unsigned state, bool has_parent)
{
    return state == VHDX_BITMAP_NOT_PRESENT ||
           (state == VHDX_BITMAP_PRESENT && has_parent);
}

bool vhdx_bat_entry_state_valid(const VhdxBatGeometry *g, uint64_t index,
                                uint64_t entry)
{
    unsigned state = vhdx_bat_state(entry);

    if (vhdx_bat_index_is_bitmap(g, index)) {
        return bitmap_state_valid(state, g->has_parent);
    }
    if (vhdx_bat_index_past_disk(g, index) && vhdx_payload_has_data(state)) {
        return false;
    }
    return payload_state_valid(state, g->has_parent);
}

int vhdx_bat_entry_validate(const VhdxBatGeometry *g, uint64_t index,
                            uint64_t entry, uint64_t file_length,
                            GError **errp)
{
    bool is_bitmap = vhdx_bat_index_is_bitmap(g, index);
    unsigned state = vhdx_bat_state(entry);
    uint64_t offset = vhdx_bat_offset(entry);
    uint64_t size = is_bitmap ? VHDX_BITMAP_BLOCK_SIZE : g->block_size;
    bool has_data;

    if (is_bitmap) {
        if (!bitmap_state_valid(state, g->has_parent)) {
            return vhdx_error(errp, EINVAL,
                              "VHDX BAT entry %" PRIu64 ": invalid sector "
                              "bitmap state %u", index, state);
        }
        has_data = state == VHDX_BITMAP_PRESENT;
    } else {
        if (!payload_state_valid(state, g->has_parent)) {
            return vhdx_error(errp, EINVAL,
                              "VHDX BAT entry %" PRIu64 ": invalid payload "
                              "block state %u", index, state);
        }
        has_data = vhdx_payload_has_data(state);
        if (has_data && vhdx_bat_index_past_disk(g, index)) {
            return vhdx_error(errp, EINVAL,
                              "VHDX BAT entry %" PRIu64 ": payload block "
                              "state %u past the end of the disk (%" PRIu64
                              " blocks)", index, state, g->payload_blocks);
        }
    }
    if (!has_data) {
        return 0;
    }
    if (offset < VHDX_HEADER_AREA_SIZE) {
        return vhdx_error(errp, EINVAL,
                          "VHDX BAT entry %" PRIu64 ": FileOffsetMB %" PRIu64
                          " points into the header area", index,
                          offset >> VHDX_BAT_OFFSET_SHIFT);
    }
    if (offset > file_length || size > file_length - offset) {
        return vhdx_error(errp, EINVAL,
                          "VHDX BAT entry %" PRIu64 ": block at FileOffsetMB "
                          "%" PRIu64 " lies beyond the end of the file "
                          "(%" PRIu64 " bytes)", index,
                          offset >> VHDX_BAT_OFFSET_SHIFT, file_length);
    }
    return 0;
}
