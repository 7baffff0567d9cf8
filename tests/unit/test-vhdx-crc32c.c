/*
 * Unit tests: CRC-32C and VHDX structure checksums
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/crc32c.h"
#include "vhdx/endian.h"

#include <glib.h>
#include <string.h>

static void test_known_values(void)
{
    static const uint8_t zeros[32];
    uint8_t ones[32];
    uint8_t inc[32];

    memset(ones, 0xff, sizeof(ones));
    for (int i = 0; i < 32; i++) {
        inc[i] = i;
    }
    /* Check value of the CRC-32C catalogue entry */
    g_assert_cmphex(vhdx_crc32c("123456789", 9), ==, 0xe3069283);
    /* RFC 3720 (iSCSI) appendix B.4 test vectors */
    g_assert_cmphex(vhdx_crc32c(zeros, 32), ==, 0x8a9136aa);
    g_assert_cmphex(vhdx_crc32c(ones, 32), ==, 0x62a8ab43);
    g_assert_cmphex(vhdx_crc32c(inc, 32), ==, 0x46dd794e);
    g_assert_cmphex(vhdx_crc32c("", 0), ==, 0);
}

static void test_split_update_matches_whole(void)
{
    uint8_t buf[1021];
    uint32_t whole, split;

    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (i * 131 + 7) & 0xff;
    }
    whole = vhdx_crc32c(buf, sizeof(buf));
    for (size_t cut = 0; cut <= sizeof(buf); cut += 97) {
        split = vhdx_crc32c_update(~0u, buf, cut);
        split = ~vhdx_crc32c_update(split, buf + cut, sizeof(buf) - cut);
        g_assert_cmphex(split, ==, whole);
    }
}

static void test_checksum_ignores_its_field(void)
{
    uint8_t buf[4096];
    uint32_t a, b;

    memset(buf, 0x5a, sizeof(buf));
    a = vhdx_checksum(buf, sizeof(buf), 4);
    vhdx_st32(buf + 4, 0xdeadbeef);
    b = vhdx_checksum(buf, sizeof(buf), 4);
    g_assert_cmphex(a, ==, b);

    vhdx_st32(buf + 4, 0);
    g_assert_cmphex(a, ==, vhdx_crc32c(buf, sizeof(buf)));

    vhdx_checksum_store(buf, sizeof(buf), 4);
    g_assert_cmphex(vhdx_ld32(buf + 4), ==, a);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crc32c/known-values", test_known_values);
    g_test_add_func("/crc32c/split-update", test_split_update_matches_whole);
    g_test_add_func("/crc32c/checksum-field", test_checksum_ignores_its_field);
    return g_test_run();
}
