/*
 * The consistency check of a VHDX image (qemu-img check), and trimming
 * the leaks it finds
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/error.h"
#include "vhdx/space.h"
#include "image-int.h"

#include <inttypes.h>

int vhdx_image_trim(VhdxImage *img, uint64_t end, GError **errp)
{
    int ret;

    g_assert(img->writable && end % VHDX_ALIGNMENT == 0);
    ret = vhdx_image_make_clean(img, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_io_truncate(img->io, end);
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX: cannot cut the file to %"
                             PRIu64 " bytes", end);
    }
    return 0;
}

int vhdx_image_check(VhdxImage *img, VhdxCheckReport *report, GError **errp)
{
    VhdxSpaceScan scan;
    int64_t length;
    int ret;

    ret = image_file_length(img, &length, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_image_flush(img, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_space_scan(img->io, &img->header.current, &img->regions,
                          &img->geo, length, true, NULL, &scan, errp);
    if (ret < 0) {
        return ret;
    }
    *report = (VhdxCheckReport) {
        .corruptions = scan.invalid_entries + scan.overlaps,
        /* Padding short of a whole unit is alignment slack, not a leak */
        .leaked_bytes = (uint64_t)length >= scan.used_end + VHDX_ALIGNMENT ?
                        length - scan.used_end : 0,
        .allocated_blocks = scan.allocated_blocks,
        .total_blocks = img->geo.payload_blocks,
        .image_end = scan.used_end,
        .log_replayed = img->log_replayed,
        .log_pending = img->log_pending,
    };
    img->log_replayed = false;
    return 0;
}
