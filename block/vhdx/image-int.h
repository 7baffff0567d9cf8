/*
 * A VHDX image: the state behind the opaque VhdxImage
 *
 * Private to the format core (the files of block/vhdx/) and its white-box
 * unit tests; the QEMU glue sees only include/vhdx/image.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_IMAGE_INT_H
#define VHDX_IMAGE_INT_H

#include "vhdx/alloc.h"
#include "vhdx/bat.h"
#include "vhdx/cache.h"
#include "vhdx/grant.h"
#include "vhdx/header.h"
#include "vhdx/image.h"
#include "vhdx/log.h"
#include "vhdx/metadata.h"
#include "vhdx/parent.h"
#include "vhdx/region.h"

struct VhdxImage {
    VhdxIO *io;                 /* how the image is read and written */
    VhdxIO *file;               /* the file itself */
    VhdxIO *shadow;             /* the in-memory view io is, or NULL */
    bool writable;
    bool metadata_only;         /* VHDX_OPEN_PEEK: no BAT scan */
    bool allocate_blocks;       /* not VHDX_OPEN_SPARSE */
    VhdxHeaderState header;
    VhdxRegions regions;
    VhdxMetadata metadata;
    VhdxParentRef parent;       /* differencing images: the locator read */
    VhdxGrants grants;          /* children kept across a merge */
    VhdxBatGeometry geo;
    VhdxCache *cache;
    VhdxAllocator alloc;
    VhdxLog log;
    bool session_started;       /* FileWriteGuid and LogGuid are ours */
    bool data_guid_updated;     /* DataWriteGuid changed in this session */
    bool log_replayed;          /* open replayed a dirty log */
    bool log_pending;           /* replayed in memory only (read-only) */
    uint64_t length_before_replay;  /* file length a replay grew, or 0 */
    uint64_t overlaps;          /* blocks sharing space (VHDX_OPEN_CHECK) */
    VhdxBlockCounts counts;     /* BAT entries by state, kept up to date */
    bool counts_known;          /* not yet for VHDX_OPEN_PEEK */
    /*
     * The BAT was scanned: the allocator knows the free space, and no two
     * blocks share space.  Not yet for read-only opens, which check each
     * entry they map against the file length at open instead.
     */
    bool space_known;
    uint64_t open_length;
};

/* Byte offset of BAT entry @index in the file */
static inline uint64_t image_bat_entry_offset(const VhdxImage *img,
                                              uint64_t index)
{
    return img->regions.bat_offset + index * VHDX_BAT_ENTRY_SIZE;
}

/* Byte offset of the sector bitmap entry of @chunk in the file */
static inline uint64_t image_bitmap_entry_offset(const VhdxImage *img,
                                                 uint64_t chunk)
{
    return image_bat_entry_offset(img,
                                  vhdx_bat_bitmap_index(&img->geo, chunk));
}

/* The byte length of the guest range covered by @block */
static inline uint64_t image_block_bytes(const VhdxImage *img, uint64_t block)
{
    uint64_t start = block * img->geo.block_size;

    return MIN((uint64_t)img->geo.block_size,
               img->geo.virtual_size - start);
}

/* The first bit of @block in its chunk's sector bitmap */
static inline uint64_t image_block_first_bit(const VhdxImage *img,
                                             uint64_t block)
{
    uint64_t sectors_per_block = img->geo.block_size /
                                 img->geo.logical_sector_size;

    return block % img->geo.chunk_ratio * sectors_per_block;
}

/* map.c: the payload BAT entry of @block */
int image_block_entry(VhdxImage *img, uint64_t block, uint64_t *entry,
                      GError **errp);

/* map.c: the sector bitmap block of @block's chunk; 0 when there is none */
int image_bitmap_block(VhdxImage *img, uint64_t block, uint64_t *offset,
                       GError **errp);

/* image.c */
int image_file_length(VhdxImage *img, int64_t *length, GError **errp);

/*
 * write.c: reserves space for one payload block.  *@fresh: it reads as
 * zeros; else it may hold stale bytes to overwrite before publishing.
 */
int image_alloc_block(VhdxImage *img, uint64_t *file_offset, bool *fresh,
                      GError **errp);
/* write.c: gives back space reserved and not published */
void image_unalloc_block(VhdxImage *img, uint64_t file_offset);
/*
 * write.c: points payload block @block at @file_offset with @state (0
 * offset for states without data); space it used before is freed.  In
 * the metadata cache until the next flush.
 */
int image_set_block(VhdxImage *img, uint64_t block, unsigned state,
                    uint64_t file_offset, GError **errp);

/*
 * items.c: points a differencing image's linkage at its parent's
 * DataWriteGuid @dwg, keeping where the parent is
 */
int image_set_parent_linkage(VhdxImage *img, const VhdxGuid *dwg,
                             GError **errp);

#endif /* VHDX_IMAGE_INT_H */
