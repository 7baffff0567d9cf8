/*
 * Checksum fix-up for fuzz inputs
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-fixup.h"
#include "vhdx/crc32c.h"
#include "vhdx/endian.h"
#include "vhdx/format.h"

#include <string.h>

#define SECTOR              VHDX_LOG_SECTOR_SIZE
#define ENTRY_CHECKSUM      4
#define ENTRY_LENGTH        8
#define HEADER_LOG_LENGTH   68
#define HEADER_LOG_OFFSET   72

/*
 * A crafted log may hold a "loge" in every sector, each claiming the whole
 * ring: checksumming stops after this many bytes so that one input costs
 * milliseconds, not seconds.
 */
#define FIXUP_LOG_BUDGET    (8 * VHDX_MiB)

static void fixup_structure(uint8_t *file, size_t len, uint64_t offset,
                            size_t size)
{
    if (offset + size <= len) {
        vhdx_checksum_store(file + offset, size, 4);
    }
}

/* The checksum of the entry at log offset @pos, its sectors in ring order */
static uint32_t fixup_entry_crc(const uint8_t *log, uint64_t log_length,
                                uint64_t pos, uint32_t entry_length)
{
    static const uint8_t zero_field[4];
    const uint8_t *first = log + pos;
    uint32_t crc = ~0u;

    crc = vhdx_crc32c_update(crc, first, ENTRY_CHECKSUM);
    crc = vhdx_crc32c_update(crc, zero_field, sizeof(zero_field));
    crc = vhdx_crc32c_update(crc, first + ENTRY_CHECKSUM + 4,
                             SECTOR - ENTRY_CHECKSUM - 4);
    for (uint64_t s = SECTOR; s < entry_length; s += SECTOR) {
        crc = vhdx_crc32c_update(crc, log + (pos + s) % log_length, SECTOR);
    }
    return ~crc;
}

void fuzz_fixup_log(uint8_t *file, size_t len, uint64_t log_offset,
                    uint64_t log_length)
{
    uint64_t budget = FIXUP_LOG_BUDGET;
    uint8_t *log;

    /* The header's LogOffset may be anything: no pointer before the check */
    if (log_offset > len || log_length > len - log_offset ||
        log_length < SECTOR) {
        return;
    }
    log = file + log_offset;
    log_length -= log_length % SECTOR;
    /*
     * From the end backwards: an entry may contain the header sector of a
     * later one (as a descriptor or data sector), whose checksum must be
     * final before the containing entry is checksummed.
     */
    for (uint64_t pos = log_length; pos >= SECTOR; ) {
        uint32_t entry_length;

        pos -= SECTOR;
        if (memcmp(log + pos, VHDX_LOG_ENTRY_SIGNATURE, 4)) {
            continue;
        }
        entry_length = vhdx_ld32(log + pos + ENTRY_LENGTH);
        if (entry_length == 0 || entry_length % SECTOR ||
            entry_length > log_length || entry_length > budget) {
            continue;
        }
        budget -= entry_length;
        vhdx_st32(log + pos + ENTRY_CHECKSUM,
                  fixup_entry_crc(log, log_length, pos, entry_length));
    }
}

static void fixup_log_of_header(uint8_t *file, size_t len,
                                uint64_t header_offset)
{
    const uint8_t *h = file + header_offset;

    if (header_offset + VHDX_HEADER_SIZE > len ||
        memcmp(h, VHDX_HEADER_SIGNATURE, 4)) {
        return;
    }
    fuzz_fixup_log(file, len, vhdx_ld64(h + HEADER_LOG_OFFSET),
                   vhdx_ld32(h + HEADER_LOG_LENGTH));
}

static void fixup_header_area(uint8_t *file, size_t len, unsigned skip)
{
    if (!(skip & FUZZ_FIXUP_SKIP_HEADER1)) {
        fixup_structure(file, len, VHDX_HEADER1_OFFSET, VHDX_HEADER_SIZE);
    }
    if (!(skip & FUZZ_FIXUP_SKIP_HEADER2)) {
        fixup_structure(file, len, VHDX_HEADER2_OFFSET, VHDX_HEADER_SIZE);
    }
    if (!(skip & FUZZ_FIXUP_SKIP_REGION1)) {
        fixup_structure(file, len, VHDX_REGION1_OFFSET,
                        VHDX_REGION_TABLE_SIZE);
    }
    if (!(skip & FUZZ_FIXUP_SKIP_REGION2)) {
        fixup_structure(file, len, VHDX_REGION2_OFFSET,
                        VHDX_REGION_TABLE_SIZE);
    }
}

void fuzz_fixup_file(uint8_t *file, size_t len, unsigned skip)
{
    if (!(skip & FUZZ_FIXUP_SKIP_LOG)) {
        fixup_log_of_header(file, len, VHDX_HEADER1_OFFSET);
        fixup_log_of_header(file, len, VHDX_HEADER2_OFFSET);
    }
    /*
     * Last: a hostile log may overlap the header area, and the headers
     * must be right whatever the log entries hold
     */
    fixup_header_area(file, len, skip);
}
