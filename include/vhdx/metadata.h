/*
 * VHDX metadata region: table and the known items
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_METADATA_H
#define VHDX_METADATA_H

#include "vhdx/guid.h"
#include "vhdx/io.h"

typedef struct VhdxMetadata {
    uint32_t block_size;
    bool leave_blocks_allocated;
    bool has_parent;
    uint64_t virtual_disk_size;
    /* Where the virtual disk size item lies in the region (decode only) */
    uint32_t virtual_disk_size_offset;
    uint32_t logical_sector_size;
    uint32_t physical_sector_size;
    VhdxGuid page83;
    /* The raw parent locator item; NULL and 0 when the file has none */
    uint8_t *parent_locator;
    uint32_t parent_locator_len;
} VhdxMetadata;

/*
 * Decodes a whole metadata region of @len bytes: the table (signature,
 * entry count, item offsets and lengths inside the region, no overlaps,
 * no duplicate items, no unknown required item) and every known item with
 * its value checked (block size a power of two in 1..256 MiB, sector
 * sizes 512 or 4096, virtual size a multiple of the logical sector size
 * and at most 64 TiB, parent locator present exactly when has_parent).
 */
int vhdx_metadata_decode(const uint8_t *region, uint32_t len,
                         VhdxMetadata *md, GError **errp);

/* Reads the region at @offset from @io and decodes it */
int vhdx_metadata_load(VhdxIO *io, uint64_t offset, uint32_t len,
                       VhdxMetadata *md, GError **errp);

/*
 * Encodes @md as a complete metadata region of @len bytes (table at the
 * start, items from 64 KiB on).  Fails if the items do not fit.
 */
int vhdx_metadata_encode(const VhdxMetadata *md, uint8_t *region,
                         uint32_t len, GError **errp);

/* Frees what @md owns and zeroes it */
void vhdx_metadata_clear(VhdxMetadata *md);

#endif /* VHDX_METADATA_H */
