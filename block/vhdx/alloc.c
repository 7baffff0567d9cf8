/*
 * VHDX file space allocation
 *
 * The free list is kept sorted and merged; holes only appear when whole
 * blocks are zeroed or discarded, or where another writer left them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/alloc.h"
#include "vhdx/format.h"

void vhdx_alloc_init(VhdxAllocator *a, uint64_t end)
{
    a->end = VHDX_ALIGN_UP(end, VHDX_ALIGNMENT);
    a->largest_free = 0;
    a->free = g_array_new(FALSE, FALSE, sizeof(VhdxRange));
    a->pending = g_array_new(FALSE, FALSE, sizeof(VhdxRange));
    a->committed = g_array_new(FALSE, FALSE, sizeof(VhdxRange));
    a->sealed = g_array_new(FALSE, FALSE, sizeof(VhdxRange));
}

void vhdx_alloc_destroy(VhdxAllocator *a)
{
    if (a->free) {
        g_array_free(a->free, TRUE);
        g_array_free(a->pending, TRUE);
        g_array_free(a->committed, TRUE);
        g_array_free(a->sealed, TRUE);
        a->free = a->pending = a->committed = a->sealed = NULL;
    }
}

/* The index of the first range of @list at or after @offset */
static guint free_list_search(GArray *list, uint64_t offset)
{
    guint lo = 0, hi = list->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;

        if (g_array_index(list, VhdxRange, mid).offset < offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/*
 * Inserts a range into the sorted free list, merging with neighbours.
 * Returns the length of the free range that now holds it.
 */
static uint64_t free_list_insert(GArray *list, uint64_t offset,
                                 uint64_t length)
{
    guint i = free_list_search(list, offset);
    VhdxRange *r;

    if (i > 0) {
        r = &g_array_index(list, VhdxRange, i - 1);
        if (r->offset + r->length == offset) {
            r->length += length;
            if (i < list->len) {
                VhdxRange *next = &g_array_index(list, VhdxRange, i);

                if (r->offset + r->length == next->offset) {
                    r->length += next->length;
                    g_array_remove_index(list, i);
                }
            }
            return r->length;
        }
    }
    if (i < list->len) {
        r = &g_array_index(list, VhdxRange, i);
        if (offset + length == r->offset) {
            r->offset = offset;
            r->length += length;
            return r->length;
        }
    }
    g_array_insert_val(list, i, ((VhdxRange) { offset, length }));
    return length;
}

static void alloc_free_insert(VhdxAllocator *a, uint64_t offset,
                              uint64_t length)
{
    uint64_t merged = free_list_insert(a->free, offset, length);

    a->largest_free = MAX(a->largest_free, merged);
}

void vhdx_alloc_add_hole(VhdxAllocator *a, uint64_t offset, uint64_t length)
{
    g_assert(offset % VHDX_ALIGNMENT == 0 && length % VHDX_ALIGNMENT == 0);
    if (length) {
        alloc_free_insert(a, offset, length);
    }
}

/*
 * First fit.  A file can hold hundreds of thousands of small holes, so
 * the free list remembers a bound on its longest range and a request
 * longer than that goes to the end of the file without a walk.
 */
static bool alloc_take_hole(VhdxAllocator *a, uint64_t length,
                            uint64_t *offset)
{
    uint64_t longest = 0;

    if (length > a->largest_free) {
        return false;
    }
    for (guint i = 0; i < a->free->len; i++) {
        VhdxRange *r = &g_array_index(a->free, VhdxRange, i);

        if (r->length >= length) {
            *offset = r->offset;
            r->offset += length;
            r->length -= length;
            if (!r->length) {
                g_array_remove_index(a->free, i);
            }
            return true;
        }
        longest = MAX(longest, r->length);
    }
    a->largest_free = longest;
    return false;
}

uint64_t vhdx_alloc_take(VhdxAllocator *a, uint64_t length, bool *fresh)
{
    uint64_t offset;

    g_assert(length && length % VHDX_ALIGNMENT == 0);
    if (alloc_take_hole(a, length, &offset)) {
        *fresh = false;
        return offset;
    }
    offset = a->end;
    a->end += length;
    *fresh = true;
    return offset;
}

void vhdx_alloc_untake(VhdxAllocator *a, uint64_t offset, uint64_t length)
{
    if (offset + length == a->end) {
        a->end = offset;
    } else {
        alloc_free_insert(a, offset, length);
    }
}

void vhdx_alloc_release(VhdxAllocator *a, uint64_t offset, uint64_t length)
{
    g_assert(offset % VHDX_ALIGNMENT == 0 && length % VHDX_ALIGNMENT == 0);
    g_array_append_val(a->pending, ((VhdxRange) { offset, length }));
}

/* Appends every range of @from to @to and empties @from */
static void ranges_move(GArray *from, GArray *to)
{
    g_array_append_vals(to, from->data, from->len);
    g_array_set_size(from, 0);
}

void vhdx_alloc_committed(VhdxAllocator *a)
{
    ranges_move(a->pending, a->committed);
}

bool vhdx_alloc_seal(VhdxAllocator *a)
{
    if (!a->committed->len) {
        return false;
    }
    ranges_move(a->committed, a->sealed);
    return true;
}

void vhdx_alloc_release_sealed(VhdxAllocator *a)
{
    for (guint i = 0; i < a->sealed->len; i++) {
        VhdxRange *r = &g_array_index(a->sealed, VhdxRange, i);

        alloc_free_insert(a, r->offset, r->length);
    }
    g_array_set_size(a->sealed, 0);
}

/* Drops the parts of @list's ranges at or past @end */
static void ranges_clip(GArray *list, uint64_t end)
{
    guint i = 0;

    while (i < list->len) {
        VhdxRange *r = &g_array_index(list, VhdxRange, i);

        if (r->offset >= end) {
            g_array_remove_index(list, i);
            continue;
        }
        r->length = MIN(r->length, end - r->offset);
        i++;
    }
}

void vhdx_alloc_cut(VhdxAllocator *a, uint64_t end)
{
    g_assert(end % VHDX_ALIGNMENT == 0);
    if (end >= a->end) {
        return;
    }
    ranges_clip(a->free, end);
    ranges_clip(a->pending, end);
    ranges_clip(a->committed, end);
    ranges_clip(a->sealed, end);
    a->end = end;
}

uint64_t vhdx_alloc_free_bytes(const VhdxAllocator *a)
{
    uint64_t total = 0;

    for (guint i = 0; i < a->free->len; i++) {
        total += g_array_index(a->free, VhdxRange, i).length;
    }
    return total;
}

uint64_t vhdx_alloc_used_end(const VhdxAllocator *a)
{
    const VhdxRange *last;

    if (!a->free->len) {
        return a->end;
    }
    last = &g_array_index(a->free, VhdxRange, a->free->len - 1);
    return last->offset + last->length == a->end ? last->offset : a->end;
}
