/*
 * The storage of a fuzz run: in memory, with a size limit and faults
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int fault_errnos[FUZZ_FAULT_ERRNOS] = {
    EIO, ENOSPC, EFBIG, EROFS,
};

static VhdxIO *inner(VhdxIO *io)
{
    FuzzIO *f = io->opaque;

    return memio_io(f->m);
}

static bool beyond_cap(FuzzIO *f, uint64_t offset, uint64_t len)
{
    return offset > f->cap || len > f->cap - offset;
}

/* FUZZ_IO_TRACE=1 in the environment prints each failure made */
static void fault_trace(FuzzIOCall call, unsigned n)
{
    static const char *const names[FUZZ_IO_CALLS] = {
        "pread", "pwrite", "flush", "truncate", "length", "block_status",
    };
    static int on = -1;

    if (on < 0) {
        on = getenv("FUZZ_IO_TRACE") != NULL;
    }
    if (on) {
        fprintf(stderr, "    storage: %s number %u fails\n", names[call], n);
    }
}

/*
 * Counts a call of kind @call; returns the error the armed fault gives
 * it (a negative errno), or 0 if it goes through
 */
static int fault_check(VhdxIO *io, FuzzIOCall call)
{
    FuzzIO *f = io->opaque;
    FuzzIOCall target = (f->fault.flags & FUZZ_FAULT_CALL_MASK) %
                        FUZZ_IO_CALLS;
    unsigned n;

    f->calls[call]++;
    f->calls[FUZZ_IO_ANY]++;
    if (!f->fault.nth || (target != call && target != FUZZ_IO_ANY)) {
        return 0;
    }
    n = f->calls[target];
    if (n == f->fault.nth ||
        (n > f->fault.nth && (f->fault.flags & FUZZ_FAULT_STICKY))) {
        f->fired++;
        fault_trace(call, n);
        return -fault_errnos[(f->fault.flags >> FUZZ_FAULT_ERRNO_SHIFT) %
                             FUZZ_FAULT_ERRNOS];
    }
    return 0;
}

static int fuzz_io_pread(VhdxIO *io, uint64_t offset, void *buf, size_t len)
{
    int ret = fault_check(io, FUZZ_IO_PREAD);

    return ret ? ret : vhdx_io_pread(inner(io), offset, buf, len);
}

static int fuzz_io_pwrite(VhdxIO *io, uint64_t offset, const void *buf,
                          size_t len)
{
    int ret = fault_check(io, FUZZ_IO_PWRITE);

    if (ret) {
        return ret;
    }
    if (beyond_cap(io->opaque, offset, len)) {
        return -ENOSPC;
    }
    return vhdx_io_pwrite(inner(io), offset, buf, len);
}

/* Only offered when the fault plan asks for it (FUZZ_FAULT_ZEROES) */
static int fuzz_io_pwrite_zeroes(VhdxIO *io, uint64_t offset, uint64_t len)
{
    int ret = fault_check(io, FUZZ_IO_PWRITE);

    if (ret) {
        return ret;
    }
    if (beyond_cap(io->opaque, offset, len)) {
        return -ENOSPC;
    }
    return vhdx_io_pwrite_zeroes(inner(io), offset, len);
}

static int fuzz_io_flush(VhdxIO *io)
{
    int ret = fault_check(io, FUZZ_IO_FLUSH);

    return ret ? ret : vhdx_io_flush(inner(io));
}

static int64_t fuzz_io_length(VhdxIO *io)
{
    int ret = fault_check(io, FUZZ_IO_LENGTH);

    return ret ? ret : vhdx_io_length(inner(io));
}

static int fuzz_io_truncate(VhdxIO *io, uint64_t length)
{
    FuzzIO *f = io->opaque;
    int ret = fault_check(io, FUZZ_IO_TRUNCATE);

    if (ret) {
        return ret;
    }
    if (length > f->cap) {
        return -ENOSPC;
    }
    return vhdx_io_truncate(inner(io), length);
}

static int fuzz_io_block_status(VhdxIO *io, uint64_t offset, uint64_t len,
                                uint64_t *pnum)
{
    int ret = fault_check(io, FUZZ_IO_BLOCK_STATUS);

    return ret ? ret : inner(io)->block_status(inner(io), offset, len, pnum);
}

void fuzz_fault_take(FuzzInput *in, FuzzFault *fault)
{
    fault->flags = fuzz_u8(in);
    fault->nth = fuzz_u16(in);
}

void fuzz_io_arm(FuzzIO *f, const FuzzFault *fault)
{
    f->fault = *fault;
    memset(f->calls, 0, sizeof(f->calls));
    f->fired = 0;
    f->io.pwrite_zeroes = fault->flags & FUZZ_FAULT_ZEROES ?
                          fuzz_io_pwrite_zeroes : NULL;
    f->io.block_status = fault->flags & FUZZ_FAULT_NO_HOLES ?
                         NULL : fuzz_io_block_status;
}

void fuzz_io_disarm(FuzzIO *f)
{
    f->fault.nth = 0;
    f->fired = 0;
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
    f->cap = FUZZ_IO_CAP;
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
