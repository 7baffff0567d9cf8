/*
 * The storage of a fuzz run: the unit tests' in-memory VhdxIO with a
 * size limit and fault injection
 *
 * A hostile image may make the core write far past the end of its file,
 * e.g. a log entry zeroing terabytes, which a sparse host file would
 * take.  In memory that would exhaust the fuzzer; here the storage is
 * full at FUZZ_IO_CAP bytes instead (writes and truncates beyond fail
 * with ENOSPC), which the core must handle as it does any I/O error.
 *
 * Storage also fails for other reasons, at any call, and the core's
 * error handling is only reached then: a harness can arm a fault plan
 * (FuzzFault), read from its input, that fails one chosen call, or every
 * call from it on, deterministically.  FUZZ_IO_TRACE=1 in the
 * environment prints each failure made.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_FUZZ_IO_H
#define VHDX_FUZZ_IO_H

#include "fuzz-util.h"
#include "vhdx-memio.h"

#define FUZZ_IO_CAP (96u << 20)

/* The storage calls a fault can hit; FUZZ_IO_ANY counts them all */
typedef enum FuzzIOCall {
    FUZZ_IO_PREAD,
    FUZZ_IO_PWRITE,             /* pwrite_zeroes counts as one too */
    FUZZ_IO_FLUSH,
    FUZZ_IO_TRUNCATE,
    FUZZ_IO_LENGTH,
    FUZZ_IO_BLOCK_STATUS,
    FUZZ_IO_ANY,
    FUZZ_IO_CALLS,
} FuzzIOCall;

/*
 * A fault plan, FUZZ_FAULT_SIZE bytes of a fuzz input (little-endian):
 *
 *   u8   bits 0-2: the call (FuzzIOCall, modulo FUZZ_IO_CALLS)
 *        bits 3-4: the error (FUZZ_FAULT_ERRNOS)
 *        bit 5:    sticky: that call keeps failing from then on, a dead
 *                  disk (else it fails once, a transient error)
 *        bit 6:    the storage offers pwrite_zeroes
 *        bit 7:    the storage cannot tell holes (no block_status)
 *   u16  n: the nth such call after arming fails first (0: none fails)
 *
 * Bits 6 and 7 are not faults but kinds of storage the glue may give:
 * the core's fallbacks for missing callbacks are reached with them.
 */
#define FUZZ_FAULT_SIZE           3
#define FUZZ_FAULT_CALL_MASK      0x07
#define FUZZ_FAULT_ERRNO_SHIFT    3
#define FUZZ_FAULT_STICKY         0x20
#define FUZZ_FAULT_ZEROES         0x40
#define FUZZ_FAULT_NO_HOLES       0x80
/* EIO, ENOSPC, EFBIG, EROFS: errors a file or block device gives */
#define FUZZ_FAULT_ERRNOS         4

typedef struct FuzzFault {
    uint8_t flags;              /* the first byte above */
    uint16_t nth;
} FuzzFault;

typedef struct FuzzIO {
    VhdxIO io;
    MemIO *m;               /* the bytes, the counters, power cuts */
    uint64_t cap;           /* FUZZ_IO_CAP, or less */
    FuzzFault fault;        /* armed: nth != 0 */
    unsigned calls[FUZZ_IO_CALLS];  /* since arming */
    unsigned fired;         /* calls failed by the fault since arming */
} FuzzIO;

/*
 * A storage of @size zero bytes.  Its buffer is reused from one
 * execution to the next: fresh pages for every input would cost the
 * fuzzer more than the work itself.
 */
FuzzIO *fuzz_io_new(size_t size);
void fuzz_io_free(FuzzIO *f);

/* Reads a fault plan from @in */
void fuzz_fault_take(FuzzInput *in, FuzzFault *fault);

/*
 * Arms @fault (its call counts start at zero) and makes the storage the
 * kind it asks for.  Disarming stops failures and forgets those made;
 * the kind of storage stays.
 */
void fuzz_io_arm(FuzzIO *f, const FuzzFault *fault);
void fuzz_io_disarm(FuzzIO *f);

/* Whether the armed fault has failed a call yet */
static inline bool fuzz_io_faulted(const FuzzIO *f)
{
    return f->fired > 0;
}

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
