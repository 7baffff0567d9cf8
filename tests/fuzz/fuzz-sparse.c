/*
 * A compact form of a whole image file for fuzz inputs
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-sparse.h"
#include "fuzz-util.h"
#include "vhdx/endian.h"
#include "vhdx/format.h"

#include <string.h>

/* Zero gaps shorter than an extent header are cheaper kept than split */
#define ENCODE_GAP_MAX  (2 * FUZZ_SPARSE_EXTENT)

bool fuzz_sparse_decode(const uint8_t *data, size_t size, GByteArray *file,
                        unsigned *skip)
{
    FuzzInput in = { .data = data, .size = size };
    size_t len;

    *skip = 0;
    g_byte_array_set_size(file, 0);
    if (size >= 8 && !memcmp(data, VHDX_FILE_SIGNATURE, 8)) {
        g_byte_array_append(file, data, size);
        return true;
    }
    if (size < FUZZ_SPARSE_HEADER) {
        return false;
    }
    *skip = fuzz_u8(&in);
    len = fuzz_u16(&in) * (size_t)FUZZ_SPARSE_UNIT;
    len = MIN(len, FUZZ_SPARSE_MAX_FILE);
    g_byte_array_set_size(file, len);
    if (len) {
        memset(file->data, 0, len);
    }
    while (fuzz_left(&in) >= FUZZ_SPARSE_EXTENT) {
        uint32_t offset = fuzz_u32(&in);
        size_t n = fuzz_u16(&in);

        n = MIN(n, fuzz_left(&in));
        if (offset < len) {
            memcpy(file->data + offset, in.data + in.pos,
                   MIN(n, len - offset));
        }
        in.pos += n;
    }
    return true;
}

bool fuzz_sparse_extra(const uint8_t *data, size_t size, FuzzInput *extra)
{
    FuzzInput in = { .data = data, .size = size, .pos = FUZZ_SPARSE_HEADER };

    if (size < FUZZ_SPARSE_HEADER ||
        (size >= 8 && !memcmp(data, VHDX_FILE_SIGNATURE, 8))) {
        return false;
    }
    while (fuzz_left(&in) >= FUZZ_SPARSE_EXTENT) {
        uint32_t offset = fuzz_u32(&in);
        size_t n = fuzz_u16(&in);

        n = MIN(n, fuzz_left(&in));
        if (offset == FUZZ_SPARSE_EXTRA) {
            *extra = (FuzzInput) { .data = in.data + in.pos, .size = n };
            return true;
        }
        in.pos += n;
    }
    return false;
}

static void encode_extent(GByteArray *out, const uint8_t *file,
                          size_t offset, size_t n)
{
    uint8_t hdr[FUZZ_SPARSE_EXTENT];

    vhdx_st32(hdr, offset);
    vhdx_st16(hdr + 4, n);
    g_byte_array_append(out, hdr, sizeof(hdr));
    g_byte_array_append(out, file + offset, n);
}

/* The end of the non-zero run starting at @pos, short zero gaps included */
static size_t encode_run_end(const uint8_t *file, size_t len, size_t pos)
{
    size_t end = pos, gap = 0;

    while (end + gap < len && gap <= ENCODE_GAP_MAX &&
           end + gap - pos < UINT16_MAX) {
        if (file[end + gap]) {
            end += gap + 1;
            gap = 0;
        } else {
            gap++;
        }
    }
    return end;
}

GByteArray *fuzz_sparse_encode(const uint8_t *file, size_t len,
                               unsigned skip)
{
    GByteArray *out = g_byte_array_new();
    uint8_t hdr[FUZZ_SPARSE_HEADER];
    size_t pos = 0;

    g_assert(len <= FUZZ_SPARSE_MAX_FILE && len % FUZZ_SPARSE_UNIT == 0);
    hdr[0] = skip;
    vhdx_st16(hdr + 1, len / FUZZ_SPARSE_UNIT);
    g_byte_array_append(out, hdr, sizeof(hdr));
    while (pos < len) {
        size_t end;

        if (!file[pos]) {
            pos++;
            continue;
        }
        end = encode_run_end(file, len, pos);
        encode_extent(out, file, pos, end - pos);
        pos = end;
    }
    return out;
}
