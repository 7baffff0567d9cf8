/*
 * An in-memory VhdxIO for unit tests, with fault injection
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_MEMIO_H
#define VHDX_MEMIO_H

#include "vhdx/io.h"

#include <glib.h>
#include <stdbool.h>

typedef struct MemIO {
    VhdxIO io;
    GByteArray *data;
    unsigned reads;             /* pread calls so far */
    uint64_t bytes_read;        /* ...and the bytes they asked for */
    unsigned writes;            /* pwrite calls so far */
    unsigned flushes;
    unsigned truncates;
    unsigned grows_allocated;   /* grow_allocated calls that allocated */
    bool cannot_allocate;       /* grow_allocated fails with -ENOTSUP */
    unsigned block_statuses;    /* block_status calls so far */
    /*
     * Power cut: once @writes reaches @cut_after_writes (when non-zero),
     * every later pwrite, truncate and grow is dropped silently, as if the
     * machine died; reads still see what made it.
     */
    unsigned cut_after_writes;
    bool read_only;             /* pwrite and truncate fail with -EPERM */
    int fail_reads_errno;       /* when non-zero, pread fails with it */
} MemIO;

MemIO *memio_new(size_t size);
MemIO *memio_new_from(const void *buf, size_t size);
MemIO *memio_dup(const MemIO *src);
void memio_free(MemIO *m);

static inline VhdxIO *memio_io(MemIO *m)
{
    return &m->io;
}

static inline uint8_t *memio_bytes(MemIO *m)
{
    return m->data->data;
}

static inline size_t memio_size(const MemIO *m)
{
    return m->data->len;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(MemIO, memio_free)

#endif /* VHDX_MEMIO_H */
