/*
 * The input of the fuzz-create harness, shared with the seed generator
 *
 * All little-endian:
 *
 *   u8   flags (CREATE_*)
 *   u8   virtual size shift (modulo 64), u16 mantissa, u16 addend: the
 *        size is mantissa << shift, plus addend bytes
 *   u8   block size: below 0x80, 1 MiB << (code % 10); else
 *        (code & 0x7f) * 512 KiB
 *   u8   log size: (code & 0x3f) MiB, plus 4 KiB with 0x40, plus 4 GiB
 *        with 0x80 (a request's log size is 64-bit; a parameter's
 *        32-bit log size wraps)
 *   u8   logical sector size: create_sector_sizes[code % 8]
 *   u8   physical sector size: the same (parameters only)
 *   u8   parent (CREATE_CHILD): bits 0-2 its name, bits 3-5 its logical
 *        sector size (create_sector_sizes[]), bit 6 the child's
 *        directory is / (else /vm), bit 7 an odd DataWriteGuid
 *   u8   creator: one of a few, code % 8
 *   u8   fault phase (CreatePhase, bits 0-1), bit 2: close the image
 *        after the failure (else drop it)
 *   FUZZ_FAULT_SIZE bytes: the fault plan (fuzz-io.h)
 *   then CREATE_OP_SIZE operation records until the input ends (at most
 *        CREATE_MAX_OPS) on the image opened writable:
 *        u8 operation (CreateOp), u8 argument, u16 count, u32 block
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_FUZZ_CREATE_H
#define VHDX_FUZZ_CREATE_H

#include <stdint.h>

#define CREATE_RESOLVE        0x01    /* a request, resolved; else params */
#define CREATE_FIXED          0x02
#define CREATE_ZERO           0x04    /* block_state_zero */
#define CREATE_CHILD          0x08    /* with a parent */
#define CREATE_HAS_BLOCK      0x10    /* request: block size given */
#define CREATE_HAS_LOG        0x20    /* request: log size given */
#define CREATE_HAS_LSS        0x40    /* request: sector size given */
#define CREATE_CREATOR        0x80    /* a creator string */

#define CREATE_LOG_4K         0x40
#define CREATE_LOG_4G         0x80
#define CREATE_BLOCK_ODD      0x80

#define CREATE_PARENT_ROOT    0x40
#define CREATE_PARENT_ODD     0x80

/* When the fault plan is armed */
typedef enum CreatePhase {
    PHASE_NONE,
    PHASE_CREATE,               /* vhdx_image_create() */
    PHASE_LOOK,                 /* the first open, maps and check */
    PHASE_OPS,                  /* the operations, from their open on */
} CreatePhase;

#define CREATE_PHASE_MASK     0x03
#define CREATE_FAULT_CLOSE    0x04

#define CREATE_HEADER_SIZE    (13 + FUZZ_FAULT_SIZE)

typedef enum CreateOp {
    /* count % 128 + 1 sectors of pattern argument, argument sectors in */
    COP_WRITE,
    /* write-zeroes of count % 4096 + 1 blocks, one every 1 << (arg % 16) */
    COP_ZERO,
    COP_DISCARD,        /* the same, discard */
    COP_MAP,            /* maps blocks as COP_ZERO picks them */
    COP_FLUSH,
    COP_REOPEN,         /* close, open writable again */
    COP_CHECK,          /* argument bit 0: repair */
    COP_GROW,           /* by count % 64 blocks plus argument sectors */
    COP_MAKE_EMPTY,
    COP_MAKE_CLEAN,
    COP_COUNT,
} CreateOp;

#define CREATE_OP_SIZE        8
#define CREATE_MAX_OPS        32

#endif /* VHDX_FUZZ_CREATE_H */
