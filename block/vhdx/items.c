/*
 * Changing metadata items of an open image: the parent locator and the
 * linkage grants
 *
 * The whole metadata region is encoded anew and written through the
 * metadata cache as one journaled transaction, so a crash leaves either
 * the old or the new items.  Items this implementation does not know are
 * carried over unchanged.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/error.h"
#include "image-int.h"

#include <errno.h>
#include <inttypes.h>

/*
 * Regions are only read this far (vhdx_metadata_load): a longer one is
 * not rewritten, which would also mean walking gigabytes for a hostile
 * region length.
 */
#define ITEMS_REGION_MAX (16 * VHDX_MiB)

/* Counts the cached pages of [offset, offset + len) that differ from @buf */
static int items_count_changed_pages(VhdxImage *img, uint64_t offset,
                                     const uint8_t *buf, uint64_t len,
                                     size_t *changed, GError **errp)
{
    *changed = 0;
    for (uint64_t done = 0; done < len; done += VHDX_CACHE_PAGE_SIZE) {
        uint8_t *page;
        int ret = vhdx_cache_get(img->cache, offset + done, &page, errp);

        if (ret < 0) {
            return ret;
        }
        if (memcmp(page, buf + done, VHDX_CACHE_PAGE_SIZE)) {
            (*changed)++;
        }
    }
    return 0;
}

/*
 * Writes @md as the image's metadata in a transaction alone, refused
 * beforehand if it would not fit one log entry.  The image's view of its
 * metadata is then decoded from what was written, so that it also knows
 * where each item now lies.
 */
static int items_rewrite(VhdxImage *img, const VhdxMetadata *md,
                         const char *what, GError **errp)
{
    uint32_t len = img->regions.metadata_length;
    g_autofree uint8_t *region = NULL;
    VhdxMetadata written = { 0 };
    size_t changed = 0, max_changed;
    int ret;

    if (len > ITEMS_REGION_MAX) {
        return vhdx_error(errp, ENOTSUP, "VHDX: the metadata region of "
                          "0x%" PRIx32 " bytes is too large to rewrite the "
                          "%s", len, what);
    }
    /* One transaction: what one log entry and the cache both take */
    max_changed = MIN(vhdx_log_max_sectors_per_entry(&img->log),
                      vhdx_cache_max_dirty(img->cache));
    region = g_malloc0(len);
    ret = vhdx_image_begin_write(img, false, errp);
    if (ret == 0) {
        ret = vhdx_metadata_encode(md, region, len, errp);
    }
    if (ret == 0) {
        ret = vhdx_metadata_decode(region, len, &written, errp);
    }
    if (ret == 0) {
        /* Earlier changes go first, so this one is a transaction alone */
        ret = vhdx_cache_commit(img->cache, errp);
    }
    if (ret == 0) {
        ret = items_count_changed_pages(img, img->regions.metadata_offset,
                                        region, len, &changed, errp);
    }
    if (ret == 0 && changed > max_changed) {
        ret = vhdx_error(errp, ENOSPC, "VHDX: rewriting the %s changes %zu "
                         "metadata pages, more than one log entry holds; "
                         "the log is too small", what, changed);
    }
    if (ret == 0) {
        ret = vhdx_cache_write(img->cache, img->regions.metadata_offset,
                               region, len, errp);
    }
    if (ret == 0) {
        ret = vhdx_cache_commit(img->cache, errp);
    }
    if (ret < 0) {
        vhdx_metadata_clear(&written);
        return ret;
    }
    vhdx_metadata_clear(&img->metadata);
    img->metadata = written;
    return 0;
}

/* Rewrites the parent locator item, and the image's reading of it */
static int items_set_parent_locator(VhdxImage *img, const VhdxLocator *loc,
                                    GError **errp)
{
    g_autofree uint8_t *item = NULL;
    VhdxParentRef ref;
    VhdxMetadata md;
    size_t item_len;
    int ret;

    g_assert(img->metadata.has_parent);
    ret = vhdx_locator_encode(loc, &item, &item_len, errp);
    if (ret == 0) {
        ret = vhdx_parent_ref_init(&ref, loc, errp);
    }
    if (ret < 0) {
        return ret;
    }
    vhdx_metadata_copy(&md, &img->metadata);
    g_free(md.parent_locator);
    md.parent_locator = g_steal_pointer(&item);
    md.parent_locator_len = item_len;
    ret = items_rewrite(img, &md, "parent locator", errp);
    vhdx_metadata_clear(&md);
    if (ret < 0) {
        vhdx_parent_ref_clear(&ref);
        return ret;
    }
    vhdx_parent_ref_clear(&img->parent);
    img->parent = ref;
    return 0;
}

int vhdx_image_set_parent(VhdxImage *img, const VhdxParentSpec *parent,
                          GError **errp)
{
    VhdxLocator loc;
    int ret;

    if (!img->geo.has_parent) {
        return vhdx_error(errp, ENOTSUP, "VHDX image is not a differencing "
                          "image\nAn image gains a parent only by being "
                          "converted.");
    }
    if (parent->logical_sector_size != img->geo.logical_sector_size) {
        return vhdx_error(errp, EINVAL, "VHDX parent '%s' has %" PRIu32
                          "-byte sectors, the child %" PRIu32, parent->name,
                          parent->logical_sector_size,
                          img->geo.logical_sector_size);
    }
    vhdx_parent_locator_build(&loc, parent);
    ret = items_set_parent_locator(img, &loc, errp);
    vhdx_locator_clear(&loc);
    return ret;
}

int image_set_parent_linkage(VhdxImage *img, const VhdxGuid *dwg,
                             GError **errp)
{
    char guid[VHDX_GUID_STRING_LEN];
    g_autofree char *value = NULL;
    VhdxLocator loc;
    int ret;

    ret = vhdx_image_locator(img, &loc, errp);
    if (ret < 0) {
        return ret;
    }
    vhdx_guid_format(dwg, guid);
    value = g_strdup_printf("{%s}", guid);
    vhdx_locator_set(&loc, VHDX_KEY_PARENT_LINKAGE, value);
    vhdx_locator_set(&loc, VHDX_KEY_PARENT_LINKAGE2, value);
    ret = items_set_parent_locator(img, &loc, errp);
    vhdx_locator_clear(&loc);
    return ret;
}

int vhdx_image_set_grants(VhdxImage *img, const VhdxGrants *grants,
                          GError **errp)
{
    uint8_t *item = NULL;
    uint32_t item_len = 0;
    VhdxMetadata md;
    int ret;

    if (grants->count) {
        item = vhdx_grants_encode(grants, &item_len);
    }
    vhdx_metadata_copy(&md, &img->metadata);
    /* Not required: other implementations may ignore it */
    vhdx_metadata_set_other(&md, &vhdx_guid_linkage_grants, 0, item,
                            item_len);
    ret = items_rewrite(img, &md, "linkage grants", errp);
    vhdx_metadata_clear(&md);
    if (ret == 0) {
        img->grants = *grants;
    }
    return ret;
}

int vhdx_image_retire_via(VhdxImage *img, const VhdxGuid *via,
                          GError **errp)
{
    VhdxGrants kept;

    vhdx_grants_drop_via(&img->grants, via, &kept);
    if (vhdx_grants_equal(&kept, &img->grants)) {
        return 0;
    }
    return vhdx_image_set_grants(img, &kept, errp);
}
