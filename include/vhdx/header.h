/*
 * VHDX file identifier and the two headers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_HEADER_H
#define VHDX_HEADER_H

#include "vhdx/guid.h"
#include "vhdx/io.h"

typedef struct VhdxHeader {
    uint64_t sequence_number;
    VhdxGuid file_write_guid;
    VhdxGuid data_write_guid;
    VhdxGuid log_guid;
    uint16_t log_version;
    uint16_t version;
    uint32_t log_length;
    uint64_t log_offset;
} VhdxHeader;

/* Where the current header lives: 0 for header 1, 1 for header 2 */
typedef struct VhdxHeaderState {
    VhdxHeader current;
    int slot;
} VhdxHeaderState;

/* Checks the "vhdxfile" signature at the start of @buf (at least 8 bytes) */
bool vhdx_file_id_valid(const uint8_t *buf, size_t len);

/* Fills a VHDX_FILE_ID_SIZE buffer: signature and UTF-16LE @creator */
void vhdx_file_id_encode(uint8_t *buf, const char *creator);

/*
 * Decodes one VHDX_HEADER_SIZE header: signature, checksum, version,
 * log version and log placement (1 MiB aligned, non-empty) are checked.
 */
int vhdx_header_decode(const uint8_t *buf, VhdxHeader *h, GError **errp);

/* Encodes @h into VHDX_HEADER_SIZE bytes, checksum included */
void vhdx_header_encode(const VhdxHeader *h, uint8_t *buf);

/*
 * Picks the current header out of the two on-disk copies (either may be
 * NULL-equivalent garbage): the valid one with the larger sequence number.
 */
int vhdx_header_select(const uint8_t *buf1, const uint8_t *buf2,
                       VhdxHeaderState *st, GError **errp);

/* Reads both headers from @io and selects the current one */
int vhdx_header_load(VhdxIO *io, VhdxHeaderState *st, GError **errp);

/*
 * Makes @h the current header: writes it with the next sequence number
 * into the slot that is not current, flushes, and updates @st.  The old
 * current header stays intact until the new one is durable, so a crash
 * leaves one of them valid.
 */
int vhdx_header_update(VhdxIO *io, VhdxHeaderState *st, const VhdxHeader *h,
                       GError **errp);

#endif /* VHDX_HEADER_H */
