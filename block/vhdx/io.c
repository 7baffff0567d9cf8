/*
 * Helpers on top of the storage interface
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/format.h"
#include "vhdx/io.h"

#include <errno.h>
#include <glib.h>

int vhdx_io_grow(VhdxIO *io, uint64_t length, bool allocate)
{
    if (allocate && io->grow_allocated) {
        int ret = io->grow_allocated(io, length);

        if (ret != -ENOTSUP) {
            return ret;
        }
    }
    return vhdx_io_truncate(io, length);
}

int vhdx_io_pwrite_zeroes(VhdxIO *io, uint64_t offset, uint64_t len)
{
    g_autofree uint8_t *zeros = NULL;

    if (io->pwrite_zeroes) {
        return io->pwrite_zeroes(io, offset, len);
    }
    zeros = g_malloc0(MIN(len, VHDX_MiB));
    while (len) {
        size_t n = MIN(len, VHDX_MiB);
        int ret = vhdx_io_pwrite(io, offset, zeros, n);

        if (ret < 0) {
            return ret;
        }
        offset += n;
        len -= n;
    }
    return 0;
}

int vhdx_io_extent(VhdxIO *io, uint64_t offset, uint64_t len, bool *zero,
                   uint64_t *run)
{
    *zero = false;
    *run = len;
    if (!io->block_status || !len) {
        return 0;
    }
    /* The storage may describe one extent in several pieces */
    for (uint64_t done = 0; done < len;) {
        uint64_t pnum = 0;
        int ret = io->block_status(io, offset + done, len - done, &pnum);

        if (ret < 0) {
            return ret;
        }
        pnum = MIN(MAX(pnum, 1), len - done);
        if (done == 0) {
            *zero = ret == 1;
        } else if (*zero != (ret == 1)) {
            *run = done;
            return 0;
        }
        done += pnum;
    }
    return 0;
}

int vhdx_io_zero_data(VhdxIO *io, uint64_t offset, uint64_t len)
{
    while (len) {
        uint64_t run;
        bool zero;
        int ret = vhdx_io_extent(io, offset, len, &zero, &run);

        if (ret == 0 && !zero) {
            ret = vhdx_io_pwrite_zeroes(io, offset, run);
        }
        if (ret < 0) {
            return ret;
        }
        offset += run;
        len -= run;
    }
    return 0;
}
