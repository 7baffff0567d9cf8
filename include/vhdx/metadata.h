/*
 * VHDX metadata region: table and the known items
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_METADATA_H
#define VHDX_METADATA_H

#include "vhdx/guid.h"
#include "vhdx/io.h"

/* Metadata table entry flags */
#define VHDX_METADATA_IS_USER          (1u << 0)
#define VHDX_METADATA_IS_VIRTUAL_DISK  (1u << 1)
#define VHDX_METADATA_IS_REQUIRED      (1u << 2)

/*
 * An item this implementation does not interpret.  It is kept as read and
 * written back whenever the region is rewritten, so changing the parent
 * locator does not drop another implementation's items.
 */
typedef struct VhdxMetadataItem {
    VhdxGuid id;
    uint32_t flags;             /* the table entry's flags */
    uint32_t length;
    uint8_t *data;              /* NULL when length is 0 */
} VhdxMetadataItem;

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
    /* The other items, in table order */
    VhdxMetadataItem *others;
    uint32_t n_others;
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

/* The system item @id among the other items, or NULL */
const VhdxMetadataItem *vhdx_metadata_find_other(const VhdxMetadata *md,
                                                 const VhdxGuid *id);

/*
 * Replaces the system item @id among the other items, adds it when it is
 * not there, or removes it when @data is NULL.  Takes ownership of @data.
 */
void vhdx_metadata_set_other(VhdxMetadata *md, const VhdxGuid *id,
                             uint32_t flags, uint8_t *data, uint32_t len);

/* Makes @dst a copy of @src that owns its own buffers */
void vhdx_metadata_copy(VhdxMetadata *dst, const VhdxMetadata *src);

/* Frees what @md owns and zeroes it */
void vhdx_metadata_clear(VhdxMetadata *md);

#endif /* VHDX_METADATA_H */
