/*
 * VHDX region table: where the BAT and the metadata region are
 *
 * Two identical 64 KiB copies live at 192 KiB and 256 KiB.  They are only
 * ever updated through the log, so both normally carry the same content;
 * the second copy is there for when the first has been damaged.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/region.h"
#include "vhdx/crc32c.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/format.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Table header fields */
#define RT_SIGNATURE        0
#define RT_CHECKSUM         4
#define RT_ENTRY_COUNT      8

/* Entry fields */
#define RTE_GUID            0
#define RTE_FILE_OFFSET     16
#define RTE_LENGTH          24
#define RTE_FLAGS           28
#define RTE_FLAG_REQUIRED   (1u << 0)

typedef struct RegionEntry {
    VhdxGuid guid;
    uint64_t offset;
    uint32_t length;
    bool required;
} RegionEntry;

static const char *const table_names[2] = {
    "VHDX region table 1", "VHDX region table 2"
};

/* Signature and checksum: whether this copy was written whole */
static int region_verify_integrity(const uint8_t *buf, const char *name,
                                   GError **errp)
{
    return vhdx_verify_signed_structure(buf, VHDX_REGION_TABLE_SIZE,
                                        VHDX_REGION_SIGNATURE, name, errp);
}

static void region_entry_parse(const uint8_t *buf, uint32_t i,
                               RegionEntry *e)
{
    const uint8_t *p = buf + VHDX_REGION_HEADER_SIZE +
                       (size_t)i * VHDX_REGION_ENTRY_SIZE;

    memcpy(e->guid.bytes, p + RTE_GUID, 16);
    e->offset = vhdx_ld64(p + RTE_FILE_OFFSET);
    e->length = vhdx_ld32(p + RTE_LENGTH);
    e->required = vhdx_ld32(p + RTE_FLAGS) & RTE_FLAG_REQUIRED;
}

/* The placement rules every entry must meet on its own */
static int region_entry_validate(const RegionEntry *e, const char *name,
                                 uint32_t i, GError **errp)
{
    if (e->offset % VHDX_ALIGNMENT) {
        return vhdx_error(errp, EINVAL, "%s, entry %" PRIu32 ": FileOffset "
                          "0x%" PRIx64 " is not a multiple of 1 MiB",
                          name, i, e->offset);
    }
    if (e->offset < VHDX_HEADER_AREA_SIZE) {
        return vhdx_error(errp, EINVAL, "%s, entry %" PRIu32 ": FileOffset "
                          "0x%" PRIx64 " lies inside the 1 MiB header "
                          "section", name, i, e->offset);
    }
    if (e->length == 0) {
        return vhdx_error(errp, EINVAL, "%s, entry %" PRIu32 ": Length is "
                          "zero", name, i);
    }
    if (e->length % VHDX_ALIGNMENT) {
        return vhdx_error(errp, EINVAL, "%s, entry %" PRIu32 ": Length "
                          "0x%" PRIx32 " is not a multiple of 1 MiB",
                          name, i, e->length);
    }
    if (e->offset > UINT64_MAX - e->length) {
        return vhdx_error(errp, EINVAL, "%s, entry %" PRIu32 ": FileOffset "
                          "0x%" PRIx64 " plus Length 0x%" PRIx32
                          " overflows", name, i, e->offset, e->length);
    }
    return 0;
}

static bool region_overlaps(const RegionEntry *a, const RegionEntry *b)
{
    return a->offset < b->offset + b->length &&
           b->offset < a->offset + a->length;
}

/* Entry @i against the entries before it: unique GUIDs, disjoint ranges */
static int region_entry_validate_others(const RegionEntry *entries, uint32_t i,
                                        const char *name, GError **errp)
{
    const RegionEntry *e = &entries[i];
    char guid[VHDX_GUID_STRING_LEN];

    for (uint32_t j = 0; j < i; j++) {
        if (vhdx_guid_equal(&e->guid, &entries[j].guid)) {
            vhdx_guid_format(&e->guid, guid);
            return vhdx_error(errp, EINVAL, "%s, entry %" PRIu32 ": Guid "
                              "%s duplicates entry %" PRIu32, name, i, guid,
                              j);
        }
        if (region_overlaps(e, &entries[j])) {
            return vhdx_error(errp, EINVAL, "%s, entry %" PRIu32 ": region "
                              "at 0x%" PRIx64 " (0x%" PRIx32 " bytes) "
                              "overlaps entry %" PRIu32, name, i, e->offset,
                              e->length, j);
        }
    }
    return 0;
}

/* Records a known region; refuses an unknown one that is required */
static int region_entry_classify(const RegionEntry *e, VhdxRegions *r,
                                 const char *name, uint32_t i, GError **errp)
{
    char guid[VHDX_GUID_STRING_LEN];

    if (vhdx_guid_equal(&e->guid, &vhdx_guid_bat_region)) {
        r->bat_offset = e->offset;
        r->bat_length = e->length;
    } else if (vhdx_guid_equal(&e->guid, &vhdx_guid_metadata_region)) {
        r->metadata_offset = e->offset;
        r->metadata_length = e->length;
    } else if (e->required) {
        vhdx_guid_format(&e->guid, guid);
        return vhdx_error(errp, ENOTSUP, "%s, entry %" PRIu32 ": region "
                          "%s is marked Required but is not supported",
                          name, i, guid);
    }
    /* Unknown optional regions are left alone, as the spec asks */
    return 0;
}

static int region_table_parse(const uint8_t *buf, VhdxRegions *r,
                              const char *name, GError **errp)
{
    uint32_t count = vhdx_ld32(buf + RT_ENTRY_COUNT);
    g_autofree RegionEntry *entries = NULL;
    VhdxRegions tmp = { 0 };
    int ret;

    if (count > VHDX_REGION_MAX_ENTRIES) {
        return vhdx_error(errp, EINVAL, "%s: EntryCount %" PRIu32 " exceeds "
                          "%d", name, count, VHDX_REGION_MAX_ENTRIES);
    }
    entries = g_new(RegionEntry, count ? count : 1);
    for (uint32_t i = 0; i < count; i++) {
        region_entry_parse(buf, i, &entries[i]);
        ret = region_entry_validate(&entries[i], name, i, errp);
        if (ret == 0) {
            ret = region_entry_validate_others(entries, i, name, errp);
        }
        if (ret == 0) {
            ret = region_entry_classify(&entries[i], &tmp, name, i, errp);
        }
        if (ret < 0) {
            return ret;
        }
    }
    /* Offsets of zero cannot be valid, so they mean "not found" */
    if (tmp.bat_offset == 0) {
        return vhdx_error(errp, EINVAL, "%s: no BAT region", name);
    }
    if (tmp.metadata_offset == 0) {
        return vhdx_error(errp, EINVAL, "%s: no metadata region", name);
    }
    *r = tmp;
    return 0;
}

static int region_table_decode_named(const uint8_t *buf, VhdxRegions *r,
                                     const char *name, GError **errp)
{
    int ret = region_verify_integrity(buf, name, errp);

    if (ret < 0) {
        return ret;
    }
    return region_table_parse(buf, r, name, errp);
}

int vhdx_region_table_decode(const uint8_t *buf, VhdxRegions *r,
                             GError **errp)
{
    return region_table_decode_named(buf, r, "VHDX region table", errp);
}

static void region_entry_encode(uint8_t *buf, uint32_t i,
                                const VhdxGuid *guid, uint64_t offset,
                                uint32_t length)
{
    uint8_t *p = buf + VHDX_REGION_HEADER_SIZE +
                 (size_t)i * VHDX_REGION_ENTRY_SIZE;

    memcpy(p + RTE_GUID, guid->bytes, 16);
    vhdx_st64(p + RTE_FILE_OFFSET, offset);
    vhdx_st32(p + RTE_LENGTH, length);
    vhdx_st32(p + RTE_FLAGS, RTE_FLAG_REQUIRED);
}

void vhdx_region_table_encode(const VhdxRegions *r, uint8_t *buf)
{
    memset(buf, 0, VHDX_REGION_TABLE_SIZE);
    memcpy(buf + RT_SIGNATURE, VHDX_REGION_SIGNATURE, 4);
    vhdx_st32(buf + RT_ENTRY_COUNT, 2);
    region_entry_encode(buf, 0, &vhdx_guid_bat_region, r->bat_offset,
                        r->bat_length);
    region_entry_encode(buf, 1, &vhdx_guid_metadata_region,
                        r->metadata_offset, r->metadata_length);
    vhdx_checksum_store(buf, VHDX_REGION_TABLE_SIZE, RT_CHECKSUM);
}

static int region_read(VhdxIO *io, int copy, uint8_t *buf, GError **errp)
{
    uint64_t offset = copy ? VHDX_REGION2_OFFSET : VHDX_REGION1_OFFSET;
    int ret = vhdx_io_pread(io, offset, buf, VHDX_REGION_TABLE_SIZE);

    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "%s: read failed",
                             table_names[copy]);
    }
    return 0;
}

static int region_validate_in_file(const char *what, uint64_t offset,
                                   uint32_t length, uint64_t file_length,
                                   GError **errp)
{
    /* offset + length cannot overflow: the decoder checked it */
    if (offset + length > file_length) {
        return vhdx_error(errp, EINVAL, "VHDX region table: %s region at "
                          "0x%" PRIx64 " (0x%" PRIx32 " bytes) extends "
                          "beyond the end of the file (0x%" PRIx64 ")",
                          what, offset, length, file_length);
    }
    return 0;
}

/*
 * Picks the copy to use.  The spec says only that there are two copies
 * and that they change through the log; it sets no rule for choosing
 * nor requires them to match.  As for headers, a copy counts as valid
 * when its signature and checksum are right: the first valid copy is
 * used and its content must then be sound (a well-checksummed table with
 * bad entries was written that way, so the other copy is no safer).
 */
static int region_load_table(VhdxIO *io, uint8_t *buf, VhdxRegions *r,
                             GError **errp)
{
    g_autoptr(GError) err1 = NULL;
    g_autoptr(GError) err2 = NULL;
    GError **errs[2] = { &err1, &err2 };
    int ret;

    for (int copy = 0; copy < 2; copy++) {
        ret = region_read(io, copy, buf, errp);
        if (ret < 0) {
            return ret;
        }
        if (region_verify_integrity(buf, table_names[copy],
                                    errs[copy]) == 0) {
            return region_table_parse(buf, r, table_names[copy], errp);
        }
    }
    return vhdx_error(errp, EINVAL, "VHDX file has no valid region table: "
                      "%s; %s", err1->message, err2->message);
}

int vhdx_region_load(VhdxIO *io, uint64_t file_length, VhdxRegions *r,
                     GError **errp)
{
    g_autofree uint8_t *buf = g_malloc(VHDX_REGION_TABLE_SIZE);
    VhdxRegions tmp;
    int ret;

    ret = region_load_table(io, buf, &tmp, errp);
    if (ret < 0) {
        return ret;
    }
    ret = region_validate_in_file("BAT", tmp.bat_offset, tmp.bat_length,
                                  file_length, errp);
    if (ret < 0) {
        return ret;
    }
    ret = region_validate_in_file("metadata", tmp.metadata_offset,
                                  tmp.metadata_length, file_length, errp);
    if (ret < 0) {
        return ret;
    }
    *r = tmp;
    return 0;
}
