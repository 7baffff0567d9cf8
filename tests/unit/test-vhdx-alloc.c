/*
 * Unit tests: file space allocation (free list, reuse, bounds)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/alloc.h"
#include "vhdx/format.h"

#define MiB VHDX_MiB

static uint64_t take(VhdxAllocator *a, uint64_t length, bool want_fresh)
{
    bool fresh;
    uint64_t offset = vhdx_alloc_take(a, length, &fresh);

    g_assert_cmpint(fresh, ==, want_fresh);
    return offset;
}

/* Holes fed in any order end up sorted and merged */
static void test_holes_merge(void)
{
    VhdxAllocator a;

    vhdx_alloc_init(&a, 100 * MiB);
    vhdx_alloc_add_hole(&a, 50 * MiB, MiB);
    vhdx_alloc_add_hole(&a, 10 * MiB, MiB);
    vhdx_alloc_add_hole(&a, 30 * MiB, MiB);
    vhdx_alloc_add_hole(&a, 11 * MiB, 2 * MiB);
    vhdx_alloc_add_hole(&a, 9 * MiB, MiB);
    g_assert_cmpuint(a.free->len, ==, 3);
    g_assert_cmpuint(vhdx_alloc_free_bytes(&a), ==, 6 * MiB);
    /* First fit: the lowest hole long enough */
    g_assert_cmpuint(take(&a, 4 * MiB, false), ==, 9 * MiB);
    g_assert_cmpuint(take(&a, MiB, false), ==, 30 * MiB);
    g_assert_cmpuint(take(&a, 2 * MiB, true), ==, 100 * MiB);
    g_assert_cmpuint(take(&a, MiB, false), ==, 50 * MiB);
    g_assert_cmpuint(take(&a, MiB, true), ==, 102 * MiB);
    vhdx_alloc_destroy(&a);
}

/*
 * 300,000 one-unit holes, as a hostile or fragmented file has them: fed
 * in file order they cost a binary search each, and requests longer than
 * any hole go to the end without walking the list after the first time.
 */
static void test_many_holes(void)
{
    const uint64_t holes = 300000;
    VhdxAllocator a;
    gint64 start = g_get_monotonic_time();

    vhdx_alloc_init(&a, 2 * holes * MiB);
    for (uint64_t i = 0; i < holes; i++) {
        vhdx_alloc_add_hole(&a, 2 * i * MiB, MiB);
    }
    g_assert_cmpuint(a.free->len, ==, holes);
    for (uint64_t i = 0; i < 10000; i++) {
        g_assert_cmpuint(take(&a, 32 * MiB, true), ==,
                         (2 * holes + 32 * i) * MiB);
    }
    g_assert_cmpuint(take(&a, MiB, false), ==, 0);
    /* Generous bound: the quadratic version took over 30 s */
    g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
    vhdx_alloc_destroy(&a);
}

/* A merge makes a hole long enough again: the bound must follow */
static void test_bound_grows(void)
{
    VhdxAllocator a;

    vhdx_alloc_init(&a, 100 * MiB);
    vhdx_alloc_add_hole(&a, 10 * MiB, MiB);
    vhdx_alloc_add_hole(&a, 20 * MiB, MiB);
    g_assert_cmpuint(take(&a, 2 * MiB, true), ==, 100 * MiB);
    /* Freed space next to the hole at 10 MiB: now 2 MiB long */
    vhdx_alloc_release(&a, 11 * MiB, MiB);
    vhdx_alloc_committed(&a);
    g_assert_true(vhdx_alloc_seal(&a));
    vhdx_alloc_release_sealed(&a);
    g_assert_cmpuint(take(&a, 2 * MiB, false), ==, 10 * MiB);
    /* Space given back below the end merges into a hole too */
    vhdx_alloc_untake(&a, 21 * MiB, MiB);
    g_assert_cmpuint(take(&a, 2 * MiB, false), ==, 20 * MiB);
    /* ... and at the end it moves the end back */
    vhdx_alloc_untake(&a, 100 * MiB, 2 * MiB);
    g_assert_cmpuint(a.end, ==, 100 * MiB);
    vhdx_alloc_destroy(&a);
}

/*
 * Cutting the file (vhdx_image_trim) drops the free space past the cut,
 * in every list: the next block there is fresh, to be grown into, not a
 * hole already inside the file
 */
static void test_cut(void)
{
    VhdxAllocator a;

    vhdx_alloc_init(&a, 8 * MiB);
    vhdx_alloc_add_hole(&a, 3 * MiB, MiB);
    vhdx_alloc_add_hole(&a, 7 * MiB, MiB);
    vhdx_alloc_release(&a, 5 * MiB, 2 * MiB);
    vhdx_alloc_committed(&a);
    g_assert_cmpuint(vhdx_alloc_used_end(&a), ==, 7 * MiB);
    vhdx_alloc_cut(&a, 6 * MiB);
    g_assert_cmpuint(vhdx_alloc_used_end(&a), ==, 6 * MiB);
    g_assert_cmpuint(vhdx_alloc_free_bytes(&a), ==, MiB);
    g_assert_cmpuint(take(&a, MiB, false), ==, 3 * MiB);
    g_assert_cmpuint(take(&a, MiB, true), ==, 6 * MiB);
    /* The committed release was clipped to what the file still holds */
    g_assert_true(vhdx_alloc_seal(&a));
    vhdx_alloc_release_sealed(&a);
    g_assert_cmpuint(take(&a, MiB, false), ==, 5 * MiB);
    g_assert_cmpuint(take(&a, MiB, true), ==, 7 * MiB);
    /* A cut past the end changes nothing */
    vhdx_alloc_cut(&a, 100 * MiB);
    g_assert_cmpuint(take(&a, MiB, true), ==, 8 * MiB);
    vhdx_alloc_destroy(&a);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/alloc/holes-merge", test_holes_merge);
    g_test_add_func("/alloc/many-holes", test_many_holes);
    g_test_add_func("/alloc/bound-grows", test_bound_grows);
    g_test_add_func("/alloc/cut", test_cut);
    return g_test_run();
}
