/*
 * Block driver for VHDX images: format-specific image information
 *
 * What qemu-img info prints under "Format specific information" and
 * query-block returns as format-specific data: what a user needs to see
 * what kind of image this is and why a chain is or is not accepted.  All
 * of it comes from the core, which keeps the counts of blocks by state up
 * to date as the image changes, so a query reads nothing from the file.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-types-block-core.h"

#include "vhdx-int.h"

static char *vhdx_info_guid(const VhdxGuid *g)
{
    char buf[VHDX_GUID_STRING_LEN];

    vhdx_guid_format(g, buf);
    return g_strdup(buf);
}

static VhdxInfoSubformat vhdx_info_subformat(const VhdxImage *img)
{
    if (vhdx_image_is_differencing(img)) {
        return VHDX_INFO_SUBFORMAT_DIFFERENCING;
    }
    return vhdx_image_is_fixed(img) ? VHDX_INFO_SUBFORMAT_FIXED :
                                      VHDX_INFO_SUBFORMAT_DYNAMIC;
}

static VhdxInfoLogState vhdx_info_log_state(const VhdxImage *img)
{
    switch (vhdx_image_log_state(img)) {
    case VHDX_LOG_REPLAYED:
        return VHDX_INFO_LOG_STATE_REPLAYED;
    case VHDX_LOG_PENDING:
        return VHDX_INFO_LOG_STATE_REPLAYED_IN_MEMORY;
    default:
        return VHDX_INFO_LOG_STATE_CLEAN;
    }
}

static int vhdx_info_blocks(VhdxImage *img, VhdxInfoBlockCounts **out,
                            GError **errp)
{
    VhdxInfoBlockCounts *info;
    VhdxBlockCounts c;
    int ret;

    ret = vhdx_image_block_counts(img, &c, errp);
    if (ret < 0) {
        return ret;
    }
    info = g_new0(VhdxInfoBlockCounts, 1);
    info->not_present = c.by_state[VHDX_PAYLOAD_NOT_PRESENT];
    info->undefined = c.by_state[VHDX_PAYLOAD_UNDEFINED];
    info->zero = c.by_state[VHDX_PAYLOAD_ZERO];
    info->unmapped = c.by_state[VHDX_PAYLOAD_UNMAPPED];
    info->fully_present = c.by_state[VHDX_PAYLOAD_FULLY_PRESENT];
    info->partially_present = c.by_state[VHDX_PAYLOAD_PARTIALLY_PRESENT];
    info->sector_bitmaps = c.bitmap_blocks;
    *out = info;
    return 0;
}

/* The locator's entries as stored, in their order in the file */
static int vhdx_info_locator(const VhdxImage *img,
                             VhdxInfoLocatorEntryList **out, GError **errp)
{
    VhdxInfoLocatorEntryList **tail = out;
    VhdxLocator loc;
    int ret;

    ret = vhdx_image_locator(img, &loc, errp);
    if (ret < 0) {
        return ret;
    }
    for (size_t i = 0; i < loc.count; i++) {
        VhdxInfoLocatorEntry *e = g_new(VhdxInfoLocatorEntry, 1);

        e->key = g_strdup(loc.entries[i].key);
        e->value = g_strdup(loc.entries[i].value);
        QAPI_LIST_APPEND(tail, e);
    }
    vhdx_locator_clear(&loc);
    return 0;
}

static VhdxInfoGrantList *vhdx_info_grants(const VhdxImage *img)
{
    const VhdxGrants *g = vhdx_image_grants(img);
    VhdxInfoGrantList *head = NULL, **tail = &head;

    for (uint32_t i = 0; i < g->count; i++) {
        VhdxInfoGrant *grant = g_new(VhdxInfoGrant, 1);

        grant->child = vhdx_info_guid(&g->entries[i].child);
        grant->linkage = vhdx_info_guid(&g->entries[i].linkage);
        grant->via = vhdx_info_guid(&g->entries[i].via);
        QAPI_LIST_APPEND(tail, grant);
    }
    return head;
}

/* What a differencing image records of its parent */
static int vhdx_info_parent(const VhdxImage *img, ImageInfoSpecificVhdx *info,
                            GError **errp)
{
    const VhdxParentRef *ref = vhdx_image_parent(img);

    if (!ref) {
        return 0;
    }
    info->parent_linkage = vhdx_info_guid(&ref->linkage);
    if (ref->has_linkage2) {
        info->parent_linkage2 = vhdx_info_guid(&ref->linkage2);
    }
    info->has_parent_locator = true;
    return vhdx_info_locator(img, &info->parent_locator, errp);
}

ImageInfoSpecific * GRAPH_RDLOCK
vhdx_get_specific_info(BlockDriverState *bs, Error **errp)
{
    BDRVVHDXState *s = bs->opaque;
    VhdxImage *img = s->img;
    g_autoptr(ImageInfoSpecificVhdx) info = g_new0(ImageInfoSpecificVhdx, 1);
    ImageInfoSpecific *spec;
    GError *gerr = NULL;

    info->subformat = vhdx_info_subformat(img);
    info->block_size = vhdx_image_block_size(img);
    info->logical_sector_size = vhdx_image_logical_sector_size(img);
    info->physical_sector_size = vhdx_image_physical_sector_size(img);
    info->log = vhdx_info_log_state(img);
    info->virtual_disk_id = vhdx_info_guid(vhdx_image_page83(img));
    info->file_write_guid = vhdx_info_guid(vhdx_image_file_write_guid(img));
    info->data_write_guid = vhdx_info_guid(vhdx_image_data_write_guid(img));
    if (vhdx_info_parent(img, info, &gerr) < 0 ||
        vhdx_info_blocks(img, &info->blocks, &gerr) < 0) {
        vhdx_error_propagate(errp, bs->filename, gerr);
        return NULL;
    }
    info->grants = vhdx_info_grants(img);
    info->has_grants = info->grants != NULL;

    spec = g_new(ImageInfoSpecific, 1);
    spec->type = IMAGE_INFO_SPECIFIC_KIND_VHDX;
    spec->u.vhdx.data = g_steal_pointer(&info);
    return spec;
}
