/*
 * VHDX metadata region: table and the known items
 *
 * The region starts with a 64 KiB table of entries, each naming an item
 * by GUID and giving its offset and length inside the region.  Only the
 * system items this implementation understands are decoded; unknown
 * items are kept as they are, unless they are marked required (then the
 * image cannot be opened).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/metadata.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/format.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Table header fields */
#define MT_SIGNATURE            0
#define MT_ENTRY_COUNT          10

/* Entry fields */
#define MTE_ITEM_ID             0
#define MTE_OFFSET              16
#define MTE_LENGTH              20
#define MTE_FLAGS               24
#define MTE_IS_USER             VHDX_METADATA_IS_USER
#define MTE_IS_VIRTUAL_DISK     VHDX_METADATA_IS_VIRTUAL_DISK
#define MTE_IS_REQUIRED         VHDX_METADATA_IS_REQUIRED

/* At most this many entries may be user metadata */
#define MT_MAX_USER_ENTRIES     1024

/* File parameters flags */
#define FP_LEAVE_BLOCKS_ALLOCATED (1u << 0)
#define FP_HAS_PARENT             (1u << 1)

/*
 * vhdx_metadata_load reads at most this much of the region (and only as
 * far as the table's items go).  The region length comes from the file;
 * real images use 1 MiB regions holding well under 1 KiB of items, so
 * this only stops a hostile length from making us allocate gigabytes.
 */
#define METADATA_READ_MAX       (16 * VHDX_MiB)

/* What vhdx_metadata_load reads of the items with the table */
#define METADATA_FIRST_ITEMS    (4 * 1024)

/* Items are packed from 64 KiB on, each starting on an 8-byte boundary */
#define ITEM_ALIGN              8

typedef enum KnownItemId {
    ITEM_FILE_PARAMETERS,
    ITEM_VIRTUAL_DISK_SIZE,
    ITEM_PAGE83,
    ITEM_LOGICAL_SECTOR_SIZE,
    ITEM_PHYSICAL_SECTOR_SIZE,
    ITEM_PARENT_LOCATOR,
    ITEM_COUNT,
} KnownItemId;

typedef struct KnownItem {
    const VhdxGuid *guid;
    const char *name;
    uint32_t size;              /* 0: variable */
    uint32_t flags;             /* as the spec's known-items table sets */
} KnownItem;

/*
 * Only the file parameters and the parent locator describe this file
 * rather than the virtual disk, so they are not IsVirtualDisk: a fork
 * must not copy them to a child.  All known items are required.
 */
static const KnownItem known_items[ITEM_COUNT] = {
    [ITEM_FILE_PARAMETERS] = {
        &vhdx_guid_file_parameters, "file parameters", 8,
        MTE_IS_REQUIRED,
    },
    [ITEM_VIRTUAL_DISK_SIZE] = {
        &vhdx_guid_virtual_disk_size, "virtual disk size", 8,
        MTE_IS_REQUIRED | MTE_IS_VIRTUAL_DISK,
    },
    [ITEM_PAGE83] = {
        &vhdx_guid_page83, "page 83 data", 16,
        MTE_IS_REQUIRED | MTE_IS_VIRTUAL_DISK,
    },
    [ITEM_LOGICAL_SECTOR_SIZE] = {
        &vhdx_guid_logical_sector_size, "logical sector size", 4,
        MTE_IS_REQUIRED | MTE_IS_VIRTUAL_DISK,
    },
    [ITEM_PHYSICAL_SECTOR_SIZE] = {
        &vhdx_guid_physical_sector_size, "physical sector size", 4,
        MTE_IS_REQUIRED | MTE_IS_VIRTUAL_DISK,
    },
    [ITEM_PARENT_LOCATOR] = {
        &vhdx_guid_parent_locator, "parent locator", 0,
        MTE_IS_REQUIRED,
    },
};

typedef struct MetadataEntry {
    VhdxGuid id;
    uint32_t offset;
    uint32_t length;
    uint32_t flags;
} MetadataEntry;

/* Where the decoder found each known item: an entry index, or -1 */
typedef struct KnownItemSlots {
    int index[ITEM_COUNT];
} KnownItemSlots;

static void metadata_entry_parse(const uint8_t *region, uint32_t i,
                                 MetadataEntry *e)
{
    const uint8_t *p = region + VHDX_METADATA_HEADER_SIZE +
                       (size_t)i * VHDX_METADATA_ENTRY_SIZE;

    memcpy(e->id.bytes, p + MTE_ITEM_ID, 16);
    e->offset = vhdx_ld32(p + MTE_OFFSET);
    e->length = vhdx_ld32(p + MTE_LENGTH);
    e->flags = vhdx_ld32(p + MTE_FLAGS);
}

/*
 * Placement of one item: at most 1 MiB, inside the region past the
 * table.  An empty item must have offset 0 (it is present but empty).
 * @avail is how much of the region the caller holds in memory.
 */
static int metadata_entry_validate(const MetadataEntry *e, uint32_t i,
                                   uint32_t region_len, uint32_t avail,
                                   GError **errp)
{
    uint64_t end = (uint64_t)e->offset + e->length;

    if (e->length > VHDX_METADATA_ITEM_MAX) {
        return vhdx_error(errp, EINVAL, "VHDX metadata table entry %" PRIu32
                          ": Length 0x%" PRIx32 " exceeds 1 MiB", i,
                          e->length);
    }
    if (e->length == 0) {
        if (e->offset != 0) {
            return vhdx_error(errp, EINVAL, "VHDX metadata table entry %"
                              PRIu32 ": Offset 0x%" PRIx32 " is not zero "
                              "for an empty item", i, e->offset);
        }
        return 0;
    }
    if (e->offset < VHDX_METADATA_TABLE_SIZE) {
        return vhdx_error(errp, EINVAL, "VHDX metadata table entry %" PRIu32
                          ": Offset 0x%" PRIx32 " lies inside the 64 KiB "
                          "table", i, e->offset);
    }
    if (end > region_len) {
        return vhdx_error(errp, EINVAL, "VHDX metadata table entry %" PRIu32
                          ": Offset 0x%" PRIx32 " plus Length 0x%" PRIx32
                          " extends beyond the 0x%" PRIx32 "-byte region",
                          i, e->offset, e->length, region_len);
    }
    if (end > avail) {
        return vhdx_error(errp, EFBIG, "VHDX metadata table entry %" PRIu32
                          ": item at Offset 0x%" PRIx32 " lies beyond the "
                          "first 0x%" PRIx32 " bytes of the region, all "
                          "that is read", i, e->offset, avail);
    }
    return 0;
}

static bool metadata_overlaps(const MetadataEntry *a, const MetadataEntry *b)
{
    if (a->length == 0 || b->length == 0) {
        return false;
    }
    return a->offset < (uint64_t)b->offset + b->length &&
           b->offset < (uint64_t)a->offset + a->length;
}

/* Entry @i against the ones before it: unique (ItemId, IsUser), disjoint */
static int metadata_entry_validate_others(const MetadataEntry *entries,
                                          uint32_t i, GError **errp)
{
    const MetadataEntry *e = &entries[i];
    char guid[VHDX_GUID_STRING_LEN];

    for (uint32_t j = 0; j < i; j++) {
        const MetadataEntry *o = &entries[j];

        if (vhdx_guid_equal(&e->id, &o->id) &&
            (e->flags & MTE_IS_USER) == (o->flags & MTE_IS_USER)) {
            vhdx_guid_format(&e->id, guid);
            return vhdx_error(errp, EINVAL, "VHDX metadata table entry %"
                              PRIu32 ": ItemId %s duplicates entry %"
                              PRIu32, i, guid, j);
        }
        if (metadata_overlaps(e, o)) {
            return vhdx_error(errp, EINVAL, "VHDX metadata table entry %"
                              PRIu32 ": item at Offset 0x%" PRIx32
                              " (0x%" PRIx32 " bytes) overlaps entry %"
                              PRIu32, i, e->offset, e->length, j);
        }
    }
    return 0;
}

/* Known items are system items: a user item never matches one */
static int known_item_find(const MetadataEntry *e)
{
    if (e->flags & MTE_IS_USER) {
        return -1;
    }
    for (int k = 0; k < ITEM_COUNT; k++) {
        if (vhdx_guid_equal(&e->id, known_items[k].guid)) {
            return k;
        }
    }
    return -1;
}

static int metadata_entry_classify(const MetadataEntry *e, uint32_t i,
                                   KnownItemSlots *slots, GError **errp)
{
    int k = known_item_find(e);
    char guid[VHDX_GUID_STRING_LEN];

    if (k >= 0) {
        slots->index[k] = i;
        return 0;
    }
    if (e->flags & MTE_IS_REQUIRED) {
        vhdx_guid_format(&e->id, guid);
        return vhdx_error(errp, ENOTSUP, "VHDX metadata table entry %"
                          PRIu32 ": item %s is marked IsRequired but is "
                          "not supported", i, guid);
    }
    return 0;
}

static int metadata_table_parse(const uint8_t *region, uint32_t region_len,
                                uint32_t avail, MetadataEntry *entries,
                                uint32_t count, KnownItemSlots *slots,
                                GError **errp)
{
    uint32_t users = 0;
    int ret;

    for (int k = 0; k < ITEM_COUNT; k++) {
        slots->index[k] = -1;
    }
    for (uint32_t i = 0; i < count; i++) {
        metadata_entry_parse(region, i, &entries[i]);
        if ((entries[i].flags & MTE_IS_USER) &&
            ++users > MT_MAX_USER_ENTRIES) {
            return vhdx_error(errp, EINVAL, "VHDX metadata table: more "
                              "than %d entries have IsUser set",
                              MT_MAX_USER_ENTRIES);
        }
        ret = metadata_entry_validate(&entries[i], i, region_len, avail, errp);
        if (ret == 0) {
            ret = metadata_entry_validate_others(entries, i, errp);
        }
        if (ret == 0) {
            ret = metadata_entry_classify(&entries[i], i, slots, errp);
        }
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/* The known item @k as a pointer into @region, its size checked */
static int known_item_get(const uint8_t *region,
                          const MetadataEntry *entries,
                          const KnownItemSlots *slots, KnownItemId k,
                          const uint8_t **item, GError **errp)
{
    const KnownItem *ki = &known_items[k];
    char guid[VHDX_GUID_STRING_LEN];
    const MetadataEntry *e;

    if (slots->index[k] < 0) {
        vhdx_guid_format(ki->guid, guid);
        return vhdx_error(errp, EINVAL, "VHDX metadata: required %s item "
                          "(%s) is missing", ki->name, guid);
    }
    e = &entries[slots->index[k]];
    if (ki->size && e->length != ki->size) {
        return vhdx_error(errp, EINVAL, "VHDX metadata: %s item has Length "
                          "%" PRIu32 ", expected %" PRIu32, ki->name,
                          e->length, ki->size);
    }
    if (e->length == 0) {
        return vhdx_error(errp, EINVAL, "VHDX metadata: %s item is empty "
                          "(Length 0)", ki->name);
    }
    *item = region + e->offset;
    return 0;
}

static int metadata_validate_values(const VhdxMetadata *md, GError **errp)
{
    uint32_t bs = md->block_size;

    if (bs < VHDX_BLOCK_SIZE_MIN || bs > VHDX_BLOCK_SIZE_MAX ||
        (bs & (bs - 1))) {
        return vhdx_error(errp, EINVAL, "VHDX metadata: BlockSize 0x%"
                          PRIx32 " is not a power of two from 1 MiB to "
                          "256 MiB", bs);
    }
    if (md->logical_sector_size != 512 && md->logical_sector_size != 4096) {
        return vhdx_error(errp, EINVAL, "VHDX metadata: LogicalSectorSize %"
                          PRIu32 " is not 512 or 4096",
                          md->logical_sector_size);
    }
    if (md->physical_sector_size != 512 &&
        md->physical_sector_size != 4096) {
        return vhdx_error(errp, EINVAL, "VHDX metadata: PhysicalSectorSize "
                          "%" PRIu32 " is not 512 or 4096",
                          md->physical_sector_size);
    }
    if (md->virtual_disk_size > VHDX_VIRTUAL_SIZE_MAX) {
        return vhdx_error(errp, EINVAL, "VHDX metadata: VirtualDiskSize 0x%"
                          PRIx64 " exceeds 64 TiB", md->virtual_disk_size);
    }
    if (md->virtual_disk_size % md->logical_sector_size) {
        return vhdx_error(errp, EINVAL, "VHDX metadata: VirtualDiskSize 0x%"
                          PRIx64 " is not a multiple of the logical sector "
                          "size %" PRIu32, md->virtual_disk_size,
                          md->logical_sector_size);
    }
    return 0;
}

static int metadata_validate_parent(bool has_parent, bool has_locator,
                                    GError **errp)
{
    if (has_parent && !has_locator) {
        return vhdx_error(errp, EINVAL, "VHDX metadata: HasParent is set "
                          "but there is no parent locator item");
    }
    if (!has_parent && has_locator) {
        return vhdx_error(errp, EINVAL, "VHDX metadata: a parent locator "
                          "item is present but HasParent is clear");
    }
    return 0;
}

static int metadata_decode_fixed(const uint8_t *region,
                                 const MetadataEntry *entries,
                                 const KnownItemSlots *slots,
                                 VhdxMetadata *md, GError **errp)
{
    const uint8_t *p[ITEM_PARENT_LOCATOR];
    uint32_t fp_flags;
    int ret;

    for (int k = 0; k < ITEM_PARENT_LOCATOR; k++) {
        ret = known_item_get(region, entries, slots, k, &p[k], errp);
        if (ret < 0) {
            return ret;
        }
    }
    md->block_size = vhdx_ld32(p[ITEM_FILE_PARAMETERS]);
    fp_flags = vhdx_ld32(p[ITEM_FILE_PARAMETERS] + 4);
    md->leave_blocks_allocated = fp_flags & FP_LEAVE_BLOCKS_ALLOCATED;
    md->has_parent = fp_flags & FP_HAS_PARENT;
    md->virtual_disk_size = vhdx_ld64(p[ITEM_VIRTUAL_DISK_SIZE]);
    md->virtual_disk_size_offset = p[ITEM_VIRTUAL_DISK_SIZE] - region;
    memcpy(md->page83.bytes, p[ITEM_PAGE83], 16);
    md->logical_sector_size = vhdx_ld32(p[ITEM_LOGICAL_SECTOR_SIZE]);
    md->physical_sector_size = vhdx_ld32(p[ITEM_PHYSICAL_SECTOR_SIZE]);
    return metadata_validate_values(md, errp);
}

static int metadata_decode_locator(const uint8_t *region,
                                   const MetadataEntry *entries,
                                   const KnownItemSlots *slots,
                                   VhdxMetadata *md, GError **errp)
{
    bool present = slots->index[ITEM_PARENT_LOCATOR] >= 0;
    const uint8_t *item;
    int ret;

    ret = metadata_validate_parent(md->has_parent, present, errp);
    if (ret < 0 || !present) {
        return ret;
    }
    ret = known_item_get(region, entries, slots, ITEM_PARENT_LOCATOR, &item,
                         errp);
    if (ret < 0) {
        return ret;
    }
    /* The length was checked to be at most 1 MiB */
    md->parent_locator_len =
        entries[slots->index[ITEM_PARENT_LOCATOR]].length;
    md->parent_locator = g_malloc(md->parent_locator_len);
    memcpy(md->parent_locator, item, md->parent_locator_len);
    return 0;
}

/* Keeps a copy of every item that is not a known one */
static void metadata_decode_others(const uint8_t *region,
                                   const MetadataEntry *entries,
                                   uint32_t count, VhdxMetadata *md)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < count; i++) {
        n += known_item_find(&entries[i]) < 0;
    }
    md->others = n ? g_new0(VhdxMetadataItem, n) : NULL;
    for (uint32_t i = 0; i < count; i++) {
        const MetadataEntry *e = &entries[i];
        VhdxMetadataItem *item;

        if (known_item_find(e) >= 0) {
            continue;
        }
        item = &md->others[md->n_others++];
        item->id = e->id;
        item->flags = e->flags;
        item->length = e->length;
        item->data = e->length ? g_memdup2(region + e->offset, e->length)
                               : NULL;
    }
}

static int metadata_validate_length(uint32_t region_len, GError **errp)
{
    if (region_len < VHDX_METADATA_TABLE_SIZE) {
        return vhdx_error(errp, EINVAL, "VHDX metadata region: length 0x%"
                          PRIx32 " is smaller than its 64 KiB table",
                          region_len);
    }
    return 0;
}

/* @region holds at least the table: the caller checked the length */
static int metadata_validate_header(const uint8_t *region, uint32_t *count,
                                    GError **errp)
{
    if (memcmp(region + MT_SIGNATURE, VHDX_METADATA_SIGNATURE, 8) != 0) {
        return vhdx_error(errp, EINVAL, "VHDX metadata table: Signature "
                          "0x%016" PRIx64 " is not \"metadata\"",
                          vhdx_ld64(region + MT_SIGNATURE));
    }
    *count = vhdx_ld16(region + MT_ENTRY_COUNT);
    if (*count > VHDX_METADATA_MAX_ENTRIES) {
        return vhdx_error(errp, EINVAL, "VHDX metadata table: EntryCount %"
                          PRIu32 " exceeds %d", *count,
                          VHDX_METADATA_MAX_ENTRIES);
    }
    return 0;
}

/* Decodes a region of @region_len bytes of which @avail are in memory */
static int metadata_decode_partial(const uint8_t *region,
                                   uint32_t region_len, uint32_t avail,
                                   VhdxMetadata *md, GError **errp)
{
    g_autofree MetadataEntry *entries = NULL;
    VhdxMetadata tmp = { 0 };
    KnownItemSlots slots;
    uint32_t count = 0;
    int ret;

    memset(md, 0, sizeof(*md));
    /*
     * avail is region_len capped at 16 MiB, so it is below 64 KiB exactly
     * when region_len is: checking it covers both.
     */
    g_assert(avail <= region_len);
    ret = metadata_validate_length(avail, errp);
    if (ret == 0) {
        ret = metadata_validate_header(region, &count, errp);
    }
    if (ret < 0) {
        return ret;
    }
    entries = g_new(MetadataEntry, count ? count : 1);
    ret = metadata_table_parse(region, region_len, avail, entries, count,
                               &slots, errp);
    if (ret == 0) {
        ret = metadata_decode_fixed(region, entries, &slots, &tmp, errp);
    }
    if (ret == 0) {
        ret = metadata_decode_locator(region, entries, &slots, &tmp, errp);
    }
    if (ret == 0) {
        metadata_decode_others(region, entries, count, &tmp);
    }
    if (ret < 0) {
        vhdx_metadata_clear(&tmp);
        return ret;
    }
    *md = tmp;
    return 0;
}

int vhdx_metadata_decode(const uint8_t *region, uint32_t len,
                         VhdxMetadata *md, GError **errp)
{
    return metadata_decode_partial(region, len, len, md, errp);
}

/*
 * How much of the region its items need: up to the end of the furthest
 * item the table names, the table at least and @cap at most.  A bad table
 * needs the table only: the decoder refuses it from that.
 */
static uint32_t metadata_items_end(const uint8_t *table, uint32_t cap)
{
    uint64_t end = VHDX_METADATA_TABLE_SIZE;
    uint32_t count;

    if (metadata_validate_header(table, &count, NULL) == 0) {
        for (uint32_t i = 0; i < count; i++) {
            MetadataEntry e;

            metadata_entry_parse(table, i, &e);
            end = MAX(end, (uint64_t)e.offset + e.length);
        }
    }
    return MIN(end, cap);
}

/*
 * Reads the table and the first items in one read, then the rest of the
 * items if they go further: real regions are 1 MiB holding well under
 * 1 KiB of items, and every image of a chain is opened.
 */
int vhdx_metadata_load(VhdxIO *io, uint64_t offset, uint32_t len,
                       VhdxMetadata *md, GError **errp)
{
    g_autofree uint8_t *buf = NULL;
    uint32_t cap = MIN(len, METADATA_READ_MAX);
    uint32_t first, avail;
    int ret;

    memset(md, 0, sizeof(*md));
    ret = metadata_validate_length(len, errp);
    if (ret < 0) {
        return ret;
    }
    first = MIN(cap, VHDX_METADATA_TABLE_SIZE + METADATA_FIRST_ITEMS);
    buf = g_malloc(first);
    ret = vhdx_io_pread(io, offset, buf, first);
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "VHDX metadata region: read failed");
    }
    avail = MAX(first, metadata_items_end(buf, cap));
    if (avail > first) {
        buf = g_realloc(buf, avail);
        ret = vhdx_io_pread(io, offset + first, buf + first, avail - first);
        if (ret < 0) {
            return vhdx_io_error(errp, -ret, "VHDX metadata items: read "
                                 "failed");
        }
    }
    return metadata_decode_partial(buf, len, avail, md, errp);
}

static uint64_t item_align(uint64_t offset)
{
    return (offset + ITEM_ALIGN - 1) & ~(uint64_t)(ITEM_ALIGN - 1);
}

static void metadata_item_encode(const VhdxMetadata *md, KnownItemId k,
                                 uint8_t *p)
{
    uint32_t fp_flags = 0;

    switch (k) {
    case ITEM_FILE_PARAMETERS:
        fp_flags |= md->leave_blocks_allocated ?
                    FP_LEAVE_BLOCKS_ALLOCATED : 0;
        fp_flags |= md->has_parent ? FP_HAS_PARENT : 0;
        vhdx_st32(p, md->block_size);
        vhdx_st32(p + 4, fp_flags);
        break;
    case ITEM_VIRTUAL_DISK_SIZE:
        vhdx_st64(p, md->virtual_disk_size);
        break;
    case ITEM_PAGE83:
        memcpy(p, md->page83.bytes, 16);
        break;
    case ITEM_LOGICAL_SECTOR_SIZE:
        vhdx_st32(p, md->logical_sector_size);
        break;
    case ITEM_PHYSICAL_SECTOR_SIZE:
        vhdx_st32(p, md->physical_sector_size);
        break;
    case ITEM_PARENT_LOCATOR:
        memcpy(p, md->parent_locator, md->parent_locator_len);
        break;
    default:
        g_assert_not_reached();
    }
}

static void metadata_entry_encode(uint8_t *region, uint32_t i,
                                  const VhdxGuid *id, uint32_t flags,
                                  uint32_t offset, uint32_t length)
{
    uint8_t *p = region + VHDX_METADATA_HEADER_SIZE +
                 (size_t)i * VHDX_METADATA_ENTRY_SIZE;

    memcpy(p + MTE_ITEM_ID, id->bytes, 16);
    vhdx_st32(p + MTE_OFFSET, length ? offset : 0);
    vhdx_st32(p + MTE_LENGTH, length);
    vhdx_st32(p + MTE_FLAGS, flags);
}

static int metadata_validate_encodable(const VhdxMetadata *md, uint32_t len,
                                       GError **errp)
{
    int ret = metadata_validate_values(md, errp);

    if (ret == 0) {
        ret = metadata_validate_parent(md->has_parent,
                                       md->parent_locator_len > 0, errp);
    }
    if (ret == 0 && md->parent_locator_len > VHDX_METADATA_ITEM_MAX) {
        ret = vhdx_error(errp, EINVAL, "VHDX metadata: parent locator of "
                         "0x%" PRIx32 " bytes exceeds 1 MiB",
                         md->parent_locator_len);
    }
    if (ret == 0) {
        ret = metadata_validate_length(len, errp);
    }
    if (ret == 0 && ITEM_COUNT + md->n_others > VHDX_METADATA_MAX_ENTRIES) {
        ret = vhdx_error(errp, ENOSPC, "VHDX metadata: %" PRIu32 " items "
                         "exceed the table's %d entries",
                         ITEM_COUNT + md->n_others,
                         VHDX_METADATA_MAX_ENTRIES);
    }
    return ret;
}

/* Reserves @size bytes for the next item; *@offset is where it goes */
static int metadata_place_item(uint64_t *next, uint32_t size, uint32_t len,
                               uint32_t *offset, GError **errp)
{
    if (*next + size > len) {
        return vhdx_error(errp, ENOSPC, "VHDX metadata: items do not "
                          "fit in a region of 0x%" PRIx32 " bytes", len);
    }
    *offset = *next;
    *next = item_align(*next + size);
    return 0;
}

/*
 * Items are packed right after the table, in the order of known_items,
 * each on an 8-byte boundary so its integers are naturally aligned, then
 * the items kept from the file (an empty one takes no space).
 */
int vhdx_metadata_encode(const VhdxMetadata *md, uint8_t *region,
                         uint32_t len, GError **errp)
{
    uint64_t next = VHDX_METADATA_TABLE_SIZE;
    uint32_t known = md->has_parent ? ITEM_COUNT : ITEM_PARENT_LOCATOR;
    uint32_t offset = 0;
    int ret;

    ret = metadata_validate_encodable(md, len, errp);
    if (ret < 0) {
        return ret;
    }
    memset(region, 0, len);
    memcpy(region + MT_SIGNATURE, VHDX_METADATA_SIGNATURE, 8);
    vhdx_st16(region + MT_ENTRY_COUNT, known + md->n_others);
    for (uint32_t k = 0; k < known; k++) {
        uint32_t size = known_items[k].size ? known_items[k].size :
                        md->parent_locator_len;

        ret = metadata_place_item(&next, size, len, &offset, errp);
        if (ret < 0) {
            return ret;
        }
        metadata_entry_encode(region, k, known_items[k].guid,
                              known_items[k].flags, offset, size);
        metadata_item_encode(md, k, region + offset);
    }
    for (uint32_t i = 0; i < md->n_others; i++) {
        const VhdxMetadataItem *item = &md->others[i];

        ret = metadata_place_item(&next, item->length, len, &offset, errp);
        if (ret < 0) {
            return ret;
        }
        metadata_entry_encode(region, known + i, &item->id, item->flags,
                              offset, item->length);
        if (item->length) {
            memcpy(region + offset, item->data, item->length);
        }
    }
    return 0;
}

const VhdxMetadataItem *vhdx_metadata_find_other(const VhdxMetadata *md,
                                                 const VhdxGuid *id)
{
    for (uint32_t i = 0; i < md->n_others; i++) {
        if (!(md->others[i].flags & MTE_IS_USER) &&
            vhdx_guid_equal(&md->others[i].id, id)) {
            return &md->others[i];
        }
    }
    return NULL;
}

static void metadata_remove_other(VhdxMetadata *md, VhdxMetadataItem *item)
{
    uint32_t i = item - md->others;

    g_free(item->data);
    memmove(item, item + 1, (md->n_others - i - 1) * sizeof(*item));
    md->n_others--;
}

void vhdx_metadata_set_other(VhdxMetadata *md, const VhdxGuid *id,
                             uint32_t flags, uint8_t *data, uint32_t len)
{
    VhdxMetadataItem *item =
        (VhdxMetadataItem *)vhdx_metadata_find_other(md, id);

    g_assert(!(flags & MTE_IS_USER));
    if (!data) {
        if (item) {
            metadata_remove_other(md, item);
        }
        return;
    }
    if (item) {
        g_free(item->data);
    } else {
        md->others = g_renew(VhdxMetadataItem, md->others,
                             md->n_others + 1);
        item = &md->others[md->n_others++];
        item->id = *id;
    }
    item->flags = flags;
    item->length = len;
    item->data = data;
}

void vhdx_metadata_copy(VhdxMetadata *dst, const VhdxMetadata *src)
{
    *dst = *src;
    dst->parent_locator = src->parent_locator_len ?
        g_memdup2(src->parent_locator, src->parent_locator_len) : NULL;
    dst->others = src->n_others ? g_new0(VhdxMetadataItem, src->n_others)
                                : NULL;
    for (uint32_t i = 0; i < src->n_others; i++) {
        dst->others[i] = src->others[i];
        dst->others[i].data = src->others[i].length ?
            g_memdup2(src->others[i].data, src->others[i].length) : NULL;
    }
}

void vhdx_metadata_clear(VhdxMetadata *md)
{
    for (uint32_t i = 0; i < md->n_others; i++) {
        g_free(md->others[i].data);
    }
    g_free(md->others);
    g_free(md->parent_locator);
    memset(md, 0, sizeof(*md));
}
