/*
 * The storage of a fuzz run: the unit tests' in-memory VhdxIO with a
 * size limit
 *
 * A hostile image may make the core write far past the end of its file,
 * e.g. a log entry zeroing terabytes, which a sparse host file would
 * take.  In memory that would exhaust the fuzzer; here the storage is
 * full at FUZZ_IO_CAP bytes instead (writes and truncates beyond fail
 * with ENOSPC), which the core must handle as it does any I/O error.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_FUZZ_IO_H
#define VHDX_FUZZ_IO_H

#include "vhdx-memio.h"

#define FUZZ_IO_CAP (96u << 20)

typedef struct FuzzIO {
    VhdxIO io;
    MemIO *m;               /* the bytes, the counters, power cuts */
} FuzzIO;

/*
 * A storage of @size zero bytes.  Its buffer is reused from one
 * execution to the next: fresh pages for every input would cost the
 * fuzzer more than the work itself.
 */
FuzzIO *fuzz_io_new(size_t size);
void fuzz_io_free(FuzzIO *f);

static inline uint8_t *fuzz_io_bytes(FuzzIO *f)
{
    return memio_bytes(f->m);
}

static inline size_t fuzz_io_size(FuzzIO *f)
{
    return memio_size(f->m);
}

static inline VhdxIO *fuzz_io(FuzzIO *f)
{
    return &f->io;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FuzzIO, fuzz_io_free)

#endif /* VHDX_FUZZ_IO_H */
