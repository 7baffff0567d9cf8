/*
 * VHDX sector bitmaps
 *
 * Runs are found a byte at a time where a byte is all ones or all zeros,
 * which is the common case: guests write whole clusters, not sectors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/bitmap.h"
#include "vhdx/format.h"

#define BITS_PER_PAGE (VHDX_CACHE_PAGE_SIZE * 8)

static bool bit_at(const uint8_t *page, uint64_t bit)
{
    return page[bit / 8] & (1u << (bit % 8));
}

/* Counts bits equal to @value from @bit in @page, up to @limit bits */
static uint64_t page_run(const uint8_t *page, uint64_t bit, uint64_t limit,
                         bool value)
{
    const uint8_t whole = value ? 0xff : 0x00;
    uint64_t n = 0;

    while (n < limit) {
        uint64_t b = bit + n;

        if (b % 8 == 0 && limit - n >= 8 && page[b / 8] == whole) {
            n += 8;
        } else if (bit_at(page, b) == value) {
            n++;
        } else {
            break;
        }
    }
    return n;
}

int vhdx_bitmap_run(VhdxCache *c, uint64_t block_offset, uint64_t first_bit,
                    uint64_t max_bits, bool *present, uint64_t *count,
                    GError **errp)
{
    uint64_t done = 0;
    bool value = false;

    g_assert(max_bits > 0 && first_bit + max_bits <= VHDX_SECTORS_PER_BITMAP);
    while (done < max_bits) {
        uint64_t bit = first_bit + done;
        uint64_t in_page = bit % BITS_PER_PAGE;
        uint64_t limit = MIN(max_bits - done, BITS_PER_PAGE - in_page);
        uint64_t n;
        uint8_t *page;
        int ret;

        ret = vhdx_cache_get(c, block_offset + bit / BITS_PER_PAGE *
                             VHDX_CACHE_PAGE_SIZE, &page, errp);
        if (ret < 0) {
            return ret;
        }
        if (done == 0) {
            value = bit_at(page, in_page);
        }
        n = page_run(page, in_page, limit, value);
        done += n;
        if (n < limit) {
            break;
        }
    }
    *present = value;
    *count = done;
    return 0;
}

int vhdx_bitmap_set(VhdxCache *c, uint64_t block_offset, uint64_t first_bit,
                    uint64_t nbits, GError **errp)
{
    g_assert(first_bit + nbits <= VHDX_SECTORS_PER_BITMAP);
    while (nbits) {
        uint64_t page_offset = block_offset + first_bit / BITS_PER_PAGE *
                               VHDX_CACHE_PAGE_SIZE;
        uint64_t in_page = first_bit % BITS_PER_PAGE;
        uint64_t n = MIN(nbits, BITS_PER_PAGE - in_page);
        bool changed = false;
        uint8_t *page;
        int ret;

        ret = vhdx_cache_get(c, page_offset, &page, errp);
        if (ret < 0) {
            return ret;
        }
        for (uint64_t b = in_page; b < in_page + n; b++) {
            if (!bit_at(page, b)) {
                page[b / 8] |= 1u << (b % 8);
                changed = true;
            }
        }
        if (changed) {
            vhdx_cache_mark_dirty(c, page_offset);
        }
        first_bit += n;
        nbits -= n;
    }
    return 0;
}
