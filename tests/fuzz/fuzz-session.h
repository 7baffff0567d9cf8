/*
 * The input of the fuzz-session harness, shared with the seed generator
 *
 * All little-endian:
 *
 *   u8   base image (SESSION_BASE_*): kind, block size, logical sector
 *        size, virtual size, log size
 *   u8   number of patches (modulo SESSION_MAX_PATCHES + 1)
 *   that many SESSION_PATCH_SIZE patches:
 *        u8 target (SessionTarget), u16 offset in it, u8 length (at most
 *        SESSION_PATCH_DATA), SESSION_PATCH_DATA bytes, of which the first
 *        length are written
 *   then SESSION_OP_SIZE operation records until the input ends (at most
 *        SESSION_MAX_OPS):
 *        u8 operation (SessionOp), u8 argument, u16 length in logical
 *        sectors (plus one, modulo 1 MiB), u32 offset in logical sectors
 *        (modulo the virtual size)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_FUZZ_SESSION_H
#define VHDX_FUZZ_SESSION_H

#include <stdint.h>

/* The base image byte */
#define SESSION_BASE_KIND_MASK    0x03    /* SessionKind */
#define SESSION_BASE_BLOCK_4M     0x04    /* else 1 MiB blocks */
#define SESSION_BASE_LSS_4K       0x08    /* else 512-byte sectors */
#define SESSION_BASE_SIZE_SHIFT   4       /* 2 bits: session_sizes[] */
#define SESSION_BASE_LOG_2M       0x40    /* else a 1 MiB log */

typedef enum SessionKind {
    SESSION_DYNAMIC,            /* new blocks read as zeros (ZERO state) */
    SESSION_FIXED,
    SESSION_CHILD,              /* differencing, on a parent never opened */
    SESSION_DYNAMIC_NOT_PRESENT,    /* new blocks NOT_PRESENT */
} SessionKind;

#define SESSION_MAX_PATCHES       4
#define SESSION_PATCH_DATA        8
#define SESSION_PATCH_SIZE        (4 + SESSION_PATCH_DATA)

/* What a patch's offset is relative to */
typedef enum SessionTarget {
    TARGET_FILE_ID,
    TARGET_HEADER1,
    TARGET_HEADER2,
    TARGET_REGION1,
    TARGET_REGION2,
    TARGET_LOG,
    TARGET_METADATA_TABLE,
    TARGET_METADATA_ITEMS,
    TARGET_BAT,
    TARGET_ANYWHERE,            /* offset in KiB from the start of the file */
    TARGET_COUNT,
} SessionTarget;

#define SESSION_OP_SIZE           8
#define SESSION_MAX_OPS           64

typedef enum SessionOp {
    OP_WRITE,               /* argument: the pattern */
    OP_WRITE_ZEROES,
    OP_DISCARD,
    OP_FLUSH,
    /*
     * by length + (argument % 8) MiB; 0xff shrinks, 0xfe grows to
     * OP_GROW_HUGE_SIZE (the model ends: it covers small disks only)
     */
    OP_GROW,
    OP_MAKE_EMPTY,          /* argument bit 0: with the parent's GUID */
    OP_SET_PARENT,          /* argument: name; bit 7: wrong sector size */
    OP_REOPEN_RW,
    OP_REOPEN_RO,
    OP_CHECK,               /* argument bit 0: repair */
    OP_READ,                /* compares with the model */
    /*
     * power cut after argument % 32 + 1 writes of a flush (bit 6: of a
     * make_clean); bit 5: reopen read-only
     */
    OP_CRASH,
    OP_TRIM,
    OP_MAKE_CLEAN,
    /* a data change with argument % 4 children open, which grants record */
    OP_GRANTS,
    /*
     * arms a fault plan (fuzz-io.h): argument is its first byte, the
     * length field (as stored, not plus one) its n; offset bit 0: close
     * the image after the failure
     */
    OP_FAULT,
    OP_COUNT,
} SessionOp;

#define OP_CHECK_REPAIR           0x01
#define OP_CRASH_CLEAN            0x40
#define OP_CRASH_REOPEN_RO        0x20
#define OP_SET_PARENT_BAD_LSS     0x80
#define OP_FAULT_CLOSE            0x01
#define OP_GROW_SHRINK            0xff
#define OP_GROW_HUGE              0xfe
/* Large enough that a BAT region of 1 MiB must move */
#define OP_GROW_HUGE_SIZE         (UINT64_C(200) << 30)

#endif /* VHDX_FUZZ_SESSION_H */
