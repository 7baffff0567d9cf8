/*
 * Creating a VHDX image
 *
 * Layout: the 1 MiB header area (file identifier, two headers, two
 * region tables), the log at 1 MiB, the 1 MiB metadata region, the BAT,
 * and for a fixed image every payload block in order.  The file
 * identifier is written last, so a file whose creation died midway is
 * not mistaken for a VHDX image.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/bat.h"
#include "vhdx/create.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/header.h"
#include "vhdx/metadata.h"
#include "vhdx/region.h"

#include <errno.h>
#include <inttypes.h>

#define METADATA_REGION_SIZE VHDX_MiB

/* Hyper-V's block size for differencing images */
#define CREATE_CHILD_BLOCK_SIZE     (2 * VHDX_MiB)
#define CREATE_DEFAULT_LOG_SIZE     VHDX_MiB
#define CREATE_PHYSICAL_SECTOR_SIZE 4096

typedef struct CreateLayout {
    uint64_t log_offset;
    uint64_t metadata_offset;
    uint64_t bat_offset;
    uint64_t bat_length;
    uint64_t payload_offset;    /* fixed images: first payload block */
    uint64_t file_length;
} CreateLayout;

static int create_validate_params(const VhdxCreateParams *p, GError **errp)
{
    uint32_t lss = p->logical_sector_size;

    if (lss != 512 && lss != 4096) {
        return vhdx_error(errp, EINVAL, "VHDX logical sector size must be "
                          "512 or 4096, not %" PRIu32, lss);
    }
    if (p->physical_sector_size != 512 && p->physical_sector_size != 4096) {
        return vhdx_error(errp, EINVAL, "VHDX physical sector size must be "
                          "512 or 4096, not %" PRIu32,
                          p->physical_sector_size);
    }
    if (p->virtual_size > VHDX_VIRTUAL_SIZE_MAX) {
        return vhdx_error(errp, EINVAL, "VHDX virtual size %" PRIu64 " "
                          "exceeds 64 TiB", p->virtual_size);
    }
    if (p->virtual_size % lss) {
        return vhdx_error(errp, EINVAL, "VHDX virtual size %" PRIu64 " is "
                          "not a multiple of the logical sector size %"
                          PRIu32, p->virtual_size, lss);
    }
    if (p->parent && p->fixed) {
        return vhdx_error(errp, EINVAL, "VHDX: a differencing image cannot "
                          "be fixed");
    }
    if (p->parent && p->parent->logical_sector_size != lss) {
        return vhdx_error(errp, EINVAL, "VHDX: a differencing image has its "
                          "parent's logical sector size %" PRIu32 ", not %"
                          PRIu32, p->parent->logical_sector_size, lss);
    }
    if (p->log_size < VHDX_LOG_MIN_SIZE || p->log_size % VHDX_ALIGNMENT) {
        return vhdx_error(errp, EINVAL, "VHDX log size %" PRIu32 " is not "
                          "a non-zero multiple of 1 MiB", p->log_size);
    }
    return 0;
}

static void create_layout(const VhdxCreateParams *p,
                          const VhdxBatGeometry *geo, CreateLayout *l)
{
    l->log_offset = VHDX_HEADER_AREA_SIZE;
    l->metadata_offset = l->log_offset + p->log_size;
    l->bat_offset = l->metadata_offset + METADATA_REGION_SIZE;
    l->bat_length = vhdx_bat_region_size(geo);
    l->payload_offset = l->bat_offset + l->bat_length;
    l->file_length = l->payload_offset;
    if (p->fixed) {
        l->file_length += geo->payload_blocks * p->block_size;
    }
}

static int create_write(VhdxIO *io, uint64_t offset, const void *buf,
                        size_t len, const char *what, GError **errp)
{
    int ret = vhdx_io_pwrite(io, offset, buf, len);

    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX create: cannot write the %s",
                             what);
    }
    return 0;
}

static int create_write_metadata(VhdxIO *io, const VhdxCreateParams *p,
                                 const CreateLayout *l, GError **errp)
{
    g_autofree uint8_t *buf = g_malloc0(METADATA_REGION_SIZE);
    g_autofree uint8_t *locator = NULL;
    size_t locator_len = 0;
    VhdxMetadata md = {
        .block_size = p->block_size,
        .virtual_disk_size = p->virtual_size,
        .logical_sector_size = p->logical_sector_size,
        .physical_sector_size = p->physical_sector_size,
        /* Fixed images keep their blocks allocated, as the spec asks */
        .leave_blocks_allocated = p->fixed,
        .has_parent = p->parent != NULL,
    };
    int ret;

    if (p->parent) {
        VhdxLocator loc;

        vhdx_parent_locator_build(&loc, p->parent);
        ret = vhdx_locator_encode(&loc, &locator, &locator_len, errp);
        vhdx_locator_clear(&loc);
        if (ret < 0) {
            return ret;
        }
        md.parent_locator = locator;
        md.parent_locator_len = locator_len;
    }
    vhdx_guid_generate(&md.page83);
    ret = vhdx_metadata_encode(&md, buf, METADATA_REGION_SIZE, errp);
    if (ret < 0) {
        return ret;
    }
    return create_write(io, l->metadata_offset, buf, METADATA_REGION_SIZE,
                        "metadata region", errp);
}

static uint64_t create_payload_entry(const VhdxCreateParams *p,
                                     const CreateLayout *l, uint64_t block)
{
    if (p->fixed) {
        return vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT,
                              l->payload_offset + block * p->block_size);
    }
    /* A child's blocks start not present: they are its parent's */
    return vhdx_bat_entry(p->block_state_zero && !p->parent ?
                          VHDX_PAYLOAD_ZERO : VHDX_PAYLOAD_NOT_PRESENT, 0);
}

/* Writes the BAT in 1 MiB pieces; all-zero pieces are already zero */
static int create_write_bat(VhdxIO *io, const VhdxCreateParams *p,
                            const VhdxBatGeometry *geo,
                            const CreateLayout *l, GError **errp)
{
    const uint64_t per_piece = VHDX_MiB / VHDX_BAT_ENTRY_SIZE;
    g_autofree uint8_t *buf = NULL;
    uint64_t block = 0;
    int ret;

    /* Every entry NOT_PRESENT: all zeros, which the file already reads */
    if (!p->fixed && (!p->block_state_zero || p->parent)) {
        return 0;
    }
    buf = g_malloc(VHDX_MiB);
    for (uint64_t first = 0; first < geo->total_entries; first += per_piece) {
        uint64_t n = MIN(per_piece, geo->total_entries - first);
        bool all_zero = true;

        for (uint64_t i = 0; i < n; i++) {
            uint64_t entry = 0;

            if (!vhdx_bat_index_is_bitmap(geo, first + i) &&
                block < geo->payload_blocks) {
                entry = create_payload_entry(p, l, block++);
            }
            all_zero &= entry == 0;
            vhdx_st64(buf + i * VHDX_BAT_ENTRY_SIZE, entry);
        }
        if (all_zero) {
            continue;
        }
        ret = create_write(io, l->bat_offset + first * VHDX_BAT_ENTRY_SIZE,
                           buf, n * VHDX_BAT_ENTRY_SIZE, "BAT", errp);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

static int create_write_header_area(VhdxIO *io, const VhdxCreateParams *p,
                                    const CreateLayout *l, GError **errp)
{
    g_autofree uint8_t *buf = g_malloc0(VHDX_REGION_TABLE_SIZE);
    VhdxRegions regions = {
        .bat_offset = l->bat_offset,
        .bat_length = l->bat_length,
        .metadata_offset = l->metadata_offset,
        .metadata_length = METADATA_REGION_SIZE,
    };
    VhdxHeader h = {
        .version = VHDX_HEADER_VERSION,
        .log_version = VHDX_LOG_VERSION,
        .log_offset = l->log_offset,
        .log_length = p->log_size,
    };
    int ret;

    vhdx_region_table_encode(&regions, buf);
    ret = create_write(io, VHDX_REGION1_OFFSET, buf, VHDX_REGION_TABLE_SIZE,
                       "region table", errp);
    if (ret == 0) {
        ret = create_write(io, VHDX_REGION2_OFFSET, buf,
                           VHDX_REGION_TABLE_SIZE, "region table", errp);
    }
    vhdx_guid_generate(&h.file_write_guid);
    vhdx_guid_generate(&h.data_write_guid);
    /* Two valid headers; the second, with the larger number, is current */
    for (int i = 0; i < 2 && ret == 0; i++) {
        h.sequence_number = i + 1;
        vhdx_header_encode(&h, buf);
        ret = create_write(io, i ? VHDX_HEADER2_OFFSET : VHDX_HEADER1_OFFSET,
                           buf, VHDX_HEADER_SIZE, "header", errp);
    }
    return ret;
}

static int create_write_file_id(VhdxIO *io, const VhdxCreateParams *p,
                                GError **errp)
{
    g_autofree uint8_t *buf = g_malloc0(VHDX_FILE_ID_SIZE);

    vhdx_file_id_encode(buf, p->creator ? p->creator : "qemu-vhdx");
    return create_write(io, VHDX_FILE_ID_OFFSET, buf, VHDX_FILE_ID_SIZE,
                        "file identifier", errp);
}

/* ---- parameters ---- */

/* The block size grows with the disk, keeping the BAT small */
static uint32_t create_default_block_size(uint64_t size)
{
    if (size > 32 * VHDX_TiB) {
        return 64 * VHDX_MiB;
    } else if (size > 100 * VHDX_GiB) {
        return 32 * VHDX_MiB;
    } else if (size > VHDX_GiB) {
        return 16 * VHDX_MiB;
    }
    return 8 * VHDX_MiB;
}

/* The checks and messages QEMU's VHDX driver has always had */
static int create_validate_sizes(const VhdxCreateRequest *req,
                                 uint64_t block_size, GError **errp)
{
    if (req->virtual_size > VHDX_VIRTUAL_SIZE_MAX) {
        return vhdx_error(errp, EINVAL, "Image size too large; max of 64TB");
    }
    if (req->has_log_size && req->log_size > UINT32_MAX) {
        return vhdx_error(errp, EINVAL, "Log size must be smaller than 4 GB");
    }
    if (req->has_log_size &&
        (req->log_size < VHDX_MiB || req->log_size % VHDX_MiB)) {
        return vhdx_error(errp, EINVAL, "Log size must be a multiple of 1 MB");
    }
    if (block_size < VHDX_MiB || block_size % VHDX_MiB) {
        return vhdx_error(errp, EINVAL, "Block size must be a multiple of "
                          "1 MB");
    }
    if (block_size & (block_size - 1)) {
        return vhdx_error(errp, EINVAL, "Block size must be a power of two");
    }
    if (block_size > VHDX_BLOCK_SIZE_MAX) {
        return vhdx_error(errp, EINVAL, "Block size must not exceed %"
                          PRIu64, (uint64_t)VHDX_BLOCK_SIZE_MAX);
    }
    return 0;
}

static int create_sector_size(const VhdxCreateRequest *req, uint32_t *lss,
                              GError **errp)
{
    const VhdxParentSpec *parent = req->parent;

    if (req->has_logical_sector_size && req->logical_sector_size != 512 &&
        req->logical_sector_size != 4096) {
        return vhdx_error(errp, EINVAL, "Logical sector size must be 512 or "
                          "4096");
    }
    if (parent && parent->logical_sector_size != 512 &&
        parent->logical_sector_size != 4096) {
        return vhdx_error(errp, EINVAL, "The parent's logical sector size "
                          "%" PRIu32 " is neither 512 nor 4096",
                          parent->logical_sector_size);
    }
    if (parent && req->has_logical_sector_size &&
        req->logical_sector_size != parent->logical_sector_size) {
        return vhdx_error(errp, EINVAL, "A differencing image has its "
                          "parent's logical sector size (%" PRIu32 "), not %"
                          PRIu64, parent->logical_sector_size,
                          req->logical_sector_size);
    }
    *lss = parent ? parent->logical_sector_size :
           req->has_logical_sector_size ? req->logical_sector_size : 512;
    if (req->virtual_size % *lss) {
        return vhdx_error(errp, EINVAL, "Image size %" PRIu64 " is not a "
                          "multiple of the logical sector size %" PRIu32,
                          req->virtual_size, *lss);
    }
    return 0;
}

int vhdx_create_params_resolve(const VhdxCreateRequest *req,
                               VhdxCreateParams *p, GError **errp)
{
    uint64_t block_size = req->has_block_size ? req->block_size :
                          req->parent ? CREATE_CHILD_BLOCK_SIZE :
                          create_default_block_size(req->virtual_size);
    uint32_t lss = 0;
    int ret;

    ret = create_validate_sizes(req, block_size, errp);
    if (ret == 0) {
        ret = create_sector_size(req, &lss, errp);
    }
    if (ret < 0) {
        return ret;
    }
    if (req->parent && req->fixed) {
        return vhdx_error(errp, EINVAL, "A differencing image cannot be "
                          "fixed");
    }
    *p = (VhdxCreateParams) {
        .virtual_size = req->virtual_size,
        .block_size = block_size,
        .log_size = req->has_log_size ? req->log_size :
                    CREATE_DEFAULT_LOG_SIZE,
        .logical_sector_size = lss,
        .physical_sector_size = CREATE_PHYSICAL_SECTOR_SIZE,
        .fixed = req->fixed,
        /*
         * New blocks are NOT_PRESENT by default, as Hyper-V makes them,
         * and read as zeros (MS-VHDX 2.5.1.1 lets a reader choose; this
         * driver and Hyper-V choose zeros).  A BAT of NOT_PRESENT entries
         * is all zeros, so it stays a hole in the file: a 64 TiB image
         * costs a few MiB.  ZERO entries say the same explicitly, for
         * readers that might return stale data, but the whole BAT must
         * be written for them (8 bytes per block).
         */
        .block_state_zero = req->has_block_state_zero &&
                            req->block_state_zero,
        .creator = req->creator,
        .parent = req->parent,
    };
    return 0;
}

/* ---- writing the image ---- */

int vhdx_image_create(VhdxIO *io, const VhdxCreateParams *p, GError **errp)
{
    VhdxBatGeometry geo;
    CreateLayout l;
    int ret;

    ret = create_validate_params(p, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_bat_geometry_init(&geo, p->virtual_size, p->block_size,
                                 p->logical_sector_size, p->parent != NULL,
                                 errp);
    if (ret < 0) {
        return ret;
    }
    create_layout(p, &geo, &l);
    /* Start from an empty file so every byte we do not write reads zero */
    ret = vhdx_io_truncate(io, 0);
    if (ret == 0) {
        ret = vhdx_io_truncate(io, l.file_length);
    }
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX create: cannot size the file to "
                             "%" PRIu64 " bytes", l.file_length);
    }
    ret = create_write_metadata(io, p, &l, errp);
    if (ret == 0) {
        ret = create_write_bat(io, p, &geo, &l, errp);
    }
    if (ret == 0) {
        ret = create_write_header_area(io, p, &l, errp);
    }
    if (ret == 0) {
        ret = vhdx_io_flush(io);
        if (ret < 0) {
            return vhdx_io_error(errp, -ret, "VHDX create: flush failed");
        }
        ret = create_write_file_id(io, p, errp);
    }
    if (ret == 0) {
        ret = vhdx_io_flush(io);
        if (ret < 0) {
            return vhdx_io_error(errp, -ret, "VHDX create: flush failed");
        }
    }
    return ret;
}
