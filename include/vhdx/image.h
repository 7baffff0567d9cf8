/*
 * A VHDX image: open, create, map, allocate, flush, close
 *
 * This is the face the QEMU glue sees.  It owns every metadata byte; the
 * glue owns payload I/O and concurrency: it must serialize calls into one
 * VhdxImage (they may block in the I/O callbacks) and may do payload I/O
 * at the offsets returned here outside that serialization.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_IMAGE_H
#define VHDX_IMAGE_H

#include "vhdx/alloc.h"
#include "vhdx/bat.h"
#include "vhdx/cache.h"
#include "vhdx/grant.h"
#include "vhdx/header.h"
#include "vhdx/locator.h"
#include "vhdx/log.h"
#include "vhdx/metadata.h"
#include "vhdx/region.h"

/* Open flags */
#define VHDX_OPEN_WRITE   (1u << 0)
/* Tolerate damage that only a consistency check should see (overlaps) */
#define VHDX_OPEN_CHECK   (1u << 1)
/*
 * Only read the header and metadata, without the BAT scan and without
 * refusing a dirty log: for looking at an image another user has open
 * (its log is dirty while it writes; headers and metadata are written
 * through at once).  Read-only; map and the rest must not be used.
 */
#define VHDX_OPEN_PEEK    (1u << 2)

/* Default metadata cache: 4 MiB of pages, a quarter of them dirty at most */
#define VHDX_CACHE_DEFAULT_PAGES 1024

typedef struct VhdxImage {
    VhdxIO *io;                 /* how the image is read and written */
    VhdxIO *file;               /* the file itself */
    VhdxIO *shadow;             /* the in-memory view io is, or NULL */
    bool writable;
    VhdxHeaderState header;
    VhdxRegions regions;
    VhdxMetadata metadata;
    VhdxGrants grants;          /* children kept across a merge */
    VhdxBatGeometry geo;
    VhdxCache *cache;
    VhdxAllocator alloc;
    VhdxLog log;
    bool session_started;       /* FileWriteGuid and LogGuid are ours */
    bool data_guid_updated;     /* DataWriteGuid changed in this session */
    bool log_replayed;          /* open replayed a dirty log */
    bool log_pending;           /* replayed in memory only (read-only) */
    uint64_t overlaps;          /* blocks sharing space (VHDX_OPEN_CHECK) */
} VhdxImage;

typedef enum VhdxExtentKind {
    VHDX_EXTENT_DATA,           /* stored in this file at file_offset */
    VHDX_EXTENT_ZERO,           /* this file says: zeros */
    VHDX_EXTENT_UNALLOCATED,    /* not in this file: the parent's data */
} VhdxExtentKind;

typedef struct VhdxExtent {
    VhdxExtentKind kind;
    uint64_t file_offset;
    uint64_t length;
} VhdxExtent;

typedef struct VhdxCreateParams {
    uint64_t virtual_size;
    uint32_t block_size;
    uint32_t log_size;
    uint32_t logical_sector_size;
    uint32_t physical_sector_size;
    bool fixed;
    bool block_state_zero;      /* dynamic: new blocks start as ZERO */
    const char *creator;
    /* A differencing image: the locator naming its parent, else NULL */
    const VhdxLocator *parent;
} VhdxCreateParams;

/*
 * Opens the image on @io.  A writable open replays a dirty log first; a
 * read-only one replays it into memory (see vhdx/shadow.h) and reads the
 * image as the log says, the file untouched until the image is written
 * to (it must then have become writable).
 */
int vhdx_image_open(VhdxIO *io, unsigned flags, VhdxImage **out,
                    GError **errp);

/*
 * Commits metadata and marks the log clean.  The image is freed even on
 * failure; the returned error says what could not be written.
 */
int vhdx_image_close(VhdxImage *img, GError **errp);

/* Frees the image without writing anything (error paths, inactivation) */
void vhdx_image_free(VhdxImage *img);

/* Writes a new, empty image over whatever @io holds */
int vhdx_image_create(VhdxIO *io, const VhdxCreateParams *p, GError **errp);

/*
 * Commits dirty metadata through the log, first making the data written
 * so far durable: payload always reaches the disk before the metadata
 * exposing it.  With nothing dirty it does nothing; flushing the file
 * itself is the caller's business then.
 */
int vhdx_image_flush(VhdxImage *img, GError **errp);

/*
 * Describes the guest range starting at @offset: the longest prefix, at
 * most @bytes long and inside one block, of a single extent kind.
 */
int vhdx_image_map(VhdxImage *img, uint64_t offset, uint64_t bytes,
                   VhdxExtent *ext, GError **errp);

/*
 * Starts a write session before the first change: new FileWriteGuid and
 * LogGuid in the header and, when @data is set, a new DataWriteGuid (the
 * guest-visible content is about to change).  Cheap once done.
 */
int vhdx_image_begin_write(VhdxImage *img, bool data, GError **errp);

/*
 * vhdx_image_begin_write for a guest-visible change, given the linkage
 * grants that the children open on the image call for now (see
 * vhdx/grant.h): the first change of a session records them, durably,
 * before the new DataWriteGuid reaches the header; a later change keeps
 * only those of the recorded grants still called for.
 */
int vhdx_image_begin_data_change(VhdxImage *img, const VhdxGrants *now,
                                 GError **errp);

/* The payload BAT entry of @block */
int vhdx_image_block_entry(VhdxImage *img, uint64_t block, uint64_t *entry,
                           GError **errp);

/*
 * Reserves space for one payload block.  *@fresh: the space reads as
 * zeros (the file was grown over it); otherwise it holds stale bytes the
 * caller must overwrite or zero before publishing the block.
 */
int vhdx_image_alloc_block(VhdxImage *img, uint64_t *file_offset,
                           bool *fresh, GError **errp);

/* Returns reserved space that will not be published */
void vhdx_image_unalloc_block(VhdxImage *img, uint64_t file_offset);

/*
 * Freed space is reused in two steps, because payload I/O done outside
 * the caller's serialization may still use a block's old location:
 * vhdx_image_seal_freed() marks what has been durably freed so far (false
 * if nothing), and once every payload I/O started before that call has
 * finished, vhdx_image_reuse_sealed() makes it allocatable.  A caller
 * without concurrent payload I/O calls both in a row.
 */
bool vhdx_image_seal_freed(VhdxImage *img);
void vhdx_image_reuse_sealed(VhdxImage *img);

/*
 * Points payload block @block at @file_offset with @state (0 offset for
 * states without data).  Space the block used before is freed.  The
 * change is in the metadata cache until the next flush.
 */
int vhdx_image_set_block(VhdxImage *img, uint64_t block, unsigned state,
                         uint64_t file_offset, GError **errp);

/*
 * In a differencing image, marks the sectors of @block from byte
 * @in_block, @len bytes (both sector multiples), as present in this file,
 * giving the chunk a sector bitmap block first if it has none.  The data
 * must already be written.
 */
int vhdx_image_mark_present(VhdxImage *img, uint64_t block,
                            uint64_t in_block, uint64_t len, GError **errp);

/* The byte length of the guest range covered by @block */
static inline uint64_t vhdx_image_block_bytes(const VhdxImage *img,
                                              uint64_t block)
{
    uint64_t start = block * img->geo.block_size;

    return MIN((uint64_t)img->geo.block_size,
               img->geo.virtual_size - start);
}

/*
 * Grows the virtual disk to @new_size bytes (a multiple of the logical
 * sector size).  A BAT region too small for the new size is moved to new
 * space first; the region tables and the size change in one journaled
 * transaction.  A fixed image gets its new blocks allocated.
 */
int vhdx_image_grow(VhdxImage *img, uint64_t new_size, GError **errp);

/* Whether vhdx_image_grow would take @new_size; changes nothing */
int vhdx_image_check_grow(const VhdxImage *img, uint64_t new_size,
                          GError **errp);

/*
 * Points a differencing image at a new parent: rewrites the parent
 * locator item (and the metadata table around it) in one journaled
 * transaction, refused beforehand if it would not fit one log entry.
 * Metadata items this driver does not know are kept.
 */
int vhdx_image_set_parent_locator(VhdxImage *img, const VhdxLocator *loc,
                                  GError **errp);

/*
 * Replaces the image's linkage grants (see vhdx/grant.h; none removes
 * the item) in one journaled transaction of its own, committed before
 * this returns: a new DataWriteGuid may follow it at once.
 */
int vhdx_image_set_grants(VhdxImage *img, const VhdxGrants *grants,
                          GError **errp);

/*
 * Drops every block: all BAT entries become not present (a child then
 * reads its parent everywhere), the log is left clean and the file cut
 * back to its structures.  Used once a commit has copied the image's
 * data into its parent, so a crash part-way through reads the same.
 */
int vhdx_image_make_empty(VhdxImage *img, GError **errp);

typedef struct VhdxCheckReport {
    uint64_t corruptions;       /* invalid or overlapping BAT entries */
    uint64_t leaked_bytes;      /* file space past the last used byte */
    uint64_t allocated_blocks;
    uint64_t total_blocks;
    uint64_t image_end;         /* end of the used space */
} VhdxCheckReport;

/*
 * Commits metadata and marks the log clean, ending the write session: the
 * file is then a clean image another user may open.  The next change
 * starts a new session (new FileWriteGuid and LogGuid).
 */
int vhdx_image_make_clean(VhdxImage *img, GError **errp);

/*
 * Cuts the file back to @end, the used end a check reported: metadata is
 * committed and the log marked clean first, so no log entry can describe
 * a file longer than the one left behind.
 */
int vhdx_image_trim(VhdxImage *img, uint64_t end, GError **errp);

/* Counts what is wrong with the image without changing it */
int vhdx_image_check(VhdxImage *img, VhdxCheckReport *report, GError **errp);

#endif /* VHDX_IMAGE_H */
