/*
 * The VHDX log: the journal every metadata update goes through
 *
 * An append writes one or more log entries holding 4 KiB sectors destined
 * for metadata structures and flushes them: from then on a crash replays
 * them.  Their home locations are written later, at a checkpoint, as
 * jbd2 checkpoints its journal: when the log runs short of space, and
 * whenever the caller asks (before the image is closed or its file is
 * read by other means).  Until then the log keeps the newest logged copy
 * of each such sector for the caller to read.  After a crash, replay
 * re-applies the newest complete sequence of entries.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_LOG_H
#define VHDX_LOG_H

#include "vhdx/guid.h"
#include "vhdx/io.h"

#include <glib.h>

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
    uint32_t tail;                 /* the oldest entry not yet home */
    uint32_t used;                 /* bytes from tail to head */
    bool in_sequence;              /* entries since tail are not home */
    GHashTable *logged;            /* home offset -> newest logged copy */
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

/*
 * Prepares @log for writing with a fresh @guid; nothing is written yet.
 * Whatever @log held before is overwritten: clear it first.
 */
void vhdx_log_init(VhdxLog *log, VhdxIO *io, uint64_t offset,
                   uint32_t length, const VhdxGuid *guid);

/*
 * Makes @n sectors (sorted or not, no two with the same offset) durable
 * in the log: flushes first (data written before is durable before the
 * metadata that may point at it), then writes as few entries as fit,
 * each flushed.  Home locations are not written; a checkpoint may come
 * first when the log is short of space.
 */
int vhdx_log_append(VhdxLog *log, const VhdxLogSector *sectors, size_t n,
                    GError **errp);

/*
 * Writes every logged sector home and flushes.  The next entry starts a
 * new sequence.  Once a step fails, the log refuses further writes (the
 * file must be reopened so that replay finishes the work).
 */
int vhdx_log_checkpoint(VhdxLog *log, GError **errp);

/* Append and checkpoint: on return all @n sectors are durable at home */
int vhdx_log_commit(VhdxLog *log, const VhdxLogSector *sectors, size_t n,
                    GError **errp);

/*
 * Copies the newest logged content of the home sector at @file_offset
 * into @buf (VHDX_LOG_SECTOR_SIZE bytes) if it is not home yet; returns
 * whether it was.
 */
bool vhdx_log_read_logged(const VhdxLog *log, uint64_t file_offset,
                          uint8_t *buf);

/* Whether a logged sector not yet home lies in the range */
bool vhdx_log_logged_in(const VhdxLog *log, uint64_t offset, uint64_t len);

/* How many logged sectors are not home yet */
size_t vhdx_log_logged_count(const VhdxLog *log);

/*
 * Forgets the logged sectors without writing them home (they stay in the
 * log on disk, for replay): for a log given up.
 */
void vhdx_log_clear(VhdxLog *log);

/* The largest number of data sectors one entry can hold in this log */
size_t vhdx_log_max_sectors_per_entry(const VhdxLog *log);

#endif /* VHDX_LOG_H */
