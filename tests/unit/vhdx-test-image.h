/*
 * Whole images for the unit tests: created in memory, opened, written
 * and read the way the QEMU glue does it
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_TEST_IMAGE_H
#define VHDX_TEST_IMAGE_H

#include "vhdx/create.h"
#include "vhdx/format.h"
#include "vhdx/image.h"
#include "vhdx-memio.h"

/* A dynamic image of @size bytes: 512-byte sectors, 1 MiB log */
VhdxCreateParams test_dynamic_params(uint64_t size, uint32_t block_size);

/* A new image in memory */
MemIO *test_create(const VhdxCreateParams *p);

/*
 * A new differencing image in memory, made on a parent at /vm/base.vhdx
 * whose DataWriteGuid is @parent_dwg
 */
MemIO *test_create_child(uint64_t size, uint32_t block_size, uint32_t lss,
                         const VhdxGuid *parent_dwg);

/* Opens the image in @m; the test fails if that fails */
VhdxImage *test_open(MemIO *m, unsigned flags);

/*
 * Writes @len bytes of @pattern at guest @offset, as the glue does: the
 * core plans each block's part, the payload and its zero fill go to the
 * file, the core publishes.  Starts a data change first (no children).
 */
void test_write(VhdxImage *img, MemIO *m, uint64_t offset, uint64_t len,
                uint8_t pattern);

/*
 * Reads guest [@offset, @offset + @len) as the glue does: through the
 * core's map, the file's bytes for data, zeros, and @parent_byte where
 * the parent shows through
 */
void test_read(VhdxImage *img, MemIO *m, uint64_t offset, uint64_t len,
               uint8_t parent_byte, uint8_t *buf);

/* Asserts that guest [@offset, @offset + @len) reads all @byte */
void test_assert_reads(VhdxImage *img, MemIO *m, uint64_t offset,
                       uint64_t len, uint8_t parent_byte, uint8_t byte);

/* Asserts the kind and length of the extent at @offset */
void test_assert_extent(VhdxImage *img, uint64_t offset, uint64_t bytes,
                        VhdxExtentKind kind, uint64_t length);

#endif /* VHDX_TEST_IMAGE_H */
