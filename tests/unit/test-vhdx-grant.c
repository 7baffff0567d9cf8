/*
 * Unit tests: linkage grants
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/grant.h"
#include "vhdx/endian.h"

#include <glib.h>
#include <string.h>

static void two_grants(VhdxGrants *g, VhdxGuid *child, VhdxGuid *linkage)
{
    memset(g, 0, sizeof(*g));
    for (int i = 0; i < 2; i++) {
        vhdx_guid_generate(&child[i]);
        vhdx_guid_generate(&linkage[i]);
        g_assert_true(vhdx_grants_add(g, &child[i], &linkage[i]));
    }
}

static void test_round_trip(void)
{
    VhdxGuid child[2], linkage[2];
    g_autofree uint8_t *item = NULL;
    VhdxGrants g, back;
    uint32_t len;

    two_grants(&g, child, linkage);
    item = vhdx_grants_encode(&g, &len);
    g_assert_cmpuint(len, ==, 16 + 2 * 32);
    g_assert_cmpmem(item, 8, "qvgrants", 8);
    g_assert_true(vhdx_grants_decode(item, len, &back));
    g_assert_true(vhdx_grants_equal(&g, &back));
    g_assert_true(vhdx_grants_find(&back, &child[1], &linkage[1]));
    /* A child keeps only the linkage it was granted */
    g_assert_false(vhdx_grants_find(&back, &child[0], &linkage[1]));
    g_assert_false(vhdx_grants_find(&back, &linkage[0], &child[0]));
}

static void test_add(void)
{
    VhdxGuid child[2], linkage[2], extra;
    VhdxGrants g;

    two_grants(&g, child, linkage);
    g_assert_true(vhdx_grants_add(&g, &child[0], &linkage[0]));
    g_assert_cmpuint(g.count, ==, 2);
    while (g.count < VHDX_GRANTS_MAX) {
        vhdx_guid_generate(&extra);
        g_assert_true(vhdx_grants_add(&g, &extra, &linkage[0]));
    }
    vhdx_guid_generate(&extra);
    g_assert_false(vhdx_grants_add(&g, &extra, &linkage[0]));
    /* Already there: still fine when full */
    g_assert_true(vhdx_grants_add(&g, &child[1], &linkage[1]));
}

/* What this version cannot read holds no grants, never garbage */
static void test_unreadable(void)
{
    VhdxGuid child[2], linkage[2];
    g_autofree uint8_t *item = NULL;
    VhdxGrants g, back;
    uint32_t len;

    two_grants(&g, child, linkage);
    item = vhdx_grants_encode(&g, &len);
    g_assert_false(vhdx_grants_decode(item, 15, &back));
    g_assert_cmpuint(back.count, ==, 0);
    g_assert_false(vhdx_grants_decode(item, len - 1, &back));
    g_assert_cmpuint(back.count, ==, 0);

    vhdx_st32(item + 12, VHDX_GRANTS_MAX + 1);
    g_assert_false(vhdx_grants_decode(item, len, &back));
    vhdx_st32(item + 12, 0xffffffff);
    g_assert_false(vhdx_grants_decode(item, len, &back));
    vhdx_st32(item + 12, 2);

    vhdx_st32(item + 8, 2);
    g_assert_false(vhdx_grants_decode(item, len, &back));
    vhdx_st32(item + 8, 1);

    item[0] ^= 1;
    g_assert_false(vhdx_grants_decode(item, len, &back));
    item[0] ^= 1;
    g_assert_true(vhdx_grants_decode(item, len, &back));
    g_assert_cmpuint(back.count, ==, 2);
}

static void test_equal(void)
{
    VhdxGuid child[2], linkage[2];
    VhdxGrants a, b;

    two_grants(&a, child, linkage);
    memset(&b, 0, sizeof(b));
    g_assert_false(vhdx_grants_equal(&a, &b));
    vhdx_grants_add(&b, &child[1], &linkage[1]);
    vhdx_grants_add(&b, &child[0], &linkage[0]);
    g_assert_true(vhdx_grants_equal(&a, &b));
    b.entries[0].linkage = linkage[0];
    g_assert_false(vhdx_grants_equal(&a, &b));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/grant/round-trip", test_round_trip);
    g_test_add_func("/grant/add", test_add);
    g_test_add_func("/grant/unreadable", test_unreadable);
    g_test_add_func("/grant/equal", test_equal);
    return g_test_run();
}
