/*
 * VHDX file identifier and the two headers
 *
 * The headers locate the log, so they cannot be updated through it.
 * Instead there are two copies; an update always overwrites the one that
 * is not current, so a torn write leaves the other intact.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/header.h"
#include "vhdx/crc32c.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/format.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Field offsets inside the 4 KiB header */
#define HDR_SIGNATURE       0
#define HDR_CHECKSUM        4
#define HDR_SEQUENCE        8
#define HDR_FILE_WRITE_GUID 16
#define HDR_DATA_WRITE_GUID 32
#define HDR_LOG_GUID        48
#define HDR_LOG_VERSION     64
#define HDR_VERSION         66
#define HDR_LOG_LENGTH      68
#define HDR_LOG_OFFSET      72

/* Creator holds UTF-16 code units; keep one for the terminating NUL */
#define CREATOR_MAX_UNITS   (VHDX_CREATOR_SIZE / 2 - 1)

bool vhdx_file_id_valid(const uint8_t *buf, size_t len)
{
    size_t sig_len = strlen(VHDX_FILE_SIGNATURE);

    return len >= sig_len && memcmp(buf, VHDX_FILE_SIGNATURE, sig_len) == 0;
}

/*
 * How many UTF-16 units of @units (of @n) fit the creator field without
 * splitting a surrogate pair at the cut.
 */
static glong creator_units_to_keep(const gunichar2 *units, glong n)
{
    if (n <= CREATOR_MAX_UNITS) {
        return n;
    }
    n = CREATOR_MAX_UNITS;
    if (units[n - 1] >= 0xd800 && units[n - 1] <= 0xdbff) {
        n--;
    }
    return n;
}

void vhdx_file_id_encode(uint8_t *buf, const char *creator)
{
    g_autofree char *valid = NULL;
    g_autofree gunichar2 *units = NULL;
    glong n = 0;

    memset(buf, 0, VHDX_FILE_ID_SIZE);
    memcpy(buf, VHDX_FILE_SIGNATURE, strlen(VHDX_FILE_SIGNATURE));
    if (!creator) {
        return;
    }
    /* Invalid UTF-8 becomes U+FFFD so the conversion cannot fail */
    valid = g_utf8_make_valid(creator, -1);
    units = g_utf8_to_utf16(valid, -1, NULL, &n, NULL);
    if (!units) {
        return;
    }
    n = creator_units_to_keep(units, n);
    for (glong i = 0; i < n; i++) {
        vhdx_st16(buf + VHDX_CREATOR_OFFSET + 2 * i, units[i]);
    }
}

/* Signature and checksum: what the spec calls a valid header */
static int header_verify_integrity(const uint8_t *buf, const char *name,
                                   GError **errp)
{
    if (!buf) {
        return vhdx_error(errp, EINVAL, "%s: missing", name);
    }
    return vhdx_verify_signed_structure(buf, VHDX_HEADER_SIZE,
                                        VHDX_HEADER_SIGNATURE, name, errp);
}

static int header_validate_log(const VhdxHeader *h, const char *name,
                               GError **errp)
{
    if (h->log_length == 0) {
        return vhdx_error(errp, EINVAL, "%s: LogLength is zero", name);
    }
    if (h->log_length % VHDX_ALIGNMENT) {
        return vhdx_error(errp, EINVAL,
                          "%s: LogLength 0x%" PRIx32 " is not a multiple "
                          "of 1 MiB", name, h->log_length);
    }
    if (h->log_offset % VHDX_ALIGNMENT) {
        return vhdx_error(errp, EINVAL,
                          "%s: LogOffset 0x%" PRIx64 " is not 1 MiB "
                          "aligned", name, h->log_offset);
    }
    if (h->log_offset < VHDX_HEADER_AREA_SIZE) {
        return vhdx_error(errp, EINVAL,
                          "%s: LogOffset 0x%" PRIx64 " lies inside the "
                          "1 MiB header section", name, h->log_offset);
    }
    if (h->log_offset > UINT64_MAX - h->log_length) {
        return vhdx_error(errp, EINVAL,
                          "%s: LogOffset 0x%" PRIx64 " plus LogLength 0x%"
                          PRIx32 " overflows", name, h->log_offset,
                          h->log_length);
    }
    return 0;
}

/* The fields this implementation needs to make sense of the file */
static int header_validate_fields(const VhdxHeader *h, const char *name,
                                  GError **errp)
{
    if (h->version != VHDX_HEADER_VERSION) {
        return vhdx_error(errp, EINVAL, "%s: Version %u is not %u", name,
                          h->version, VHDX_HEADER_VERSION);
    }
    if (h->log_version != VHDX_LOG_VERSION) {
        return vhdx_error(errp, EINVAL, "%s: LogVersion %u is not %u",
                          name, h->log_version, VHDX_LOG_VERSION);
    }
    return header_validate_log(h, name, errp);
}

static void header_parse(const uint8_t *buf, VhdxHeader *h)
{
    h->sequence_number = vhdx_ld64(buf + HDR_SEQUENCE);
    memcpy(h->file_write_guid.bytes, buf + HDR_FILE_WRITE_GUID, 16);
    memcpy(h->data_write_guid.bytes, buf + HDR_DATA_WRITE_GUID, 16);
    memcpy(h->log_guid.bytes, buf + HDR_LOG_GUID, 16);
    h->log_version = vhdx_ld16(buf + HDR_LOG_VERSION);
    h->version = vhdx_ld16(buf + HDR_VERSION);
    h->log_length = vhdx_ld32(buf + HDR_LOG_LENGTH);
    h->log_offset = vhdx_ld64(buf + HDR_LOG_OFFSET);
}

static int header_decode_named(const uint8_t *buf, VhdxHeader *h,
                               const char *name, GError **errp)
{
    VhdxHeader tmp;
    int ret;

    ret = header_verify_integrity(buf, name, errp);
    if (ret < 0) {
        return ret;
    }
    header_parse(buf, &tmp);
    ret = header_validate_fields(&tmp, name, errp);
    if (ret < 0) {
        return ret;
    }
    *h = tmp;
    return 0;
}

int vhdx_header_decode(const uint8_t *buf, VhdxHeader *h, GError **errp)
{
    return header_decode_named(buf, h, "VHDX header", errp);
}

void vhdx_header_encode(const VhdxHeader *h, uint8_t *buf)
{
    /* Everything not written below is reserved and must be zero */
    memset(buf, 0, VHDX_HEADER_SIZE);
    memcpy(buf + HDR_SIGNATURE, VHDX_HEADER_SIGNATURE, 4);
    vhdx_st64(buf + HDR_SEQUENCE, h->sequence_number);
    memcpy(buf + HDR_FILE_WRITE_GUID, h->file_write_guid.bytes, 16);
    memcpy(buf + HDR_DATA_WRITE_GUID, h->data_write_guid.bytes, 16);
    memcpy(buf + HDR_LOG_GUID, h->log_guid.bytes, 16);
    vhdx_st16(buf + HDR_LOG_VERSION, h->log_version);
    vhdx_st16(buf + HDR_VERSION, h->version);
    vhdx_st32(buf + HDR_LOG_LENGTH, h->log_length);
    vhdx_st64(buf + HDR_LOG_OFFSET, h->log_offset);
    vhdx_checksum_store(buf, VHDX_HEADER_SIZE, HDR_CHECKSUM);
}

static const char *const header_names[2] = { "VHDX header 1", "VHDX header 2" };

/*
 * Which slot holds the current header, given that both are valid.
 *
 * The spec makes a valid header current only when it is the only valid
 * one or its SequenceNumber is greater than the other's; with equal
 * numbers there is no current header and the file is corrupt.  We make
 * one exception: when both 4 KiB copies are byte-for-byte identical,
 * either choice yields exactly the same data, so nothing read can differ
 * from what a "current" header would say.  Some tools (Disk2VHD) write
 * such files.  We then use header 1, and the next update goes to slot 2.
 */
static int header_pick_newer(const uint8_t *buf1, const uint8_t *buf2,
                             int *slot, GError **errp)
{
    uint64_t seq1 = vhdx_ld64(buf1 + HDR_SEQUENCE);
    uint64_t seq2 = vhdx_ld64(buf2 + HDR_SEQUENCE);

    if (seq1 != seq2) {
        *slot = seq2 > seq1 ? 1 : 0;
        return 0;
    }
    if (memcmp(buf1, buf2, VHDX_HEADER_SIZE) == 0) {
        *slot = 0;
        return 0;
    }
    return vhdx_error(errp, EINVAL,
                      "VHDX headers 1 and 2 differ but have the same "
                      "SequenceNumber 0x%" PRIx64 ", so neither is current",
                      seq1);
}

/*
 * Validity (signature and checksum) decides which header is current; the
 * remaining fields are then checked on the current one only.  A current
 * header with unusable fields is an error rather than a reason to fall
 * back to the older copy: the spec allows using data from the current
 * header only, and the older one may point at a stale log.
 */
int vhdx_header_select(const uint8_t *buf1, const uint8_t *buf2,
                       VhdxHeaderState *st, GError **errp)
{
    g_autoptr(GError) err1 = NULL;
    g_autoptr(GError) err2 = NULL;
    bool ok1 = header_verify_integrity(buf1, header_names[0], &err1) == 0;
    bool ok2 = header_verify_integrity(buf2, header_names[1], &err2) == 0;
    const uint8_t *bufs[2] = { buf1, buf2 };
    VhdxHeader h;
    int slot = ok1 ? 0 : 1;
    int ret;

    if (!ok1 && !ok2) {
        return vhdx_error(errp, EINVAL, "VHDX file has no valid header: "
                          "%s; %s", err1->message, err2->message);
    }
    if (ok1 && ok2) {
        ret = header_pick_newer(buf1, buf2, &slot, errp);
        if (ret < 0) {
            return ret;
        }
    }
    ret = header_decode_named(bufs[slot], &h, header_names[slot], errp);
    if (ret < 0) {
        return ret;
    }
    st->current = h;
    st->slot = slot;
    return 0;
}

static uint64_t header_slot_offset(int slot)
{
    return slot ? VHDX_HEADER2_OFFSET : VHDX_HEADER1_OFFSET;
}

int vhdx_header_load(VhdxIO *io, VhdxHeaderState *st, GError **errp)
{
    g_autofree uint8_t *buf1 = g_malloc(VHDX_HEADER_SIZE);
    g_autofree uint8_t *buf2 = g_malloc(VHDX_HEADER_SIZE);
    uint8_t *bufs[2] = { buf1, buf2 };
    int ret;

    for (int slot = 0; slot < 2; slot++) {
        ret = vhdx_io_pread(io, header_slot_offset(slot), bufs[slot],
                            VHDX_HEADER_SIZE);
        if (ret < 0) {
            return vhdx_io_error(errp, -ret, "%s: read failed",
                                 header_names[slot]);
        }
    }
    return vhdx_header_select(buf1, buf2, st, errp);
}

int vhdx_header_update(VhdxIO *io, VhdxHeaderState *st, const VhdxHeader *h,
                       GError **errp)
{
    g_autofree uint8_t *buf = g_malloc(VHDX_HEADER_SIZE);
    int target = st->slot == 0 ? 1 : 0;
    VhdxHeader next = *h;
    int ret;

    if (st->current.sequence_number == UINT64_MAX) {
        return vhdx_error(errp, EOVERFLOW, "VHDX header update: current "
                          "SequenceNumber 0x%" PRIx64 " cannot be "
                          "incremented", st->current.sequence_number);
    }
    next.sequence_number = st->current.sequence_number + 1;

    /* Never write a header that a later open would refuse */
    ret = header_validate_fields(&next, "VHDX header update", errp);
    if (ret < 0) {
        return ret;
    }

    vhdx_header_encode(&next, buf);
    ret = vhdx_io_pwrite(io, header_slot_offset(target), buf,
                         VHDX_HEADER_SIZE);
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "%s: write failed",
                             header_names[target]);
    }
    ret = vhdx_io_flush(io);
    if (ret < 0) {
        return vhdx_io_error(errp, -ret, "%s: flush failed",
                             header_names[target]);
    }
    st->current = next;
    st->slot = target;
    return 0;
}
