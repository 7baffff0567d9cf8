/*
 * VHDX sector bitmaps: which sectors of a differencing image are present
 *
 * One bit per logical sector, bit 0 of byte 0 first; a 1 MiB sector
 * bitmap block covers one chunk (2^23 sectors).  Bits are read and set
 * through the metadata cache, so setting them is journaled like any other
 * metadata change.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_BITMAP_H
#define VHDX_BITMAP_H

#include "vhdx/cache.h"

/*
 * Looks at the bits from @first_bit of the bitmap block at @block_offset:
 * *@present is the value of that bit, *@count the number of following
 * bits (at most @max_bits) with the same value.
 */
int vhdx_bitmap_run(VhdxCache *c, uint64_t block_offset, uint64_t first_bit,
                    uint64_t max_bits, bool *present, uint64_t *count,
                    GError **errp);

/* Sets @nbits bits from @first_bit of the bitmap block at @block_offset */
int vhdx_bitmap_set(VhdxCache *c, uint64_t block_offset, uint64_t first_bit,
                    uint64_t nbits, GError **errp);

#endif /* VHDX_BITMAP_H */
