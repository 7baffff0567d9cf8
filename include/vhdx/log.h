/*
 * The VHDX log: the journal every metadata update goes through
 *
 * A commit writes one or more log entries holding 4 KiB sectors destined
 * for metadata structures, flushes, writes the sectors to their home
 * locations and flushes again.  After a crash, replay re-applies the
 * newest complete sequence of entries.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_LOG_H
#define VHDX_LOG_H

#include "vhdx/guid.h"
#include "vhdx/io.h"

/* One 4 KiB metadata sector to commit; @data NULL means all zeros */
typedef struct VhdxLogSector {
    uint64_t file_offset;          /* multiple of VHDX_LOG_SECTOR_SIZE */
    const uint8_t *data;           /* VHDX_LOG_SECTOR_SIZE bytes or NULL */
} VhdxLogSector;

typedef struct VhdxLog {
    VhdxIO *io;
    uint64_t offset;               /* the log region in the file */
    uint32_t length;
    VhdxGuid guid;                 /* LogGuid every entry carries */
    uint64_t sequence;             /* sequence number of the next entry */
    uint32_t head;                 /* where the next entry goes */
} VhdxLog;

/*
 * Looks for the active sequence of entries carrying @log_guid in the log
 * region at @offset/@length.  Sets *@needed to whether one exists; never
 * writes.  Errors only for I/O failures and a log region that does not
 * fit the file.
 */
int vhdx_log_needs_replay(VhdxIO *io, uint64_t offset, uint32_t length,
                          const VhdxGuid *log_guid, bool *needed,
                          GError **errp);

/*
 * Looks for the active sequence as vhdx_log_needs_replay() does and
 * replays it, if there is one: writes every
 * descriptor's data to its home location (extending the file only as far
 * as those home sectors reach), then flushes.  Sets *@replayed to whether
 * anything was replayed; the caller then clears the header's LogGuid.
 * Holes in the log cost nothing to scan when @io reports them.
 */
int vhdx_log_replay(VhdxIO *io, uint64_t offset, uint32_t length,
                    const VhdxGuid *log_guid, bool *replayed, GError **errp);

/* Prepares @log for writing with a fresh @guid; nothing is written yet */
void vhdx_log_init(VhdxLog *log, VhdxIO *io, uint64_t offset,
                   uint32_t length, const VhdxGuid *guid);

/*
 * Commits @n sectors (sorted or not, no two with the same offset): as few
 * entries as fit the log, each written and flushed before its sectors are
 * written home, then a final flush.  On return all @n sectors are durable
 * at their home locations.
 */
int vhdx_log_commit(VhdxLog *log, const VhdxLogSector *sectors, size_t n,
                    GError **errp);

/* The largest number of data sectors one entry can hold in this log */
size_t vhdx_log_max_sectors_per_entry(const VhdxLog *log);

#endif /* VHDX_LOG_H */
