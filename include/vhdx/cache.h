/*
 * VHDX metadata page cache
 *
 * BAT and sector bitmap pages (4 KiB, the log's sector size) are read on
 * demand, changed in memory and marked dirty; dirty pages reach the file
 * only through the commit callback, which journals them.  Callers ask for
 * a page and write into it, like a pager's client: they never know about
 * the log.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_CACHE_H
#define VHDX_CACHE_H

#include "vhdx/io.h"
#include "vhdx/format.h"
#include "vhdx/log.h"

#include <glib.h>

#define VHDX_CACHE_PAGE_SIZE VHDX_LOG_SECTOR_SIZE

typedef struct VhdxCache VhdxCache;

/* Makes @n dirty sectors durable at their home locations */
typedef int (*VhdxCacheCommitFn)(void *opaque, const VhdxLogSector *sectors,
                                 size_t n, GError **errp);

/*
 * A cache of at most @max_pages pages.  Once @max_dirty pages are dirty,
 * the next page request commits them first, which bounds both memory and
 * the size of one journal transaction.
 */
VhdxCache *vhdx_cache_new(VhdxIO *io, size_t max_pages, size_t max_dirty,
                          VhdxCacheCommitFn commit, void *opaque);

/*
 * Reads the @count pages from @offset into @pages (@count *
 * VHDX_CACHE_PAGE_SIZE bytes) as committed: pages committed but not yet
 * home are read from wherever the commit callback keeps them.  Returns 0
 * or a negative errno.
 */
typedef int (*VhdxCacheReadFn)(void *opaque, uint64_t offset, uint8_t *pages,
                               size_t count);

/* Loads pages through @read (with the commit callback's opaque) */
void vhdx_cache_set_reader(VhdxCache *c, VhdxCacheReadFn read);

/*
 * On a miss, reads the whole aligned run of @pages pages (a power of two)
 * that holds the page asked for, and keeps the others of the run that are
 * not cached yet where clean pages can make room for them: one read where
 * a table is walked page by page, as qcow2 reads an L2 table whole.  The
 * caller must only ask for pages of structures that are aligned to and
 * sized in runs (VHDX's are in MiB).  Default 1: the page alone.
 */
void vhdx_cache_set_read_around(VhdxCache *c, size_t pages);
void vhdx_cache_free(VhdxCache *c);

/*
 * Returns in *@page the page at @offset (a multiple of the page size),
 * reading it on a miss.  The pointer is valid until the next call into
 * the cache.
 */
int vhdx_cache_get(VhdxCache *c, uint64_t offset, uint8_t **page,
                   GError **errp);

/* Marks the page at @offset, which must be cached, as changed */
void vhdx_cache_mark_dirty(VhdxCache *c, uint64_t offset);

size_t vhdx_cache_dirty_count(const VhdxCache *c);

/* How many pages one transaction holds at most (see vhdx_cache_new) */
size_t vhdx_cache_max_dirty(const VhdxCache *c);

/* Commits every dirty page through the commit callback */
int vhdx_cache_commit(VhdxCache *c, GError **errp);

/* Forgets every page; there must be no dirty page */
void vhdx_cache_invalidate(VhdxCache *c);

/*
 * Writes @len bytes at @offset through the cache, marking dirty only the
 * pages whose content changes: a structure rewritten whole (a region
 * table, a metadata item) costs log space only where it differs.
 */
int vhdx_cache_write(VhdxCache *c, uint64_t offset, const void *buf,
                     size_t len, GError **errp);

/* Reads a 64-bit little-endian value at @offset through the cache */
int vhdx_cache_read64(VhdxCache *c, uint64_t offset, uint64_t *value,
                      GError **errp);

/*
 * Writes a 64-bit little-endian value at @offset; the page becomes dirty
 * only if the value changes, so rewriting an entry costs no log space.
 */
int vhdx_cache_write64(VhdxCache *c, uint64_t offset, uint64_t value,
                       GError **errp);

#endif /* VHDX_CACHE_H */
