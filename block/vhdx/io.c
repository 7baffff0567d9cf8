/*
 * Helpers on top of the storage interface
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/format.h"
#include "vhdx/io.h"

#include <glib.h>

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

int vhdx_io_zero_run(VhdxIO *io, uint64_t offset, uint64_t len,
                     uint64_t *zero)
{
    *zero = 0;
    if (!io->block_status) {
        return 0;
    }
    /* The storage may describe one hole in several pieces */
    while (*zero < len) {
        uint64_t pnum = 0;
        int ret = io->block_status(io, offset + *zero, len - *zero, &pnum);

        if (ret < 0) {
            return ret;
        }
        if (ret == 0 || pnum == 0) {
            break;
        }
        *zero += MIN(pnum, len - *zero);
    }
    return 0;
}

int vhdx_io_zero_data(VhdxIO *io, uint64_t offset, uint64_t len)
{
    if (!io->block_status) {
        return vhdx_io_pwrite_zeroes(io, offset, len);
    }
    while (len) {
        uint64_t pnum = 0;
        int ret = io->block_status(io, offset, len, &pnum);

        if (ret < 0) {
            return ret;
        }
        pnum = MIN(MAX(pnum, 1), len);
        if (ret == 0) {
            ret = vhdx_io_pwrite_zeroes(io, offset, pnum);
            if (ret < 0) {
                return ret;
            }
        }
        offset += pnum;
        len -= pnum;
    }
    return 0;
}
