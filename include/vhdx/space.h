/*
 * VHDX file space map: which 1 MiB units of the file are in use
 *
 * Built once at open (and by a check) from the header area, the log, the
 * region table's regions and every BAT entry with data.  It validates
 * each BAT entry, finds blocks that share space and feeds the allocator
 * the holes between used units.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_SPACE_H
#define VHDX_SPACE_H

#include "vhdx/alloc.h"
#include "vhdx/bat.h"
#include "vhdx/header.h"
#include "vhdx/region.h"

/*
 * Told about each invalid or overlapping BAT entry when tolerating
 * damage: @why is a phrase saying what is wrong
 */
typedef void VhdxSpaceFaultFn(void *opaque, uint64_t index, uint64_t entry,
                              bool overlap, const char *why);

typedef struct VhdxSpaceScan {
    /* Set by the caller (may stay NULL); kept by the scan */
    VhdxSpaceFaultFn *fault;
    void *fault_opaque;

    uint64_t used_end;          /* 1 MiB aligned end of the used space */
    uint64_t invalid_entries;   /* only counted when tolerating damage */
    uint64_t overlaps;          /* only counted when tolerating damage */
    uint64_t allocated_blocks;  /* payload blocks with data in the file */
    VhdxBlockCounts counts;     /* of the valid entries */
} VhdxSpaceScan;

/*
 * Scans the BAT of a file of @file_length bytes.  Unless @tolerate is
 * set, the first invalid entry or overlap is an error naming it; when it
 * is, each one is counted and passed to @out->fault.  When @alloc is
 * non-NULL it is initialized with the used end and the holes.
 */
int vhdx_space_scan(VhdxIO *io, const VhdxHeader *h, const VhdxRegions *r,
                    const VhdxBatGeometry *g, uint64_t file_length,
                    bool tolerate, VhdxAllocator *alloc, VhdxSpaceScan *out,
                    GError **errp);

/*
 * Checks one BAT entry of a file of @file_length bytes as the scan does,
 * except against the other blocks: its state, and that its block lies in
 * the file clear of the headers, the log, the BAT and the metadata.  For
 * readers that map entries one by one instead of scanning the BAT: a
 * block that shares space with another can only mislead a writer.
 */
int vhdx_space_check_entry(const VhdxHeader *h, const VhdxRegions *r,
                           const VhdxBatGeometry *g, uint64_t index,
                           uint64_t entry, uint64_t file_length,
                           GError **errp);

/*
 * Counts the BAT's payload blocks by state and its sector bitmap blocks
 * (vhdx_space_scan() counts them too), leaving out invalid entries
 */
int vhdx_space_count(VhdxIO *io, const VhdxRegions *r,
                     const VhdxBatGeometry *g, VhdxBlockCounts *counts,
                     GError **errp);

#endif /* VHDX_SPACE_H */
