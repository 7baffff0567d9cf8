/*
 * The VHDX log (MS-VHDX 2.3): writing entries, finding the active
 * sequence, replaying it
 *
 * The log is a ring of 4 KiB sectors.  An entry is one or more descriptor
 * sectors (the first starts with the 64-byte entry header, the others hold
 * only 32-byte descriptors) followed by one data sector per data
 * descriptor.  A data sector carries bytes 8..4091 of its home sector
 * between a signature and the split sequence number; the first 8 and last
 * 4 bytes travel in the descriptor.
 *
 * Writing.  Entries follow each other around the ring without gaps,
 * starting at offset 0 with sequence number 1 for a fresh LogGuid; an
 * entry that reaches the end of the ring wraps to its start, as MS-VHDX
 * allows.  Each entry is written and flushed; its sectors are written
 * home only at a checkpoint.  Until then the entries since the last
 * checkpoint form one sequence: each entry's Tail points at the first of
 * them, so replay applies them all, in order.  A checkpoint writes the
 * newest logged copy of every sector home and flushes; the next entry
 * starts a new sequence, its own tail.
 *
 * Crash safety.  Replay picks the valid sequence whose head has the
 * highest sequence number, and sequence numbers only grow under one
 * LogGuid, so it picks the newest complete sequence - provided every
 * entry of it survives.  If one did not, replay would fall back to an
 * older sequence and roll back the home sectors the newer one changed.
 * The only writes that can destroy entries are new entries, torn by a
 * crash; so a new entry never overlaps the current sequence, nor, when it
 * starts a new sequence, the one before (whose home writes are done, but
 * which replay still picks if the new entry is torn: replaying it again
 * changes nothing).  With N sectors in the ring and every entry at most
 * M = N / 3 sectors, a sequence is kept to at most N - M sectors (a
 * checkpoint comes first otherwise), so the next entry always fits beside
 * it: see log_needs_checkpoint().
 *
 * A commit too large for one entry becomes several entries, each atomic
 * on its own: a crash in the middle can leave a prefix of them applied.
 * The format cannot do better: when a crash tears the later entries, the
 * earlier ones still form a complete sequence, which replay must apply.
 *
 * Replay.  The scan is the one MS-VHDX 2.3.3 outlines: from each start
 * offset, gather a run of valid entries that follow each other with
 * consecutive sequence numbers; the run is a complete sequence when the
 * Tail of its last (head) entry is the start of one of its entries; the
 * active sequence is the complete one with the highest head sequence
 * number.  Replay applies it from its tail entry to its head entry.
 * Entries written by others may wrap around the end of the ring; the
 * reader follows them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/log.h"
#include "vhdx/crc32c.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The file identifier and both headers never go through the log */
#define LOG_UNLOGGED_END VHDX_REGION1_OFFSET
#define LOG_SECTOR          ((uint32_t)VHDX_LOG_SECTOR_SIZE)

/* Entry header fields */
#define HDR_SIGNATURE       0
#define HDR_CHECKSUM        4
#define HDR_ENTRY_LENGTH    8
#define HDR_TAIL            12
#define HDR_SEQUENCE        16
#define HDR_DESC_COUNT      24
#define HDR_RESERVED        28
#define HDR_LOG_GUID        32
#define HDR_FLUSHED_OFFSET  48
#define HDR_LAST_OFFSET     56

/* Zero and data descriptor fields (the two layouts share offsets) */
#define DESC_SIGNATURE      0
#define DESC_TRAILING       4       /* zero descriptor: reserved */
#define DESC_LEADING        8       /* zero descriptor: ZeroLength */
#define DESC_FILE_OFFSET    16
#define DESC_SEQUENCE       24

/* Data sector fields */
#define DATA_SIGNATURE      0
#define DATA_SEQUENCE_HIGH  4
#define DATA_PAYLOAD        8
#define DATA_SEQUENCE_LOW   4092

#define DESCS_PER_SECTOR    (LOG_SECTOR / VHDX_LOG_DESC_SIZE)
/* The header takes the room of this many descriptors in the first sector */
#define HDR_DESC_SLOTS      (VHDX_LOG_HEADER_SIZE / VHDX_LOG_DESC_SIZE)


/*
 * The log is read ahead this much at a time: a scan looks at every
 * sector of the ring, and one read per sector would make a large log
 * cost seconds.  LogLength is a multiple of 1 MiB, so no window straddles
 * the end of the ring.
 */
#define LOG_WINDOW          VHDX_MiB

/* The log region being read, with a sector of scratch space */
typedef struct LogRegion {
    VhdxIO *io;
    uint64_t offset;
    uint32_t length;
    const VhdxGuid *guid;
    uint8_t *buf;
    uint8_t *window;                /* up to LOG_WINDOW bytes of the ring */
    uint32_t window_pos;            /* ...from this log offset */
    uint32_t window_len;            /* 0 until something was read */
    uint64_t data_end;              /* data may lie up to here, then holes */
} LogRegion;

typedef struct LogEntryHeader {
    uint32_t checksum;
    uint32_t entry_length;
    uint32_t tail;
    uint64_t sequence;
    uint32_t descriptor_count;
    VhdxGuid log_guid;
    uint64_t flushed_file_offset;
    uint64_t last_file_offset;
} LogEntryHeader;

typedef struct LogDescriptor {
    bool is_data;
    uint32_t trailing_bytes;
    uint64_t leading_bytes;
    uint64_t length;                /* ZeroLength, or one sector for data */
    uint64_t file_offset;
    uint64_t sequence;
} LogDescriptor;

/* A complete sequence found by the scan */
typedef struct LogSequence {
    bool found;
    uint32_t tail;                  /* log offset of the tail entry */
    uint32_t count;                 /* entries from tail to head */
    uint32_t head_pos;              /* log offset of the head entry */
    LogEntryHeader head;
} LogSequence;

/* Descriptor sectors an entry with @count descriptors needs (at least 1) */
static uint64_t log_desc_sectors(uint64_t count)
{
    return (count + HDR_DESC_SLOTS + DESCS_PER_SECTOR - 1) / DESCS_PER_SECTOR;
}

/* Entries are capped at a third of the ring; see log_needs_checkpoint() */
static uint32_t log_max_entry_sectors(uint32_t length)
{
    return length / LOG_SECTOR / 3;
}

static uint64_t log_align_down(uint64_t v, uint64_t align)
{
    return v - v % align;
}

/* Callers keep @v well below UINT64_MAX - @align */
static uint64_t log_align_up(uint64_t v, uint64_t align)
{
    return log_align_down(v + align - 1, align);
}

static uint32_t log_pos_add(const LogRegion *r, uint32_t pos, uint64_t delta)
{
    return (pos + delta) % r->length;
}

/* ---- Reading and validating entries ---- */

/*
 * How much to read ahead from @pos: a window, but no further than the end
 * of the ring or, where the scan knows a hole follows, than the data
 */
static uint32_t log_read_ahead(const LogRegion *r, uint32_t pos)
{
    uint64_t len = MIN(LOG_WINDOW, r->length - pos);

    if (r->data_end > pos) {
        len = MIN(len, log_align_up(r->data_end - pos, LOG_SECTOR));
    }
    return len;
}

static int log_read_sector(LogRegion *r, uint32_t pos, uint8_t *buf,
                           GError **errp)
{
    if (pos < r->window_pos || pos - r->window_pos >= r->window_len) {
        uint32_t len = log_read_ahead(r, pos);
        int ret = vhdx_io_pread(r->io, r->offset + pos, r->window, len);

        if (ret < 0) {
            r->window_len = 0;
            return vhdx_io_error(errp, -ret, "VHDX log: cannot read the log "
                                 "at 0x%" PRIx32, pos);
        }
        r->window_pos = pos;
        r->window_len = len;
    }
    memcpy(buf, r->window + (pos - r->window_pos), LOG_SECTOR);
    return 0;
}

static void log_header_decode(const uint8_t *p, LogEntryHeader *h)
{
    h->checksum = vhdx_ld32(p + HDR_CHECKSUM);
    h->entry_length = vhdx_ld32(p + HDR_ENTRY_LENGTH);
    h->tail = vhdx_ld32(p + HDR_TAIL);
    h->sequence = vhdx_ld64(p + HDR_SEQUENCE);
    h->descriptor_count = vhdx_ld32(p + HDR_DESC_COUNT);
    memcpy(h->log_guid.bytes, p + HDR_LOG_GUID, sizeof(h->log_guid.bytes));
    h->flushed_file_offset = vhdx_ld64(p + HDR_FLUSHED_OFFSET);
    h->last_file_offset = vhdx_ld64(p + HDR_LAST_OFFSET);
}

/*
 * Decodes and checks the entry header in @sector; on failure *@why names
 * the field.  Reserved is not checked: it carries no meaning for replay.
 */
static bool log_header_parse(const LogRegion *r, const uint8_t *sector,
                             LogEntryHeader *h, const char **why)
{
    if (memcmp(sector + HDR_SIGNATURE, VHDX_LOG_ENTRY_SIGNATURE, 4)) {
        *why = "Signature is not 'loge'";
        return false;
    }
    log_header_decode(sector, h);
    if (h->entry_length == 0 || h->entry_length % LOG_SECTOR) {
        *why = "EntryLength is not a non-zero multiple of 4 KiB";
        return false;
    }
    if (h->entry_length > r->length) {
        *why = "EntryLength exceeds the log length";
        return false;
    }
    if (h->tail % LOG_SECTOR || h->tail >= r->length) {
        *why = "Tail is not a 4 KiB aligned offset inside the log";
        return false;
    }
    if (h->sequence == 0) {
        *why = "SequenceNumber is zero";
        return false;
    }
    if (!vhdx_guid_equal(&h->log_guid, r->guid)) {
        *why = "LogGuid does not match the LogGuid of the file header";
        return false;
    }
    if (log_desc_sectors(h->descriptor_count) >
        h->entry_length / LOG_SECTOR) {
        *why = "DescriptorCount does not fit in EntryLength";
        return false;
    }
    if (h->flushed_file_offset > VHDX_FILE_SIZE_MAX) {
        *why = "FlushedFileOffset is beyond any possible file size";
        return false;
    }
    if (h->last_file_offset > VHDX_FILE_SIZE_MAX) {
        *why = "LastFileOffset is beyond any possible file size";
        return false;
    }
    return true;
}

/*
 * Decodes and checks descriptor @p of the entry @h.  Its target must be a
 * 4 KiB aligned range inside LastFileOffset that touches neither the
 * file identifier and headers (updated by alternating the two headers,
 * never through the log) nor the log.  The region tables, also in the
 * first 1 MiB, are updated through the log.
 */
static bool log_desc_parse(const LogRegion *r, const LogEntryHeader *h,
                           const uint8_t *p, LogDescriptor *d,
                           const char **why)
{
    if (!memcmp(p + DESC_SIGNATURE, VHDX_LOG_DESC_SIGNATURE, 4)) {
        d->is_data = true;
        d->trailing_bytes = vhdx_ld32(p + DESC_TRAILING);
        d->leading_bytes = vhdx_ld64(p + DESC_LEADING);
        d->length = LOG_SECTOR;
    } else if (!memcmp(p + DESC_SIGNATURE, VHDX_LOG_ZERO_SIGNATURE, 4)) {
        d->is_data = false;
        d->trailing_bytes = 0;
        d->leading_bytes = 0;
        d->length = vhdx_ld64(p + DESC_LEADING);
    } else {
        *why = "descriptor signature is neither 'desc' nor 'zero'";
        return false;
    }
    d->file_offset = vhdx_ld64(p + DESC_FILE_OFFSET);
    d->sequence = vhdx_ld64(p + DESC_SEQUENCE);

    if (d->sequence != h->sequence) {
        *why = "descriptor SequenceNumber differs from the entry's";
        return false;
    }
    if (d->file_offset % LOG_SECTOR) {
        *why = "descriptor FileOffset is not a multiple of 4 KiB";
        return false;
    }
    if (d->length % LOG_SECTOR) {
        *why = "zero descriptor ZeroLength is not a multiple of 4 KiB";
        return false;
    }
    if (d->file_offset > VHDX_FILE_SIZE_MAX ||
        d->length > VHDX_FILE_SIZE_MAX - d->file_offset) {
        *why = "descriptor FileOffset plus length is beyond any possible "
               "file size";
        return false;
    }
    if (d->file_offset + d->length > h->last_file_offset) {
        *why = "descriptor FileOffset plus length is beyond LastFileOffset";
        return false;
    }
    if (d->file_offset < LOG_UNLOGGED_END) {
        *why = "descriptor FileOffset is inside the file identifier or "
               "headers";
        return false;
    }
    if (vhdx_ranges_overlap(d->file_offset, d->length, r->offset, r->length)) {
        *why = "descriptor FileOffset range overlaps the log";
        return false;
    }
    return true;
}

static bool log_data_sector_valid(const uint8_t *sector, uint64_t sequence,
                                  const char **why)
{
    if (memcmp(sector + DATA_SIGNATURE, VHDX_LOG_DATA_SIGNATURE, 4)) {
        *why = "data sector signature is not 'data'";
        return false;
    }
    if (vhdx_ld32(sector + DATA_SEQUENCE_HIGH) != (uint32_t)(sequence >> 32) ||
        vhdx_ld32(sector + DATA_SEQUENCE_LOW) != (uint32_t)sequence) {
        *why = "data sector SequenceHigh/SequenceLow differ from the entry's";
        return false;
    }
    return true;
}

/* The descriptors of @count held in descriptor sector @s: [*first, *end) */
static void log_desc_range(uint64_t s, uint32_t count,
                           uint64_t *first, uint64_t *end)
{
    uint64_t lo = s * DESCS_PER_SECTOR;
    uint64_t hi = lo + DESCS_PER_SECTOR;

    *first = lo > HDR_DESC_SLOTS ? lo - HDR_DESC_SLOTS : 0;
    *end = MIN(hi - HDR_DESC_SLOTS, (uint64_t)count);
}

static const uint8_t *log_desc_ptr(const uint8_t *sector, uint64_t index)
{
    return sector + (VHDX_LOG_HEADER_SIZE + index * VHDX_LOG_DESC_SIZE) %
                    LOG_SECTOR;
}

/*
 * Checks the whole entry at log offset @pos: header, each descriptor, each
 * data sector, and the checksum over EntryLength bytes.  Sectors are read
 * one at a time and each is checked as it arrives, so nothing is sized by
 * the entry's own fields and a bogus entry costs little.
 *
 * Returns 1 and fills @h if the entry is valid, 0 if it is not (*@why
 * says why), a negative errno if reading fails.
 */
static int log_entry_validate(LogRegion *r, uint32_t pos, LogEntryHeader *h,
                              const char **why, GError **errp)
{
    static const uint8_t zero_field[4];
    uint64_t desc_sectors, data_sectors = 0, total, s;
    uint32_t crc;
    int ret;

    ret = log_read_sector(r, pos, r->buf, errp);
    if (ret < 0) {
        return ret;
    }
    if (!log_header_parse(r, r->buf, h, why)) {
        return 0;
    }
    total = h->entry_length / LOG_SECTOR;
    desc_sectors = log_desc_sectors(h->descriptor_count);

    /* The checksum covers the entry with its Checksum field read as 0 */
    crc = vhdx_crc32c_update(~0u, r->buf, HDR_CHECKSUM);
    crc = vhdx_crc32c_update(crc, zero_field, sizeof(zero_field));
    crc = vhdx_crc32c_update(crc, r->buf + HDR_CHECKSUM + 4,
                             LOG_SECTOR - HDR_CHECKSUM - 4);

    for (s = 0; s < desc_sectors; s++) {
        uint64_t i, end;

        if (s > 0) {
            ret = log_read_sector(r, log_pos_add(r, pos, s * LOG_SECTOR),
                                  r->buf, errp);
            if (ret < 0) {
                return ret;
            }
            crc = vhdx_crc32c_update(crc, r->buf, LOG_SECTOR);
        }
        for (log_desc_range(s, h->descriptor_count, &i, &end); i < end;
             i++) {
            LogDescriptor d;

            if (!log_desc_parse(r, h, log_desc_ptr(r->buf, i), &d, why)) {
                return 0;
            }
            data_sectors += d.is_data;
        }
    }

    /* MS-VHDX 2.3.1: exactly one data sector per data descriptor */
    if (desc_sectors + data_sectors != total) {
        *why = "EntryLength does not match the descriptor and data sectors";
        return 0;
    }

    for (s = desc_sectors; s < total; s++) {
        ret = log_read_sector(r, log_pos_add(r, pos, s * LOG_SECTOR),
                              r->buf, errp);
        if (ret < 0) {
            return ret;
        }
        if (!log_data_sector_valid(r->buf, h->sequence, why)) {
            return 0;
        }
        crc = vhdx_crc32c_update(crc, r->buf, LOG_SECTOR);
    }

    if (~crc != h->checksum) {
        *why = "Checksum does not match the entry";
        return 0;
    }
    return 1;
}

/* ---- Finding the active sequence ---- */

/*
 * How many bytes of whole zero sectors start at log offset @start (up to
 * the end of the ring); when none do, r->data_end becomes the end of the
 * data there, so that the storage is not asked again for every sector
 * and no more than that data is read.  Returns the byte count or a
 * negative errno.
 */
static int64_t log_zero_run(LogRegion *r, uint32_t start, GError **errp)
{
    uint64_t run;
    bool zero;
    int ret = vhdx_io_extent(r->io, r->offset + start, r->length - start,
                             &zero, &run);

    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX log: cannot look for holes "
                             "at 0x%" PRIx32, start);
    }
    if (zero && run >= LOG_SECTOR) {
        return log_align_down(run, LOG_SECTOR);
    }
    r->data_end = start + log_align_up(MAX(run, 1), LOG_SECTOR);
    return 0;
}

/*
 * Looks at the run of entries starting at log offset @start and records
 * it in @best if it is a complete sequence newer than @best.  Returns the
 * run's length in bytes (0 if @start holds no valid entry) or a negative
 * errno.
 */
static int64_t log_scan_run(LogRegion *r, uint32_t start, GArray *starts,
                            LogSequence *best, GError **errp)
{
    LogEntryHeader h, head = { 0 };
    uint32_t pos = start, head_pos = start;
    uint64_t covered = 0;
    const char *why;
    int ret;

    g_array_set_size(starts, 0);
    for (;;) {
        ret = log_entry_validate(r, pos, &h, &why, errp);
        if (ret < 0) {
            return ret;
        }
        if (ret == 0) {
            break;
        }
        if (starts->len && h.sequence != head.sequence + 1) {
            break;
        }
        /*
         * Growing sequence numbers keep a run from meeting itself, but a
         * run can never be longer than the ring either: say so directly.
         */
        if (covered + h.entry_length > r->length) {
            break;
        }
        g_array_append_val(starts, pos);
        covered += h.entry_length;
        head = h;
        head_pos = pos;
        pos = log_pos_add(r, pos, h.entry_length);
    }

    for (guint i = 0; i < starts->len; i++) {
        if (g_array_index(starts, uint32_t, i) != head.tail) {
            continue;
        }
        /* Complete: the head's tail entry is part of the run */
        if (!best->found || head.sequence > best->head.sequence) {
            *best = (LogSequence) {
                .found = true,
                .tail = head.tail,
                .count = starts->len - i,
                .head_pos = head_pos,
                .head = head,
            };
        }
        break;
    }
    return covered;
}

/*
 * Scans the whole ring once for the active sequence (MS-VHDX 2.3.3).
 *
 * Where no valid entry starts, the scan moves on by one sector.  After a
 * run it moves to the run's end, whether the run was complete or not:
 * the spec moves an incomplete run's start by one sector only, but every
 * later start inside the run either holds no entry header (inside a valid
 * entry every sector after the first starts with a descriptor or data
 * signature) or starts a suffix of the same run, with the same head and
 * the same missing tail.  Skipping them gives the same answer in linear
 * rather than quadratic time.
 */
static int log_find_active(LogRegion *r, LogSequence *active, GError **errp)
{
    g_autoptr(GArray) starts = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    uint64_t scanned = 0;
    uint32_t start = 0;

    *active = (LogSequence) { .found = false };
    r->data_end = 0;
    while (scanned < r->length) {
        int64_t run = 0;

        /*
         * A zero sector starts no entry: skip holes unread, so an empty
         * log costs nothing however large it claims to be.
         */
        if (scanned >= r->data_end) {
            run = log_zero_run(r, start, errp);
        }
        if (run == 0) {
            run = log_scan_run(r, start, starts, active, errp);
        }
        if (run < 0) {
            return run;
        }
        if (run == 0) {
            run = LOG_SECTOR;
        }
        scanned += run;
        start = log_pos_add(r, start, run);
    }
    return 0;
}

/*
 * Checks that the log region is placed as MS-VHDX 2.2.2 requires and lies
 * inside the file.
 */
static int log_region_validate(VhdxIO *io, uint64_t offset, uint32_t length,
                               GError **errp)
{
    int64_t file_length;

    if (offset % VHDX_ALIGNMENT || offset < VHDX_HEADER_AREA_SIZE) {
        return vhdx_error(errp, EINVAL, "VHDX log region at 0x%" PRIx64
                          ": LogOffset is not a 1 MiB aligned offset after "
                          "the header area", offset);
    }
    if (length == 0 || length % VHDX_ALIGNMENT) {
        return vhdx_error(errp, EINVAL, "VHDX log region at 0x%" PRIx64
                          ": LogLength 0x%" PRIx32 " is not a non-zero "
                          "multiple of 1 MiB", offset, length);
    }
    file_length = vhdx_io_length(io);
    if (file_length < 0) {
        return vhdx_io_error(errp, (int)-file_length, "VHDX log: cannot get "
                             "the file length");
    }
    if (offset > (uint64_t)file_length ||
        length > (uint64_t)file_length - offset) {
        return vhdx_error(errp, EINVAL, "VHDX log region at 0x%" PRIx64
                          ": LogOffset plus LogLength 0x%" PRIx32 " is "
                          "beyond the end of the file (0x%" PRIx64 ")",
                          offset, length, (uint64_t)file_length);
    }
    return 0;
}

static void log_region_init(LogRegion *r, VhdxIO *io, uint64_t offset,
                            uint32_t length, const VhdxGuid *guid)
{
    *r = (LogRegion) {
        .io = io, .offset = offset, .length = length, .guid = guid,
        .buf = g_malloc(LOG_SECTOR), .window = g_malloc(LOG_WINDOW),
    };
}

static void log_region_clear(LogRegion *r)
{
    g_free(r->buf);
    g_free(r->window);
}

/* ---- Replay ---- */

/* Rebuilds the home sector of data descriptor @d from its data sector */
static void log_data_sector_to_home(const LogDescriptor *d,
                                    const uint8_t *sector, uint8_t *home)
{
    vhdx_st64(home, d->leading_bytes);
    memcpy(home + DATA_PAYLOAD, sector + DATA_PAYLOAD, VHDX_LOG_DATA_PAYLOAD);
    vhdx_st32(home + DATA_SEQUENCE_LOW, d->trailing_bytes);
}

/* What to do with each descriptor of an entry, with its data sector */
typedef int LogDescVisitor(LogRegion *r, uint32_t pos, const LogDescriptor *d,
                           const uint8_t *data_sector, void *opaque,
                           GError **errp);

/* Writes descriptor @d of the entry at @pos to its home location */
static int log_desc_apply(LogRegion *r, uint32_t pos, const LogDescriptor *d,
                          const uint8_t *data_sector, void *opaque,
                          GError **errp)
{
    uint8_t home[VHDX_LOG_SECTOR_SIZE];
    int ret;

    if (d->is_data) {
        log_data_sector_to_home(d, data_sector, home);
        ret = vhdx_io_pwrite(r->io, d->file_offset, home, LOG_SECTOR);
    } else {
        /* ZeroLength may claim terabytes: leave holes alone */
        ret = vhdx_io_zero_data(r->io, d->file_offset, d->length);
    }
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX log entry at 0x%" PRIx32 ": "
                             "cannot write 0x%" PRIx64 " bytes home at 0x%"
                             PRIx64, pos, d->length, d->file_offset);
    }
    return 0;
}

/* Raises *@opaque (a uint64_t) to the end of @d's home range */
static int log_desc_measure(LogRegion *r, uint32_t pos,
                            const LogDescriptor *d,
                            const uint8_t *data_sector, void *opaque,
                            GError **errp)
{
    uint64_t *home_end = opaque;

    *home_end = MAX(*home_end, d->file_offset + d->length);
    return 0;
}

/*
 * Calls @visit for each descriptor of the entry at @pos, which the scan
 * found valid with sequence number @sequence.  The header and every
 * descriptor and data sector are checked again as they are read, since
 * the whole entry is never held in memory.  Returns the entry length or
 * a negative errno.
 */
static int64_t log_entry_walk(LogRegion *r, uint32_t pos, uint64_t sequence,
                              LogDescVisitor *visit, void *opaque,
                              GError **errp)
{
    g_autofree uint8_t *data = g_malloc(LOG_SECTOR);
    LogEntryHeader h;
    uint64_t desc_sectors, total, data_index = 0;
    const char *why;
    int ret;

    ret = log_read_sector(r, pos, r->buf, errp);
    if (ret < 0) {
        return ret;
    }
    if (!log_header_parse(r, r->buf, &h, &why)) {
        goto invalid;
    }
    if (h.sequence != sequence) {
        why = "SequenceNumber changed since the log was scanned";
        goto invalid;
    }
    total = h.entry_length / LOG_SECTOR;
    desc_sectors = log_desc_sectors(h.descriptor_count);

    for (uint64_t s = 0; s < desc_sectors; s++) {
        uint64_t i, end;

        if (s > 0) {
            ret = log_read_sector(r, log_pos_add(r, pos, s * LOG_SECTOR),
                                  r->buf, errp);
            if (ret < 0) {
                return ret;
            }
        }
        for (log_desc_range(s, h.descriptor_count, &i, &end); i < end;
             i++) {
            LogDescriptor d;

            if (!log_desc_parse(r, &h, log_desc_ptr(r->buf, i), &d, &why)) {
                goto invalid;
            }
            if (d.is_data) {
                uint64_t ds = desc_sectors + data_index++;

                if (ds >= total) {
                    why = "EntryLength does not match the descriptor and "
                          "data sectors";
                    goto invalid;
                }
                ret = log_read_sector(r, log_pos_add(r, pos, ds * LOG_SECTOR),
                                      data, errp);
                if (ret < 0) {
                    return ret;
                }
                if (!log_data_sector_valid(data, h.sequence, &why)) {
                    goto invalid;
                }
            }
            ret = visit(r, pos, &d, data, opaque, errp);
            if (ret < 0) {
                return ret;
            }
        }
    }
    return h.entry_length;

invalid:
    return vhdx_error(errp, EINVAL, "VHDX log entry at 0x%" PRIx32 ": %s",
                      pos, why);
}

/* Calls @visit for every descriptor of the active sequence, in order */
static int log_sequence_walk(LogRegion *r, const LogSequence *active,
                             LogDescVisitor *visit, void *opaque,
                             GError **errp)
{
    uint32_t pos = active->tail;

    for (uint32_t i = 0; i < active->count; i++) {
        uint64_t sequence = active->head.sequence - (active->count - 1) + i;
        int64_t entry_length = log_entry_walk(r, pos, sequence, visit, opaque,
                                              errp);

        if (entry_length < 0) {
            return entry_length;
        }
        pos = log_pos_add(r, pos, entry_length);
    }
    return 0;
}

/*
 * Before replaying: refuse a file shorter than the head's FlushedFileOffset
 * (it was truncated after the entry was written; MS-VHDX 2.3.3 forbids
 * opening it), then grow the file to cover the home sectors the entries
 * write, so that written zeros land inside it too.
 *
 * LastFileOffset is not a size to grow to.  It only promises that every
 * structure the writer had allocated lay below it; whatever of that space
 * the replayed metadata references is checked against the real file when
 * the image is opened, and growing to a hostile 15 TiB claim would leave
 * a file its structures never use.
 */
static int log_replay_resize(LogRegion *r, const LogSequence *active,
                             GError **errp)
{
    int64_t file_length = vhdx_io_length(r->io);
    uint64_t home_end = 0, target;
    int ret;

    if (file_length < 0) {
        return vhdx_io_error(errp, (int)-file_length, "VHDX log: cannot get "
                             "the file length");
    }
    if (active->head.flushed_file_offset > (uint64_t)file_length) {
        return vhdx_error(errp, EINVAL, "VHDX log entry at 0x%" PRIx32 ": "
                          "FlushedFileOffset 0x%" PRIx64 " is beyond the end "
                          "of the file (0x%" PRIx64 "): the file was "
                          "truncated", active->head_pos,
                          active->head.flushed_file_offset,
                          (uint64_t)file_length);
    }
    ret = log_sequence_walk(r, active, log_desc_measure, &home_end, errp);
    if (ret < 0) {
        return ret;
    }
    target = log_align_up(home_end, VHDX_MiB);
    if (target > (uint64_t)file_length) {
        ret = vhdx_io_truncate(r->io, target);
        if (ret < 0) {
            return vhdx_io_error(errp, -ret, "VHDX log entry at 0x%" PRIx32
                                 ": cannot extend the file to 0x%" PRIx64
                                 " for its home sectors", active->head_pos,
                                 target);
        }
    }
    return 0;
}

/*
 * Common start of needs_replay and replay, which leaves @r to clear.  A
 * zero LogGuid means an empty log (MS-VHDX 2.2.2), so nothing is read
 * then.
 *
 * MS-VHDX 2.3.3 calls a file with a non-zero LogGuid but no complete
 * sequence corrupt.  That state is benign, though: it is what a writer
 * leaves when it crashes after setting LogGuid in the header but before
 * its first entry is durable, and no home sector has been touched yet.
 * Like QEMU's stock driver, this code treats it as nothing to replay.
 */
static int log_scan(LogRegion *r, VhdxIO *io, uint64_t offset,
                    uint32_t length, const VhdxGuid *log_guid,
                    LogSequence *active, GError **errp)
{
    int ret;

    *active = (LogSequence) { .found = false };
    if (vhdx_guid_is_zero(log_guid)) {
        return 0;
    }
    ret = log_region_validate(io, offset, length, errp);
    if (ret < 0) {
        return ret;
    }
    log_region_init(r, io, offset, length, log_guid);
    return log_find_active(r, active, errp);
}

int vhdx_log_needs_replay(VhdxIO *io, uint64_t offset, uint32_t length,
                          const VhdxGuid *log_guid, bool *needed,
                          GError **errp)
{
    LogRegion r = { 0 };
    LogSequence active;
    int ret;

    ret = log_scan(&r, io, offset, length, log_guid, &active, errp);
    log_region_clear(&r);
    *needed = ret == 0 && active.found;
    return ret;
}

int vhdx_log_replay(VhdxIO *io, uint64_t offset, uint32_t length,
                    const VhdxGuid *log_guid, bool *replayed, GError **errp)
{
    LogRegion r = { 0 };
    LogSequence active;
    int ret;

    *replayed = false;
    ret = log_scan(&r, io, offset, length, log_guid, &active, errp);
    if (ret == 0 && active.found) {
        ret = log_replay_resize(&r, &active, errp);
        if (ret == 0) {
            ret = log_sequence_walk(&r, &active, log_desc_apply, NULL, errp);
        }
        if (ret == 0) {
            ret = vhdx_io_flush(io);
            if (ret < 0) {
                vhdx_io_error(errp, -ret, "VHDX log: cannot flush the "
                              "replayed log");
            }
        }
        *replayed = ret == 0;
    }
    log_region_clear(&r);
    return ret;
}

/* ---- Writing ---- */

/*
 * At most this many logged sectors wait for their checkpoint: the copies
 * kept for reading cost memory, and a log of any size must not make it
 * grow without bound (16 MiB).
 */
#define LOG_LOGGED_MAX      4096

/* The newest logged content of a home sector, until it is home */
typedef struct LogLogged {
    uint64_t file_offset;
    bool zero;
    uint8_t data[VHDX_LOG_SECTOR_SIZE];
} LogLogged;

void vhdx_log_init(VhdxLog *log, VhdxIO *io, uint64_t offset,
                   uint32_t length, const VhdxGuid *guid)
{
    *log = (VhdxLog) {
        .io = io,
        .offset = offset,
        .length = length,
        .guid = *guid,
        .sequence = 1,
        .head = 0,
    };
}

void vhdx_log_clear(VhdxLog *log)
{
    g_clear_pointer(&log->logged, g_hash_table_destroy);
}

size_t vhdx_log_max_sectors_per_entry(const VhdxLog *log)
{
    uint32_t max = log_max_entry_sectors(log->length);
    size_t n;

    if (max < 2) {
        return 0;
    }
    /*
     * Each data sector also needs a descriptor; descriptor sectors are
     * about 1/129 of the total, so this takes a few steps at most.
     */
    n = max - 1;
    while (n > 0 && log_desc_sectors(n) + n > max) {
        n--;
    }
    return n;
}

/* Whether @s continues the run of zero sectors ending with @prev */
static bool log_zero_continues(const VhdxLogSector *prev,
                               const VhdxLogSector *s)
{
    return !prev->data && !s->data &&
           prev->file_offset + LOG_SECTOR == s->file_offset;
}

/*
 * How many of the @n sorted @sectors fit one entry of at most
 * @max_sectors log sectors; counts its descriptors and data sectors.
 */
static size_t log_entry_fit(const VhdxLogSector *sectors, size_t n,
                            uint32_t max_sectors, uint32_t *ndesc,
                            uint32_t *ndata)
{
    uint32_t desc = 0, data = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        uint32_t d = desc, dd = data;

        if (sectors[i].data) {
            d++;
            dd++;
        } else if (i == 0 || !log_zero_continues(&sectors[i - 1],
                                                 &sectors[i])) {
            d++;
        }
        if (log_desc_sectors(d) + dd > max_sectors) {
            break;
        }
        desc = d;
        data = dd;
    }
    *ndesc = desc;
    *ndata = data;
    return i;
}

/*
 * Whether the log must be checkpointed before an entry of @size bytes
 * holding @count sectors is written.  Without it the sequence would grow
 * past N - M sectors (see the top of the file), or the logged copies past
 * their bound.  After a checkpoint the entry starts a new sequence, which
 * never overlaps the old one: that is at most N - M sectors, the entry at
 * most M.
 */
static bool log_needs_checkpoint(const VhdxLog *log, uint64_t size,
                                 size_t count)
{
    uint64_t keep = log->length -
                    (uint64_t)log_max_entry_sectors(log->length) * LOG_SECTOR;

    return log->in_sequence &&
           (log->used + size > keep ||
            vhdx_log_logged_count(log) + count > LOG_LOGGED_MAX);
}

/* Encodes the entry for @n sorted @sectors at log offset @pos into @buf */
static void log_entry_encode(const VhdxLog *log, const VhdxLogSector *sectors,
                             size_t n, uint32_t ndesc, uint32_t tail,
                             uint64_t flushed, uint64_t last,
                             uint8_t *buf, uint64_t size)
{
    uint64_t desc_sectors = log_desc_sectors(ndesc);
    uint8_t *data = buf + desc_sectors * LOG_SECTOR;
    uint64_t seq = log->sequence;
    uint8_t *d = NULL;
    uint64_t idx = 0;

    memcpy(buf + HDR_SIGNATURE, VHDX_LOG_ENTRY_SIGNATURE, 4);
    vhdx_st32(buf + HDR_ENTRY_LENGTH, size);
    vhdx_st32(buf + HDR_TAIL, tail);
    vhdx_st64(buf + HDR_SEQUENCE, seq);
    vhdx_st32(buf + HDR_DESC_COUNT, ndesc);
    vhdx_st32(buf + HDR_RESERVED, 0);
    memcpy(buf + HDR_LOG_GUID, log->guid.bytes, sizeof(log->guid.bytes));
    vhdx_st64(buf + HDR_FLUSHED_OFFSET, flushed);
    vhdx_st64(buf + HDR_LAST_OFFSET, last);

    for (size_t i = 0; i < n; i++) {
        const VhdxLogSector *s = &sectors[i];

        if (!s->data && i > 0 && log_zero_continues(&sectors[i - 1], s)) {
            /* Grow the zero descriptor @d written for the run so far */
            vhdx_st64(d + DESC_LEADING,
                      vhdx_ld64(d + DESC_LEADING) + LOG_SECTOR);
            continue;
        }
        d = buf + VHDX_LOG_HEADER_SIZE + idx++ * VHDX_LOG_DESC_SIZE;
        if (s->data) {
            memcpy(d + DESC_SIGNATURE, VHDX_LOG_DESC_SIGNATURE, 4);
            vhdx_st32(d + DESC_TRAILING, vhdx_ld32(s->data + LOG_SECTOR - 4));
            vhdx_st64(d + DESC_LEADING, vhdx_ld64(s->data));

            memcpy(data + DATA_SIGNATURE, VHDX_LOG_DATA_SIGNATURE, 4);
            vhdx_st32(data + DATA_SEQUENCE_HIGH, seq >> 32);
            memcpy(data + DATA_PAYLOAD, s->data + DATA_PAYLOAD,
                   VHDX_LOG_DATA_PAYLOAD);
            vhdx_st32(data + DATA_SEQUENCE_LOW, (uint32_t)seq);
            data += LOG_SECTOR;
        } else {
            memcpy(d + DESC_SIGNATURE, VHDX_LOG_ZERO_SIGNATURE, 4);
            vhdx_st32(d + DESC_TRAILING, 0);
            vhdx_st64(d + DESC_LEADING, LOG_SECTOR);
        }
        vhdx_st64(d + DESC_FILE_OFFSET, s->file_offset);
        vhdx_st64(d + DESC_SEQUENCE, seq);
    }
    g_assert(idx == ndesc);
    vhdx_checksum_store(buf, size, HDR_CHECKSUM);
}

/* Writes @size bytes of @buf into the ring at @pos, wrapping at its end */
static int log_write_ring(VhdxLog *log, uint32_t pos, const uint8_t *buf,
                          uint64_t size)
{
    uint64_t first = MIN(size, (uint64_t)log->length - pos);
    int ret;

    ret = vhdx_io_pwrite(log->io, log->offset + pos, buf, first);
    if (ret == 0 && first < size) {
        ret = vhdx_io_pwrite(log->io, log->offset, buf + first,
                             size - first);
    }
    return ret;
}

/* Writes the @n sorted @sectors to their home locations */
static int log_write_home(VhdxLog *log, const VhdxLogSector *sectors,
                          size_t n)
{
    size_t i = 0;
    int ret;

    while (i < n) {
        size_t j = i + 1;

        if (sectors[i].data) {
            ret = vhdx_io_pwrite(log->io, sectors[i].file_offset,
                                 sectors[i].data, LOG_SECTOR);
        } else {
            while (j < n && log_zero_continues(&sectors[j - 1], &sectors[j])) {
                j++;
            }
            ret = vhdx_io_pwrite_zeroes(log->io, sectors[i].file_offset,
                                        (j - i) * (uint64_t)LOG_SECTOR);
        }
        if (ret < 0) {
            return ret;
        }
        i = j;
    }
    return 0;
}

/* Keeps the newest content of the @n logged @sectors until their home */
static void log_remember(VhdxLog *log, const VhdxLogSector *sectors,
                         size_t n)
{
    if (!log->logged) {
        log->logged = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                            NULL, g_free);
    }
    for (size_t i = 0; i < n; i++) {
        LogLogged *l = g_hash_table_lookup(log->logged,
                                           &sectors[i].file_offset);

        if (!l) {
            l = g_new(LogLogged, 1);
            l->file_offset = sectors[i].file_offset;
            g_hash_table_insert(log->logged, &l->file_offset, l);
        }
        l->zero = !sectors[i].data;
        if (sectors[i].data) {
            memcpy(l->data, sectors[i].data, LOG_SECTOR);
        }
    }
}

/*
 * Writes one entry for @n sorted @sectors (which fit) at the head and
 * flushes it.
 */
static int log_write_entry(VhdxLog *log, const VhdxLogSector *sectors,
                           size_t n, uint32_t ndesc, uint32_t ndata,
                           GError **errp)
{
    g_autofree uint8_t *buf = NULL;
    uint64_t size = (log_desc_sectors(ndesc) + ndata) * LOG_SECTOR;
    uint64_t flushed, last, home_end;
    uint32_t pos = log->head;
    int64_t file_length;
    const char *what;
    int ret;

    if (!log->in_sequence) {
        log->tail = pos;
        log->used = 0;
    }
    /*
     * The caller flushed, so the current length is stable on disk: it is
     * the largest FlushedFileOffset allowed.  LastFileOffset must cover
     * everything allocated, including home sectors past the end.
     */
    file_length = vhdx_io_length(log->io);
    if (file_length < 0) {
        ret = (int)file_length;
        what = "get the file length";
        goto fail;
    }
    home_end = sectors[n - 1].file_offset + LOG_SECTOR;
    flushed = log_align_down(file_length, VHDX_MiB);
    last = log_align_up(MAX((uint64_t)file_length, home_end), VHDX_MiB);

    buf = g_malloc0(size);
    log_entry_encode(log, sectors, n, ndesc, log->tail, flushed, last, buf,
                     size);
    ret = log_write_ring(log, pos, buf, size);
    if (ret < 0) {
        what = "write the log entry";
        goto fail;
    }
    log->sequence++;
    log->head = (pos + size) % log->length;
    log->used += size;
    log->in_sequence = true;

    ret = vhdx_io_flush(log->io);
    if (ret < 0) {
        what = "flush the log entry";
        goto fail;
    }
    log_remember(log, sectors, n);
    return 0;

fail:
    return vhdx_io_error(errp, -ret, "VHDX log entry at 0x%" PRIx32 ": cannot "
                         "%s", pos, what);
}

static int log_sector_cmp(const void *a, const void *b)
{
    const VhdxLogSector *x = a, *y = b;

    return x->file_offset < y->file_offset ? -1 :
           x->file_offset > y->file_offset;
}

/* Refuses sectors that replay would refuse, or that collide (sorted) */
static int log_validate_sectors(const VhdxLog *log,
                                const VhdxLogSector *sectors, size_t n,
                                GError **errp)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t off = sectors[i].file_offset;
        const char *why = NULL;

        if (off % LOG_SECTOR) {
            why = "is not 4 KiB aligned";
        } else if (off < LOG_UNLOGGED_END) {
            why = "is inside the file identifier or headers";
        } else if (off > VHDX_FILE_SIZE_MAX - LOG_SECTOR) {
            why = "is beyond any possible file size";
        } else if (vhdx_ranges_overlap(off, LOG_SECTOR, log->offset,
                                      log->length)) {
            why = "is inside the log";
        } else if (i > 0 && sectors[i - 1].file_offset == off) {
            why = "is given twice";
        }
        if (why) {
            return vhdx_error(errp, EINVAL, "VHDX log commit: sector at "
                              "0x%" PRIx64 " %s", off, why);
        }
    }
    return 0;
}

/* Refuses to write a log that failed before, or that cannot hold entries */
static int log_validate_writable(const VhdxLog *log, GError **errp)
{
    /* Sequence 0 is never valid (MS-VHDX 2.3.1.1): it marks a failure */
    if (log->sequence == 0) {
        return vhdx_error(errp, EIO, "VHDX log: an earlier commit failed\n"
                          "The image must be reopened so that the log is "
                          "replayed.");
    }
    if (log->offset % VHDX_ALIGNMENT || log->offset < VHDX_HEADER_AREA_SIZE ||
        log->length % VHDX_ALIGNMENT ||
        log_max_entry_sectors(log->length) < 2) {
        return vhdx_error(errp, EINVAL, "VHDX log region at 0x%" PRIx64
                          ": LogOffset or LogLength 0x%" PRIx32 " is not a "
                          "1 MiB multiple after the header area",
                          log->offset, log->length);
    }
    return 0;
}

/* The logged sectors, sorted by home offset; g_free() the result */
static VhdxLogSector *log_logged_sorted(const VhdxLog *log, size_t *n)
{
    VhdxLogSector *sectors;
    GHashTableIter iter;
    LogLogged *l;

    *n = 0;
    sectors = g_new(VhdxLogSector, vhdx_log_logged_count(log));
    if (log->logged) {
        g_hash_table_iter_init(&iter, log->logged);
        while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&l)) {
            sectors[(*n)++] = (VhdxLogSector) {
                .file_offset = l->file_offset,
                .data = l->zero ? NULL : l->data,
            };
        }
    }
    qsort(sectors, *n, sizeof(*sectors), log_sector_cmp);
    return sectors;
}

int vhdx_log_checkpoint(VhdxLog *log, GError **errp)
{
    g_autofree VhdxLogSector *sectors = NULL;
    size_t n;
    int ret;

    if (!log->in_sequence) {
        return 0;
    }
    if (log->sequence == 0) {
        return log_validate_writable(log, errp);
    }
    sectors = log_logged_sorted(log, &n);
    ret = log_write_home(log, sectors, n);
    if (ret < 0) {
        vhdx_io_error(errp, -ret, "VHDX log: cannot write the logged "
                      "sectors home");
    } else {
        ret = vhdx_io_flush(log->io);
        if (ret < 0) {
            vhdx_io_error(errp, -ret, "VHDX log: cannot flush the logged "
                          "sectors");
        }
    }
    if (ret < 0) {
        /*
         * Home writes may be half done.  Replay would finish them, but a
         * new sequence would hide the old one from replay and leave them
         * half done for good; so refuse further writes until the image
         * is reopened.  The logged copies stay readable.
         */
        log->sequence = 0;
        return ret;
    }
    /* Dropped, not emptied: a log copied by value (tests) shares none */
    vhdx_log_clear(log);
    log->in_sequence = false;
    return 0;
}

int vhdx_log_append(VhdxLog *log, const VhdxLogSector *sectors, size_t n,
                    GError **errp)
{
    g_autofree VhdxLogSector *sorted = NULL;
    uint32_t max_sectors = log_max_entry_sectors(log->length);
    size_t done, count;
    uint32_t ndesc, ndata;
    int ret;

    if (n == 0) {
        return 0;
    }
    ret = log_validate_writable(log, errp);
    if (ret < 0) {
        return ret;
    }
    sorted = g_new(VhdxLogSector, n);
    memcpy(sorted, sectors, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), log_sector_cmp);
    ret = log_validate_sectors(log, sorted, n, errp);
    if (ret < 0) {
        return ret;
    }

    /*
     * Make the file length stable before it is recorded as
     * FlushedFileOffset, and keep any data written before this commit
     * ahead of the metadata that may point at it.
     */
    ret = vhdx_io_flush(log->io);
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX log: cannot flush before "
                             "writing the log");
    }

    for (done = 0; done < n; done += count) {
        uint64_t size;

        count = log_entry_fit(sorted + done, n - done, max_sectors,
                              &ndesc, &ndata);
        g_assert(count > 0);
        size = (log_desc_sectors(ndesc) + ndata) * LOG_SECTOR;
        if (log_needs_checkpoint(log, size, count)) {
            ret = vhdx_log_checkpoint(log, errp);
            if (ret < 0) {
                return ret;
            }
        }
        ret = log_write_entry(log, sorted + done, count, ndesc, ndata, errp);
        if (ret < 0) {
            /*
             * The entry may be durable; a later one (starting a new
             * sequence after a checkpoint) could hide it from replay
             * while the copies kept for reading no longer match it.
             */
            log->sequence = 0;
            return ret;
        }
    }
    return 0;
}

int vhdx_log_commit(VhdxLog *log, const VhdxLogSector *sectors, size_t n,
                    GError **errp)
{
    int ret = vhdx_log_append(log, sectors, n, errp);

    return ret < 0 ? ret : vhdx_log_checkpoint(log, errp);
}

bool vhdx_log_read_logged(const VhdxLog *log, uint64_t file_offset,
                          uint8_t *buf)
{
    const LogLogged *l = log->logged ?
                         g_hash_table_lookup(log->logged, &file_offset) :
                         NULL;

    if (!l) {
        return false;
    }
    if (l->zero) {
        memset(buf, 0, LOG_SECTOR);
    } else {
        memcpy(buf, l->data, LOG_SECTOR);
    }
    return true;
}

bool vhdx_log_logged_in(const VhdxLog *log, uint64_t offset, uint64_t len)
{
    GHashTableIter iter;
    LogLogged *l;

    if (!vhdx_log_logged_count(log)) {
        return false;
    }
    g_hash_table_iter_init(&iter, log->logged);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&l)) {
        if (vhdx_ranges_overlap(l->file_offset, LOG_SECTOR, offset, len)) {
            return true;
        }
    }
    return false;
}

size_t vhdx_log_logged_count(const VhdxLog *log)
{
    return log->logged ? g_hash_table_size(log->logged) : 0;
}
