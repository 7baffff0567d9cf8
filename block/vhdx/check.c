/*
 * The consistency check of a VHDX image (qemu-img check): what is wrong,
 * entry by entry, and the repairs, all written through the log
 *
 * Which repair each fault gets:
 * - a BAT entry with a state its kind of image may not hold, or whose
 *   block lies in the header area or beyond the end of the file, or on
 *   the headers, log, BAT or metadata region: the block's data cannot be
 *   told from garbage, so the block becomes NOT_PRESENT in a differencing
 *   image (it reads from the parent) and ZERO elsewhere; a sector bitmap
 *   entry becomes NOT_PRESENT;
 * - a partially present block in an image without a parent: its data is
 *   intact, so it is copied to new space and becomes FULLY_PRESENT;
 * - a block on space an earlier block already uses: it gets a copy of
 *   that space, so both read what they read before (one of them held
 *   other data once, which no one can tell now);
 * - a partially present block whose chunk has no sector bitmap block:
 *   which sectors it holds is unknown, so it becomes NOT_PRESENT;
 * - a region table copy that differs from the one in use: rewritten from
 *   it;
 * - space past the last used byte: cut off (vhdx_image_trim).
 * Repairs are a metadata-only write session: DataWriteGuid stays, so
 * children linked to the image still open.  A repair can expose another
 * fault (a bitmap entry cleared leaves its partially present blocks
 * without one), so check and repair go round until nothing is left.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/space.h"
#include "image-int.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Faults kept per round; a file with more is repaired in more rounds */
#define CHECK_FAULTS_MAX    65536
#define CHECK_ROUNDS_MAX    8

/* A BAT fault found by the scan, before it is described */
typedef struct BatFault {
    VhdxFaultKind kind;
    uint64_t index;
    uint64_t entry;
    bool keep_data;             /* repairing copies the block elsewhere */
} BatFault;

typedef struct CheckRound {
    VhdxImage *img;
    uint64_t file_length;
    GArray *faults;             /* BatFault */
    uint64_t found;             /* including those not kept */
} CheckRound;

int vhdx_image_trim(VhdxImage *img, uint64_t end, GError **errp)
{
    int ret;

    g_assert(img->writable && end % VHDX_ALIGNMENT == 0);
    ret = vhdx_image_make_clean(img, errp);
    if (ret < 0) {
        return ret;
    }
    ret = vhdx_io_truncate(img->io, end);
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX: cannot cut the file to %"
                             PRIu64 " bytes", end);
    }
    /* Free space that was cut off must be grown into again, not reused */
    vhdx_alloc_cut(&img->alloc, end);
    return 0;
}

/* ---- finding faults ---- */

static bool check_in_fixed_structure(const VhdxImage *img, uint64_t offset,
                                     uint64_t size)
{
    const VhdxHeader *h = &img->header.current;
    const VhdxRegions *r = &img->regions;
    const uint64_t starts[] = {
        0, h->log_offset, r->bat_offset, r->metadata_offset,
    };
    const uint64_t lengths[] = {
        VHDX_HEADER_AREA_SIZE, h->log_length, r->bat_length,
        r->metadata_length,
    };

    for (size_t i = 0; i < G_N_ELEMENTS(starts); i++) {
        if (vhdx_ranges_overlap(offset, size, starts[i], lengths[i])) {
            return true;
        }
    }
    return false;
}

static uint64_t check_block_size(const VhdxImage *img, uint64_t index)
{
    return vhdx_bat_index_is_bitmap(&img->geo, index) ?
           VHDX_BITMAP_BLOCK_SIZE : img->geo.block_size;
}

static VhdxFaultKind check_classify(const VhdxImage *img, uint64_t index,
                                    uint64_t entry, bool overlap)
{
    uint64_t offset = vhdx_bat_offset(entry);
    uint64_t size = check_block_size(img, index);

    if (overlap) {
        return check_in_fixed_structure(img, offset, size) ?
               VHDX_FAULT_ON_METADATA : VHDX_FAULT_SHARED;
    }
    if (!vhdx_bat_entry_state_valid(&img->geo, index, entry)) {
        return VHDX_FAULT_STATE;
    }
    return VHDX_FAULT_OUTSIDE;
}

/*
 * Whether the data of a block with fault @kind is intact: a block on
 * space another block uses, or a partially present block in an image
 * without a parent (FULLY_PRESENT was meant) that lies inside the file
 */
static bool check_data_intact(const CheckRound *round, VhdxFaultKind kind,
                              uint64_t index, uint64_t entry)
{
    const VhdxBatGeometry *g = &round->img->geo;
    uint64_t as_full = vhdx_bat_entry(VHDX_PAYLOAD_FULLY_PRESENT,
                                      vhdx_bat_offset(entry));

    if (kind == VHDX_FAULT_SHARED) {
        return true;
    }
    return kind == VHDX_FAULT_STATE && !g->has_parent &&
           !vhdx_bat_index_is_bitmap(g, index) &&
           vhdx_bat_state(entry) == VHDX_PAYLOAD_PARTIALLY_PRESENT &&
           vhdx_bat_entry_validate(g, index, as_full, round->file_length,
                                   NULL) == 0;
}

static void check_keep(CheckRound *round, VhdxFaultKind kind, uint64_t index,
                       uint64_t entry)
{
    BatFault f = {
        .kind = kind, .index = index, .entry = entry,
        .keep_data = check_data_intact(round, kind, index, entry),
    };

    round->found++;
    if (round->faults->len < CHECK_FAULTS_MAX) {
        g_array_append_val(round->faults, f);
    }
}

static void check_collect(void *opaque, uint64_t index, uint64_t entry,
                          bool overlap, const char *why)
{
    CheckRound *round = opaque;

    check_keep(round, check_classify(round->img, index, entry, overlap),
               index, entry);
}

/*
 * Partially present blocks of a differencing image whose chunk has no
 * usable sector bitmap block (the scan judged the blocks themselves).
 */
static int check_find_missing_bitmaps(CheckRound *round, GError **errp)
{
    VhdxImage *img = round->img;
    const VhdxBatGeometry *g = &img->geo;

    if (!g->has_parent) {
        return 0;
    }
    for (uint64_t chunk = 0; chunk < g->bitmap_blocks; chunk++) {
        uint64_t first = chunk * g->chunk_ratio;
        uint64_t end = MIN(first + g->chunk_ratio, g->payload_blocks);
        uint64_t bitmap;
        int ret;

        ret = vhdx_cache_read64(img->cache, image_bitmap_entry_offset(img,
                                                                     chunk),
                                &bitmap, errp);
        if (ret < 0) {
            return ret;
        }
        if (vhdx_bat_state(bitmap) == VHDX_BITMAP_PRESENT &&
            vhdx_bat_entry_validate(g, vhdx_bat_bitmap_index(g, chunk),
                                    bitmap, round->file_length, NULL) == 0) {
            continue;
        }
        for (uint64_t block = first; block < end; block++) {
            uint64_t index = vhdx_bat_payload_index(g, block);
            uint64_t entry;

            ret = image_block_entry(img, block, &entry, errp);
            if (ret < 0) {
                return ret;
            }
            /* Blocks outside the file the scan reported already */
            if (vhdx_bat_state(entry) == VHDX_PAYLOAD_PARTIALLY_PRESENT &&
                vhdx_bat_entry_validate(g, index, entry, round->file_length,
                                        NULL) == 0) {
                check_keep(round, VHDX_FAULT_NO_BITMAP, index, entry);
            }
        }
    }
    return 0;
}

static int check_find_bat_faults(CheckRound *round, GError **errp)
{
    VhdxImage *img = round->img;
    VhdxSpaceScan scan = {
        .fault = check_collect, .fault_opaque = round,
    };
    int ret;

    ret = vhdx_space_scan(img->io, &img->header.current, &img->regions,
                          &img->geo, round->file_length, true, NULL, &scan,
                          errp);
    if (ret < 0) {
        return ret;
    }
    return check_find_missing_bitmaps(round, errp);
}

/* ---- describing them ---- */

/* "BAT entry 5 (payload block 5)" or "(sector bitmap of chunk 0)" */
static char *check_entry_name(const VhdxImage *img, uint64_t index)
{
    const VhdxBatGeometry *g = &img->geo;
    uint64_t per_chunk = (uint64_t)g->chunk_ratio + 1;

    if (vhdx_bat_index_is_bitmap(g, index)) {
        return g_strdup_printf("BAT entry %" PRIu64 " (sector bitmap of "
                               "chunk %" PRIu64 ")", index,
                               index / per_chunk);
    }
    return g_strdup_printf("BAT entry %" PRIu64 " (payload block %" PRIu64
                           ")", index, index - index / per_chunk);
}

static char *check_describe(const VhdxImage *img, const BatFault *f,
                            uint64_t file_length)
{
    g_autofree char *name = check_entry_name(img, f->index);
    uint64_t mb = vhdx_bat_offset(f->entry) >> VHDX_BAT_OFFSET_SHIFT;

    switch (f->kind) {
    case VHDX_FAULT_STATE:
        if (vhdx_bat_index_past_disk(&img->geo, f->index)) {
            return g_strdup_printf("%s: state %u holds data past the end "
                                   "of the disk", name,
                                   vhdx_bat_state(f->entry));
        }
        return g_strdup_printf("%s: state %u is not valid here", name,
                               vhdx_bat_state(f->entry));
    case VHDX_FAULT_OUTSIDE:
        if (vhdx_bat_offset(f->entry) < VHDX_HEADER_AREA_SIZE) {
            return g_strdup_printf("%s: block at FileOffsetMB %" PRIu64
                                   " lies in the header area", name, mb);
        }
        return g_strdup_printf("%s: block at FileOffsetMB %" PRIu64 " lies "
                               "beyond the end of the file (%" PRIu64
                               " bytes)", name, mb, file_length);
    case VHDX_FAULT_ON_METADATA:
        return g_strdup_printf("%s: block at FileOffsetMB %" PRIu64 " lies "
                               "on the headers, log, BAT or metadata "
                               "region", name, mb);
    case VHDX_FAULT_SHARED:
        return g_strdup_printf("%s: block at FileOffsetMB %" PRIu64 " uses "
                               "space an earlier block uses", name, mb);
    case VHDX_FAULT_NO_BITMAP:
        return g_strdup_printf("%s: partially present, but its chunk has no "
                               "sector bitmap block", name);
    default:
        g_assert_not_reached();
    }
}

/* ---- repairing them ---- */

static const char *check_repair_text(const VhdxImage *img, const BatFault *f)
{
    if (vhdx_bat_index_is_bitmap(&img->geo, f->index)) {
        return f->keep_data ?
               "the sector bitmap is copied to new space" :
               "the entry becomes NOT_PRESENT; blocks of the chunk that "
               "needed it follow";
    }
    if (f->kind == VHDX_FAULT_SHARED) {
        return "the block gets a copy of the shared space, which may hold "
               "the other block's data";
    }
    if (f->keep_data) {
        return "the block is copied to new space and becomes "
               "FULLY_PRESENT; its data is kept";
    }
    return img->geo.has_parent ?
           "the block becomes NOT_PRESENT (read from the parent); its data "
           "is lost" :
           "the block becomes ZERO; its data is lost";
}

/* Copies @size bytes at @from to new space; returns where in *@to */
static int check_copy_block(VhdxImage *img, uint64_t from, uint64_t size,
                            uint64_t *to, GError **errp)
{
    g_autofree uint8_t *buf = g_malloc(VHDX_MiB);
    bool fresh;
    int ret;

    if (size != img->geo.block_size) {
        /* A sector bitmap block: writing the copy grows the file */
        *to = vhdx_alloc_take(&img->alloc, size, &fresh);
    } else {
        ret = image_alloc_block(img, to, &fresh, errp);
        if (ret < 0) {
            return ret;
        }
    }
    for (uint64_t done = 0; done < size; done += VHDX_MiB) {
        ret = vhdx_io_pread(img->io, from + done, buf, VHDX_MiB);
        if (ret == 0) {
            ret = vhdx_io_pwrite(img->io, *to + done, buf, VHDX_MiB);
        }
        if (ret < 0) {
            return vhdx_io_error(errp, -ret, "VHDX: cannot copy a block from "
                                 "0x%" PRIx64 " to 0x%" PRIx64, from, *to);
        }
    }
    return 0;
}

static int check_repair_bat(VhdxImage *img, const BatFault *f, GError **errp)
{
    bool is_bitmap = vhdx_bat_index_is_bitmap(&img->geo, f->index);
    unsigned state = vhdx_bat_state(f->entry);
    uint64_t entry = 0, to;
    int ret;

    if (f->keep_data) {
        ret = check_copy_block(img, vhdx_bat_offset(f->entry),
                               check_block_size(img, f->index), &to, errp);
        if (ret < 0) {
            return ret;
        }
        if (!is_bitmap && !img->geo.has_parent) {
            state = VHDX_PAYLOAD_FULLY_PRESENT;
        }
        entry = vhdx_bat_entry(state, to);
    } else if (!is_bitmap && !img->geo.has_parent) {
        entry = vhdx_bat_entry(VHDX_PAYLOAD_ZERO, 0);
    }
    /* Not image_set_block: the old space is not ours to free */
    return vhdx_cache_write64(img->cache, image_bat_entry_offset(img,
                                                                 f->index),
                              entry, errp);
}

/* ---- the region table copies ---- */

static const uint64_t region_copy_offsets[2] = {
    VHDX_REGION1_OFFSET, VHDX_REGION2_OFFSET,
};

/*
 * Finds whether the region table copies differ; *@good is the copy the
 * image was opened with (the first valid one), *@bad the other, -1 when
 * they agree.  @good_buf receives the good copy.
 */
static int check_region_copies(VhdxImage *img, uint8_t *good_buf, int *bad,
                               GError **errp)
{
    g_autofree uint8_t *other = g_malloc(VHDX_REGION_TABLE_SIZE);
    VhdxRegions r;
    int good = -1;
    int ret;

    *bad = -1;
    for (int copy = 0; copy < 2 && good < 0; copy++) {
        ret = vhdx_io_pread(img->io, region_copy_offsets[copy], good_buf,
                            VHDX_REGION_TABLE_SIZE);
        if (ret < 0) {
            return vhdx_io_error(errp, -ret, "VHDX region table %d: read "
                                 "failed", copy + 1);
        }
        if (vhdx_region_table_decode(good_buf, &r, NULL) == 0) {
            good = copy;
        }
    }
    if (good < 0) {
        return 0;
    }
    ret = vhdx_io_pread(img->io, region_copy_offsets[!good], other,
                        VHDX_REGION_TABLE_SIZE);
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX region table %d: read failed",
                             !good + 1);
    }
    if (memcmp(good_buf, other, VHDX_REGION_TABLE_SIZE)) {
        *bad = !good;
    }
    return 0;
}

static int check_region_tables(VhdxImage *img, bool repair,
                               VhdxFaultFn *report_fault, void *opaque,
                               VhdxCheckReport *report, GError **errp)
{
    g_autofree uint8_t *good = g_malloc(VHDX_REGION_TABLE_SIZE);
    g_autofree char *what = NULL;
    g_autofree char *how = NULL;
    VhdxFault fault;
    int bad, ret;

    ret = check_region_copies(img, good, &bad, errp);
    if (ret < 0 || bad < 0) {
        return ret;
    }
    what = g_strdup_printf("region table %d: differs from region table %d, "
                           "the copy in use", bad + 1, !bad + 1);
    how = g_strdup_printf("region table %d is rewritten from region table "
                          "%d", bad + 1, !bad + 1);
    fault = (VhdxFault) {
        .kind = VHDX_FAULT_REGION_COPY, .what = what, .repair = how,
    };
    report->corruptions++;
    if (repair) {
        ret = vhdx_image_begin_write(img, false, errp);
        if (ret == 0) {
            ret = vhdx_cache_write(img->cache, region_copy_offsets[bad], good,
                                   VHDX_REGION_TABLE_SIZE, errp);
        }
        if (ret < 0) {
            return ret;
        }
        report->repaired++;
    }
    if (report_fault) {
        report_fault(opaque, &fault, repair);
    }
    return 0;
}

/* ---- one round ---- */

static int check_round(VhdxImage *img, bool repair, VhdxFaultFn *report_fault,
                       void *opaque, uint64_t *found, uint64_t *repaired,
                       GError **errp)
{
    g_autoptr(GArray) faults = g_array_new(false, false, sizeof(BatFault));
    CheckRound round = { .img = img, .faults = faults };
    int64_t length;
    int ret;

    ret = image_file_length(img, &length, errp);
    if (ret < 0) {
        return ret;
    }
    round.file_length = length;
    ret = check_find_bat_faults(&round, errp);
    if (ret < 0) {
        return ret;
    }
    if (repair && faults->len) {
        ret = vhdx_image_begin_write(img, false, errp);
        if (ret < 0) {
            return ret;
        }
    }
    for (guint i = 0; i < faults->len; i++) {
        const BatFault *f = &g_array_index(faults, BatFault, i);
        g_autofree char *what = check_describe(img, f, round.file_length);
        VhdxFault fault = {
            .kind = f->kind, .index = f->index, .what = what,
            .repair = check_repair_text(img, f),
        };

        if (repair) {
            ret = check_repair_bat(img, f, errp);
            if (ret < 0) {
                return ret;
            }
            (*repaired)++;
        }
        if (report_fault) {
            report_fault(opaque, &fault, repair);
        }
    }
    *found = round.found;
    return repair ? vhdx_image_checkpoint(img, errp) : 0;
}

static void check_count_space(VhdxImage *img, VhdxCheckReport *report,
                              const VhdxSpaceScan *scan, uint64_t length)
{
    /* Padding short of a whole unit is alignment slack, not a leak */
    report->leaked_bytes = length >= scan->used_end + VHDX_ALIGNMENT ?
                           length - scan->used_end : 0;
    report->allocated_blocks = scan->allocated_blocks;
    report->total_blocks = img->geo.payload_blocks;
    report->image_end = scan->used_end;
}

int vhdx_image_check(VhdxImage *img, bool repair, VhdxFaultFn *report_fault,
                     void *opaque, VhdxCheckReport *report, GError **errp)
{
    VhdxSpaceScan scan = { 0 };
    uint64_t found = 0;
    int64_t length;
    int ret;

    g_assert(!repair || img->writable);
    *report = (VhdxCheckReport) {
        .log_replayed = img->log_replayed,
        .log_pending = img->log_pending,
    };
    /* The region tables and the space scan are read from the file */
    ret = vhdx_image_checkpoint(img, errp);
    if (ret == 0) {
        ret = check_region_tables(img, repair, report_fault, opaque, report,
                                  errp);
    }
    for (int i = 0; ret == 0 && i < CHECK_ROUNDS_MAX; i++) {
        ret = check_round(img, repair, report_fault, opaque, &found,
                          &report->repaired, errp);
        if (i == 0) {
            report->corruptions += found;
        }
        if (!repair || !found) {
            break;
        }
    }
    if (ret < 0) {
        return ret;
    }
    report->remaining = repair ? found : report->corruptions;
    ret = image_file_length(img, &length, errp);
    if (ret == 0) {
        ret = vhdx_space_scan(img->io, &img->header.current, &img->regions,
                              &img->geo, length, true, NULL, &scan, errp);
    }
    if (ret < 0) {
        return ret;
    }
    check_count_space(img, report, &scan, length);
    img->counts = scan.counts;
    img->counts_known = true;
    img->log_replayed = false;
    return 0;
}
