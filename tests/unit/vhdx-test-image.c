/*
 * Whole images for the unit tests
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx-test-image.h"

#include <string.h>

VhdxCreateParams test_dynamic_params(uint64_t size, uint32_t block_size)
{
    return (VhdxCreateParams) {
        .virtual_size = size,
        .block_size = block_size,
        .log_size = VHDX_MiB,
        .logical_sector_size = 512,
        .physical_sector_size = 4096,
        .block_state_zero = true,
    };
}

MemIO *test_create(const VhdxCreateParams *p)
{
    MemIO *m = memio_new(0);
    GError *err = NULL;

    if (vhdx_image_create(memio_io(m), p, &err) < 0) {
        g_error("create failed: %s", err->message);
    }
    return m;
}

MemIO *test_create_child(uint64_t size, uint32_t block_size, uint32_t lss,
                         const VhdxGuid *parent_dwg)
{
    VhdxParentSpec parent = {
        .name = "/vm/base.vhdx",
        .child_dir = "/vm",
        .data_write_guid = *parent_dwg,
        .logical_sector_size = lss,
    };
    VhdxCreateParams p = test_dynamic_params(size, block_size);

    p.logical_sector_size = lss;
    p.parent = &parent;
    return test_create(&p);
}

VhdxImage *test_open(MemIO *m, unsigned flags)
{
    VhdxImage *img = NULL;
    GError *err = NULL;

    if (vhdx_image_open(memio_io(m), flags, &img, &err) < 0) {
        g_error("open failed: %s", err->message);
    }
    return img;
}

void test_write(VhdxImage *img, MemIO *m, uint64_t offset, uint64_t len,
                uint8_t pattern)
{
    g_assert_cmpint(vhdx_image_begin_data_change(img, NULL, NULL), ==, 0);
    while (len) {
        VhdxWrite w;

        g_assert_cmpint(vhdx_image_plan_write(img, offset, len, &w, NULL),
                        ==, 0);
        g_assert_cmpuint(memio_size(m), >=, w.data_offset + w.bytes);
        memset(memio_bytes(m) + w.data_offset, pattern, w.bytes);
        for (int i = 0; i < G_N_ELEMENTS(w.zero_fill); i++) {
            memset(memio_bytes(m) + w.zero_fill[i].offset, 0,
                   w.zero_fill[i].length);
        }
        g_assert_cmpint(vhdx_image_finish_write(img, &w, NULL), ==, 0);
        offset += w.bytes;
        len -= w.bytes;
    }
}

void test_read(VhdxImage *img, MemIO *m, uint64_t offset, uint64_t len,
               uint8_t parent_byte, uint8_t *buf)
{
    while (len) {
        VhdxExtent ext;

        g_assert_cmpint(vhdx_image_map(img, offset, len, &ext, NULL), ==, 0);
        switch (ext.kind) {
        case VHDX_EXTENT_DATA:
            g_assert_cmpuint(ext.file_offset + ext.length, <=,
                             memio_size(m));
            memcpy(buf, memio_bytes(m) + ext.file_offset, ext.length);
            break;
        case VHDX_EXTENT_ZERO:
            memset(buf, 0, ext.length);
            break;
        case VHDX_EXTENT_UNALLOCATED:
            memset(buf, parent_byte, ext.length);
            break;
        }
        buf += ext.length;
        offset += ext.length;
        len -= ext.length;
    }
}

void test_assert_reads(VhdxImage *img, MemIO *m, uint64_t offset,
                       uint64_t len, uint8_t parent_byte, uint8_t byte)
{
    g_autofree uint8_t *buf = g_malloc(len);

    test_read(img, m, offset, len, parent_byte, buf);
    for (uint64_t i = 0; i < len; i++) {
        if (buf[i] != byte) {
            g_error("byte %" G_GUINT64_FORMAT " reads 0x%02x, not 0x%02x",
                    offset + i, buf[i], byte);
        }
    }
}

void test_assert_extent(VhdxImage *img, uint64_t offset, uint64_t bytes,
                        VhdxExtentKind kind, uint64_t length)
{
    VhdxExtent ext;

    g_assert_cmpint(vhdx_image_map(img, offset, bytes, &ext, NULL), ==, 0);
    g_assert_cmpint(ext.kind, ==, kind);
    g_assert_cmpuint(ext.length, ==, length);
}
