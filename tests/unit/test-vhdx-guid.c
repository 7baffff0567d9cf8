/*
 * Unit tests: GUID byte order, text form and generation
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/guid.h"

#include <glib.h>
#include <string.h>

static void test_well_known_layout(void)
{
    /* BAT region GUID 2DC27766-F623-4200-9D64-115E9BFD4A08 as on disk */
    static const uint8_t expect[16] = {
        0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
        0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08,
    };
    char text[VHDX_GUID_STRING_LEN];

    g_assert_cmpmem(vhdx_guid_bat_region.bytes, 16, expect, 16);
    vhdx_guid_format(&vhdx_guid_bat_region, text);
    g_assert_cmpstr(text, ==, "2dc27766-f623-4200-9d64-115e9bfd4a08");
}

static void test_parse_round_trip(void)
{
    VhdxGuid g;
    char text[VHDX_GUID_STRING_LEN];

    g_assert_true(vhdx_guid_parse("{B04AEFB7-D19E-4A81-B789-25B8E9445913}",
                                  &g));
    g_assert_true(vhdx_guid_equal(&g, &vhdx_guid_vhdx_locator_type));
    g_assert_true(vhdx_guid_parse("b04aefb7-d19e-4a81-b789-25b8e9445913",
                                  &g));
    g_assert_true(vhdx_guid_equal(&g, &vhdx_guid_vhdx_locator_type));
    vhdx_guid_format(&g, text);
    g_assert_cmpstr(text, ==, "b04aefb7-d19e-4a81-b789-25b8e9445913");
}

static void test_parse_rejects_malformed(void)
{
    static const char *const bad[] = {
        "", "{}", "b04aefb7d19e4a81b78925b8e9445913",
        "b04aefb7-d19e-4a81-b789-25b8e944591",
        "b04aefb7-d19e-4a81-b789-25b8e94459133",
        "g04aefb7-d19e-4a81-b789-25b8e9445913",
        "b04aefb7+d19e-4a81-b789-25b8e9445913",
        "{b04aefb7-d19e-4a81-b789-25b8e9445913",
    };
    VhdxGuid g;

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(vhdx_guid_parse(bad[i], &g));
    }
}

static void test_generate_is_random_v4(void)
{
    VhdxGuid a, b;
    char text[VHDX_GUID_STRING_LEN];

    vhdx_guid_generate(&a);
    vhdx_guid_generate(&b);
    g_assert_false(vhdx_guid_equal(&a, &b));
    g_assert_false(vhdx_guid_is_zero(&a));
    vhdx_guid_format(&a, text);
    g_assert_cmpint(text[14], ==, '4');
    g_assert_nonnull(strchr("89ab", text[19]));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/guid/well-known-layout", test_well_known_layout);
    g_test_add_func("/guid/parse-round-trip", test_parse_round_trip);
    g_test_add_func("/guid/parse-rejects", test_parse_rejects_malformed);
    g_test_add_func("/guid/generate", test_generate_is_random_v4);
    return g_test_run();
}
