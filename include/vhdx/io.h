/*
 * The storage interface the VHDX format core talks through
 *
 * The QEMU glue implements it with bdrv_* calls on bs->file; the unit
 * tests implement it on a memory buffer.  Every call returns 0 (length:
 * the size in bytes) or a negative errno.  Reads beyond the end of the
 * storage return zeros, as QEMU's file protocol does; the core checks
 * offsets against the length itself wherever a file field points.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_IO_H
#define VHDX_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct VhdxIO VhdxIO;

/* A stretch of storage */
typedef struct VhdxRange {
    uint64_t offset;
    uint64_t length;
} VhdxRange;

struct VhdxIO {
    int (*pread)(VhdxIO *io, uint64_t offset, void *buf, size_t len);
    int (*pwrite)(VhdxIO *io, uint64_t offset, const void *buf, size_t len);
    int (*flush)(VhdxIO *io);
    int64_t (*length)(VhdxIO *io);
    int (*truncate)(VhdxIO *io, uint64_t length);
    /*
     * Optional: grows the storage to @length with the new space allocated
     * (it reads as zeros), so that writes into it later need no
     * allocation by the host's file system; -ENOTSUP when it cannot.
     */
    int (*grow_allocated)(VhdxIO *io, uint64_t length);
    /* Optional: writes zeros cheaply; vhdx_io_pwrite_zeroes falls back */
    int (*pwrite_zeroes)(VhdxIO *io, uint64_t offset, uint64_t len);
    /*
     * Optional: sets *@pnum to the length of the run from @offset (at most
     * @len, at least 1 byte) that surely reads as zeros (returns 1) or
     * may hold data (returns 0).  Lets scans skip holes unread.
     */
    int (*block_status)(VhdxIO *io, uint64_t offset, uint64_t len,
                        uint64_t *pnum);
    void *opaque;
};

static inline int vhdx_io_pread(VhdxIO *io, uint64_t offset, void *buf,
                                size_t len)
{
    return io->pread(io, offset, buf, len);
}

static inline int vhdx_io_pwrite(VhdxIO *io, uint64_t offset,
                                 const void *buf, size_t len)
{
    return io->pwrite(io, offset, buf, len);
}

static inline int vhdx_io_flush(VhdxIO *io)
{
    return io->flush(io);
}

static inline int64_t vhdx_io_length(VhdxIO *io)
{
    return io->length(io);
}

static inline int vhdx_io_truncate(VhdxIO *io, uint64_t length)
{
    return io->truncate(io, length);
}

/*
 * Grows the storage to @length, allocating the new space where the
 * storage can and @allocate asks for it, and sparse otherwise
 */
int vhdx_io_grow(VhdxIO *io, uint64_t length, bool allocate);

/* Writes @len zero bytes at @offset */
int vhdx_io_pwrite_zeroes(VhdxIO *io, uint64_t offset, uint64_t len);

/*
 * Writes zeros over [@offset, @offset + @len) where it may hold data:
 * holes are left alone, so zeroing a huge range of a sparse file
 * allocates nothing (writing zeros there would allocate it all).
 */
int vhdx_io_zero_data(VhdxIO *io, uint64_t offset, uint64_t len);

/*
 * The extent at @offset (at most @len bytes): *@zero says whether it
 * surely reads as zeros, *@run how long it is (at least 1 byte when @len
 * is not 0).  Storage that cannot tell has one data extent of @len.
 */
int vhdx_io_extent(VhdxIO *io, uint64_t offset, uint64_t len, bool *zero,
                   uint64_t *run);

#endif /* VHDX_IO_H */
