/*
 * A VHDX image: open, map, write, flush, close
 *
 * This is the face the QEMU glue sees.  The image is opaque: the core
 * owns every metadata byte and every format rule (which state a write,
 * write-zeroes or discard gives a block, when the DataWriteGuid changes,
 * what goes through the log).  The glue owns payload I/O and concurrency:
 * it must serialize calls into one VhdxImage (they may block in the I/O
 * callbacks) and may do payload I/O at the offsets returned here outside
 * that serialization.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_IMAGE_H
#define VHDX_IMAGE_H

#include "vhdx/bat.h"
#include "vhdx/grant.h"
#include "vhdx/io.h"
#include "vhdx/locator.h"
#include "vhdx/parent.h"

typedef struct VhdxImage VhdxImage;

/* Open flags */
#define VHDX_OPEN_WRITE   (1u << 0)
/* Tolerate damage that only a consistency check should see (overlaps) */
#define VHDX_OPEN_CHECK   (1u << 1)
/*
 * Only the header, log and metadata, without the BAT scan: for looking
 * at an image (its sizes, GUIDs, parent) without reading its data, as
 * qemu-img info does and as a child being made on it needs.  Read-only;
 * map, write and check must not be used.
 */
#define VHDX_OPEN_PEEK    (1u << 2)
/*
 * Grow the file for a new block without allocating the block's space:
 * the parts of a block not yet written stay holes in a sparse file.
 * Without it a new block is allocated whole, as Hyper-V's are, so that
 * small writes into it later do not each make the host's file system
 * allocate (which costs more than the write itself).
 */
#define VHDX_OPEN_SPARSE  (1u << 3)

/* Default metadata cache: 4 MiB of pages, a quarter of them dirty at most */
#define VHDX_CACHE_DEFAULT_PAGES 1024

/*
 * A cache miss reads the 64 KiB around the page (the BAT and sector bitmap
 * blocks are MiB-aligned): a reader walking a table pays one read per 16
 * pages, and through a chain each layer's bitmap is read in a few reads.
 */
#define VHDX_CACHE_READ_AROUND_PAGES 16

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

/* ---- what the image is ---- */

uint64_t vhdx_image_virtual_size(const VhdxImage *img);
uint32_t vhdx_image_block_size(const VhdxImage *img);
uint32_t vhdx_image_logical_sector_size(const VhdxImage *img);
/* A differencing image (HasParent): it has a parent locator */
bool vhdx_image_is_differencing(const VhdxImage *img);
/* A fixed image (LeaveBlockAllocated): its blocks stay allocated */
bool vhdx_image_is_fixed(const VhdxImage *img);
/* The image's identity (Page 83 data), which copies of the file share */
const VhdxGuid *vhdx_image_page83(const VhdxImage *img);
/* Changes whenever what the guest sees changes; children record it */
const VhdxGuid *vhdx_image_data_write_guid(const VhdxImage *img);
/* Where a differencing image's parent is and which it is; else NULL */
const VhdxParentRef *vhdx_image_parent(const VhdxImage *img);
/* The linkage grants the image gives its children (vhdx/grant.h) */
const VhdxGrants *vhdx_image_grants(const VhdxImage *img);

typedef enum VhdxLogState {
    VHDX_LOG_CLEAN,             /* nothing was left to replay */
    VHDX_LOG_REPLAYED,          /* open replayed a dirty log into the file */
    VHDX_LOG_PENDING,           /* replayed in memory only (read-only) */
} VhdxLogState;

VhdxLogState vhdx_image_log_state(const VhdxImage *img);

/* The FileWriteGuid of the current header: changes once per session */
const VhdxGuid *vhdx_image_file_write_guid(const VhdxImage *img);
uint32_t vhdx_image_physical_sector_size(const VhdxImage *img);

/*
 * The decoded parent locator of a differencing image, every entry as
 * stored (vhdx_image_parent() gives the places to look derived from it)
 */
int vhdx_image_locator(const VhdxImage *img, VhdxLocator *loc,
                       GError **errp);

/*
 * The payload blocks by state and the sector bitmap blocks, as of now.
 * Kept up to date in memory, except for an image opened with
 * VHDX_OPEN_PEEK, whose BAT the first call reads.
 */
int vhdx_image_block_counts(VhdxImage *img, VhdxBlockCounts *out,
                            GError **errp);

bool vhdx_image_is_writable(const VhdxImage *img);

/*
 * Scans the BAT of an image opened read-only (which checks entries one
 * by one as it maps them), as a writer needs before its first write:
 * free space, and no two blocks sharing space.  Once; an error leaves
 * the image as it was, read-only.
 */
int vhdx_image_scan_space(VhdxImage *img, GError **errp);

/*
 * Lets the image be written to, or not: after a reopen, or around
 * migration.  Becoming writable requires vhdx_image_scan_space() first,
 * going read-only vhdx_image_make_clean().
 */
void vhdx_image_set_writable(VhdxImage *img, bool writable);

/* ---- reading ---- */

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

/*
 * Describes the guest range starting at @offset: the longest prefix, at
 * most @bytes long and inside one block, of a single extent kind.
 */
int vhdx_image_map(VhdxImage *img, uint64_t offset, uint64_t bytes,
                   VhdxExtent *ext, GError **errp);

/*
 * Reads payload at @file_offset as the image sees it.  The glue reads
 * payload from the file itself, except while the log is replayed in
 * memory only (VHDX_LOG_PENDING): a log entry may have changed payload.
 */
int vhdx_image_read_payload(VhdxImage *img, uint64_t file_offset, void *buf,
                            size_t len, GError **errp);

/* ---- write sessions ---- */

/*
 * Starts a write session before the first change: new FileWriteGuid and
 * LogGuid in the header and, when @data is set, a new DataWriteGuid (the
 * guest-visible content is about to change).  Cheap once done.
 */
int vhdx_image_begin_write(VhdxImage *img, bool data, GError **errp);

/*
 * Whether a guest-visible change now depends on which children are open
 * on the image: before the session's first data change, and while
 * grants are recorded.  When false, the caller need not find out which
 * children are open.
 */
bool vhdx_image_children_matter(const VhdxImage *img);

/*
 * vhdx_image_begin_write for a guest-visible change, given the linkage
 * grants that the children open on the image call for now (see
 * vhdx/grant.h): the first change of a session records them, durably,
 * before the new DataWriteGuid reaches the header; a later change keeps
 * only those of the recorded grants still called for.  @now NULL: none.
 */
int vhdx_image_begin_data_change(VhdxImage *img, const VhdxGrants *now,
                                 GError **errp);

/*
 * Commits dirty metadata through the log, first making the data written
 * so far durable: payload always reaches the disk before the metadata
 * exposing it.  The log is flushed; the metadata's home locations are
 * written at a later checkpoint.  With nothing dirty it does nothing;
 * flushing the file itself is the caller's business then.
 */
int vhdx_image_flush(VhdxImage *img, GError **errp);

/*
 * Flushes, then writes every logged metadata sector home and flushes
 * again: the file's own structures are current, for whatever reads them
 * not through this image.
 */
int vhdx_image_checkpoint(VhdxImage *img, GError **errp);

/*
 * Commits metadata and marks the log clean, ending the write session: the
 * file is then a clean image another user may open.  The next change
 * starts a new session (new FileWriteGuid and LogGuid).
 */
int vhdx_image_make_clean(VhdxImage *img, GError **errp);

/* ---- guest writes (vhdx/write.c) ---- */

/*
 * A guest write inside one block, as planned by vhdx_image_plan_write().
 * The caller writes the guest data at data_offset, fills the (at most
 * two) non-empty ranges of zero_fill with zeros, and then reports the
 * outcome with vhdx_image_finish_write() or vhdx_image_cancel_write().
 */
typedef struct VhdxWrite {
    uint64_t bytes;             /* the part of the request planned */
    uint64_t data_offset;       /* where the guest data goes in the file */
    VhdxRange zero_fill[2];     /* stale space around it to zero */
    bool allocating;            /* new space: the block is not yet visible */
    /* The core's own record of the plan */
    uint64_t block;
    uint64_t in_block;
    uint64_t block_offset;
    unsigned new_state;
    bool mark_sectors;
} VhdxWrite;

/*
 * Plans a guest write of @bytes at guest @offset, in the session's data
 * change (vhdx_image_begin_data_change).  Only the part up to the end of
 * the block is planned (w->bytes).  A block without data gets new space
 * (w->allocating): writes to the same block must wait until this one is
 * finished or cancelled.  In a block a differencing image takes over
 * from its parent, only the written sectors become its own; elsewhere a
 * new block is fully present, stale bytes around the data zeroed.
 */
int vhdx_image_plan_write(VhdxImage *img, uint64_t offset, uint64_t bytes,
                          VhdxWrite *w, GError **errp);

/*
 * The guest data of @w (and its zero fill) is written: the block and its
 * sectors become visible.  The change is in the metadata cache until the
 * next flush.
 */
int vhdx_image_finish_write(VhdxImage *img, const VhdxWrite *w,
                            GError **errp);

/* The payload I/O of @w failed: space reserved for it is given back */
void vhdx_image_cancel_write(VhdxImage *img, const VhdxWrite *w);

/* What a write-zeroes or discard request asks for */
typedef enum VhdxZeroKind {
    VHDX_ZERO_WRITE,            /* the range must read as zeros */
    VHDX_ZERO_DISCARD,          /* the range is no longer needed */
} VhdxZeroKind;

/* What vhdx_image_plan_zero() found to do */
typedef struct VhdxZeroing {
    /* Whole blocks that lose their data: [first_block, end_block) */
    uint64_t first_block;
    uint64_t end_block;
    unsigned new_state;
    /* Nothing the core can do: zeros must be written as data */
    bool write_zeros;
} VhdxZeroing;

/*
 * Plans a write-zeroes or discard of guest [@offset, @offset + @bytes).
 * Whole blocks get a state without data (ZERO, or NOT_PRESENT for a
 * discard in an image without a parent), their space freed; each is then
 * changed by vhdx_image_apply_zero(), once no write to it is in flight.
 * Part of a block that already reads as zeros (ZERO) needs nothing; else
 * zeros must be written as data (z->write_zeros), as in every block of a
 * fixed image.  A discard is advice: what it cannot free it leaves.
 */
int vhdx_image_plan_zero(VhdxImage *img, uint64_t offset, uint64_t bytes,
                         VhdxZeroKind kind, VhdxZeroing *z, GError **errp);

/* Gives @block, one of those @z planned, its state without data */
int vhdx_image_apply_zero(VhdxImage *img, const VhdxZeroing *z,
                          uint64_t block, GError **errp);

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

/* ---- size (vhdx/resize.c) ---- */

/* Whether vhdx_image_grow would take @new_size; changes nothing */
int vhdx_image_validate_grow(const VhdxImage *img, uint64_t new_size,
                             GError **errp);

/*
 * Grows the virtual disk to @new_size bytes (a multiple of the logical
 * sector size).  A BAT region too small for the new size is moved to new
 * space first; the region tables and the size change in one journaled
 * transaction.  A fixed image gets its new blocks allocated.
 */
int vhdx_image_grow(VhdxImage *img, uint64_t new_size, GError **errp);

/*
 * Drops every block: all BAT entries become not present (a child then
 * reads its parent everywhere), the log is left clean and the file cut
 * back to its structures.  Used once a commit has copied the image's
 * data into its parent, so a crash part-way through reads the same.  A
 * differencing image then shows whatever its parent holds, so its
 * linkage follows the parent: @parent_dwg, the parent's DataWriteGuid
 * now, if known.
 */
int vhdx_image_make_empty(VhdxImage *img, const VhdxGuid *parent_dwg,
                          GError **errp);

/* ---- metadata items (vhdx/items.c) ---- */

/*
 * Points a differencing image at a new parent (a rebase): the parent
 * locator is built from @parent and rewritten in one journaled
 * transaction, with the metadata table around it, refused beforehand if
 * it would not fit one log entry.  Metadata items this driver does not
 * know are kept.  The parent must have the image's logical sector size.
 */
int vhdx_image_set_parent(VhdxImage *img, const VhdxParentSpec *parent,
                          GError **errp);

/*
 * Replaces the image's linkage grants (see vhdx/grant.h; none removes
 * the item) in one journaled transaction of its own, committed before
 * this returns: a new DataWriteGuid may follow it at once.
 */
int vhdx_image_set_grants(VhdxImage *img, const VhdxGrants *grants,
                          GError **errp);

/*
 * The image @via (Page 83 data), which a merge into this image read
 * through, has become this image's child: the grants naming it are
 * dropped (one transaction, when there are any), so that the children
 * the merge left behind are refused as siblings would be.
 */
int vhdx_image_retire_via(VhdxImage *img, const VhdxGuid *via,
                          GError **errp);

/* ---- consistency check (vhdx/check.c) ---- */

typedef enum VhdxFaultKind {
    VHDX_FAULT_STATE,           /* a BAT state the entry may not hold */
    VHDX_FAULT_OUTSIDE,         /* block in the header area or past EOF */
    VHDX_FAULT_ON_METADATA,     /* block on headers, log, BAT, metadata */
    VHDX_FAULT_SHARED,          /* block on space an earlier block uses */
    VHDX_FAULT_NO_BITMAP,       /* partially present, chunk has no bitmap */
    VHDX_FAULT_REGION_COPY,     /* the region table copies differ */
} VhdxFaultKind;

/* One problem a check found, for a line of its report */
typedef struct VhdxFault {
    VhdxFaultKind kind;
    uint64_t index;             /* the BAT entry, for BAT faults */
    const char *what;           /* what is wrong, one phrase */
    const char *repair;         /* what repairing does (or did) */
} VhdxFault;

/* Told about each fault, once found (@repaired false) or repaired */
typedef void VhdxFaultFn(void *opaque, const VhdxFault *fault,
                         bool repaired);

typedef struct VhdxCheckReport {
    uint64_t corruptions;       /* faults the first look found */
    uint64_t repaired;          /* faults repaired (later rounds too) */
    uint64_t remaining;         /* faults left */
    uint64_t leaked_bytes;      /* file space past the last used byte */
    uint64_t allocated_blocks;
    uint64_t total_blocks;
    uint64_t image_end;         /* end of the used space */
    /* A dirty log was replayed at open: reported by the first check only */
    bool log_replayed;
    bool log_pending;           /* a dirty log replayed in memory only */
} VhdxCheckReport;

/*
 * Finds what is wrong with the image, calling @report_fault (if not
 * NULL) for each fault, and with @repair (a writable image) repairs
 * every fault through the log as vhdx/check.c describes.  Leaks are only
 * counted: see vhdx_image_trim.
 */
int vhdx_image_check(VhdxImage *img, bool repair, VhdxFaultFn *report_fault,
                     void *opaque, VhdxCheckReport *report, GError **errp);

/*
 * Cuts the file back to @end, the used end a check reported: metadata is
 * committed and the log marked clean first, so no log entry can describe
 * a file longer than the one left behind.
 */
int vhdx_image_trim(VhdxImage *img, uint64_t end, GError **errp);

#endif /* VHDX_IMAGE_H */
