/*
 * VHDX file space map
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/error.h"
#include "vhdx/endian.h"
#include "vhdx/space.h"

#include <errno.h>
#include <inttypes.h>

/* BAT entries read per I/O while scanning */
#define SCAN_BATCH_ENTRIES (VHDX_MiB / VHDX_BAT_ENTRY_SIZE)

typedef struct SpaceMap {
    uint8_t *bits;              /* one bit per 1 MiB unit of the file */
    uint64_t units;
    uint64_t used_end_unit;
} SpaceMap;

/* Marks [offset, offset + length); false if any unit was already used */
static bool space_mark(SpaceMap *m, uint64_t offset, uint64_t length)
{
    uint64_t first = offset / VHDX_ALIGNMENT;
    uint64_t end = VHDX_DIV_ROUND_UP(offset + length, VHDX_ALIGNMENT);
    bool clean = true;

    g_assert(end <= m->units);
    for (uint64_t u = first; u < end; u++) {
        if (m->bits[u / 8] & (1u << (u % 8))) {
            clean = false;
        }
        m->bits[u / 8] |= 1u << (u % 8);
    }
    m->used_end_unit = MAX(m->used_end_unit, end);
    return clean;
}

static bool space_unit_used(const SpaceMap *m, uint64_t u)
{
    return m->bits[u / 8] & (1u << (u % 8));
}

/* The region table checked its regions; the log must stay clear of them */
static int space_mark_fixed_structures(SpaceMap *m, const VhdxHeader *h,
                                       const VhdxRegions *r, GError **errp)
{
    space_mark(m, 0, VHDX_HEADER_AREA_SIZE);
    space_mark(m, r->bat_offset, r->bat_length);
    space_mark(m, r->metadata_offset, r->metadata_length);
    if (!space_mark(m, h->log_offset, h->log_length)) {
        return vhdx_error(errp, EINVAL,
                          "VHDX header: the log at 0x%" PRIx64 " (%" PRIu32
                          " bytes) overlaps the header area or a region",
                          h->log_offset, h->log_length);
    }
    return 0;
}

static bool ranges_meet(uint64_t a, uint64_t a_len, uint64_t b,
                        uint64_t b_len)
{
    return a < b + b_len && b < a + a_len;
}

/* The bytes of the file a valid entry's block takes (0: none) */
static uint64_t entry_space(const VhdxBatGeometry *g, uint64_t index,
                            uint64_t entry)
{
    unsigned state = vhdx_bat_state(entry);

    if (vhdx_bat_index_is_bitmap(g, index)) {
        return state == VHDX_BITMAP_PRESENT ? VHDX_BITMAP_BLOCK_SIZE : 0;
    }
    return vhdx_payload_has_data(state) ? g->block_size : 0;
}

static int space_overlap_error(GError **errp, uint64_t index, uint64_t entry)
{
    return vhdx_error(errp, EINVAL, "VHDX BAT entry %" PRIu64 ": block at "
                      "FileOffsetMB %" PRIu64 " overlaps other metadata or "
                      "data", index,
                      vhdx_bat_offset(entry) >> VHDX_BAT_OFFSET_SHIFT);
}

int vhdx_space_check_entry(const VhdxHeader *h, const VhdxRegions *r,
                           const VhdxBatGeometry *g, uint64_t index,
                           uint64_t entry, uint64_t file_length,
                           GError **errp)
{
    uint64_t offset = vhdx_bat_offset(entry);
    uint64_t size;
    int ret;

    ret = vhdx_bat_entry_validate(g, index, entry, file_length, errp);
    size = ret < 0 ? 0 : entry_space(g, index, entry);
    if (size && (ranges_meet(offset, size, h->log_offset, h->log_length) ||
                 ranges_meet(offset, size, r->bat_offset, r->bat_length) ||
                 ranges_meet(offset, size, r->metadata_offset,
                             r->metadata_length))) {
        return space_overlap_error(errp, index, entry);
    }
    return ret;
}

static void space_report_fault(VhdxSpaceScan *out, uint64_t index,
                               uint64_t entry, bool overlap, const char *why)
{
    if (out->fault) {
        out->fault(out->fault_opaque, index, entry, overlap, why);
    }
}

static int scan_entry(SpaceMap *m, const VhdxBatGeometry *g, uint64_t index,
                      uint64_t entry, uint64_t file_length, bool tolerate,
                      VhdxSpaceScan *out, GError **errp)
{
    uint64_t size;
    int ret;

    if (!tolerate) {
        ret = vhdx_bat_entry_validate(g, index, entry, file_length, errp);
        if (ret < 0) {
            return ret;
        }
    } else {
        g_autoptr(GError) err = NULL;

        if (vhdx_bat_entry_validate(g, index, entry, file_length, &err) < 0) {
            out->invalid_entries++;
            space_report_fault(out, index, entry, false, err->message);
            return 0;
        }
    }
    vhdx_block_counts_add(&out->counts, g, index, entry, 1);
    size = entry_space(g, index, entry);
    if (!size) {
        return 0;
    }
    if (!vhdx_bat_index_is_bitmap(g, index)) {
        out->allocated_blocks++;
    }
    if (!space_mark(m, vhdx_bat_offset(entry), size)) {
        g_autoptr(GError) err = NULL;

        space_overlap_error(&err, index, entry);
        out->overlaps++;
        if (!tolerate) {
            g_propagate_error(errp, g_steal_pointer(&err));
            return -EINVAL;
        }
        space_report_fault(out, index, entry, true, err->message);
    }
    return 0;
}

/*
 * How many of the @n entries from @index on lie in a hole of the file
 * (*@skip): one question per stretch of holes, however long
 */
static int space_bat_hole(VhdxIO *io, const VhdxRegions *r, uint64_t index,
                          uint64_t n, uint64_t *skip, GError **errp)
{
    uint64_t run;
    bool zero;
    int ret;

    ret = vhdx_io_extent(io, r->bat_offset + index * VHDX_BAT_ENTRY_SIZE,
                         n * VHDX_BAT_ENTRY_SIZE, &zero, &run);
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX BAT: cannot look for holes "
                             "from entry %" PRIu64, index);
    }
    *skip = zero ? run / VHDX_BAT_ENTRY_SIZE : 0;
    return 0;
}

/* What a walk of the BAT does with each entry read */
typedef int BatEntryFn(void *opaque, uint64_t index, uint64_t entry,
                       GError **errp);

/*
 * Calls @fn for every entry of the BAT, in order, except those in holes
 * of the file (NOT_PRESENT, which use no space)
 */
static int walk_bat(VhdxIO *io, const VhdxRegions *r,
                    const VhdxBatGeometry *g, BatEntryFn *fn, void *opaque,
                    GError **errp)
{
    g_autofree uint8_t *buf = g_malloc(SCAN_BATCH_ENTRIES *
                                       VHDX_BAT_ENTRY_SIZE);
    uint64_t index = 0;
    int ret;

    while (index < g->total_entries) {
        uint64_t n = MIN(SCAN_BATCH_ENTRIES, g->total_entries - index);
        uint64_t skip = 0;

        /*
         * A hole in the BAT holds entries of state 0, NOT_PRESENT, which
         * use no space: a huge sparse BAT costs nothing to scan
         */
        ret = space_bat_hole(io, r, index, g->total_entries - index, &skip,
                             errp);
        if (ret < 0) {
            return ret;
        }
        if (skip) {
            index += skip;
            continue;
        }
        ret = vhdx_io_pread(io, r->bat_offset + index * VHDX_BAT_ENTRY_SIZE,
                            buf, n * VHDX_BAT_ENTRY_SIZE);
        if (ret < 0) {
            return vhdx_io_error(errp, -ret, "VHDX BAT: cannot read entries "
                                 "from %" PRIu64, index);
        }
        for (uint64_t i = 0; i < n; i++) {
            ret = fn(opaque, index + i,
                     vhdx_ld64(buf + i * VHDX_BAT_ENTRY_SIZE), errp);
            if (ret < 0) {
                return ret;
            }
        }
        index += n;
    }
    return 0;
}

typedef struct ScanState {
    SpaceMap *map;
    const VhdxBatGeometry *geo;
    uint64_t file_length;
    bool tolerate;
    VhdxSpaceScan *out;
} ScanState;

static int scan_one_entry(void *opaque, uint64_t index, uint64_t entry,
                          GError **errp)
{
    ScanState *st = opaque;

    return scan_entry(st->map, st->geo, index, entry, st->file_length,
                      st->tolerate, st->out, errp);
}

typedef struct CountState {
    const VhdxBatGeometry *geo;
    VhdxBlockCounts *counts;
} CountState;

static int count_one_entry(void *opaque, uint64_t index, uint64_t entry,
                           GError **errp)
{
    CountState *st = opaque;

    if (vhdx_bat_entry_state_valid(st->geo, index, entry)) {
        vhdx_block_counts_add(st->counts, st->geo, index, entry, 1);
    }
    return 0;
}

int vhdx_space_count(VhdxIO *io, const VhdxRegions *r,
                     const VhdxBatGeometry *g, VhdxBlockCounts *counts,
                     GError **errp)
{
    CountState st = { .geo = g, .counts = counts };

    *counts = (VhdxBlockCounts) { 0 };
    return walk_bat(io, r, g, count_one_entry, &st, errp);
}

static void feed_allocator(const SpaceMap *m, VhdxAllocator *alloc)
{
    uint64_t hole_start = 0;
    bool in_hole = false;

    vhdx_alloc_init(alloc, m->used_end_unit * VHDX_ALIGNMENT);
    for (uint64_t u = 0; u <= m->used_end_unit; u++) {
        bool used = u == m->used_end_unit || space_unit_used(m, u);

        if (!used && !in_hole) {
            hole_start = u;
            in_hole = true;
        } else if (used && in_hole) {
            vhdx_alloc_add_hole(alloc, hole_start * VHDX_ALIGNMENT,
                                (u - hole_start) * VHDX_ALIGNMENT);
            in_hole = false;
        }
    }
}

int vhdx_space_scan(VhdxIO *io, const VhdxHeader *h, const VhdxRegions *r,
                    const VhdxBatGeometry *g, uint64_t file_length,
                    bool tolerate, VhdxAllocator *alloc, VhdxSpaceScan *out,
                    GError **errp)
{
    SpaceMap m = { 0 };
    uint64_t covered;
    int ret;

    /*
     * The map costs one bit per MiB of the file; a sparse file may claim
     * exabytes, of which no VHDX uses more than VHDX_FILE_SIZE_MAX.
     * Blocks beyond it count as beyond the end of the file.
     */
    file_length = MIN(file_length, VHDX_FILE_SIZE_MAX);
    covered = MAX(file_length, MAX(h->log_offset + h->log_length,
                  MAX(r->bat_offset + r->bat_length,
                      r->metadata_offset + r->metadata_length)));
    *out = (VhdxSpaceScan) {
        .fault = out->fault, .fault_opaque = out->fault_opaque,
    };
    if (covered > VHDX_FILE_SIZE_MAX) {
        return vhdx_error(errp, EINVAL, "VHDX file: the log, BAT or metadata "
                          "region ends at 0x%" PRIx64 ", beyond the largest "
                          "file a VHDX image needs (0x%" PRIx64 ")", covered,
                          (uint64_t)VHDX_FILE_SIZE_MAX);
    }
    m.units = VHDX_DIV_ROUND_UP(covered, VHDX_ALIGNMENT);
    m.bits = g_malloc0(VHDX_DIV_ROUND_UP(m.units, 8));
    ret = space_mark_fixed_structures(&m, h, r, errp);
    if (ret == 0) {
        ScanState st = {
            .map = &m, .geo = g, .file_length = file_length,
            .tolerate = tolerate, .out = out,
        };

        ret = walk_bat(io, r, g, scan_one_entry, &st, errp);
    }
    if (ret == 0) {
        out->used_end = m.used_end_unit * VHDX_ALIGNMENT;
        if (alloc) {
            feed_allocator(&m, alloc);
        }
    }
    g_free(m.bits);
    return ret;
}
