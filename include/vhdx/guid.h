/*
 * VHDX GUIDs
 *
 * A GUID is kept as its 16 on-disk bytes: the first three fields are
 * little-endian, the last eight bytes are in order.  Only formatting and
 * parsing know about the field layout.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_GUID_H
#define VHDX_GUID_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct VhdxGuid {
    uint8_t bytes[16];
} VhdxGuid;

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" plus the terminating NUL */
#define VHDX_GUID_STRING_LEN 37

/* Builds the on-disk bytes of {d1-d2-d3-d4[0..1]-d4[2..7]} */
#define VHDX_GUID_INIT(d1, d2, d3, b0, b1, b2, b3, b4, b5, b6, b7) \
    { { (d1) & 0xff, ((d1) >> 8) & 0xff, ((d1) >> 16) & 0xff,      \
        ((d1) >> 24) & 0xff, (d2) & 0xff, ((d2) >> 8) & 0xff,      \
        (d3) & 0xff, ((d3) >> 8) & 0xff,                           \
        b0, b1, b2, b3, b4, b5, b6, b7 } }

extern const VhdxGuid vhdx_guid_bat_region;
extern const VhdxGuid vhdx_guid_metadata_region;
extern const VhdxGuid vhdx_guid_file_parameters;
extern const VhdxGuid vhdx_guid_virtual_disk_size;
extern const VhdxGuid vhdx_guid_page83;
extern const VhdxGuid vhdx_guid_logical_sector_size;
extern const VhdxGuid vhdx_guid_physical_sector_size;
extern const VhdxGuid vhdx_guid_parent_locator;
extern const VhdxGuid vhdx_guid_vhdx_locator_type;

bool vhdx_guid_equal(const VhdxGuid *a, const VhdxGuid *b);
bool vhdx_guid_is_zero(const VhdxGuid *g);

/* A random (version 4) GUID */
void vhdx_guid_generate(VhdxGuid *g);

/* Lower-case text without braces; @buf holds VHDX_GUID_STRING_LEN bytes */
void vhdx_guid_format(const VhdxGuid *g, char *buf);

/* Accepts either case, with or without surrounding braces */
bool vhdx_guid_parse(const char *str, VhdxGuid *g);

#endif /* VHDX_GUID_H */
