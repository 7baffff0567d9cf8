/*
 * VHDX region table: where the BAT and the metadata region are
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_REGION_H
#define VHDX_REGION_H

#include "vhdx/guid.h"
#include "vhdx/io.h"

typedef struct VhdxRegions {
    uint64_t bat_offset;
    uint32_t bat_length;
    uint64_t metadata_offset;
    uint32_t metadata_length;
} VhdxRegions;

/*
 * Decodes a VHDX_REGION_TABLE_SIZE region table: signature, checksum,
 * entry count, 1 MiB alignment of every region, no overlaps among regions
 * or with the first 1 MiB, both known regions present, and no unknown
 * region marked required.
 */
int vhdx_region_table_decode(const uint8_t *buf, VhdxRegions *r,
                             GError **errp);

/* Encodes a VHDX_REGION_TABLE_SIZE table holding the BAT and metadata */
void vhdx_region_table_encode(const VhdxRegions *r, uint8_t *buf);

/*
 * Reads the region tables from @io, using the first valid copy, and
 * checks that both regions lie inside a file of @file_length bytes.
 */
int vhdx_region_load(VhdxIO *io, uint64_t file_length, VhdxRegions *r,
                     GError **errp);

#endif /* VHDX_REGION_H */
