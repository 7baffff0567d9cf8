/*
 * The storage of a fuzz run: in memory, with a size limit
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-io.h"

#include <errno.h>
#include <string.h>

static VhdxIO *inner(VhdxIO *io)
{
    FuzzIO *f = io->opaque;

    return memio_io(f->m);
}

static bool beyond_cap(uint64_t offset, uint64_t len)
{
    return offset > FUZZ_IO_CAP || len > FUZZ_IO_CAP - offset;
}

static int fuzz_io_pread(VhdxIO *io, uint64_t offset, void *buf, size_t len)
{
    return vhdx_io_pread(inner(io), offset, buf, len);
}

static int fuzz_io_pwrite(VhdxIO *io, uint64_t offset, const void *buf,
                          size_t len)
{
    if (beyond_cap(offset, len)) {
        return -ENOSPC;
    }
    return vhdx_io_pwrite(inner(io), offset, buf, len);
}

static int fuzz_io_flush(VhdxIO *io)
{
    return vhdx_io_flush(inner(io));
}

static int64_t fuzz_io_length(VhdxIO *io)
{
    return vhdx_io_length(inner(io));
}

static int fuzz_io_truncate(VhdxIO *io, uint64_t length)
{
    if (length > FUZZ_IO_CAP) {
        return -ENOSPC;
    }
    return vhdx_io_truncate(inner(io), length);
}

static int fuzz_io_block_status(VhdxIO *io, uint64_t offset, uint64_t len,
                                uint64_t *pnum)
{
    return inner(io)->block_status(inner(io), offset, len, pnum);
}

/* The buffer of the storage freed last, for the next one */
static GByteArray *spare;

FuzzIO *fuzz_io_new(size_t size)
{
    FuzzIO *f = g_new0(FuzzIO, 1);

    f->m = memio_new(0);
    if (spare) {
        g_byte_array_unref(f->m->data);
        f->m->data = g_steal_pointer(&spare);
    }
    g_byte_array_set_size(f->m->data, size);
    if (size) {
        memset(f->m->data->data, 0, size);
    }
    f->io = (VhdxIO) {
        .pread = fuzz_io_pread,
        .pwrite = fuzz_io_pwrite,
        .flush = fuzz_io_flush,
        .length = fuzz_io_length,
        .truncate = fuzz_io_truncate,
        .block_status = fuzz_io_block_status,
        .opaque = f,
    };
    return f;
}

void fuzz_io_free(FuzzIO *f)
{
    if (!f) {
        return;
    }
    if (!spare) {
        spare = g_byte_array_ref(f->m->data);
        g_byte_array_set_size(spare, 0);
    }
    memio_free(f->m);
    g_free(f);
}
