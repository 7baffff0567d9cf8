/*
 * CRC-32C (Castagnoli), as VHDX checksums use it
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_CRC32C_H
#define VHDX_CRC32C_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* Continues a raw CRC-32C (no pre- or post-inversion) over @buf */
uint32_t vhdx_crc32c_update(uint32_t crc, const void *buf, size_t len);

/* The standard CRC-32C of @buf: crc32c("123456789") == 0xe3069283 */
uint32_t vhdx_crc32c(const void *buf, size_t len);

/*
 * The checksum VHDX stores in a structure: the CRC-32C of @len bytes of
 * @buf computed as if the 4-byte field at @csum_offset were zero.
 */
uint32_t vhdx_checksum(const void *buf, size_t len, size_t csum_offset);

/* Computes the checksum of @buf and stores it at @csum_offset */
void vhdx_checksum_store(void *buf, size_t len, size_t csum_offset);

/*
 * Checks a structure that starts with a 4-byte signature @sig and a
 * checksum over its @len bytes at offset 4 (headers, region tables):
 * whether this copy was written whole.  Errors name @what.
 */
int vhdx_verify_signed_structure(const uint8_t *buf, size_t len,
                                 const char *sig, const char *what,
                                 GError **errp);

#endif /* VHDX_CRC32C_H */
