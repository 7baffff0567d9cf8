/*
 * VHDX metadata page cache
 *
 * Pages live in a hash table keyed by file offset and on an LRU queue.
 * Eviction takes the least recently used clean page; when every page is
 * dirty, the dirty pages are committed first.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/cache.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct CachePage {
    uint64_t offset;
    uint8_t *data;
    bool dirty;
    GList lru_link;             /* in VhdxCache.lru, most recent at head */
} CachePage;

struct VhdxCache {
    VhdxIO *io;
    size_t max_pages;
    size_t max_dirty;
    size_t dirty;
    GHashTable *pages;          /* uint64_t offset -> CachePage */
    GQueue lru;
    VhdxCacheCommitFn commit;
    VhdxCacheReadFn read;       /* NULL: pages are read from @io */
    size_t read_around;         /* pages read on a miss, a power of two */
    void *opaque;
};

static void cache_page_free(gpointer p)
{
    CachePage *page = p;

    free(page->data);
    g_free(page);
}

VhdxCache *vhdx_cache_new(VhdxIO *io, size_t max_pages, size_t max_dirty,
                          VhdxCacheCommitFn commit, void *opaque)
{
    VhdxCache *c = g_new0(VhdxCache, 1);

    g_assert(max_pages >= 2 && max_dirty >= 1 && max_dirty <= max_pages);
    c->io = io;
    c->max_pages = max_pages;
    c->max_dirty = max_dirty;
    c->pages = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                     cache_page_free);
    g_queue_init(&c->lru);
    c->commit = commit;
    c->read_around = 1;
    c->opaque = opaque;
    return c;
}

void vhdx_cache_set_reader(VhdxCache *c, VhdxCacheReadFn read)
{
    c->read = read;
}

void vhdx_cache_set_read_around(VhdxCache *c, size_t pages)
{
    g_assert(pages >= 1 && (pages & (pages - 1)) == 0);
    c->read_around = pages;
}

void vhdx_cache_free(VhdxCache *c)
{
    if (c) {
        g_hash_table_destroy(c->pages);
        g_free(c);
    }
}

static void cache_touch(VhdxCache *c, CachePage *page)
{
    g_queue_unlink(&c->lru, &page->lru_link);
    g_queue_push_head_link(&c->lru, &page->lru_link);
}

static void cache_drop(VhdxCache *c, CachePage *page)
{
    g_queue_unlink(&c->lru, &page->lru_link);
    g_hash_table_remove(c->pages, &page->offset);
}

/*
 * Evicts the least recently used clean page other than @keep (may be
 * NULL); false if there is none
 */
static bool cache_evict_one(VhdxCache *c, const CachePage *keep)
{
    for (GList *l = c->lru.tail; l; l = l->prev) {
        CachePage *page = l->data;

        if (!page->dirty && page != keep) {
            cache_drop(c, page);
            return true;
        }
    }
    return false;
}

static int cache_make_room(VhdxCache *c, GError **errp)
{
    int ret;

    if (c->dirty >= c->max_dirty) {
        ret = vhdx_cache_commit(c, errp);
        if (ret < 0) {
            return ret;
        }
    }
    while (g_hash_table_size(c->pages) >= c->max_pages) {
        if (!cache_evict_one(c, NULL)) {
            ret = vhdx_cache_commit(c, errp);
            if (ret < 0) {
                return ret;
            }
        }
    }
    return 0;
}

/* The pages from @offset as committed, into @buf */
static int cache_read(VhdxCache *c, uint64_t offset, uint8_t *buf,
                      size_t count)
{
    if (c->read) {
        return c->read(c->opaque, offset, buf, count);
    }
    return vhdx_io_pread(c->io, offset, buf, count * VHDX_CACHE_PAGE_SIZE);
}

/* Caches a copy of @src as the most recently used page at @offset */
static CachePage *cache_insert(VhdxCache *c, uint64_t offset,
                               const uint8_t *src)
{
    CachePage *page;
    void *data;

    if (posix_memalign(&data, VHDX_CACHE_PAGE_SIZE, VHDX_CACHE_PAGE_SIZE)) {
        return NULL;
    }
    memcpy(data, src, VHDX_CACHE_PAGE_SIZE);
    page = g_new0(CachePage, 1);
    page->offset = offset;
    page->data = data;
    page->lru_link.data = page;
    g_hash_table_insert(c->pages, &page->offset, page);
    g_queue_push_head_link(&c->lru, &page->lru_link);
    return page;
}

/*
 * Keeps the pages of a read-around run that are not cached.  They are a
 * guess, so they only take the room of clean pages: no commit for them,
 * and never the page that was asked for (@wanted).
 */
static void cache_keep_run(VhdxCache *c, uint64_t run, const uint8_t *buf,
                           CachePage *wanted)
{
    for (size_t i = 0; i < c->read_around; i++) {
        uint64_t offset = run + i * VHDX_CACHE_PAGE_SIZE;

        if (g_hash_table_contains(c->pages, &offset)) {
            continue;           /* the page asked for, or a newer copy */
        }
        if (g_hash_table_size(c->pages) >= c->max_pages &&
            !cache_evict_one(c, wanted)) {
            break;
        }
        if (!cache_insert(c, offset, buf + i * VHDX_CACHE_PAGE_SIZE)) {
            break;
        }
    }
    cache_touch(c, wanted);
}

static int cache_load(VhdxCache *c, uint64_t offset, CachePage **out,
                      GError **errp)
{
    size_t run_bytes = c->read_around * VHDX_CACHE_PAGE_SIZE;
    uint64_t run = offset & ~(uint64_t)(run_bytes - 1);
    CachePage *page;
    void *buf;
    int ret;

    ret = cache_make_room(c, errp);
    if (ret < 0) {
        return ret;
    }
    if (posix_memalign(&buf, VHDX_CACHE_PAGE_SIZE, run_bytes)) {
        return vhdx_error(errp, ENOMEM, "VHDX metadata cache: out of memory");
    }
    ret = cache_read(c, run, buf, c->read_around);
    if (ret < 0) {
        free(buf);
        return vhdx_io_error(errp, -ret, "VHDX metadata cache: cannot read "
                             "the page at 0x%" PRIx64, offset);
    }
    page = cache_insert(c, offset, (uint8_t *)buf + (offset - run));
    if (page && c->read_around > 1) {
        cache_keep_run(c, run, buf, page);
    }
    free(buf);
    if (!page) {
        return vhdx_error(errp, ENOMEM, "VHDX metadata cache: out of memory");
    }
    *out = page;
    return 0;
}

int vhdx_cache_get(VhdxCache *c, uint64_t offset, uint8_t **data,
                   GError **errp)
{
    CachePage *page;
    int ret;

    g_assert(offset % VHDX_CACHE_PAGE_SIZE == 0);
    page = g_hash_table_lookup(c->pages, &offset);
    if (page && c->dirty < c->max_dirty) {
        cache_touch(c, page);
        *data = page->data;
        return 0;
    }
    if (page) {
        /* Over the dirty limit: commit now, the page stays cached */
        ret = vhdx_cache_commit(c, errp);
        if (ret < 0) {
            return ret;
        }
        cache_touch(c, page);
        *data = page->data;
        return 0;
    }
    ret = cache_load(c, offset, &page, errp);
    if (ret < 0) {
        return ret;
    }
    *data = page->data;
    return 0;
}

void vhdx_cache_mark_dirty(VhdxCache *c, uint64_t offset)
{
    CachePage *page = g_hash_table_lookup(c->pages, &offset);

    g_assert(page);
    if (!page->dirty) {
        page->dirty = true;
        c->dirty++;
    }
}

size_t vhdx_cache_max_dirty(const VhdxCache *c)
{
    return c->max_dirty;
}

size_t vhdx_cache_dirty_count(const VhdxCache *c)
{
    return c->dirty;
}

int vhdx_cache_commit(VhdxCache *c, GError **errp)
{
    g_autofree VhdxLogSector *sectors = NULL;
    GHashTableIter iter;
    CachePage *page;
    size_t n = 0;
    int ret;

    if (!c->dirty) {
        return 0;
    }
    sectors = g_new(VhdxLogSector, c->dirty);
    g_hash_table_iter_init(&iter, c->pages);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&page)) {
        if (page->dirty) {
            sectors[n++] = (VhdxLogSector) {
                .file_offset = page->offset,
                .data = page->data,
            };
        }
    }
    g_assert(n == c->dirty);
    ret = c->commit(c->opaque, sectors, n, errp);
    if (ret < 0) {
        return ret;
    }
    g_hash_table_iter_init(&iter, c->pages);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&page)) {
        page->dirty = false;
    }
    c->dirty = 0;
    return 0;
}

void vhdx_cache_invalidate(VhdxCache *c)
{
    g_assert(c->dirty == 0);
    g_hash_table_remove_all(c->pages);
    g_queue_init(&c->lru);
}

/* The cached bytes at @offset, which must not cross a page */
static int cache_get_at(VhdxCache *c, uint64_t offset, uint8_t **p,
                        uint64_t *page_offset, GError **errp)
{
    uint8_t *page;
    int ret;

    *page_offset = offset & ~(uint64_t)(VHDX_CACHE_PAGE_SIZE - 1);
    ret = vhdx_cache_get(c, *page_offset, &page, errp);
    if (ret == 0) {
        *p = page + (offset - *page_offset);
    }
    return ret;
}

int vhdx_cache_read64(VhdxCache *c, uint64_t offset, uint64_t *value,
                      GError **errp)
{
    uint64_t page_offset;
    uint8_t *p;
    int ret;

    g_assert(offset % 8 == 0);
    ret = cache_get_at(c, offset, &p, &page_offset, errp);
    if (ret == 0) {
        *value = vhdx_ld64(p);
    }
    return ret;
}

int vhdx_cache_write64(VhdxCache *c, uint64_t offset, uint64_t value,
                       GError **errp)
{
    uint64_t page_offset;
    uint8_t *p;
    int ret;

    g_assert(offset % 8 == 0);
    ret = cache_get_at(c, offset, &p, &page_offset, errp);
    if (ret == 0 && vhdx_ld64(p) != value) {
        vhdx_st64(p, value);
        vhdx_cache_mark_dirty(c, page_offset);
    }
    return ret;
}

int vhdx_cache_write(VhdxCache *c, uint64_t offset, const void *buf,
                     size_t len, GError **errp)
{
    const uint8_t *src = buf;

    while (len) {
        uint64_t page_offset = offset & ~(uint64_t)(VHDX_CACHE_PAGE_SIZE - 1);
        size_t in_page = offset - page_offset;
        size_t n = MIN(len, VHDX_CACHE_PAGE_SIZE - in_page);
        uint8_t *page;
        int ret;

        ret = vhdx_cache_get(c, page_offset, &page, errp);
        if (ret < 0) {
            return ret;
        }
        if (memcmp(page + in_page, src, n)) {
            memcpy(page + in_page, src, n);
            vhdx_cache_mark_dirty(c, page_offset);
        }
        offset += n;
        src += n;
        len -= n;
    }
    return 0;
}
