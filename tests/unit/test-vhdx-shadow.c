/*
 * Unit tests: a file seen with changes kept in memory
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/shadow.h"
#include "vhdx-memio.h"

#include <errno.h>
#include <string.h>

#define FILE_SIZE (64 * 1024)

static MemIO *patterned_file(void)
{
    MemIO *m = memio_new(FILE_SIZE);

    for (unsigned i = 0; i < FILE_SIZE; i++) {
        memio_bytes(m)[i] = i % 251;
    }
    return m;
}

/* Reads @len bytes at @offset through @io and compares with @model */
static void assert_reads(VhdxIO *io, const uint8_t *model, uint64_t offset,
                         size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);

    g_assert_cmpint(vhdx_io_pread(io, offset, buf, len), ==, 0);
    g_assert_cmpmem(buf, len, model + offset, len);
}

/* Writes and zeros in an order where each covers the one before */
static void test_overlays(void)
{
    g_autoptr(MemIO) m = patterned_file();
    g_autofree uint8_t *model = g_malloc0(2 * FILE_SIZE);
    g_autofree uint8_t *before = g_memdup2(memio_bytes(m), FILE_SIZE);
    VhdxIO *sh = vhdx_shadow_new(memio_io(m));
    uint8_t data[6000];

    memcpy(model, before, FILE_SIZE);
    memset(data, 0x5a, sizeof(data));
    /* Straddling pages, then zeros over part of it and of the file */
    g_assert_cmpint(vhdx_io_pwrite(sh, 3000, data, sizeof(data)), ==, 0);
    memcpy(model + 3000, data, sizeof(data));
    g_assert_cmpint(vhdx_io_pwrite_zeroes(sh, 5000, 20000), ==, 0);
    memset(model + 5000, 0, 20000);
    /* A write inside the zeros: its new page starts out zeroed */
    g_assert_cmpint(vhdx_io_pwrite(sh, 12000, data, 100), ==, 0);
    memcpy(model + 12000, data, 100);
    assert_reads(sh, model, 0, FILE_SIZE);

    /* Growing: past the file's end */
    g_assert_cmpint(vhdx_io_truncate(sh, FILE_SIZE + 8192), ==, 0);
    g_assert_cmpint(vhdx_io_length(sh), ==, FILE_SIZE + 8192);
    g_assert_cmpint(vhdx_io_pwrite(sh, FILE_SIZE + 100, data, 10), ==, 0);
    memcpy(model + FILE_SIZE + 100, data, 10);
    assert_reads(sh, model, 0, FILE_SIZE + 8192);
    /* Shrinking below the file cannot be shown */
    g_assert_cmpint(vhdx_io_truncate(sh, 4096), ==, -ENOTSUP);

    /* The file itself never changed */
    g_assert_cmpuint(m->writes, ==, 0);
    g_assert_cmpuint(memio_size(m), ==, FILE_SIZE);
    g_assert_cmpmem(memio_bytes(m), FILE_SIZE, before, FILE_SIZE);
    vhdx_shadow_free(sh);
}

/* Zeroing a huge range costs no pages: a hostile log cannot make it */
static void test_huge_zero_range(void)
{
    g_autoptr(MemIO) m = patterned_file();
    VhdxIO *sh = vhdx_shadow_new(memio_io(m));
    uint8_t buf[512], zeros[512] = { 0 };

    g_assert_cmpint(vhdx_io_pwrite_zeroes(sh, 4096, UINT64_C(1) << 50), ==,
                    0);
    g_assert_cmpint(vhdx_io_pread(sh, 4096 * 5, buf, sizeof(buf)), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), zeros, sizeof(zeros));
    g_assert_cmpint(vhdx_io_pread(sh, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), memio_bytes(m), sizeof(buf));
    vhdx_shadow_free(sh);
}

/* A hostile log cannot make the view grow without bound */
static void test_bounds(void)
{
    g_autoptr(MemIO) m = patterned_file();
    VhdxIO *sh = vhdx_shadow_new(memio_io(m));
    uint8_t byte = 1;
    unsigned i;

    for (i = 0; i < 16384; i++) {
        g_assert_cmpint(vhdx_io_pwrite(sh, (uint64_t)i * 4096, &byte, 1), ==,
                        0);
    }
    g_assert_cmpint(vhdx_io_pwrite(sh, (uint64_t)i * 4096, &byte, 1), ==,
                    -EFBIG);
    for (i = 0; i < 4096; i++) {
        g_assert_cmpint(vhdx_io_pwrite_zeroes(sh, (uint64_t)i * 8192 + 1, 1),
                        ==, 0);
    }
    g_assert_cmpint(vhdx_io_pwrite_zeroes(sh, 0, 1), ==, -EFBIG);
    vhdx_shadow_free(sh);
}

static void test_pass_through(void)
{
    g_autoptr(MemIO) m = patterned_file();
    VhdxIO *sh = vhdx_shadow_new(memio_io(m));
    uint8_t data[100];

    memset(data, 0x77, sizeof(data));
    g_assert_cmpint(vhdx_io_pwrite_zeroes(sh, 0, 8192), ==, 0);
    vhdx_shadow_pass_through(sh);
    /* The changes are gone, writes reach the file */
    assert_reads(sh, memio_bytes(m), 0, FILE_SIZE);
    g_assert_cmpint(vhdx_io_pwrite(sh, 10, data, sizeof(data)), ==, 0);
    g_assert_cmpmem(memio_bytes(m) + 10, sizeof(data), data, sizeof(data));
    g_assert_cmpint(vhdx_io_truncate(sh, 4096), ==, 0);
    g_assert_cmpuint(memio_size(m), ==, 4096);
    vhdx_shadow_free(sh);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/shadow/overlays", test_overlays);
    g_test_add_func("/shadow/huge-zero-range", test_huge_zero_range);
    g_test_add_func("/shadow/bounds", test_bounds);
    g_test_add_func("/shadow/pass-through", test_pass_through);
    return g_test_run();
}
