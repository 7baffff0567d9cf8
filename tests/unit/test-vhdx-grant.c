/*
 * Unit tests: linkage grants
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/grant.h"
#include "vhdx/endian.h"

#include <glib.h>
#include <string.h>

static VhdxGrant random_grant(void)
{
    VhdxGrant g;

    vhdx_guid_generate(&g.child);
    vhdx_guid_generate(&g.linkage);
    vhdx_guid_generate(&g.via);
    return g;
}

static void two_grants(VhdxGrants *g, VhdxGrant *grant)
{
    memset(g, 0, sizeof(*g));
    for (int i = 0; i < 2; i++) {
        grant[i] = random_grant();
        g_assert_true(vhdx_grants_add(g, &grant[i]));
    }
}

static void test_round_trip(void)
{
    g_autofree uint8_t *item = NULL;
    VhdxGrant grant[2];
    VhdxGrants g, back;
    uint32_t len;

    two_grants(&g, grant);
    item = vhdx_grants_encode(&g, &len);
    g_assert_cmpuint(len, ==, 16 + 2 * 48);
    g_assert_cmpmem(item, 8, "qvgrants", 8);
    g_assert_true(vhdx_grants_decode(item, len, &back));
    g_assert_true(vhdx_grants_equal(&g, &back));
    g_assert_true(vhdx_grants_contain(&back, &grant[1]));
    g_assert_cmpmem(&back.entries[0], sizeof(VhdxGrant), &grant[0],
                    sizeof(VhdxGrant));
}

/* A child keeps only the linkage it was granted, through its vias */
static void test_vias(void)
{
    VhdxGuid vias[VHDX_GRANTS_MAX];
    VhdxGrant grant[2], other;
    VhdxGrants g;

    two_grants(&g, grant);
    other = grant[0];
    vhdx_guid_generate(&other.via);
    g_assert_true(vhdx_grants_add(&g, &other));
    g_assert_cmpuint(vhdx_grants_vias(&g, &grant[0].child,
                                      &grant[0].linkage, vias), ==, 2);
    g_assert_true(vhdx_guid_equal(&vias[0], &grant[0].via));
    g_assert_true(vhdx_guid_equal(&vias[1], &other.via));
    g_assert_cmpuint(vhdx_grants_vias(&g, &grant[0].child,
                                      &grant[1].linkage, vias), ==, 0);
    g_assert_cmpuint(vhdx_grants_vias(&g, &grant[0].linkage,
                                      &grant[0].child, vias), ==, 0);
}

static void test_add(void)
{
    VhdxGrant grant[2], extra;
    VhdxGrants g;

    two_grants(&g, grant);
    g_assert_true(vhdx_grants_add(&g, &grant[0]));
    g_assert_cmpuint(g.count, ==, 2);
    while (g.count < VHDX_GRANTS_MAX) {
        extra = random_grant();
        g_assert_true(vhdx_grants_add(&g, &extra));
    }
    extra = random_grant();
    g_assert_false(vhdx_grants_add(&g, &extra));
    /* Already there: still fine when full */
    g_assert_true(vhdx_grants_add(&g, &grant[1]));
}

/* What this version cannot read holds no grants, never garbage */
static void test_unreadable(void)
{
    g_autofree uint8_t *item = NULL;
    VhdxGrant grant[2];
    VhdxGrants g, back;
    uint32_t len;

    two_grants(&g, grant);
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

static void test_equal_intersect(void)
{
    VhdxGrant grant[2], extra = random_grant();
    VhdxGrants a, b, both;

    two_grants(&a, grant);
    memset(&b, 0, sizeof(b));
    g_assert_false(vhdx_grants_equal(&a, &b));
    vhdx_grants_add(&b, &grant[1]);
    vhdx_grants_add(&b, &grant[0]);
    g_assert_true(vhdx_grants_equal(&a, &b));
    b.entries[0].via = extra.via;
    g_assert_false(vhdx_grants_equal(&a, &b));

    vhdx_grants_add(&b, &extra);
    vhdx_grants_intersect(&a, &b, &both);
    g_assert_cmpuint(both.count, ==, 1);
    g_assert_true(vhdx_grants_contain(&both, &grant[0]));
}

/* A merge's grants go once its via image reads the parent directly */
static void test_drop_via(void)
{
    VhdxGrant grant[2], same_via = random_grant();
    VhdxGrants g, kept;

    two_grants(&g, grant);
    same_via.via = grant[0].via;
    g_assert_true(vhdx_grants_add(&g, &same_via));
    vhdx_grants_drop_via(&g, &grant[0].via, &kept);
    g_assert_cmpuint(kept.count, ==, 1);
    g_assert_true(vhdx_grants_contain(&kept, &grant[1]));
    vhdx_grants_drop_via(&kept, &grant[0].child, &g);
    g_assert_true(vhdx_grants_equal(&g, &kept));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/grant/round-trip", test_round_trip);
    g_test_add_func("/grant/vias", test_vias);
    g_test_add_func("/grant/add", test_add);
    g_test_add_func("/grant/unreadable", test_unreadable);
    g_test_add_func("/grant/equal-intersect", test_equal_intersect);
    g_test_add_func("/grant/drop-via", test_drop_via);
    return g_test_run();
}
