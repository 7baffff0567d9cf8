/*
 * Checksum fix-up for fuzz inputs: a mutated header, region table or log
 * entry would almost always fail its CRC-32C and never reach the code
 * behind it, so the harnesses recompute the checksums before the core
 * sees the file.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_FUZZ_FIXUP_H
#define VHDX_FUZZ_FIXUP_H

#include <stddef.h>
#include <stdint.h>

/* Structures fuzz_fixup_file() may leave alone, so bad CRCs stay testable */
#define FUZZ_FIXUP_SKIP_HEADER1   (1u << 0)
#define FUZZ_FIXUP_SKIP_HEADER2   (1u << 1)
#define FUZZ_FIXUP_SKIP_REGION1   (1u << 2)
#define FUZZ_FIXUP_SKIP_REGION2   (1u << 3)
#define FUZZ_FIXUP_SKIP_LOG       (1u << 4)

/*
 * Recomputes the checksums of the log entries in the log region at
 * @log_offset/@log_length of the @len-byte @file: every 4 KiB sector
 * there that starts with "loge" and whose EntryLength is a non-zero
 * multiple of 4 KiB no longer than the log gets the checksum of the
 * EntryLength bytes from it (wrapping around the ring).  Nothing when the
 * region does not lie inside the file.
 */
void fuzz_fixup_log(uint8_t *file, size_t len, uint64_t log_offset,
                    uint64_t log_length);

/*
 * Recomputes the checksums of both headers, both region tables and the
 * log entries of the logs both headers point at, except those @skip
 * names (FUZZ_FIXUP_SKIP_*).
 */
void fuzz_fixup_file(uint8_t *file, size_t len, unsigned skip);

#endif /* VHDX_FUZZ_FIXUP_H */
