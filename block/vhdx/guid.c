/*
 * VHDX GUIDs: the well-known identifiers, comparison, text form
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/guid.h"

#include <stdio.h>
#include <string.h>

const VhdxGuid vhdx_guid_bat_region =
    VHDX_GUID_INIT(0x2dc27766, 0xf623, 0x4200,
                   0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08);
const VhdxGuid vhdx_guid_metadata_region =
    VHDX_GUID_INIT(0x8b7ca206, 0x4790, 0x4b9a,
                   0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e);
const VhdxGuid vhdx_guid_file_parameters =
    VHDX_GUID_INIT(0xcaa16737, 0xfa36, 0x4d43,
                   0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b);
const VhdxGuid vhdx_guid_virtual_disk_size =
    VHDX_GUID_INIT(0x2fa54224, 0xcd1b, 0x4876,
                   0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8);
const VhdxGuid vhdx_guid_page83 =
    VHDX_GUID_INIT(0xbeca12ab, 0xb2e6, 0x4523,
                   0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46);
const VhdxGuid vhdx_guid_logical_sector_size =
    VHDX_GUID_INIT(0x8141bf1d, 0xa96f, 0x4709,
                   0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f);
const VhdxGuid vhdx_guid_physical_sector_size =
    VHDX_GUID_INIT(0xcda348c7, 0x445d, 0x4471,
                   0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56);
const VhdxGuid vhdx_guid_parent_locator =
    VHDX_GUID_INIT(0xa8d35f2d, 0xb30b, 0x454d,
                   0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c);
const VhdxGuid vhdx_guid_vhdx_locator_type =
    VHDX_GUID_INIT(0xb04aefb7, 0xd19e, 0x4a81,
                   0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59, 0x13);

bool vhdx_guid_equal(const VhdxGuid *a, const VhdxGuid *b)
{
    return memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

bool vhdx_guid_is_zero(const VhdxGuid *g)
{
    static const VhdxGuid zero;

    return vhdx_guid_equal(g, &zero);
}

void vhdx_guid_generate(VhdxGuid *g)
{
    for (size_t i = 0; i < sizeof(g->bytes); i += 4) {
        guint32 r = g_random_int();

        memcpy(g->bytes + i, &r, 4);
    }
    /* Version 4 lives in the top nibble of the third field (byte 7) */
    g->bytes[7] = (g->bytes[7] & 0x0f) | 0x40;
    g->bytes[8] = (g->bytes[8] & 0x3f) | 0x80;
}

/* Text order of the bytes: the first three fields are stored reversed */
static const int text_order[16] = {
    3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15
};

/* Positions after which the text form has a dash */
static bool dash_after(int i)
{
    return i == 3 || i == 5 || i == 7 || i == 9;
}

void vhdx_guid_format(const VhdxGuid *g, char *buf)
{
    char *p = buf;

    for (int i = 0; i < 16; i++) {
        p += sprintf(p, "%02x", g->bytes[text_order[i]]);
        if (dash_after(i)) {
            *p++ = '-';
        }
    }
    *p = '\0';
}

bool vhdx_guid_parse(const char *str, VhdxGuid *g)
{
    size_t len = strlen(str);
    const char *p = str;
    VhdxGuid out;

    if (len == VHDX_GUID_STRING_LEN + 1 && str[0] == '{' &&
        str[len - 1] == '}') {
        p++;
        len -= 2;
    }
    if (len != VHDX_GUID_STRING_LEN - 1) {
        return false;
    }
    for (int i = 0; i < 16; i++) {
        int hi = g_ascii_xdigit_value(p[0]);
        int lo = hi < 0 ? -1 : g_ascii_xdigit_value(p[1]);

        if (lo < 0) {
            return false;
        }
        out.bytes[text_order[i]] = hi << 4 | lo;
        p += 2;
        if (dash_after(i) && *p++ != '-') {
            return false;
        }
    }
    *g = out;
    return true;
}
