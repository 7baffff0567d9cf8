/*
 * An in-memory VhdxIO for unit tests, with fault injection
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx-memio.h"

#include <errno.h>
#include <string.h>

static bool memio_power_is_cut(MemIO *m)
{
    return m->cut_after_writes && m->writes >= m->cut_after_writes;
}

static int memio_pread(VhdxIO *io, uint64_t offset, void *buf, size_t len)
{
    MemIO *m = io->opaque;
    size_t avail = 0;

    m->reads++;
    m->bytes_read += len;
    if (m->fail_reads_errno) {
        return -m->fail_reads_errno;
    }
    if (offset < m->data->len) {
        avail = MIN(len, m->data->len - offset);
        memcpy(buf, m->data->data + offset, avail);
    }
    memset((uint8_t *)buf + avail, 0, len - avail);
    return 0;
}

static void memio_resize(MemIO *m, uint64_t length)
{
    size_t old = m->data->len;

    g_byte_array_set_size(m->data, length);
    if (length > old) {
        memset(m->data->data + old, 0, length - old);
    }
}

static int memio_pwrite(VhdxIO *io, uint64_t offset, const void *buf,
                        size_t len)
{
    MemIO *m = io->opaque;

    if (m->read_only) {
        return -EPERM;
    }
    if (memio_power_is_cut(m)) {
        m->writes++;
        return 0;
    }
    m->writes++;
    if (offset + len > m->data->len) {
        memio_resize(m, offset + len);
    }
    memcpy(m->data->data + offset, buf, len);
    return 0;
}

static int memio_flush(VhdxIO *io)
{
    MemIO *m = io->opaque;

    m->flushes++;
    return 0;
}

static int64_t memio_length(VhdxIO *io)
{
    MemIO *m = io->opaque;

    return m->data->len;
}

static int memio_truncate(VhdxIO *io, uint64_t length)
{
    MemIO *m = io->opaque;

    if (m->read_only) {
        return -EPERM;
    }
    m->truncates++;
    if (!memio_power_is_cut(m)) {
        memio_resize(m, length);
    }
    return 0;
}

/* Memory has no holes: allocating is growing, counted apart */
static int memio_grow_allocated(VhdxIO *io, uint64_t length)
{
    MemIO *m = io->opaque;

    if (m->cannot_allocate) {
        return -ENOTSUP;
    }
    if (m->read_only) {
        return -EPERM;
    }
    m->grows_allocated++;
    if (!memio_power_is_cut(m)) {
        memio_resize(m, length);
    }
    return 0;
}

/*
 * Whole zero pages read as holes, as a sparse file's would; anything else
 * is data one page at a time
 */
static int memio_block_status(VhdxIO *io, uint64_t offset, uint64_t len,
                              uint64_t *pnum)
{
    static const uint8_t zero_page[4096];
    MemIO *m = io->opaque;
    uint64_t run = 0;

    m->block_statuses++;
    while (run < len) {
        uint64_t at = offset + run;
        uint64_t n = MIN(len - run, 4096 - at % 4096);

        if (at < m->data->len &&
            memcmp(m->data->data + at, zero_page,
                   MIN(n, m->data->len - at))) {
            break;
        }
        run += n;
    }
    if (run > 0) {
        *pnum = run;
        return 1;
    }
    *pnum = MIN(len, 4096 - offset % 4096);
    return 0;
}

MemIO *memio_new(size_t size)
{
    MemIO *m = g_new0(MemIO, 1);

    m->data = g_byte_array_sized_new(size);
    memio_resize(m, size);
    m->io = (VhdxIO) {
        .pread = memio_pread,
        .pwrite = memio_pwrite,
        .flush = memio_flush,
        .length = memio_length,
        .truncate = memio_truncate,
        .grow_allocated = memio_grow_allocated,
        .block_status = memio_block_status,
        .opaque = m,
    };
    return m;
}

MemIO *memio_new_from(const void *buf, size_t size)
{
    MemIO *m = memio_new(size);

    memcpy(m->data->data, buf, size);
    return m;
}

MemIO *memio_dup(const MemIO *src)
{
    return memio_new_from(src->data->data, src->data->len);
}

void memio_free(MemIO *m)
{
    if (m) {
        g_byte_array_unref(m->data);
        g_free(m);
    }
}
