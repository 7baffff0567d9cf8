/*
 * VHDX on-disk layout: fixed offsets, sizes, signatures and limits
 *
 * Values come from the MS-VHDX specification.  Everything here is plain
 * numbers; decoding lives in the module that owns each structure.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_FORMAT_H
#define VHDX_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#define VHDX_KiB                  (UINT64_C(1) << 10)
#define VHDX_MiB                  (UINT64_C(1) << 20)
#define VHDX_GiB                  (UINT64_C(1) << 30)
#define VHDX_TiB                  (UINT64_C(1) << 40)

/* The first 1 MiB of a file: identifier, two headers, two region tables */
#define VHDX_FILE_ID_OFFSET       0
#define VHDX_FILE_ID_SIZE         (64 * VHDX_KiB)
#define VHDX_FILE_SIGNATURE       "vhdxfile"
#define VHDX_CREATOR_OFFSET       8
#define VHDX_CREATOR_SIZE         512

#define VHDX_HEADER1_OFFSET       (64 * VHDX_KiB)
#define VHDX_HEADER2_OFFSET       (128 * VHDX_KiB)
#define VHDX_HEADER_SIZE          (4 * VHDX_KiB)
#define VHDX_HEADER_SIGNATURE     "head"
#define VHDX_HEADER_VERSION       1
#define VHDX_LOG_VERSION          0

#define VHDX_REGION1_OFFSET       (192 * VHDX_KiB)
#define VHDX_REGION2_OFFSET       (256 * VHDX_KiB)
#define VHDX_REGION_TABLE_SIZE    (64 * VHDX_KiB)
#define VHDX_REGION_SIGNATURE     "regi"
#define VHDX_REGION_HEADER_SIZE   16
#define VHDX_REGION_ENTRY_SIZE    32
#define VHDX_REGION_MAX_ENTRIES   2047

/* Every region, the log and every block sit on 1 MiB boundaries */
#define VHDX_ALIGNMENT            VHDX_MiB
#define VHDX_HEADER_AREA_SIZE     VHDX_MiB

#define VHDX_METADATA_SIGNATURE   "metadata"
#define VHDX_METADATA_TABLE_SIZE  (64 * VHDX_KiB)
#define VHDX_METADATA_HEADER_SIZE 32
#define VHDX_METADATA_ENTRY_SIZE  32
#define VHDX_METADATA_MAX_ENTRIES 2047
#define VHDX_METADATA_ITEM_MAX    VHDX_MiB

#define VHDX_BLOCK_SIZE_MIN       VHDX_MiB
#define VHDX_BLOCK_SIZE_MAX       (256 * VHDX_MiB)
#define VHDX_VIRTUAL_SIZE_MAX     (64 * VHDX_TiB)

/*
 * No VHDX file needs more than the largest virtual disk plus its metadata
 * (BAT, sector bitmaps, log, metadata region: well under 1 TiB).  Offsets
 * beyond this are hostile: the log refuses them, and the free-space map
 * covers no more of a (sparse) file than this.
 */
#define VHDX_FILE_SIZE_MAX        (VHDX_VIRTUAL_SIZE_MAX + VHDX_TiB)

/* Whether [a, a + a_len) and [b, b + b_len) share a byte */
static inline bool vhdx_ranges_overlap(uint64_t a, uint64_t a_len,
                                       uint64_t b, uint64_t b_len)
{
    return a < b + b_len && b < a + a_len;
}

/* A sector bitmap block is 1 MiB and describes 2^23 sectors (one chunk) */
#define VHDX_BITMAP_BLOCK_SIZE    VHDX_MiB
#define VHDX_SECTORS_PER_BITMAP   (UINT64_C(1) << 23)

/* The log: 4 KiB sectors, 64-byte entry header, 32-byte descriptors */
#define VHDX_LOG_SECTOR_SIZE      (4 * VHDX_KiB)
#define VHDX_LOG_ENTRY_SIGNATURE  "loge"
#define VHDX_LOG_DATA_SIGNATURE   "data"
#define VHDX_LOG_DESC_SIGNATURE   "desc"
#define VHDX_LOG_ZERO_SIGNATURE   "zero"
#define VHDX_LOG_HEADER_SIZE      64
#define VHDX_LOG_DESC_SIZE        32
#define VHDX_LOG_DATA_PAYLOAD     4084
#define VHDX_LOG_MIN_SIZE         VHDX_MiB
#define VHDX_LOG_MAX_SIZE         (4 * VHDX_GiB - VHDX_MiB)

/* BAT entries: state in bits 0-2, file offset in MiB in bits 20-63 */
#define VHDX_BAT_ENTRY_SIZE       8
#define VHDX_BAT_STATE_MASK       UINT64_C(0x7)
#define VHDX_BAT_OFFSET_SHIFT     20
#define VHDX_BAT_OFFSET_MASK      (~UINT64_C(0) << VHDX_BAT_OFFSET_SHIFT)

typedef enum VhdxPayloadState {
    VHDX_PAYLOAD_NOT_PRESENT       = 0,
    VHDX_PAYLOAD_UNDEFINED         = 1,
    VHDX_PAYLOAD_ZERO              = 2,
    VHDX_PAYLOAD_UNMAPPED          = 3,
    VHDX_PAYLOAD_FULLY_PRESENT     = 6,
    VHDX_PAYLOAD_PARTIALLY_PRESENT = 7,
} VhdxPayloadState;

typedef enum VhdxBitmapState {
    VHDX_BITMAP_NOT_PRESENT        = 0,
    VHDX_BITMAP_PRESENT            = 6,
} VhdxBitmapState;

/* Parent locator item, locator type for VHDX parents */
#define VHDX_LOCATOR_HEADER_SIZE  20
#define VHDX_LOCATOR_ENTRY_SIZE   12

/* Integer helpers shared by the core (QEMU has its own; the core is apart) */
#define VHDX_DIV_ROUND_UP(n, d)    (((n) + (d) - 1) / (d))
#define VHDX_ALIGN_UP(n, a)        (VHDX_DIV_ROUND_UP(n, a) * (a))

#endif /* VHDX_FORMAT_H */
