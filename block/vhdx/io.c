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
