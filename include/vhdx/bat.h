/*
 * VHDX block allocation table: geometry and entry encoding
 *
 * The BAT interleaves one sector bitmap entry after every chunk_ratio
 * payload entries, in every VHDX type, so that a dynamic file can become
 * a differencing one without moving entries.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_BAT_H
#define VHDX_BAT_H

#include "vhdx/format.h"

#include <glib.h>
#include <stdbool.h>

typedef struct VhdxBatGeometry {
    uint64_t virtual_size;
    uint32_t block_size;
    uint32_t logical_sector_size;
    bool has_parent;
    uint32_t chunk_ratio;       /* payload blocks per sector bitmap block */
    uint64_t payload_blocks;
    uint64_t bitmap_blocks;
    uint64_t total_entries;
} VhdxBatGeometry;

/* Derives the geometry; the inputs must already be validated metadata */
int vhdx_bat_geometry_init(VhdxBatGeometry *g, uint64_t virtual_size,
                           uint32_t block_size, uint32_t logical_sector_size,
                           bool has_parent, GError **errp);

/* Bytes of BAT region needed, rounded up to VHDX_ALIGNMENT */
uint64_t vhdx_bat_region_size(const VhdxBatGeometry *g);

/*
 * How many payload blocks are in each state (indexed by VHDX_PAYLOAD_*),
 * and how many chunks have a sector bitmap block.  NOT_PRESENT is not
 * counted entry by entry (those of a sparse BAT are never read): it is
 * the payload blocks no other state holds.
 */
typedef struct VhdxBlockCounts {
    uint64_t by_state[8];
    uint64_t bitmap_blocks;
} VhdxBlockCounts;

/*
 * Counts @entry (BAT entry @index) into @c; or takes it out again
 * (@delta -1) when the entry changes
 */
void vhdx_block_counts_add(VhdxBlockCounts *c, const VhdxBatGeometry *g,
                           uint64_t index, uint64_t entry, int delta);

static inline uint64_t vhdx_bat_payload_index(const VhdxBatGeometry *g,
                                              uint64_t block)
{
    return block + block / g->chunk_ratio;
}

static inline uint64_t vhdx_bat_bitmap_index(const VhdxBatGeometry *g,
                                             uint64_t chunk)
{
    return chunk * (g->chunk_ratio + 1) + g->chunk_ratio;
}

/* True if BAT entry @index describes a sector bitmap block */
static inline bool vhdx_bat_index_is_bitmap(const VhdxBatGeometry *g,
                                            uint64_t index)
{
    return index % (g->chunk_ratio + 1) == g->chunk_ratio;
}

/*
 * True if entry @index is a payload entry for a block past the end of the
 * disk: a differencing image's BAT holds whole chunks, so its last chunk
 * has such entries, which may hold no data
 */
static inline bool vhdx_bat_index_past_disk(const VhdxBatGeometry *g,
                                            uint64_t index)
{
    return !vhdx_bat_index_is_bitmap(g, index) &&
           index - index / (g->chunk_ratio + 1) >= g->payload_blocks;
}

static inline unsigned vhdx_bat_state(uint64_t entry)
{
    return entry & VHDX_BAT_STATE_MASK;
}

/* The file offset in bytes (FileOffsetMB scaled) */
static inline uint64_t vhdx_bat_offset(uint64_t entry)
{
    return entry & VHDX_BAT_OFFSET_MASK;
}

/* @file_offset must be 1 MiB aligned; states without data store 0 */
static inline uint64_t vhdx_bat_entry(unsigned state, uint64_t file_offset)
{
    return (file_offset & VHDX_BAT_OFFSET_MASK) | state;
}

/* Whether entry @index may hold @entry's state in this kind of image */
bool vhdx_bat_entry_state_valid(const VhdxBatGeometry *g, uint64_t index,
                                uint64_t entry);

/* True for payload states whose data lives in this file */
static inline bool vhdx_payload_has_data(unsigned state)
{
    return state == VHDX_PAYLOAD_FULLY_PRESENT ||
           state == VHDX_PAYLOAD_PARTIALLY_PRESENT;
}

/*
 * Checks one BAT entry read from a file of @file_length bytes: a state
 * valid for its kind (payload or bitmap) and the file type, and, where
 * the state has data, a block that lies inside the file after the
 * header area.  The message names the entry index and the bad field.
 */
int vhdx_bat_entry_validate(const VhdxBatGeometry *g, uint64_t index,
                            uint64_t entry, uint64_t file_length,
                            GError **errp);

#endif /* VHDX_BAT_H */
