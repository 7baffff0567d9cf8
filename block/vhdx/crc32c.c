/*
 * CRC-32C (Castagnoli polynomial, reflected 0x82f63b78)
 *
 * Slicing-by-8 tables, built once: VHDX checksums cover 4 KiB headers,
 * 64 KiB region and metadata tables and whole log entries.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/crc32c.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82f63b78u

static uint32_t crc_table[8][256];

static void crc32c_build_tables(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint32_t crc = i;

        for (int bit = 0; bit < 8; bit++) {
            crc = (crc >> 1) ^ ((crc & 1) ? CRC32C_POLY_REFLECTED : 0);
        }
        crc_table[0][i] = crc;
    }
    for (unsigned i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t prev = crc_table[t - 1][i];

            crc_table[t][i] = (prev >> 8) ^ crc_table[0][prev & 0xff];
        }
    }
}

static void crc32c_init_once(void)
{
    static gsize initialized;

    if (g_once_init_enter(&initialized)) {
        crc32c_build_tables();
        g_once_init_leave(&initialized, 1);
    }
}

uint32_t vhdx_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    crc32c_init_once();
    while (len >= 8) {
        uint32_t lo = vhdx_ld32(p) ^ crc;
        uint32_t hi = vhdx_ld32(p + 4);

        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
              crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) {
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    }
    return crc;
}

uint32_t vhdx_crc32c(const void *buf, size_t len)
{
    return ~vhdx_crc32c_update(~0u, buf, len);
}

uint32_t vhdx_checksum(const void *buf, size_t len, size_t csum_offset)
{
    static const uint8_t zero_field[4];
    const uint8_t *p = buf;
    uint32_t crc = ~0u;

    g_assert(csum_offset + 4 <= len);
    crc = vhdx_crc32c_update(crc, p, csum_offset);
    crc = vhdx_crc32c_update(crc, zero_field, sizeof(zero_field));
    crc = vhdx_crc32c_update(crc, p + csum_offset + 4,
                             len - csum_offset - 4);
    return ~crc;
}

void vhdx_checksum_store(void *buf, size_t len, size_t csum_offset)
{
    vhdx_st32((uint8_t *)buf + csum_offset,
              vhdx_checksum(buf, len, csum_offset));
}

int vhdx_verify_signed_structure(const uint8_t *buf, size_t len,
                                 const char *sig, const char *what,
                                 GError **errp)
{
    uint32_t stored, computed;

    if (memcmp(buf, sig, 4) != 0) {
        return vhdx_error(errp, EINVAL,
                          "%s: Signature 0x%08" PRIx32 " is not \"%s\"",
                          what, vhdx_ld32(buf), sig);
    }
    stored = vhdx_ld32(buf + 4);
    computed = vhdx_checksum(buf, len, 4);
    if (stored != computed) {
        return vhdx_error(errp, EINVAL,
                          "%s: Checksum 0x%08" PRIx32 " does not match the "
                          "computed 0x%08" PRIx32, what, stored, computed);
    }
    return 0;
}
