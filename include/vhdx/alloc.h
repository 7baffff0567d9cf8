/*
 * VHDX file space allocation for payload and sector bitmap blocks
 *
 * Space is handed out in 1 MiB units: first from holes left by freed
 * blocks, then by growing the used end of the file.  A freed block moves
 * through three lists before it is reused:
 *   pending    freed in the metadata cache only;
 *   committed  the change freeing it is durable, so a crash can never
 *              leave two BAT entries sharing the space;
 *   sealed     the caller has noted which payload I/O might still use
 *              the old mapping, and releases the space once that I/O
 *              has finished (see block/vhdx.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_ALLOC_H
#define VHDX_ALLOC_H

#include "vhdx/io.h"

#include <glib.h>
#include <stdbool.h>

typedef struct VhdxAllocator {
    uint64_t end;               /* 1 MiB aligned end of the used space */
    GArray *free;               /* VhdxRange, reusable now, sorted */
    uint64_t largest_free;      /* no range in @free is longer */
    GArray *pending;            /* VhdxRange, freed since the last commit */
    GArray *committed;          /* VhdxRange, durably freed */
    GArray *sealed;             /* VhdxRange, waiting for old I/O */
} VhdxAllocator;

void vhdx_alloc_init(VhdxAllocator *a, uint64_t end);
void vhdx_alloc_destroy(VhdxAllocator *a);

/* Records a hole found when scanning the file; reusable at once */
void vhdx_alloc_add_hole(VhdxAllocator *a, uint64_t offset, uint64_t length);

/*
 * Returns the offset of @length bytes (a multiple of 1 MiB) of file space.
 * *@fresh says whether the space lies beyond the old used end (never
 * written since the file grew: it reads as zeros once the file covers it)
 * or is a reused hole holding stale bytes.
 */
uint64_t vhdx_alloc_take(VhdxAllocator *a, uint64_t length, bool *fresh);

/* Gives back space taken but never published in the BAT */
void vhdx_alloc_untake(VhdxAllocator *a, uint64_t offset, uint64_t length);

/* Frees space a BAT entry no longer points to; reusable after commit */
void vhdx_alloc_release(VhdxAllocator *a, uint64_t offset, uint64_t length);

/* The metadata freeing the pending ranges is durable */
void vhdx_alloc_committed(VhdxAllocator *a);

/* Seals the committed ranges; false if there were none */
bool vhdx_alloc_seal(VhdxAllocator *a);

/* I/O that might use the sealed ranges is over: reuse them */
void vhdx_alloc_release_sealed(VhdxAllocator *a);

/*
 * The file was cut to @end (1 MiB aligned, no block in use past it):
 * space from there on is fresh again, to be grown into, not a hole
 */
void vhdx_alloc_cut(VhdxAllocator *a, uint64_t end);

/* The end of the space in use: @end less any free range touching it */
uint64_t vhdx_alloc_used_end(const VhdxAllocator *a);

/* Total bytes in holes that are reusable now */
uint64_t vhdx_alloc_free_bytes(const VhdxAllocator *a);

#endif /* VHDX_ALLOC_H */
