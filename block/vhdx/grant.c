/*
 * Linkage grants: a parent vouching for children across a merge
 *
 * The item: "qvgrants" (8 bytes), Version (4, value 1), Count (4), then
 * Count entries of three GUIDs in on-disk byte order: the child's Page 83
 * data, the linkage GUID it keeps, the Page 83 data of the via image.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/grant.h"
#include "vhdx/endian.h"

#include <string.h>

#define GRANTS_SIGNATURE        "qvgrants"
#define GRANTS_VERSION          1
#define GRANTS_HEADER_SIZE      16
#define GRANT_ENTRY_SIZE        48

/* {3506c757-d3dc-4134-971e-b0cb764d4598} */
const VhdxGuid vhdx_guid_linkage_grants =
    VHDX_GUID_INIT(0x3506c757, 0xd3dc, 0x4134,
                   0x97, 0x1e, 0xb0, 0xcb, 0x76, 0x4d, 0x45, 0x98);

bool vhdx_grants_decode(const uint8_t *item, uint32_t len, VhdxGrants *g)
{
    uint32_t count;

    memset(g, 0, sizeof(*g));
    if (len < GRANTS_HEADER_SIZE ||
        memcmp(item, GRANTS_SIGNATURE, 8) != 0 ||
        vhdx_ld32(item + 8) != GRANTS_VERSION) {
        return false;
    }
    count = vhdx_ld32(item + 12);
    if (count > VHDX_GRANTS_MAX ||
        len != GRANTS_HEADER_SIZE + count * GRANT_ENTRY_SIZE) {
        return false;
    }
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *p = item + GRANTS_HEADER_SIZE + i * GRANT_ENTRY_SIZE;

        memcpy(g->entries[i].child.bytes, p, 16);
        memcpy(g->entries[i].linkage.bytes, p + 16, 16);
        memcpy(g->entries[i].via.bytes, p + 32, 16);
    }
    g->count = count;
    return true;
}

uint8_t *vhdx_grants_encode(const VhdxGrants *g, uint32_t *len)
{
    uint8_t *item;

    *len = GRANTS_HEADER_SIZE + g->count * GRANT_ENTRY_SIZE;
    item = g_malloc0(*len);
    memcpy(item, GRANTS_SIGNATURE, 8);
    vhdx_st32(item + 8, GRANTS_VERSION);
    vhdx_st32(item + 12, g->count);
    for (uint32_t i = 0; i < g->count; i++) {
        uint8_t *p = item + GRANTS_HEADER_SIZE + i * GRANT_ENTRY_SIZE;

        memcpy(p, g->entries[i].child.bytes, 16);
        memcpy(p + 16, g->entries[i].linkage.bytes, 16);
        memcpy(p + 32, g->entries[i].via.bytes, 16);
    }
    return item;
}

static bool grant_equal(const VhdxGrant *a, const VhdxGrant *b)
{
    return vhdx_guid_equal(&a->child, &b->child) &&
           vhdx_guid_equal(&a->linkage, &b->linkage) &&
           vhdx_guid_equal(&a->via, &b->via);
}

bool vhdx_grants_contain(const VhdxGrants *g, const VhdxGrant *grant)
{
    for (uint32_t i = 0; i < g->count; i++) {
        if (grant_equal(&g->entries[i], grant)) {
            return true;
        }
    }
    return false;
}

unsigned vhdx_grants_vias(const VhdxGrants *g, const VhdxGuid *child,
                          const VhdxGuid *linkage, VhdxGuid *vias)
{
    unsigned n = 0;

    for (uint32_t i = 0; i < g->count; i++) {
        if (vhdx_guid_equal(&g->entries[i].child, child) &&
            vhdx_guid_equal(&g->entries[i].linkage, linkage)) {
            vias[n++] = g->entries[i].via;
        }
    }
    return n;
}

bool vhdx_grants_add(VhdxGrants *g, const VhdxGrant *grant)
{
    if (vhdx_grants_contain(g, grant)) {
        return true;
    }
    if (g->count == VHDX_GRANTS_MAX) {
        return false;
    }
    g->entries[g->count++] = *grant;
    return true;
}

void vhdx_grants_intersect(const VhdxGrants *a, const VhdxGrants *b,
                           VhdxGrants *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < a->count; i++) {
        if (vhdx_grants_contain(b, &a->entries[i])) {
            vhdx_grants_add(out, &a->entries[i]);
        }
    }
}

void vhdx_grants_drop_via(const VhdxGrants *g, const VhdxGuid *via,
                          VhdxGrants *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < g->count; i++) {
        if (!vhdx_guid_equal(&g->entries[i].via, via)) {
            vhdx_grants_add(out, &g->entries[i]);
        }
    }
}

bool vhdx_grants_equal(const VhdxGrants *a, const VhdxGrants *b)
{
    if (a->count != b->count) {
        return false;
    }
    for (uint32_t i = 0; i < a->count; i++) {
        if (!vhdx_grants_contain(b, &a->entries[i])) {
            return false;
        }
    }
    return true;
}
